import importlib
import os

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")
# num_threads=auto's measured choices go to a folder of this test session, not the user's cache
os.environ["PPSCI_EXT_CACHE"] = __import__("tempfile").mkdtemp(prefix="ppsci_ext_cache_")

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")

# The independent references some tests compare against, and how to install each (pyproject's test extra;
# torch as .ci/run installs it).
REFERENCES = {
    "bruges": 'pip install "bruges>=0.5" "setuptools<81"  (bruges imports pkg_resources, gone in setuptools 81)',
    "pylops": 'pip install "pylops>=2"',
    "deepwave": 'pip install "deepwave==0.1.0"  (on torch)',
    "torch": 'pip install "torch==2.13.0" "setuptools<81"  (CPU wheel: add --index-url '
             'https://download.pytorch.org/whl/cpu where PyPI is the only index)',
}


def require(name):
    """Import the independent reference ``name`` (a module, e.g. "pylops.avo.prestack") for a test.

    Where it cannot be imported the test is skipped, except under ``CI=true``: there a missing reference
    fails the test, naming the package and how to install it, so that a check can never pass by skipping.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            error = exc
    top = name.split(".")[0]
    message = (f"independent reference {top!r} not importable ({error}); install it with: "
               f"{REFERENCES.get(top, f'pip install {top}')}")
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def snapshot(root):
    """{relative path: (bytes, mtime_ns)} of every file under ``root``: equal before and after a run means the
    run changed nothing there."""
    out = {}
    for folder, _, files in os.walk(root):
        for f in files:
            p = os.path.join(folder, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = (fh.read(), os.stat(p).st_mtime_ns)
    return out


def write_fwi_files(folder, n_files=2, n=4, shape=(5, 100, 70), model_shape=(1, 70, 70), seed=0):
    """Small OpenFWI-format files plus an annotation with relative paths; returns the annotation path."""
    rng = np.random.default_rng(seed)
    lines = []
    for k in range(n_files):
        np.save(os.path.join(folder, f"data{k}.npy"), rng.standard_normal((n, *shape)).astype(np.float32))
        np.save(os.path.join(folder, f"model{k}.npy"),
                rng.uniform(1500, 4500, (n, *model_shape)).astype(np.float32))
        lines.append(f"data{k}.npy\tmodel{k}.npy")
    anno = os.path.join(folder, "train.txt")
    with open(anno, "w") as f:
        f.write("\n".join(lines) + "\n")
    return anno


def launch_two_gloo_ranks(worker: str, folder, *args):
    """``python -m paddle.distributed.launch --nproc_per_node 2 worker folder *args`` on the gloo backend; asserts it
    exits 0 (showing the workers' logs if not) and returns the two ranks' ``<folder>/rank<r>.npz``."""
    import subprocess
    import sys

    env = {**os.environ, "PADDLE_DISTRI_BACKEND": "gloo", "GLOG_minloglevel": "2"}
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--log_dir", os.path.join(folder, "log"),
           "--nproc_per_node", "2", worker, str(folder), *args]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    log_dir = os.path.join(folder, "log")
    logs = "".join(open(os.path.join(log_dir, f)).read() for f in os.listdir(log_dir) if f.startswith("workerlog"))
    assert res.returncode == 0, res.stdout[-2000:] + logs[-3000:]
    return tuple(np.load(os.path.join(folder, f"rank{r}.npz")) for r in (0, 1))
