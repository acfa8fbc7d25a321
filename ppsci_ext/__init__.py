"""ppsci-ext: seismic deep-learning methods for PaddleScience.

Importing the package registers its datasets and networks with ppsci's
config-by-name builders (see :mod:`ppsci_ext.registry`).
"""

import os
import warnings

__version__ = "0.1.0"

MKL_SET = "MKL_DEBUG_CPU_TYPE=5 (set by ppsci_ext)"  # os.environ["PPSCI_EXT_MKL"] where the package set it


def mkl_cpu_type(cpuinfo: str, environ) -> bool:
    """Tell MKL that an AMD CPU with AVX2 has AVX2 (``MKL_DEBUG_CPU_TYPE=5`` in ``environ``); True if set.

    Paddle's CPU wheel bundles MKL-ML 2019, whose dispatcher gives CPUs that are not Intel's its slowest code
    path. MKL up to 2020.0 honours ``MKL_DEBUG_CPU_TYPE=5`` (use the AVX2 kernels): on this project's AMD EPYC a
    float32 matmul runs 3x faster with it and an encoder convolution 2x (``bench/bench_conv_layers.py``), to the
    same float32 rounding. Intel CPUs, CPUs without AVX2 and a variable already set (also empty:
    ``MKL_DEBUG_CPU_TYPE=`` keeps MKL's own choice) are left alone. It must be set before MKL's first call, so
    importing the package first does it (the examples do)."""
    if "MKL_DEBUG_CPU_TYPE" in environ:
        return False
    vendor = flags = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "vendor_id" and not vendor:
            vendor = value.strip()
        elif key == "flags" and not flags:
            flags = value
    if vendor != "AuthenticAMD" or "avx2" not in flags.split():
        return False
    environ["MKL_DEBUG_CPU_TYPE"] = "5"
    environ["PPSCI_EXT_MKL"] = MKL_SET
    return True


def _set_mkl_cpu_type():
    try:
        with open("/proc/cpuinfo") as f:
            mkl_cpu_type(f.read(), os.environ)
    except OSError:  # not Linux: MKL's own choice
        pass


_set_mkl_cpu_type()

# paddle warns on every import that ccache is missing: it matters only to compiling C++ extensions, which
# nothing here does (set before ppsci imports paddle)
warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)


def _register():
    # Imported lazily so that `ppsci_ext.physics` (pure numerics) can be used
    # without paddle; registration runs once, on the first `import ppsci_ext`.
    try:
        import ppsci  # noqa: F401
    except ImportError:  # pragma: no cover - ppsci is a hard dependency
        return
    from ppsci_ext import registry

    registry.register_all()


_register()
