"""ppsci_ext.physics.fwi: the adjoint of the acoustic modelling (dot-test, finite differences, deepwave's autograd
gradient) and the refinement on tiny grids."""
import warnings

import numpy as np
import pytest

from ppsci_ext.physics import forward_model
from ppsci_ext.physics import openfwi_ricker
from ppsci_ext.physics.fwi import born
from ppsci_ext.physics.fwi import gradient
from ppsci_ext.physics.fwi import lowpass
from ppsci_ext.physics.fwi import misfit_gradient
from ppsci_ext.physics.fwi import refine
from tests.conftest import require

NZ, NX = 24, 30
SMALL = dict(nt=200, src_x=(3, 15, 27), dx=10.0, dt=1e-3, freq=15.0)


def rough_model(seed=0):
    rng = np.random.default_rng(seed)
    return 2000.0 + 800.0 * np.linspace(0, 1, NZ)[:, None] + 100.0 * rng.standard_normal((NZ, NX))


@pytest.mark.parametrize("convention", ["ours", "openfwi"])
@pytest.mark.parametrize("pad", [0, 6])
def test_dot_test_of_born_and_its_adjoint(convention, pad):
    """<B dv, r> = <dv, B^T r> to float64 rounding: the gradient is the exact transpose of the linearised modelling,
    C-PML memory terms included (pad 6), in both conventions."""
    rng = np.random.default_rng(1)
    vel = rough_model()
    dv = rng.standard_normal(vel.shape)
    d = born(vel, dv, pad=pad, convention=convention, **SMALL)
    r = rng.standard_normal(d.shape)
    g = gradient(vel, r, pad=pad, convention=convention, **SMALL)
    lhs, rhs = np.sum(d * r), np.sum(g * dv)
    assert abs(lhs - rhs) <= 1e-10 * abs(lhs)
    assert np.abs(d).max() > 0


def test_born_is_the_derivative_of_the_modelling():
    """Central differences of forward_model along a perturbation that leaves the maximum velocity (which sets the
    C-PML's damping, not differentiated) unchanged: Born to 1e-6 of its peak."""
    rng = np.random.default_rng(2)
    vel = rough_model()
    dv = rng.standard_normal(vel.shape)
    dv[vel == vel.max()] = 0.0
    eps = 1e-2  # m/s
    fd = (forward_model(vel + eps * dv, pad=6, **SMALL) - forward_model(vel - eps * dv, pad=6, **SMALL)) / (2 * eps)
    d = born(vel, dv, pad=6, **SMALL)
    assert np.abs(fd - d).max() <= 1e-6 * np.abs(d).max()


@pytest.mark.parametrize("fmax", [None, 10.0])
def test_misfit_gradient_matches_finite_differences(fmax):
    rng = np.random.default_rng(3)
    vel = rough_model()
    truth = vel.copy()
    truth[10:14, 8:20] += 200.0
    kw = dict(SMALL, nt=300, pad=6)
    obs = forward_model(truth, **kw)
    j, g, syn = misfit_gradient(vel, obs, fmax=fmax, **kw)
    assert j > 0 and syn.shape == obs.shape
    dv = rng.standard_normal(vel.shape)
    dv[vel == vel.max()] = 0.0
    eps = 1e-2
    fd = (misfit_gradient(vel + eps * dv, obs, fmax=fmax, **kw)[0]
          - misfit_gradient(vel - eps * dv, obs, fmax=fmax, **kw)[0]) / (2 * eps)
    assert abs(fd - np.sum(g * dv)) <= 1e-5 * abs(fd)


@pytest.mark.timeout(300)
def test_gradient_agrees_with_deepwave_autograd():
    """The same misfit (each code fitting its own data of the true model) differentiated by deepwave's autograd
    (its own scalar propagator, C-PML and 4th-order stencil): the gradient maps agree to 0.1% in correlation and
    1% in scale (measured: 0.99992, 1.003)."""
    torch = require("torch")
    deepwave = require("deepwave")
    warnings.filterwarnings("ignore", module="deepwave")
    nz, nx, nt, pad, sx = 30, 40, 400, 10, (5, 20, 35)
    z, x = np.arange(nz)[:, None], np.arange(nx)[None, :]
    v0 = np.broadcast_to(1800.0 + 40.0 * z, (nz, nx)).copy()
    vt = v0 + 250.0 * np.exp(-((z - 15) ** 2 + (x - 20) ** 2) / 20.0)
    kw = dict(nt=nt, src_x=sx, pad=pad, convention="openfwi")
    ours = gradient(v0, forward_model(v0, **kw) - forward_model(vt, **kw), **kw)
    src = torch.zeros(len(sx), 1, 2, dtype=torch.long)
    src[:, 0, 0], src[:, 0, 1] = 1, torch.tensor(sx)
    rec = torch.zeros(len(sx), nx, 2, dtype=torch.long)
    rec[:, :, 0], rec[:, :, 1] = 1, torch.arange(nx)
    amp = torch.from_numpy(openfwi_ricker(15.0, nt, 1e-3, dtype=np.float64)).repeat(len(sx), 1, 1)

    def run(v):
        return deepwave.scalar(v, 10.0, 1e-3, source_amplitudes=amp, source_locations=src, receiver_locations=rec,
                               pml_width=pad, accuracy=4, pml_freq=15.0)[-1]

    with torch.no_grad():
        obs = run(torch.from_numpy(vt))
    v = torch.from_numpy(v0).requires_grad_()
    (0.5 * (run(v) - obs).square().sum()).backward()
    theirs = v.grad.numpy()
    a, b = ours.ravel(), theirs.ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.999
    assert abs(np.dot(a, b) / np.dot(b, b) - 1.0) < 0.01


