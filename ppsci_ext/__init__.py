"""ppsci-ext: seismic deep-learning methods for PaddleScience.

Importing the package registers its datasets and networks with ppsci's
config-by-name builders (see :mod:`ppsci_ext.registry`).
"""

import warnings

__version__ = "0.1.0"

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
