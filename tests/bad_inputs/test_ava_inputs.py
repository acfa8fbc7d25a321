"""Bad GDRNN inputs are refused when read, with messages that name the file, the key and the place.

AVA files (``read_ava_file``, ``AVADataset``, ``INFER.input``) and user wavelets
(``read_wavelet``, ``DATA.wavelet_file``). Valid files are written with the
project's writer; bad ones are stored with numpy/scipy directly, since the
writer refuses them.
"""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from ppsci_ext.data.ava import AVADataset
from ppsci_ext.data.ava.generator import build_ava_files
from ppsci_ext.data.ava.reader import read_ava_file
from ppsci_ext.data.ava.reader import read_wavelet
from ppsci_ext.data.ava.reader import write_ava_file
from ppsci_ext.data.ava import reader as ava_reader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THETA = [[2.0, 6.0, 10.0], [14.0, 18.0, 22.0], [26.0, 30.0, 34.0]]
N_TRACES, N_LAYERS = 6, 12


def ava_dict(labelled=True, seed=0):
    """A plausible AVA dict: vp ~3000 m/s, vs ~1500 m/s, rho ~2.3 g/cc, a random wavelet matrix and random gathers
    of the scale a reflectivity of RMS 0.02 gives with it."""
    rng = np.random.default_rng(seed)
    d = {}
    for p, v in {"vp": 3000.0, "vs": 1500.0, "rho": 2.3}.items():
        if labelled:
            d[f"{p}_aug"] = v * (1 + 0.05 * rng.standard_normal((N_LAYERS, N_TRACES)))
        d[f"{p}_back"] = v * (1 + 0.01 * rng.standard_normal((N_LAYERS, N_TRACES)))
    d["wavemat"] = rng.standard_normal((N_LAYERS, N_LAYERS))
    scale = 0.02 * np.linalg.norm(d["wavemat"][:, N_LAYERS // 2])
    for g, k in enumerate(("seis_s", "seis_m", "seis_l")):
        d[k] = scale * rng.standard_normal((N_TRACES, N_LAYERS, len(THETA[g])))
    d["theta"] = [list(t) for t in THETA]
    return d


def write_raw(path, d):
    """Store ``d`` as the writer would, but without its checks."""
    raw = {**{k: v for k, v in d.items() if k != "theta"}, "theta": np.asarray(d["theta"])}
    if str(path).endswith(".mat"):
        scipy.io.savemat(path, raw)
    else:
        np.savez(path, **raw)
    return str(path)


@pytest.fixture
def warnings_logged(monkeypatch):
    """Messages passed to the ppsci logger's warning while the test runs."""
    seen = []
    monkeypatch.setattr(ava_reader.logger, "warning", lambda msg, *a: seen.append(msg % a if a else msg))
    return seen


@pytest.mark.timeout(60)
@pytest.mark.parametrize("ext", ["npz", "mat"])
@pytest.mark.parametrize("labelled", [True, False])
def test_valid_file_still_loads(tmp_path, ext, labelled, warnings_logged):
    path = write_ava_file(tmp_path / f"ok.{ext}", ava_dict(labelled))
    data = read_ava_file(path)
    assert ("vp_aug" in data) == labelled and data["theta"] == THETA
    ds = AVADataset(path, label_keys=("m",) if labelled else ())
    assert len(ds) == N_TRACES
    for i in range(len(ds)):  # every in-range item comes back (nothing is checked per item)
        inp, _, _ = ds[i]
        assert inp["stacks"].shape == (3, N_LAYERS)
    assert warnings_logged == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("ext", ["npz", "mat"])
def test_negative_vs_back_names_file_key_trace_and_value(tmp_path, ext):
    d = ava_dict(labelled=False)
    d["vs_back"][5, 3] = -1500.0
    path = write_raw(tmp_path / f"section.{ext}", d)
    msg = rf"section\.{ext}: key 'vs_back' must be > 0 m/s.*found -1500 at trace 3, sample 5"
    with pytest.raises(ValueError, match=msg):
        read_ava_file(path)
    with pytest.raises(ValueError, match=msg):  # at construction, never inside a data loader
        AVADataset(path, label_keys=())
    with pytest.raises(ValueError, match=r"'vs_back' must be > 0"):  # nor can it be written
        write_ava_file(tmp_path / f"copy.{ext}", d)
    assert not (tmp_path / f"copy.{ext}").exists()


@pytest.mark.timeout(60)
def test_zero_vs_is_refused_as_a_fluid(tmp_path):
    d = ava_dict()
    d["vs_aug"][0, 1] = 0.0
    with pytest.raises(ValueError, match=r"x\.npz: key 'vs_aug' must be > 0.*fluid.*found 0 at trace 1, sample 0"):
        read_ava_file(write_raw(tmp_path / "x.npz", d))


@pytest.mark.timeout(60)
def test_vs_not_below_vp_names_both_values(tmp_path):
    d = ava_dict()
    d["vs_aug"][2, 4] = d["vp_aug"][2, 4] + 10.0
    vs, vp = d["vs_aug"][2, 4], d["vp_aug"][2, 4]
    with pytest.raises(ValueError, match=rf"lab\.npz: key 'vs_aug' must be below 'vp_aug' \(vs < vp\).*"
                                         rf"vs {vs:g} >= vp {vp:g} m/s at trace 4, sample 2"):
        read_ava_file(write_raw(tmp_path / "lab.npz", d))


@pytest.mark.timeout(60)
def test_kms_velocities_ask_for_ms(tmp_path):
    d = ava_dict(labelled=False)
    d["vp_back"] /= 1000.0
    d["vs_back"] /= 1000.0
    with pytest.raises(ValueError, match=r"kms\.mat: key 'vp_back' has largest value 3\.\d+, which looks like km/s; "
                                         r"give velocities in m/s \(multiply by 1000\)"):
        read_ava_file(write_raw(tmp_path / "kms.mat", d))
    d = ava_dict(labelled=False)
    d["vs_back"] /= 1000.0  # vp fine, vs in km/s
    with pytest.raises(ValueError, match=r"key 'vs_back'.*looks like km/s"):
        read_ava_file(write_raw(tmp_path / "vs_kms.npz", d))


@pytest.mark.timeout(60)
def test_kgm3_density_asks_for_gcc(tmp_path):
    d = ava_dict()
    d["rho_aug"] *= 1000.0
    with pytest.raises(ValueError, match=r"kg\.npz: key 'rho_aug' is 2\d{3}(\.\d+)? at trace 0, sample 0 .*"
                                         r"kg/m\^3; give density in g/cc \(divide by 1000\)"):
        read_ava_file(write_raw(tmp_path / "kg.npz", d))


@pytest.mark.timeout(60)
def test_implausible_vp_and_rho_are_warned(tmp_path, warnings_logged):
    d = ava_dict(labelled=False)
    d["vp_back"][7, 2] = 12000.0
    d["rho_back"][1, 0] = 6.5
    path = write_raw(tmp_path / "odd.npz", d)
    read_ava_file(path)  # loads: unusual, not impossible
    ranges = [w for w in warnings_logged if "critical angle" not in w]  # 12000 m/s also makes one
    assert len(ranges) == 2
    assert re.search(r"odd\.npz: key 'vp_back' is 12000 at trace 2, sample 7 .*300-10000 m/s", ranges[0])
    assert re.search(r"odd\.npz: key 'rho_back' is 6\.5 at trace 0, sample 1 .*1-5 g/cc", ranges[1])


@pytest.mark.timeout(60)
@pytest.mark.parametrize("key", ["seis_m", "vs_back", "wavemat"])
def test_nan_in_a_key_is_named(tmp_path, key):
    d = ava_dict(labelled=False)
    d[key][(1, 2) + (0,) * (d[key].ndim - 2)] = np.nan
    with pytest.raises(ValueError, match=rf"nan\.npz: key '{key}' contains 1 NaN or Inf"):
        read_ava_file(write_raw(tmp_path / "nan.npz", d))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("ext", ["npz", "mat"])
def test_complex_key_is_refused(tmp_path, ext):
    d = ava_dict(labelled=False)
    d["vp_back"] = d["vp_back"] + 1j
    with pytest.raises(ValueError, match=rf"c\.{ext}: key 'vp_back' has dtype complex128, expected real numbers"):
        read_ava_file(write_raw(tmp_path / f"c.{ext}", d))
    d = ava_dict(labelled=False)
    d["theta"] = np.asarray(THETA) + 0.5j  # its imaginary part must not be dropped silently
    with pytest.raises(ValueError, match=rf"t\.{ext}: key 'theta' has dtype complex128, expected real numbers"):
        read_ava_file(write_raw(tmp_path / f"t.{ext}", d))


@pytest.mark.timeout(60)
def test_theta_outside_0_90_degrees(tmp_path, warnings_logged):
    d = ava_dict(labelled=False)
    d["theta"] = [THETA[0], THETA[1], [26.0, 30.0, 95.0]]
    with pytest.raises(ValueError, match=r"th\.npz: key 'theta' group 2 holds angle\(s\) \[95\.0\] outside \[0, 90\)"):
        read_ava_file(write_raw(tmp_path / "th.npz", d))
    d["theta"] = np.deg2rad(THETA)
    read_ava_file(write_raw(tmp_path / "rad.npz", d))
    assert len(warnings_logged) == 1 and re.search(r"rad\.npz: key 'theta'.*radians", warnings_logged[0])


@pytest.mark.timeout(60)
@pytest.mark.parametrize("key", ["seis_s", "seis_m", "seis_l"])
def test_all_zero_stacks_are_refused(tmp_path, key):
    d = ava_dict(labelled=False)
    d[key][:] = 0.0
    path = write_raw(tmp_path / "zero.npz", d)
    msg = rf"zero\.npz: key '{key}' is all zeros, expected the observed gathers.*zero data is meaningless"
    with pytest.raises(ValueError, match=msg):
        read_ava_file(path)
    with pytest.raises(ValueError, match=msg):
        AVADataset(path, label_keys=())


@pytest.mark.timeout(60)
def test_zero_wavemat_and_zero_selected_traces(tmp_path):
    d = ava_dict(labelled=False)
    d["wavemat"][:] = 0.0
    with pytest.raises(ValueError, match=r"w\.npz: key 'wavemat' is all zeros"):
        read_ava_file(write_raw(tmp_path / "w.npz", d))
    d = ava_dict(labelled=False)
    for k in ("seis_s", "seis_m", "seis_l"):
        d[k][:2] = 0.0  # two dead traces
    path = write_ava_file(tmp_path / "dead.npz", d)
    assert len(AVADataset(path, label_keys=())) == N_TRACES  # dead traces among live ones are fine
    with pytest.raises(ValueError, match=r"dead\.npz\): the stacks of the 2 selected trace\(s\) are all zero"):
        AVADataset(path, label_keys=(), traces=[0, 1])


@pytest.mark.timeout(60)
def test_dataset_checks_its_dtype_at_construction(tmp_path):
    d = ava_dict(labelled=False)
    d["seis_s"] *= 1e6  # beyond float16
    path = write_ava_file(tmp_path / "big.npz", d)
    with pytest.raises(ValueError, match=r"big\.npz\): field 'stacks' does not fit in float16"):
        AVADataset(path, label_keys=(), dtype="float16")
    with pytest.raises(ValueError, match=r"big\.npz\): dtype must be a float type, found 'int32'"):
        AVADataset(path, label_keys=(), dtype="int32")
    assert AVADataset(path, label_keys=(), dtype="float32")[N_TRACES - 1][0]["stacks"].dtype == np.float32


@pytest.mark.timeout(60)
def test_builder_checks_units_before_modelling(tmp_path):
    d = ava_dict()
    with pytest.raises(ValueError, match=r"build_ava_files: key 'vp'.*looks like km/s"):
        build_ava_files(d["vp_aug"] / 1000.0, d["vs_aug"] / 1000.0, d["rho_aug"], str(tmp_path / "out"),
                        well_traces=[1])
    assert not (tmp_path / "out").exists()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("what, wavelet, found", [
    ("nan", np.array([0.1, np.nan, 1.0, 0.3]), r"1 NaN or Inf value\(s\), the first nan at sample 1"),
    ("inf", np.array([0.1, 1.0, np.inf]), r"1 NaN or Inf value\(s\), the first inf at sample 2"),
    ("complex", np.array([0.1, 1.0, 0.2]) + 0.1j, r"real amplitudes, found dtype complex128"),
    ("2d", np.ones((3, 3)), r"1-D wavelet, found shape \(3, 3\)"),
    ("empty", np.zeros(0), r"1-D wavelet, found shape \(0,\)"),
    ("zeros", np.zeros(7), r"all zeros \(7 samples\)"),
])
def test_bad_wavelet_file_names_file_and_problem(tmp_path, what, wavelet, found):
    path = str(tmp_path / f"w_{what}.npy")
    np.save(path, wavelet)
    with pytest.raises(ValueError, match=rf"DATA\.wavelet_file .*w_{what}\.npy: .*{found}"):
        read_wavelet(path)


@pytest.mark.timeout(60)
def test_wavelet_archives_and_pickles_are_refused(tmp_path):
    np.savez(tmp_path / "w.npz", w=np.ones(5))
    with pytest.raises(ValueError, match=r"w\.npz is a \.npz archive, expected a \.npy"):
        read_wavelet(str(tmp_path / "w.npz"))
    np.save(tmp_path / "obj.npy", np.array([{"w": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"obj\.npy holds Python objects \(an object array\), which are not loaded"):
        read_wavelet(str(tmp_path / "obj.npy"))
    np.save(tmp_path / "ok.npy", np.array([-0.2, 1.0, -0.2], dtype=np.float32))
    w = read_wavelet(str(tmp_path / "ok.npy"))
    assert w.dtype == np.float64 and w.tolist() == pytest.approx([-0.2, 1.0, -0.2])


@pytest.mark.timeout(180)
def test_infer_script_refuses_negative_vs_back_before_any_checkpoint(tmp_path):
    """`GDRNN.py mode=infer` on a section with vs_back < 0: non-zero exit naming the file and the key.

    ``output_dir`` is an empty folder, so no checkpoint exists: the input is checked first (else the run
    would stop on the missing checkpoint instead)."""
    d = ava_dict(labelled=False)
    d["vs_back"][4, 2] = -800.0
    bad = write_raw(tmp_path / "bad_section.npz", d)
    over = [f"output_dir={tmp_path}/out", f"DATA.out_dir={tmp_path}/data", "MODEL.dims=[8,16]", "MODEL.n_steps=3",
            "num_threads=1", "mode=infer", f"INFER.input={bad}", f"INFER.output={tmp_path}/inv.npz"]
    env = {**os.environ, "GLOG_minloglevel": "2", "PYTHONPATH": ROOT}
    res = subprocess.run([sys.executable, os.path.join("examples", "gdrnn", "GDRNN.py"), *over], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=170)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-3000:]
    assert re.search(r"bad_section\.npz: key 'vs_back' must be > 0 m/s.*found -800 at trace 2, sample 4", out), \
        out[-3000:]
    assert "checkpoint not found" not in out
    assert not (tmp_path / "inv.npz").exists()


@pytest.mark.timeout(60)
def test_background_past_a_critical_angle_is_warned(tmp_path, warnings_logged):
    d = ava_dict(labelled=False)
    d["vp_back"][6:, 3] = 6500.0  # 3000 -> 6500 m/s: critical angle asin(3000/6500) = 27.5 deg < 34 deg
    read_ava_file(write_raw(tmp_path / "crit.npz", d))
    assert any(re.search(r"crit\.npz: 1 of \d+ interfaces of vp_back have a P critical angle below the largest "
                         r"angle 34 deg \(smallest 27\.\d deg, trace 3, interface 5\)", w) for w in warnings_logged)
    warnings_logged.clear()
    read_ava_file(write_raw(tmp_path / "fine.npz", ava_dict(labelled=False)))
    assert not any("critical" in w for w in warnings_logged)
