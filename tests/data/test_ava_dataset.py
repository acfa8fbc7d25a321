import os

import numpy as np
import pytest
import scipy.io

import ppsci
import ppsci_ext  # noqa: F401
from ppsci_ext.data.ava import AVADataset
from ppsci_ext.data.ava.reader import read_ava_file
from ppsci_ext.data.ava.reader import write_ava_file

EQUAL = [[1.0, 5.0, 9.0], [13.0, 17.0, 21.0], [25.0, 29.0, 33.0]]
UNEQUAL = [[2.0, 4.0], [10.0, 14.0, 18.0], [30.0, 33.0, 36.0, 39.0]]


def ava_dict(n_traces=6, n_layers=16, theta=EQUAL, labelled=True, seed=0):
    rng = np.random.default_rng(seed)
    d = {}
    base = {"vp": 3000.0, "vs": 1500.0, "rho": 2.3}
    for p, v in base.items():
        if labelled:
            d[f"{p}_aug"] = v * (1 + 0.1 * rng.standard_normal((n_layers, n_traces)))
        d[f"{p}_back"] = v * (1 + 0.01 * rng.standard_normal((n_layers, n_traces)))
    for g, k in enumerate(("seis_s", "seis_m", "seis_l")):
        d[k] = rng.standard_normal((n_traces, n_layers, len(theta[g])))
    d["wavemat"] = rng.standard_normal((n_layers, n_layers))
    d["theta"] = [list(t) for t in theta]
    return d


def assert_same(a, b):
    assert set(a) == set(b)
    assert a["theta"] == [list(map(float, t)) for t in b["theta"]]
    for k in a:
        if k != "theta":
            np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize("ext", ["mat", "npz"])
@pytest.mark.parametrize("labelled", [True, False])
@pytest.mark.parametrize("theta", [EQUAL, UNEQUAL], ids=["equal", "unequal"])
def test_round_trip(tmp_path, ext, labelled, theta):
    d = ava_dict(theta=theta, labelled=labelled)
    path = str(tmp_path / f"x.{ext}")
    assert write_ava_file(path, d) == path
    assert os.listdir(tmp_path) == [f"x.{ext}"]  # no temporary left behind
    got = read_ava_file(path)
    assert_same(got, d)
    assert ("vp_aug" in got) == labelled
    assert isinstance(got["theta"], list) and all(isinstance(t, list) for t in got["theta"])
    # scipy/numpy alone can read what was written (no custom format)
    if ext == "mat":
        raw = scipy.io.loadmat(path)
        stored = raw["theta"]
        assert stored.dtype == (np.float64 if theta is EQUAL else object)
    else:
        with np.load(path) as f:  # plain floats: no pickle needed to read any key
            stored = f["theta"]
        assert stored.dtype == np.float64 and stored.shape == ((3, 3) if theta is EQUAL else (3, 4))
        assert [row[~np.isnan(row)].tolist() for row in stored] == theta  # unequal groups: NaN-padded at the end


def test_theta_nan_only_pads_the_end_of_a_group(tmp_path):
    d = ava_dict(theta=UNEQUAL, labelled=False)
    raw = {k: v for k, v in d.items() if k != "theta"}
    padded = np.array([[2.0, 4.0, np.nan, np.nan], [10.0, 14.0, 18.0, np.nan], [30.0, 33.0, 36.0, 39.0]])
    np.savez(tmp_path / "ok.npz", **raw, theta=padded)
    assert read_ava_file(tmp_path / "ok.npz")["theta"] == UNEQUAL
    padded[1] = [10.0, np.nan, 14.0, 18.0]
    np.savez(tmp_path / "inner.npz", **raw, theta=padded)
    with pytest.raises(ValueError, match=r"inner\.npz: key 'theta' group 1 has NaN at angle 1 followed by angles "
                                         r"\[nan, 14\.0, 18\.0\]: NaN may only pad the end"):
        read_ava_file(tmp_path / "inner.npz")


def test_object_array_theta_of_earlier_versions_is_refused_with_the_way_out(tmp_path):
    """The 1-D object array that earlier versions wrote for unequal groups is not unpickled."""
    d = ava_dict(theta=UNEQUAL, labelled=False)
    theta = np.empty(3, dtype=object)
    theta[:] = [np.asarray(t) for t in UNEQUAL]
    np.savez(tmp_path / "old.npz", **{k: v for k, v in d.items() if k != "theta"}, theta=theta)
    with pytest.raises(ValueError, match=r"old\.npz: key 'theta' is an object array; object arrays are not read "
                                         r"because loading them could run code.*\[3, n_angles\].*NaN-padded"):
        read_ava_file(tmp_path / "old.npz")


