"""Tests of ppsci_ext.physics.acoustic: analytic Green's function, reciprocity, PML, validation."""

import warnings

import numpy as np
import pytest

from ppsci_ext.physics import CFL_LIMIT, DEFAULT_PAD, cfl_number, forward_model, ricker


def _ricker_continuous(t, freq, t0):
    arg = (np.pi * freq * (t - t0)) ** 2
    return (1.0 - 2.0 * arg) * np.exp(-arg)


def _analytic_trace(r, v, t, freq, n_quad=2000):
    """u = w * G, G = H(t - r/v) / (2 pi sqrt(t^2 - r^2/v^2)); s = tau cosh(theta) removes the singularity."""
    tau = r / v
    out = np.zeros_like(t)
    for k, tk in enumerate(t):
        if tk > tau:
            theta = np.linspace(0.0, np.arccosh(tk / tau), n_quad)
            out[k] = np.trapz(_ricker_continuous(tk - tau * np.cosh(theta), freq, 1.0 / freq), theta) / (2.0 * np.pi)
    return out


def test_direct_wave_matches_analytic_green_function():
    v, dx, dt, freq, nt = 1500.0, 5.0, 5e-4, 10.0, 600  # m/s, m, s, Hz; 15 cells per 30 Hz wavelength
    vel = np.full((81, 101), v)
    offsets = (20, 40)  # cells: 100 m and 200 m
    data = forward_model(vel, dx=dx, dt=dt, nt=nt, freq=freq, src_x=(30,), src_z=40,
                         rec_x=[30 + o for o in offsets], rec_z=40, pad=30)
    t = np.arange(nt) * dt
    for k, off in enumerate(offsets):
        ref = _analytic_trace(off * dx, v, t, freq)
        err = np.linalg.norm(data[0, :, k] - ref) / np.linalg.norm(ref)
        assert err < 5e-3, f"offset {off * dx} m: relative L2 error {err:.2e} >= 0.5%"


@pytest.mark.parametrize("pad, tol", [(0, 1e-12), (10, 1e-5)])
def test_reciprocity_in_heterogeneous_model(pad, tol):
    # pad=0 (rigid walls) is exactly self-adjoint; the discrete C-PML is so only to ~4e-7.
    rng = np.random.default_rng(1)
    vel = 2000.0 + 500.0 * rng.random((30, 40))
    kw = dict(dx=10.0, dt=1e-3, nt=300, freq=15.0, src_z=5, rec_z=5, pad=pad)
    ab = forward_model(vel, src_x=(8,), rec_x=(31,), **kw)
    ba = forward_model(vel, src_x=(31,), rec_x=(8,), **kw)
    # (1/v^2) u_tt - lap u = w delta is self-adjoint, so G(r, s) = G(s, r) with no v factor.
    err = np.abs(ab - ba).max() / np.abs(ba).max()
    assert err < tol, f"reciprocity error {err:.2e} at pad={pad}"


def test_default_pad_reflection_below_half_percent():
    # OpenFWI geometry in a homogeneous model; reference: same model extended by 150
    # cells, whose boundary echoes arrive after 2 * 1500 m / 2500 m/s = 1.2 s > nt * dt.
    vel = np.full((70, 70), 2500.0, dtype=np.float32)
    ext = 150
    kw = dict(nt=800, src_x=(0, 34, 69))
    data = forward_model(vel, **kw)
    big = np.full((70 + 2 * ext, 70 + 2 * ext), 2500.0, dtype=np.float32)
    ref = forward_model(big, nt=800, src_x=(ext, ext + 34, ext + 69), src_z=ext + 1,
                        rec_x=np.arange(70) + ext, rec_z=ext + 1)
    err = np.linalg.norm(data - ref) / np.linalg.norm(ref)
    assert err < 5e-3, f"boundary reflection {err:.2e} of the reference at pad={DEFAULT_PAD}"


def test_cfl_violation_raises_with_numbers():
    vel = np.full((20, 20), 4500.0)
    assert cfl_number(4500.0, 1e-3, 10.0) == pytest.approx(0.45)
    assert CFL_LIMIT == pytest.approx(np.sqrt(3.0 / 8.0))
    with pytest.raises(ValueError, match=r"CFL condition fails: vmax\*dt/dx = 0.675 > 0.612.*vmax=4500"):
        forward_model(vel, dt=1.5e-3, nt=10, src_x=(3,), rec_x=(4,))


@pytest.mark.parametrize(
    "vel, kwargs, match",
    [
        (np.full((2, 2, 2, 2), 2000.0), {}, "vel must be"),
        (np.full((20, 20), np.nan), {}, "finite"),
        (np.full((20, 20), -1.0), {}, "> 0 m/s"),
        (np.full((20, 20), 2000.0), {"src_x": (20,)}, r"src_x must lie in \[0, 19\].*\[20\]"),
        (np.full((20, 20), 2000.0), {"rec_z": -1}, r"rec_z must lie in"),
        (np.full((20, 20), 2000.0), {"pad": -1}, "pad must be"),
        (np.full((20, 20), 2000.0), {"wavelet": np.zeros(3)}, "wavelet must have shape"),
    ],
)
def test_validation_errors(vel, kwargs, match):
    kw = dict(nt=10, src_x=(1,), rec_x=(2,))
    kw.update(kwargs)
    with pytest.raises(ValueError, match=match):
        forward_model(vel, **kw)


def test_dispersion_warning():
    with pytest.warns(RuntimeWarning, match="dispersion"):
        forward_model(np.full((20, 20), 1500.0), freq=40.0, nt=10, src_x=(1,), rec_x=(2,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forward_model(np.full((20, 20), 1500.0), nt=10, src_x=(1,), rec_x=(2,))  # OpenFWI: no warning


def test_shapes_dtypes_and_determinism():
    vel = np.linspace(1500, 4500, 2 * 70 * 70, dtype=np.float32).reshape(2, 70, 70)
    a = forward_model(vel, nt=50)
    assert a.shape == (2, 5, 50, 70) and a.dtype == np.float32
    assert not np.any(a[:, :, 0])  # sample 0 is t = 0, before the source acts
    np.testing.assert_array_equal(a, forward_model(vel, nt=50, num_threads=1))
    one = forward_model(vel[1].astype(np.float64), nt=50, src_x=(3, 9), rec_x=[0, 5, 6])
    assert one.shape == (2, 50, 3) and one.dtype == np.float64
    # each model is computed on its own: batching does not change the result
    np.testing.assert_allclose(a[1], forward_model(vel[1], nt=50), rtol=0, atol=0)


def test_ricker_peak_and_dtype():
    w = ricker(15.0, 200, 1e-3)
    assert w.dtype == np.float32 and w.shape == (200,)
    assert np.argmax(w) == round(1 / 15.0 / 1e-3) and w.max() == pytest.approx(1.0, abs=1e-2)
    assert np.argmax(ricker(10.0, 300, 1e-3, t0=0.2)) == 200