def test_lowpass_is_symmetric_and_cuts_high_frequencies():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 3, 256, 5))
    assert abs(np.sum(lowpass(a, 20.0, 1e-3) * b) - np.sum(a * lowpass(b, 20.0, 1e-3))) < 1e-10 * np.abs(a).sum()
    t = np.arange(512)[:, None] * 1e-3
    low, high = np.sin(2 * np.pi * 5 * t), np.sin(2 * np.pi * 60 * t)
    np.testing.assert_allclose(lowpass(low + high, 20.0, 1e-3)[100:400], low[100:400], atol=0.02)
    assert lowpass(low, None, 1e-3) is not None and np.array_equal(lowpass(low, None, 1e-3), low)
    with pytest.raises(ValueError, match="fmax must be > 0 Hz, found -1"):
        lowpass(low, -1.0, 1e-3)


def test_refine_fits_the_data_and_moves_towards_the_truth():
    """A smoothed start on a tiny grid: 12 iterations over two bands cut the misfit tenfold and the model error by
    40% (measured: 220x and 52%), within the bounds; the history has one entry per iteration plus the start."""
    from scipy.ndimage import gaussian_filter

    truth = np.full((NZ, NX), 2000.0)
    truth[12:] = 2600.0
    truth[6:9, 10:20] = 2300.0
    kw = dict(SMALL, nt=300, pad=6)
    obs = forward_model(truth, **kw)
    start = gaussian_filter(truth, 3.0, mode="nearest")
    res = refine(start, obs, iters=12, bands=[10.0, None], vmin=1500.0, vmax=3000.0, depth_power=1.0,
                 truth=truth, **kw)
    h = res.history[0]
    assert res.vel.shape == truth.shape and res.vel.min() >= 1500.0 and res.vel.max() <= 3000.0
    assert 2 <= len(h["misfit"]) <= 13 and h["band"][0] == 10.0 and h["band"][-1] is None
    assert h["misfit"][-1] < 0.1 * h["misfit"][0]
    assert h["mae"][-1] < 0.6 * h["mae"][0]
    np.testing.assert_allclose(h["mae"][-1], np.abs(res.vel - truth).mean(), rtol=1e-5)


def test_refine_and_gradient_refuse_bad_input():
    vel = rough_model()
    obs = forward_model(vel, pad=6, **SMALL)
    with pytest.raises(ValueError, match=r"need 0 < vmin < vmax \(m/s\), found vmin=3000.0, vmax=2000.0"):
        refine(vel, obs, iters=1, bands=[None], vmin=3000.0, vmax=2000.0, depth_power=1.0, pad=6, **SMALL)
    with pytest.raises(ValueError, match=r"observed must have the data's shape \(3, 200, 30\), found \(3, 200, 29\)"):
        misfit_gradient(vel, obs[..., :29], pad=6, **SMALL)
    with pytest.raises(ValueError, match=r"observed must be \[N, n_src, nt, n_rec\] for 1 starting models, found shape \(2, 3, 200, 30\)"):
        refine(vel, np.stack([obs, obs]), iters=1, bands=[None], vmin=1500.0, vmax=4000.0, depth_power=1.0,
               pad=6, **SMALL)
    with pytest.raises(ValueError, match=r"bands must be fmax values > 0 Hz or None, found \[10.0, 'None'\]"):
        refine(vel, obs, iters=1, bands=[10.0, "None"], vmin=1500.0, vmax=4000.0, depth_power=1.0, pad=6, **SMALL)
    with pytest.raises(TypeError, match=r"unexpected arguments \['nshots'\]"):
        gradient(vel, obs, nshots=3, **SMALL)