def test_reads_theta_as_the_original_stores_it(tmp_path):
    """A [3, A] double matrix from savemat of a nested list, and a MATLAB-style 1x3 cell of column vectors."""
    d = ava_dict(labelled=False)
    raw = {k: v for k, v in d.items() if k != "theta"}
    scipy.io.savemat(tmp_path / "a.mat", {**raw, "theta": EQUAL})
    assert read_ava_file(tmp_path / "a.mat")["theta"] == EQUAL
    d = ava_dict(theta=UNEQUAL, labelled=False)
    raw = {k: v for k, v in d.items() if k != "theta"}
    cell = np.empty((1, 3), dtype=object)
    for i, t in enumerate(UNEQUAL):
        cell[0, i] = np.asarray(t)[:, None]
    scipy.io.savemat(tmp_path / "b.mat", {**raw, "theta": cell})
    assert read_ava_file(tmp_path / "b.mat")["theta"] == UNEQUAL


def test_labelled_file_read_as_unlabelled_drops_labels(tmp_path):
    path = write_ava_file(tmp_path / "x.npz", ava_dict())
    assert "vp_aug" not in read_ava_file(path, labelled=False)


def test_missing_key_is_named_with_layout(tmp_path):
    d = ava_dict()
    del d["rho_aug"]  # vp_aug present -> labelled layout detected
    np.savez(tmp_path / "x.npz", **{k: v for k, v in d.items() if k != "theta"}, theta=np.asarray(EQUAL))
    with pytest.raises(KeyError, match=r"x\.npz.*'rho_aug'.*labelled layout \(detected"):
        read_ava_file(tmp_path / "x.npz")
    d = ava_dict(labelled=False)
    del d["seis_l"]
    with pytest.raises(KeyError, match=r"'seis_l'.*unlabelled layout"):
        write_ava_file(tmp_path / "y.npz", d)
    path = write_ava_file(tmp_path / "z.npz", ava_dict(labelled=False))
    with pytest.raises(KeyError, match=r"z\.npz.*'vp_aug', 'vs_aug', 'rho_aug'.*labelled layout \(asked for\)"):
        read_ava_file(path, labelled=True)


@pytest.mark.parametrize("ext", ["mat", "npz"])
def test_wrong_shape_names_key_expected_and_found(tmp_path, ext):
    d = ava_dict(n_traces=5, n_layers=12, theta=UNEQUAL)
    d["seis_m"] = d["seis_m"][:, :, :2]
    path = str(tmp_path / f"x.{ext}")
    # bypass the writer's check: store with scipy/numpy directly (unequal groups: a cell, NaN-padded floats)
    if ext == "mat":
        theta = np.empty(3, dtype=object)
        theta[:] = [np.asarray(t) for t in UNEQUAL]
    else:
        theta = np.array([t + [np.nan] * (4 - len(t)) for t in UNEQUAL])
    raw = {**{k: v for k, v in d.items() if k != "theta"}, "theta": theta}
    if ext == "mat":
        scipy.io.savemat(path, raw)
    else:
        np.savez(path, **raw)
    msg = (r"x\.%s: key 'seis_m' has shape \(5, 12, 2\), expected "
           r"\(ntraces=5, layers=12, n_angles=3 from theta\[1\]\)" % ext)
    with pytest.raises(ValueError, match=msg):
        read_ava_file(path)
    d = ava_dict(n_traces=5, n_layers=12)
    d["vs_back"] = d["vs_back"][:-1]
    with pytest.raises(ValueError, match=r"key 'vs_back' has shape \(11, 5\), expected \(layers=12, ntraces=5\)"):
        write_ava_file(path, d)
    d = ava_dict(n_traces=5, n_layers=12)
    d["wavemat"] = d["wavemat"][:, :10]
    with pytest.raises(ValueError, match=r"key 'wavemat' has shape \(12, 10\), expected \(layers=12, layers=12\)"):
        write_ava_file(path, d)
    d = ava_dict()
    d["theta"] = EQUAL[:2]
    with pytest.raises(ValueError, match="2 angle groups, expected 3"):
        write_ava_file(path, d)


def test_nan_and_inf_are_reported(tmp_path):
    d = ava_dict()
    d["seis_l"][2, 3, 1] = np.nan
    d["vp_back"][0, 0] = np.inf
    with pytest.raises(ValueError, match=r"key 'vp_back' contains 1 NaN or Inf"):
        write_ava_file(tmp_path / "x.mat", d)
    d["vp_back"][0, 0] = 3000.0
    np.savez(tmp_path / "x.npz", **{k: v for k, v in d.items() if k != "theta"}, theta=np.asarray(EQUAL))
    with pytest.raises(ValueError, match=r"x\.npz: key 'seis_l' contains 1 NaN or Inf"):
        read_ava_file(tmp_path / "x.npz")
    assert not (tmp_path / "x.mat").exists()  # nothing written on a failed check


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.mat"):
        read_ava_file(tmp_path / "nothere.mat")
    with pytest.raises(ValueError, match=r"x\.h5: unknown extension '\.h5'"):
        read_ava_file(tmp_path / "x.h5")
    with pytest.raises(ValueError, match="unknown extension"):
        write_ava_file(tmp_path / "x.txt", ava_dict())


