import os

import numpy as np
import paddle
import pytest
from scipy.signal import butter
from scipy.signal import sosfilt

import ppsci_ext  # noqa: F401
from ppsci_ext.outputs import MARKER
from ppsci_ext.data.ava import AVADataset
from ppsci_ext.data.ava.generator import ava_file_paths
from ppsci_ext.data.ava.generator import build_ava_files
from ppsci_ext.data.ava.generator import butterworth_background
from ppsci_ext.data.ava.elastic_models import castagna_vs
from ppsci_ext.data.ava.elastic_models import gardner_rho
from ppsci_ext.data.ava.elastic_models import layered_elastic_section
from ppsci_ext.data.ava.elastic_models import load_marmousi_elastic
from ppsci_ext.data.ava.elastic_models import marmousi_section
from ppsci_ext.data.ava.reader import read_ava_file
from tests.conftest import SHARED_DATA

MARMOUSI = os.path.join(SHARED_DATA, "marmousi", "poststack_model.npz")
L, N, WELLS, N_AUG = 64, 24, [3, 12, 20], 4
BUILD = dict(well_traces=WELLS, n_aug=N_AUG, aug_noise=0.05, cutoff_hz=15.0, dt=0.002, freq=30.0, seed=3)


# ---------------------------------------------------------------- rock physics and models

def test_rock_physics_published_points():
    # Castagna et al. (1985): vp = 1.16 vs + 1.36 km/s; Gardner et al. (1974): rho = 0.31 vp^0.25
    assert castagna_vs(3000.0) == pytest.approx((3.0 - 1.36) / 1.16 * 1000, rel=1e-12)
    assert castagna_vs(3000.0) == pytest.approx(1413.79, abs=0.01)
    assert gardner_rho(3000.0) == pytest.approx(2.2943, abs=1e-4)
    assert gardner_rho(np.array([1500.0, 6000.0])) == pytest.approx([0.31 * 1500 ** 0.25, 0.31 * 6000 ** 0.25])
    with pytest.raises(ValueError, match="vs <= 0.*1360 m/s"):
        castagna_vs(np.array([1300.0, 3000.0]))
    assert castagna_vs(np.array([1300.0, 3000.0]), min_vs=100.0)[0] == 100.0


