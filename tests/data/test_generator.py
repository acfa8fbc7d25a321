import os

import numpy as np
import pytest

from ppsci_ext.data.fwi.velocity_models import make_velocity_models
from ppsci_ext.data.fwi.reader import read_annotation
from ppsci_ext.data.fwi.generator import generate_openfwi

MODELS = dict(family="flat", nz=20, nx=24, min_layers=2, max_layers=4, vmin=1500.0, vmax=4500.0,
              min_thickness=3, increasing=True, min_contrast=100.0)
MODELLING = dict(dx=10.0, dt=1e-3, nt=120, freq=15.0, src_x=[0, 12, 23], src_z=1, rec_x=None, rec_z=1, pad=10)


@pytest.mark.parametrize("family", ["flat", "curved"])
def test_models_follow_the_rules(family):
    m = make_velocity_models(range(50), 3, **{**MODELS, "family": family, "nz": 70, "nx": 70})
    assert m.shape == (50, 1, 70, 70) and m.dtype == np.float32
    assert m.min() >= 1500 and m.max() <= 4500
    for v in m[:, 0]:
        col = v[:, 35]
        assert np.all(np.diff(col) >= 0)  # increasing with depth
        steps = np.diff(col)[np.diff(col) > 0]
        assert np.all(steps >= 100 - 1e-3) and 1 <= len(steps) <= 4
    flat = m[:, 0] if family == "flat" else None
    if flat is not None:
        assert np.all(flat == flat[:, :, :1])  # flat layers


def test_a_share_of_models_has_velocity_inversions():
    base = make_velocity_models(range(200), 3, **MODELS)
    mixed = make_velocity_models(range(200), 3, p_inversion=0.5, **MODELS)
    assert np.array_equal(make_velocity_models(range(5), 3, p_inversion=0.0, **MODELS), base[:5])
    inverted = [bool((np.diff(v[0, :, 0]) < 0).any()) for v in mixed]
    assert not any((np.diff(v[0, :, 0]) < 0).any() for v in base)
    assert 0.2 < np.mean(inverted) < 0.5  # half unsorted, and a random order of 2-4 layers may still increase
    with pytest.raises(ValueError, match=r"p_inversion: expected a probability in \[0, 1\], found 1.5"):
        make_velocity_models([0], 0, p_inversion=1.5, **MODELS)


def test_models_are_deterministic_per_index():
    a = make_velocity_models([5, 6, 7], 11, **MODELS)
    b = make_velocity_models([7], 11, **MODELS)
    np.testing.assert_array_equal(a[2], b[0])
    assert not np.array_equal(a[0], make_velocity_models([5], 12, **MODELS)[0])


def test_bad_rules_are_named():
    with pytest.raises(ValueError, match="family"):
        make_velocity_models([0], 0, **{**MODELS, "family": "wavy"})
    with pytest.raises(ValueError, match="min_thickness"):
        make_velocity_models([0], 0, **{**MODELS, "min_layers": 8, "max_layers": 8})


def test_generation_writes_openfwi_format_and_resumes(tmp_path):
    out = str(tmp_path / "set")
    annos = generate_openfwi(out, 8, 4, 4, 0, MODELS, MODELLING, progress=False)
    d0, m0 = np.load(os.path.join(out, "data0.npy")), np.load(os.path.join(out, "model0.npy"))
    assert d0.shape == (4, 3, 120, 24) and d0.dtype == np.float32
    assert m0.shape == (4, 1, 20, 24) and m0.dtype == np.float32
    train = {os.path.basename(p) for p, _ in read_annotation(annos["train"])}
    test = {os.path.basename(p) for p, _ in read_annotation(annos["test"])}
    assert train == {"data0.npy", "data1.npy"} and test == {"data2.npy"}
    # resumable: a removed file is regenerated identically, the others are kept untouched
    mtime = os.path.getmtime(os.path.join(out, "data1.npy"))
    os.remove(os.path.join(out, "data0.npy"))
    generate_openfwi(out, 8, 4, 4, 0, MODELS, MODELLING, progress=False)
    np.testing.assert_array_equal(np.load(os.path.join(out, "data0.npy")), d0)
    assert os.path.getmtime(os.path.join(out, "data1.npy")) == mtime
    assert not [f for f in os.listdir(out) if "tmp" in f]


def test_split_sizes_must_fill_files(tmp_path):
    with pytest.raises(ValueError, match="GENERATE.n_test.*file_size=4.*6"):
        generate_openfwi(str(tmp_path), 8, 6, 4, 0, MODELS, MODELLING, progress=False)
