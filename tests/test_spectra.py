import numpy as np
import pytest

from ppsci_ext.spectra import amplitude_spectrum
from ppsci_ext.spectra import bandwidth_db
from ppsci_ext.spectra import resample_dt


def _ricker_section(fp, dt=0.001, n=2000, ntr=4):
    t = (np.arange(n) - n // 2) * dt
    shifts = np.arange(ntr) * 3 * dt  # small per-trace delays
    arg = (np.pi * fp * (t[None, :] - shifts[:, None])) ** 2
    return (1 - 2 * arg) * np.exp(-arg)


def _bisect(g, a, b, iters=80):
    ga = g(a)
    for _ in range(iters):
        m = 0.5 * (a + b)
        if (g(m) > 0) == (ga > 0):
            a, ga = m, g(m)
        else:
            b = m
    return 0.5 * (a + b)


@pytest.mark.parametrize("fp", [15.0, 30.0])
def test_ricker_peak_and_band(fp):
    dt = 0.001
    f, amp = amplitude_spectrum(_ricker_section(fp, dt), dt)
    assert f[-1] == pytest.approx(0.5 / dt)
    assert amp.max() == pytest.approx(1.0)
    assert abs(f[np.argmax(amp)] - fp) < 1.0
    # analytic |R(f)| ∝ f^2 exp(-f^2/fp^2); normalised: (f/fp)^2 exp(1 - (f/fp)^2) = 0.5
    g = lambda x: (x / fp) ** 2 * np.exp(1 - (x / fp) ** 2) - 0.5  # noqa: E731
    lo_ref, hi_ref = _bisect(g, 1e-6, fp), _bisect(g, fp, 5 * fp)
    lo, hi, width = bandwidth_db(f, amp, -6.0)  # -6 dB = 0.501 of the max
    lo_h, hi_h, _ = bandwidth_db(f, amp, 20 * np.log10(0.5))  # exactly half amplitude
    assert abs(lo_h - lo_ref) < 1.0 and abs(hi_h - hi_ref) < 1.0
    assert abs(lo - lo_ref) < 1.0 and abs(hi - hi_ref) < 1.0
    assert width == pytest.approx(hi - lo)


def test_two_sinusoids_two_peaks():
    dt, n = 0.002, 1000
    t = np.arange(n) * dt
    sec = np.stack([np.sin(2 * np.pi * 12 * t + p) + 0.7 * np.sin(2 * np.pi * 37 * t) for p in (0.0, 1.0)])
    f, amp = amplitude_spectrum(sec, dt)
    loc = np.where((amp[1:-1] > amp[:-2]) & (amp[1:-1] >= amp[2:]))[0] + 1
    top = sorted(f[loc[np.argsort(amp[loc])[-2:]]])
    assert top == pytest.approx([12.0, 37.0], abs=0.5)
    # time along axis 0 gives the same spectrum
    f0, amp0 = amplitude_spectrum(sec.T, dt, axis=0)
    np.testing.assert_allclose(amp0, amp)


def test_box_bandwidth():
    f = np.arange(0, 101, 1.0)
    amp = np.where((f >= 20) & (f <= 49), 1.0, 0.0)  # 30 samples, df = 1 Hz
    lo, hi, width = bandwidth_db(f, amp, 20 * np.log10(0.5))
    assert width == pytest.approx(30.0)
    assert lo == pytest.approx(19.5) and hi == pytest.approx(49.5)
    lo, hi, width = bandwidth_db(f, amp)  # -6 dB: threshold 0.501, edges within 0.01 Hz of midpoints
    assert width == pytest.approx(30.0, abs=0.01)
    # band touching the end of the spectrum stops there
    lo, hi, width = bandwidth_db(f, (f >= 90).astype(float))
    assert hi == 100.0 and lo == pytest.approx(89.5, abs=0.01)


def test_resample_dt():
    assert resample_dt(0.004, 2) == pytest.approx(0.002)
    f1, _ = amplitude_spectrum(np.random.default_rng(0).normal(size=(2, 64)), 0.004)
    f2, _ = amplitude_spectrum(np.random.default_rng(0).normal(size=(2, 128)), resample_dt(0.004, 2))
    assert f2[-1] == pytest.approx(2 * f1[-1])


def test_input_checks():
    sec = np.zeros((2, 16))
    with pytest.raises(ValueError, match="dt must be a positive"):
        amplitude_spectrum(sec, 0.0)
    with pytest.raises(ValueError, match="dt must be a positive"):
        amplitude_spectrum(sec, -0.001)
    with pytest.raises(ValueError, match="2-D"):
        amplitude_spectrum(np.zeros(16), 0.001)
    with pytest.raises(ValueError, match="1-D"):
        bandwidth_db(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="same length"):
        bandwidth_db(np.arange(3.0), np.ones(4))
    with pytest.raises(ValueError, match="positive maximum"):
        bandwidth_db(np.arange(3.0), np.zeros(3))
    with pytest.raises(ValueError, match="dt must be a positive"):
        resample_dt(0, 2)
    with pytest.raises(ValueError, match="factor"):
        resample_dt(0.004, 0)


def test_spectral_fidelity_against_a_per_trace_computation():
    """Band ratios recomputed trace by trace with an explicit Hann window and DFT sum; exact cases too."""
    from ppsci_ext.spectra import spectral_fidelity

    rng = np.random.default_rng(0)
    true = rng.standard_normal((6, 64))
    pred = true + 0.3 * rng.standard_normal((6, 64))
    got = spectral_fidelity(pred, true)
    n = 64
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / (n - 1))  # Hann
    dft = np.exp(-2j * np.pi * np.outer(np.arange(n // 2 + 1), np.arange(n)) / n)

    def spec(a):
        return np.mean([np.abs(dft @ (w * tr)) for tr in a], axis=0)

    sp, st = spec(pred), spec(true)
    for k, key in enumerate(["spec_ratio_0_25", "spec_ratio_25_50", "spec_ratio_50_75", "spec_ratio_75_100"]):
        lo, hi = round(k * 33 / 4), round((k + 1) * 33 / 4)
        assert abs(got[key] - sp[lo:hi].sum() / st[lo:hi].sum()) < 1e-12
    loud = [f for f in range(1, 33) if st[f] >= 0.01 * st[1:].max()]  # within 40 dB of the truth's peak
    assert abs(got["log_spectral_distance"] - np.sqrt(np.mean((20 * np.log10(sp[loud] / st[loud])) ** 2))) < 1e-9
    peak = 1 + np.argmax(st[1:])
    top = max(f for f in range(peak, 33) if st[f] >= 0.1 * st[peak])
    assert abs(got["spec_ratio_upper_signal"] - sp[peak:top + 1].sum() / st[peak:top + 1].sum()) < 1e-12
    same = spectral_fidelity(true, true)
    assert all(abs(v - 1) < 1e-12 for k, v in same.items() if k.startswith("spec"))
    assert same["log_spectral_distance"] == 0
    half = spectral_fidelity(0.5 * true, true)
    assert all(abs(v - 0.5) < 1e-12 for k, v in half.items() if k.startswith("spec"))
    assert abs(half["log_spectral_distance"] - 20 * np.log10(2)) < 1e-9


def test_spectral_fidelity_sees_smoothing_and_noise():
    from scipy.ndimage import gaussian_filter1d

    from ppsci_ext.spectra import spectral_fidelity

    true = np.random.default_rng(1).standard_normal((32, 256))
    smooth = spectral_fidelity(gaussian_filter1d(true, 2.0, axis=-1), true)
    assert smooth["spec_ratio_0_25"] > 0.6 and smooth["spec_ratio_75_100"] < 0.05  # over-smoothed: upper bands lost
    # a band-limited section: its upper signal band, not the empty top of the Nyquist, shows the smoothing
    from ppsci_ext.data.sr.generator import synthetic_section

    sec = synthetic_section(np.random.default_rng(2), size=128).astype(np.float64)
    soft = spectral_fidelity(gaussian_filter1d(sec, 1.5, axis=-1), sec)
    assert soft["spec_ratio_upper_signal"] < 0.8 < spectral_fidelity(sec, sec)["spec_ratio_upper_signal"]
    # the log-spectral distance sees the smoothing, not the added noise far above the band, where the truth is
    # numerically zero (without the 40 dB limit the faint noise alone scores 18 dB)
    faint = sec + 1e-4 * np.random.default_rng(3).standard_normal(sec.shape)
    assert spectral_fidelity(faint, sec)["log_spectral_distance"] < 1 < soft["log_spectral_distance"]
    # along the other axis nothing was smoothed; a 3-D volume is its stack of sections
    assert spectral_fidelity(gaussian_filter1d(true, 2.0, axis=-1), true, axis=0)["spec_ratio_75_100"] > 0.3
    vol = np.stack([true, true])
    assert spectral_fidelity(vol, vol)["log_spectral_distance"] == 0
    with pytest.raises(ValueError, match=r"prediction \(32, 255\) and truth \(32, 256\)"):
        spectral_fidelity(true[:, :-1], true)
