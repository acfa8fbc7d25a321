import os

import numpy as np
import pytest

import ppsci
import ppsci_ext  # noqa: F401
from ppsci_ext.data.fwi import FWIDataset
from ppsci_ext.data.fwi import FWINormalisation
from ppsci_ext.data.fwi.reader import read_annotation
from tests.conftest import write_fwi_files

STATS = dict(data_min=-3.0, data_max=3.0, label_min=1500.0, label_max=4500.0)


def make(anno, **kw):
    return FWIDataset(("data",), ("velocity",), anno, **{**STATS, **kw})


def test_reads_crlf_and_missing_final_newline(tmp_path):
    anno = write_fwi_files(tmp_path)
    text = open(anno).read().strip().replace("\n", "\r\n")
    with open(anno, "w", newline="") as f:
        f.write(text)  # CRLF, no final newline
    pairs = read_annotation(anno)
    assert [os.path.basename(p) for p, _ in pairs] == ["data0.npy", "data1.npy"]
    assert all(os.path.isabs(p) and os.path.isfile(m) for p, m in pairs)


def test_items_are_transformed_and_memory_mapped(tmp_path):
    anno = write_fwi_files(tmp_path)
    ds = make(anno, sample_ratio=4)
    assert len(ds) == 8
    assert all(isinstance(d, np.memmap) for d in ds.data)
    x, y, w = ds[5]
    assert x["data"].shape == (5, 25, 70) and x["data"].dtype == np.float32
    assert y["velocity"].shape == (1, 70, 70)
    assert -1 <= y["velocity"].min() and y["velocity"].max() <= 1
    raw = np.load(os.path.join(tmp_path, "data1.npy"))[1]
    # OpenFWI's transform written out: every 4th sample, signed log(1 + |x|), log(-3) .. log(3) to [-1, 1]
    kept = raw[:, ::4, :].astype(np.float64)
    logged, lo, hi = np.sign(kept) * np.log1p(np.abs(kept)), -np.log1p(3.0), np.log1p(3.0)
    np.testing.assert_allclose(x["data"], (logged - lo) / (hi - lo) * 2 - 1, rtol=1e-5, atol=1e-6)
    norm = FWINormalisation(-3.0, 3.0, 1500, 4500, log_k=1.0, sample_ratio=4)
    np.testing.assert_allclose(norm.velocity_inverse(y["velocity"]), np.load(os.path.join(tmp_path, "model1.npy"))[1],
                               rtol=1e-5)


def test_registered_with_ppsci_by_name(tmp_path):
    anno = write_fwi_files(tmp_path)
    ds = ppsci.data.dataset.build_dataset({"name": "ExtFWIDataset", "input_keys": ("data",),
                                           "label_keys": ("velocity",), "anno": anno, **STATS})
    assert isinstance(ds, FWIDataset)
    assert ppsci.data.dataset.FWIDataset is not FWIDataset  # ppsci's own class is untouched


def test_missing_file_is_named(tmp_path):
    anno = write_fwi_files(tmp_path)
    os.remove(os.path.join(tmp_path, "model1.npy"))
    with pytest.raises(FileNotFoundError, match="model1.npy"):
        make(anno)
    with pytest.raises(FileNotFoundError, match="nothere.txt"):
        make(os.path.join(tmp_path, "nothere.txt"))


def test_shape_mismatch_names_file_and_shapes(tmp_path):
    anno = write_fwi_files(tmp_path)
    np.save(os.path.join(tmp_path, "data1.npy"), np.zeros((4, 5, 100, 60), np.float32))
    with pytest.raises(ValueError, match=r"data1.npy.*\(5, 100, 70\).*\(5, 100, 60\)"):
        make(anno)
    with pytest.raises(ValueError, match=r"expected data samples of shape \(5, 1000, 70\)"):
        make(anno, data_shape=(5, 1000, 70))


def test_sample_count_mismatch(tmp_path):
    anno = write_fwi_files(tmp_path)
    np.save(os.path.join(tmp_path, "model0.npy"), np.full((3, 1, 70, 70), 2000, np.float32))
    with pytest.raises(ValueError, match="3 models but .*data0.npy has 4"):
        make(anno)


def test_nan_is_reported_with_file_and_index(tmp_path):
    anno = write_fwi_files(tmp_path)
    d = np.load(os.path.join(tmp_path, "data1.npy"))
    d[2, 0, 5, 5] = np.nan
    np.save(os.path.join(tmp_path, "data1.npy"), d)
    with pytest.raises(ValueError, match=r"data1.npy: sample 2 contains NaN or Inf"):
        make(anno)  # when built, not when the item is read inside a DataLoader


def test_unlabelled_annotation(tmp_path):
    write_fwi_files(tmp_path)
    anno = os.path.join(tmp_path, "unlabelled.txt")
    with open(anno, "w") as f:
        f.write("data0.npy\n")
    x, y, _ = make(anno)[1]
    assert x["data"].shape == (5, 100, 70) and y == {}


@pytest.mark.parametrize("name", sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "conf", "fwi_stats"))))
def test_every_statistics_entry_composes_into_data(name):
    """Each entry of the config group fwi_stats sets DATA's four statistics, ordered, and builds the normalisation;
    OpenFWI's FlatVel-A is its published -26.95 .. 52.77 (the velocitygan_openfwi preset's)."""
    from ppsci_ext.testing.examples import compose_config

    cfg = compose_config("velocitygan", [f"fwi_stats={name}"])
    norm = FWINormalisation.from_config(cfg.DATA)
    assert norm.data_min < 0 < norm.data_max and (norm.label_min, norm.label_max) == (1500.0, 4500.0)
    if name == "flatvel-a":
        assert (norm.data_min, norm.data_max) == (-26.95, 52.77)
        preset = compose_config("velocitygan_openfwi").DATA
        assert (preset.data_min, preset.data_max) == (-26.95, 52.77)