def test_layered_section_is_deterministic_continuous_and_not_a_function_of_vp():
    vp, vs, rho = layered_elastic_section(n_samples=128, n_traces=100, seed=5, vp_range=(2000, 4500),
                                          vs_perturbation=0.05, rho_perturbation=0.03)
    assert vp.shape == vs.shape == rho.shape == (128, 100)
    for a, b in zip((vp, vs, rho), layered_elastic_section(n_samples=128, n_traces=100, seed=5, vp_range=(2000, 4500),
                                                           vs_perturbation=0.05, rho_perturbation=0.03)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(vp, layered_elastic_section(n_samples=128, n_traces=100, seed=6)[0])
    assert 1800 <= vp.min() and vp.max() <= 4950 and vs.min() > 0 and (vp / vs >= 1.45 - 1e-9).all()
    # departures from the rock-physics relations are of the requested size
    assert 0.02 < np.std(np.log(vs / castagna_vs(vp))) < 0.08
    assert 0.01 < np.std(np.log(rho / gardner_rho(vp))) < 0.05
    # layered: many distinct interfaces with sharp contrasts; vp grows with depth
    jumps = np.abs(np.diff(vp, axis=0)) / vp[1:]
    assert (jumps[:, 50] > 0.01).sum() >= 10
    assert vp[-20:].mean() > vp[:20].mean() + 500
    # laterally continuous, yet traces far apart differ
    near = np.mean(np.abs(vp[:, 1:] - vp[:, :-1]) / vp[:, 1:])
    far = np.mean(np.abs(vp[:, -1] - vp[:, 0]) / vp[:, 0])
    assert near < 0.01 and far > 3 * near


def test_marmousi_missing_file_message(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.npz.*\.\./shared/data.*not shipped"):
        load_marmousi_elastic(tmp_path / "nothere.npz")


@pytest.mark.skipif(not os.path.isfile(MARMOUSI),
                    reason=f"shared data not found: {MARMOUSI} (../shared/data is not shipped with the project)")
def test_marmousi_elastic():
    vp, vs, rho = load_marmousi_elastic(MARMOUSI)
    assert vp.shape == vs.shape == rho.shape == (550, 800)
    assert 1700 < vp.min() < 1760 and 5400 < vp.max() <= 5500.001
    np.testing.assert_allclose(vs, (vp - 1360) / 1.16)
    np.testing.assert_allclose(rho, 0.31 * vp ** 0.25)
    assert vs.min() > 250 and 1.9 < rho.min() and rho.max() < 2.7
    vp2, vs2, _ = load_marmousi_elastic(MARMOUSI, decimate_x=2, decimate_z=5)
    assert vp2.shape == (110, 400)
    np.testing.assert_array_equal(vp2, vp[::5, ::2])


def _section_per_trace(model_kms, freq, dt):
    """Independent reference for marmousi_section: Gardner impedance, reflectivity, np.convolve per trace."""
    vp = model_kms * 1000.0
    z = vp * 0.31 * vp ** 0.25
    r = np.zeros_like(z)
    r[:-1] = (z[1:] - z[:-1]) / (z[1:] + z[:-1])
    n_half = int(np.ceil(1.5 / freq / dt))
    a = (np.pi * freq * np.arange(-n_half, n_half + 1) * dt) ** 2
    w = (1 - 2 * a) * np.exp(-a)
    n = r.shape[0]
    return np.stack([np.convolve(t, w)[n_half:n_half + n] for t in r.T], axis=1)


def _assert_close_to_peak(a, ref, rel=1e-6):
    assert a.shape == ref.shape
    np.testing.assert_allclose(a, ref, rtol=0, atol=rel * np.abs(ref).max())


def test_marmousi_section_on_a_small_model(tmp_path):
    rng = np.random.default_rng(0)
    model = np.full((40, 5), 2.0)
    model[20:] = 3.0  # one interface below sample 19
    model[:, 3:] += 0.5 * rng.random((40, 2))  # two traces of random layering
    path = tmp_path / "small.npz"
    np.savez(path, model=model, x=np.arange(5.0), z=np.arange(40.0))
    sec = marmousi_section(str(path), 30.0, 0.002)
    assert sec.dtype == np.float32 and sec.shape == (40, 5)
    _assert_close_to_peak(sec, _section_per_trace(model, 30.0, 0.002))
    # the flat traces: a zero-phase wavelet of peak r centred on the interface's sample
    z1, z2 = 2000.0 * gardner_rho(2000.0), 3000.0 * gardner_rho(3000.0)
    assert np.argmax(sec[:, 0]) == 19 and sec[19, 0] == pytest.approx((z2 - z1) / (z2 + z1), rel=1e-6)
    np.testing.assert_array_equal(sec[:, 0], sec[:, 2])
    # a wavelet longer than the section (5 Hz: 151 samples) is cropped, not an error
    _assert_close_to_peak(marmousi_section(str(path), 5.0, 0.002), _section_per_trace(model, 5.0, 0.002))


def test_marmousi_section_missing_file_message(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.npz.*\.\./shared/data.*not shipped"):
        marmousi_section(str(tmp_path / "nothere.npz"), 25.0, 0.002)


@pytest.mark.skipif(not os.path.isfile(MARMOUSI),
                    reason=f"shared data not found: {MARMOUSI} (../shared/data is not shipped with the project)")
def test_marmousi_section_matches_per_trace_convolution():
    sec = marmousi_section(MARMOUSI, 25.0, 0.002)
    assert sec.dtype == np.float32 and sec.shape == (550, 800)
    with np.load(MARMOUSI) as f:
        _assert_close_to_peak(sec, _section_per_trace(np.asarray(f["model"], dtype=np.float64), 25.0, 0.002))


# ---------------------------------------------------------------- Butterworth background

def _layered_trace(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    steps = np.where(rng.random(n) < 0.05, rng.standard_normal(n) * 300, 0.0)
    return 2500 + np.linspace(0, 1500, n) + np.cumsum(steps) * 0.3


def test_background_is_low_pass():
    dt, fc = 0.001, 10.0
    x = _layered_trace()
    b = butterworth_background(x, fc, dt, order=4)
    f = np.fft.rfftfreq(len(x), dt)
    win = np.hanning(len(x))
    detrend = np.linspace(x[0], x[-1], len(x))  # remove the end-to-end ramp before the spectra
    sx = np.abs(np.fft.rfft((x - detrend) * win))
    sb = np.abs(np.fft.rfft((b - detrend) * win))
    stop = f >= 3 * fc
    assert (sb[stop] ** 2).sum() / (sx[stop] ** 2).sum() < 1e-4  # squared Butterworth: -76 dB at 3 fc
    assert np.median(sb[f > 3 * fc] / sx[f > 3 * fc]) < 1e-3
    passb = (f > 0) & (f <= fc / 3)
    np.testing.assert_allclose(sb[passb] / sx[passb], 1.0, atol=0.1)  # low frequencies kept
    assert np.abs(b - x).max() < 0.2 * (x.max() - x.min())  # no end transients


def test_background_is_zero_phase():
    dt, fc = 0.001, 10.0
    x = _layered_trace(seed=1)
    xd = x - np.polyval(np.polyfit(np.arange(len(x)), x, 1), np.arange(len(x)))

    def peak_lag(y):
        yd = y - np.polyval(np.polyfit(np.arange(len(y)), y, 1), np.arange(len(y)))
        c = np.correlate(yd, xd, mode="full")
        return int(np.argmax(c)) - (len(x) - 1)

    assert peak_lag(butterworth_background(x, fc, dt)) == 0
    causal = sosfilt(butter(4, fc, fs=1 / dt, output="sos"), x - x[0]) + x[0]
    assert peak_lag(causal) > 5  # the check does catch a one-way (delaying) filter


def test_background_checks_cutoff():
    with pytest.raises(ValueError, match="Nyquist = 250 Hz"):
        butterworth_background(np.ones(50), 300.0, 0.002)


# ---------------------------------------------------------------- builder

@pytest.fixture(scope="module")
def section():
    return layered_elastic_section(n_samples=L, n_traces=N, seed=1, n_layers_range=(10, 20))


@pytest.fixture(scope="module")
def built(section, tmp_path_factory):
    out = {}
    for name, snr, fmt in (("clean", None, "mat"), ("noisy", 10.0, "npz")):
        folder = tmp_path_factory.mktemp(name)
        out[name] = build_ava_files(*section, str(folder), snr_db=snr, fmt=fmt, **BUILD)
    return out


def _forward(theta, wavemat):
    from ppsci_ext.physics.ava import AVAForward

    return AVAForward(wavemat, theta, method="zoeppritz", beyond_critical="mask", dtype="float64")


def test_add_white_noise_has_absolute_std():
    from ppsci_ext.data.ava.generator import add_white_noise

    gathers = [np.zeros((200, 50)), np.ones((100, 30))]
    noisy = add_white_noise(gathers, 0.5, np.random.default_rng(0))
    assert [g.shape for g in noisy] == [(200, 50), (100, 30)] and not np.any(gathers[0])
    assert noisy[0].std() == pytest.approx(0.5, rel=0.05) and noisy[1].mean() == pytest.approx(1.0, abs=0.05)
    clean = add_white_noise(gathers, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(clean[1], gathers[1])
    assert clean[1] is not gathers[1]


def test_ava_file_paths(tmp_path):
    out = str(tmp_path / "ava")
    assert ava_file_paths(out, "npz") == {"labelled": os.path.join(out, "train_labelled.npz"),
                                          "section": os.path.join(out, "section.npz"),
                                          "truth": os.path.join(out, "truth.npz")}
    assert ava_file_paths(out, "mat")["section"] == os.path.join(out, "section.mat")
    assert not os.path.exists(out)  # naming the files creates nothing
    with pytest.raises(ValueError, match="fmt must be 'mat' or 'npz', found 'h5'"):
        ava_file_paths(out, "h5")


def test_files_and_layouts(built, section):
    paths = built["clean"]
    assert paths == ava_file_paths(os.path.dirname(paths["truth"]), "mat")
    assert sorted(os.path.basename(p) for p in paths.values()) == ["section.mat", "train_labelled.mat", "truth.npz"]
    assert sorted(os.listdir(os.path.dirname(paths["truth"]))) == [MARKER, "section.mat", "train_labelled.mat",
                                                                   "truth.npz"]
    lab, sec = read_ava_file(paths["labelled"]), read_ava_file(paths["section"])
    assert "vp_aug" in lab and "vp_aug" not in sec
    assert lab["vp_aug"].shape == (L, len(WELLS) * N_AUG) and sec["vp_back"].shape == (L, N)
    assert sec["seis_s"].shape == (N, L, 15) and sec["theta"] == [[float(a) for a in range(s, s + 15)]
                                                                 for s in (1, 16, 31)]
    with np.load(paths["truth"]) as t:
        np.testing.assert_array_equal(t["well_traces"], WELLS)
        for k, a in zip(("vp", "vs", "rho"), section):
            np.testing.assert_array_equal(t[k], a)
    assert os.path.basename(built["noisy"]["section"]) == "section.npz"


def test_labels_are_the_well_traces_then_augmented_copies(built, section):
    lab = read_ava_file(built["clean"]["labelled"])
    for k, truth in zip(("vp_aug", "vs_aug", "rho_aug"), section):
        labels = lab[k].reshape(L, len(WELLS), N_AUG)
        np.testing.assert_array_equal(labels[:, :, 0], truth[:, WELLS])  # copy 0 = the well log
        rel = labels[:, :, 1:] / truth[:, WELLS][:, :, None] - 1
        assert 0.5 * BUILD["aug_noise"] < rel.std() < 1.5 * BUILD["aug_noise"]
        assert np.abs(rel).max() <= 3 * BUILD["aug_noise"] + 1e-12
    assert (lab["vs_aug"] <= lab["vp_aug"] / np.sqrt(2) + 1e-9).all()


def test_backgrounds_are_low_passed_models(built, section):
    sec, lab = read_ava_file(built["clean"]["section"]), read_ava_file(built["clean"]["labelled"])
    for p, truth in zip(("vp", "vs", "rho"), section):
        np.testing.assert_allclose(sec[f"{p}_back"], butterworth_background(truth, BUILD["cutoff_hz"], BUILD["dt"]),
                                   rtol=1e-12)
        np.testing.assert_allclose(lab[f"{p}_back"], butterworth_background(lab[f"{p}_aug"], BUILD["cutoff_hz"],
                                                                            BUILD["dt"]), rtol=1e-12)
        assert np.abs(np.diff(sec[f"{p}_back"], 2, axis=0)).max() < np.abs(np.diff(truth, 2, axis=0)).max() / 5


def test_noise_free_data_equal_the_forward_operator(built, section):
    from ppsci_ext.physics.wavelets import ricker_wavelet_matrix

    sec, lab = read_ava_file(built["clean"]["section"]), read_ava_file(built["clean"]["labelled"])
    np.testing.assert_allclose(sec["wavemat"], ricker_wavelet_matrix(BUILD["freq"], BUILD["dt"], L))
    op = _forward(sec["theta"], sec["wavemat"])
    m = paddle.to_tensor(np.stack([a.T for a in section], 1))
    for key, g in zip(("seis_s", "seis_m", "seis_l"), op.gathers(m)):
        np.testing.assert_allclose(sec[key], g.numpy(), rtol=1e-10, atol=1e-14)
    assert np.abs(sec["seis_m"]).max() > 1e-3  # not trivially zero
    m_lab = paddle.to_tensor(np.stack([lab[k].T for k in ("vp_aug", "vs_aug", "rho_aug")], 1))
    np.testing.assert_allclose(lab["seis_l"], op.gathers(m_lab)[2].numpy(), rtol=1e-10, atol=1e-14)
    # the data set's stacks are the operator's partial-angle stacks
    stacks = AVADataset(built["clean"]["section"], label_keys=(), dtype="float64").arrays()[0]
    np.testing.assert_allclose(stacks, op(m).numpy(), rtol=1e-10, atol=1e-14)


def test_noise_power_matches_snr(built):
    clean = read_ava_file(built["clean"]["section"])
    noisy = read_ava_file(built["noisy"]["section"])
    keys = ("seis_s", "seis_m", "seis_l")
    p_signal = np.mean(np.concatenate([clean[k].ravel() for k in keys]) ** 2)
    noise = np.concatenate([(noisy[k] - clean[k]).ravel() for k in keys])
    assert np.mean(noise ** 2) == pytest.approx(p_signal / 10 ** (10.0 / 10), rel=0.1)
    assert abs(noise.mean()) < 0.05 * noise.std()
    with np.load(built["noisy"]["truth"]) as t:
        assert float(t["signal_power"]) == pytest.approx(p_signal, rel=1e-12)
    # labelled traces get noise of the same absolute level
    lab_c, lab_n = read_ava_file(built["clean"]["labelled"]), read_ava_file(built["noisy"]["labelled"])
    lab_noise = np.concatenate([(lab_n[k] - lab_c[k]).ravel() for k in keys])
    assert np.std(lab_noise) == pytest.approx(np.std(noise), rel=0.1)


def test_deterministic_by_seed(section, built, tmp_path):
    again = build_ava_files(*section, str(tmp_path / "a"), snr_db=10.0, fmt="npz", **BUILD)
    for key in ("labelled", "section"):
        a, b = read_ava_file(built["noisy"][key]), read_ava_file(again[key])
        for k in a:
            if k != "theta":
                np.testing.assert_array_equal(a[k], b[k])
    other = build_ava_files(*section, str(tmp_path / "b"), snr_db=10.0, fmt="npz", **{**BUILD, "seed": 4})
    a, b = read_ava_file(built["noisy"]["section"]), read_ava_file(other["section"])
    assert not np.array_equal(a["seis_m"], b["seis_m"])
    np.testing.assert_array_equal(a["vp_back"], b["vp_back"])
    assert not np.array_equal(read_ava_file(built["noisy"]["labelled"])["vp_aug"],
                              read_ava_file(other["labelled"])["vp_aug"])


def test_layer_window_and_argument_checks(section, tmp_path):
    paths = build_ava_files(*section, str(tmp_path), layers=(8, 40), n_aug=1, snr_db=None, fmt="npz",
                            **{k: v for k, v in BUILD.items() if k != "n_aug"})
    lab = read_ava_file(paths["labelled"])
    assert lab["vp_aug"].shape == (32, 3)
    np.testing.assert_array_equal(lab["vp_aug"], section[0][8:40, WELLS])
    with pytest.raises(ValueError, match="well_traces"):
        build_ava_files(*section, str(tmp_path), **{**BUILD, "well_traces": [0, N]})
    with pytest.raises(ValueError, match="2-D"):
        build_ava_files(section[0][:, 0], section[1][:, 0], section[2][:, 0], str(tmp_path), **BUILD)