@pytest.fixture
def labelled_file(tmp_path):
    return write_ava_file(tmp_path / "train.mat", ava_dict(n_traces=10, n_layers=16, theta=UNEQUAL))


def test_items(labelled_file):
    d = read_ava_file(labelled_file)
    ds = AVADataset(labelled_file)
    assert len(ds) == ds.n_traces == 10 and ds.n_layers == 16
    assert ds.theta == UNEQUAL and ds.wavemat.shape == (16, 16) and ds.labelled
    inp, lab, w = ds[3]
    assert set(inp) == {"stacks", "m_back"} and set(lab) == {"m"} and w == {}
    for x in (*inp.values(), *lab.values()):
        assert x.shape == (3, 16) and x.dtype == np.float32
    np.testing.assert_allclose(inp["stacks"][1], d["seis_m"][3].sum(-1), rtol=1e-6)
    np.testing.assert_allclose(inp["stacks"][2], d["seis_l"][3].sum(-1), rtol=1e-6)
    np.testing.assert_allclose(inp["m_back"], np.stack([d["vp_back"][:, 3], d["vs_back"][:, 3], d["rho_back"][:, 3]]),
                               rtol=1e-6)
    np.testing.assert_allclose(lab["m"], np.stack([d["vp_aug"][:, 3], d["vs_aug"][:, 3], d["rho_aug"][:, 3]]),
                               rtol=1e-6)
    stacks, m_back, m = ds.arrays()
    assert stacks.shape == m_back.shape == m.shape == (10, 3, 16)
    np.testing.assert_array_equal(stacks[3], inp["stacks"])
    assert AVADataset(labelled_file, dtype="float64")[0][0]["stacks"].dtype == np.float64


@pytest.mark.parametrize("traces, expected", [
    ({"start": 2, "stop": 8, "step": 3}, [2, 5]),
    ({"start": None, "stop": 3, "step": None}, [0, 1, 2]),
    (slice(7, None), [7, 8, 9]),
    ([9, 0, 4], [9, 0, 4]),
    ([-1], [9]),
])
def test_trace_selection(labelled_file, traces, expected):
    full = AVADataset(labelled_file)
    ds = AVADataset(labelled_file, traces=traces)
    assert list(ds.trace_indices) == expected and len(ds) == len(expected) and ds.n_traces == 10
    for i, t in enumerate(expected):
        np.testing.assert_array_equal(ds[i][0]["stacks"], full[t][0]["stacks"])
        np.testing.assert_array_equal(ds[i][1]["m"], full[t][1]["m"])


def test_bad_traces_and_keys(labelled_file):
    with pytest.raises(IndexError, match="out of range for 10 traces"):
        AVADataset(labelled_file, traces=[3, 10])
    with pytest.raises(ValueError, match="selects no trace"):
        AVADataset(labelled_file, traces=slice(20, 30))
    with pytest.raises(ValueError, match="unknown key 'seis'"):
        AVADataset(labelled_file, input_keys=("seis",))


def test_unlabelled_file(tmp_path):
    path = write_ava_file(tmp_path / "sec.npz", ava_dict(labelled=False))
    with pytest.raises(ValueError, match=r"sec\.npz.*'m'.*unlabelled.*label_keys=\(\)"):
        AVADataset(path)
    ds = AVADataset(path, label_keys=())
    inp, lab, _ = ds[0]
    assert set(inp) == {"stacks", "m_back"} and lab == {} and not ds.labelled
    assert ds.arrays()[2] is None
    # a labelled file can be used as unlabelled
    lab_path = write_ava_file(tmp_path / "lab.npz", ava_dict())
    assert not AVADataset(lab_path, label_keys=(), labelled=False).labelled


def test_supervised_constraint_by_name(labelled_file):
    cfg = {"dataset": {"name": "AVADataset", "file_path": labelled_file, "input_keys": ["stacks", "m_back"],
                       "label_keys": ["m"], "traces": {"start": 0, "stop": 8, "step": 1}},
           "batch_size": 4, "sampler": {"name": "BatchSampler", "shuffle": False, "drop_last": False},
           "num_workers": 0}
    con = ppsci.constraint.SupervisedConstraint(cfg, ppsci.loss.MSELoss("mean"), name="ava")
    assert isinstance(con.data_loader.dataset, AVADataset) and len(con.data_loader.dataset) == 8
    batches = list(con.data_loader)
    assert len(batches) == 2
    inp, lab, _ = batches[1]
    assert tuple(inp["stacks"].shape) == (4, 3, 16) and tuple(inp["m_back"].shape) == (4, 3, 16)
    assert tuple(lab["m"].shape) == (4, 3, 16) and str(lab["m"].dtype).endswith("float32")
    ref = AVADataset(labelled_file)
    np.testing.assert_allclose(lab["m"].numpy(), np.stack([ref[i][1]["m"] for i in range(4, 8)]))
