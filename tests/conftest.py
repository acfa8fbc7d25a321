import os

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


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
