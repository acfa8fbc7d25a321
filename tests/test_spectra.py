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
