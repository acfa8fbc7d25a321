"""Tests of ppsci_ext.physics.ava: exact Zoeppritz vs bruges, Aki-Richards vs pylops, wavelet matrices,
gradients vs finite differences (also second order), critical-angle handling, stacks vs gathers."""

import numpy as np
import paddle
import pytest

from ppsci_ext.physics import (
    AVAForward,
    aki_richards_rpp,
    critical_angle_deg,
    default_theta_groups,
    reflectivity,
    ricker,
    ricker_wavelet_matrix,
    wavelet_matrix,
    zoeppritz_rpp,
)
from tests.conftest import require


def _t(x):
    return paddle.to_tensor(np.asarray(x, dtype=np.float64))


def _smooth_model(n_traces, n_samples, seed, step=0.02):
    """[B, 3, L] float64 (vp m/s, vs m/s, rho g/cc): log-random walks, ~`step` relative change per sample."""
    rng = np.random.default_rng(seed)

    def walk(scale):
        x = np.cumsum(rng.normal(0.0, scale, (n_traces, n_samples)), axis=1)
        return x - x.mean(axis=1, keepdims=True)

    vp = 3000.0 * np.exp(walk(step))
    vs = vp / 1.9 * np.exp(walk(step / 2))
    rho = 2.3 * np.exp(walk(step / 3))
    return np.stack([vp, vs, rho], axis=1)


def _random_interfaces(n, seed):
    """Random elastic pairs, pre-critical up to 45 degrees (vp2/vp1 < sqrt(2))."""
    rng = np.random.default_rng(seed)
    vp1 = rng.uniform(1800.0, 5000.0, n)
    vp2 = vp1 * rng.uniform(0.7, 1.35, n)
    vs1, vs2 = vp1 * rng.uniform(0.35, 0.65, n), vp2 * rng.uniform(0.35, 0.65, n)
    rho1 = rng.uniform(1.9, 2.8, n)
    rho2 = rho1 * rng.uniform(0.8, 1.25, n)
    return vp1, vs1, rho1, vp2, vs2, rho2


# --------------------------------------------------------------------------------------------------------
# Single interface
# --------------------------------------------------------------------------------------------------------

def test_zoeppritz_matches_bruges():
    bruges = require("bruges")
    params = _random_interfaces(300, seed=0)
    theta_deg = np.arange(0.0, 46.0)
    ref = bruges.reflection.zoeppritz_rpp(*params, theta_deg)  # [A, n], complex
    assert np.abs(ref.imag).max() == 0.0
    ours = zoeppritz_rpp(*map(_t, params), _t(np.deg2rad(theta_deg)[:, None])).numpy()
    np.testing.assert_allclose(ours, ref.real, rtol=1e-6, atol=1e-12)
    assert np.abs(ref.real).max() > 0.1  # the comparison covers sizeable coefficients


def test_normal_incidence_is_impedance_contrast():
    vp1, vs1, rho1, vp2, vs2, rho2 = _random_interfaces(50, seed=1)
    z1, z2 = rho1 * vp1, rho2 * vp2
    ours = zoeppritz_rpp(*map(_t, (vp1, vs1, rho1, vp2, vs2, rho2)), _t(0.0)).numpy()
    np.testing.assert_allclose(ours, (z2 - z1) / (z2 + z1), rtol=1e-12, atol=1e-15)
    # index convention of the batched version: interface i (samples i, i+1) at index i, last index 0
    m = _smooth_model(2, 12, seed=2, step=0.05)
    r = reflectivity(*(_t(m[:, k]) for k in range(3)), [0.0]).numpy()[:, :, 0]
    z = m[:, 0] * m[:, 2]
    np.testing.assert_allclose(r[:, :-1], (z[:, 1:] - z[:, :-1]) / (z[:, 1:] + z[:, :-1]), rtol=1e-12, atol=1e-15)
    assert np.all(r[:, -1] == 0.0)


def test_linearisation_close_to_exact_for_small_contrasts():
    vp1, vs1, rho1, vp2, vs2, rho2 = _random_interfaces(200, seed=3)
    rng = np.random.default_rng(4)
    small = [x * (1.0 + rng.uniform(-0.02, 0.02, x.size)) for x in (vp1, vs1, rho1)]  # <= 2% contrasts
    theta = _t(np.deg2rad(np.arange(0.0, 41.0))[:, None])
    exact = zoeppritz_rpp(vp1, vs1, rho1, *small, theta).numpy()
    approx = aki_richards_rpp(vp1, vs1, rho1, *small, theta).numpy()
    assert np.abs(exact).max() > 0.01
    assert np.abs(approx - exact).max() < 0.02 * np.abs(exact).max()
    # the same through the batched log-parameter version on a smooth model (~1% steps)
    m = [_t(x) for x in _smooth_model(3, 40, seed=5, step=0.01).transpose(1, 0, 2)]
    exact = reflectivity(*m, np.arange(0, 41)).numpy()
    approx = reflectivity(*m, np.arange(0, 41), method="aki_richards").numpy()
    assert np.abs(approx - exact).max() < 0.02 * np.abs(exact).max()


def test_critical_angle_deg():
    np.testing.assert_allclose(critical_angle_deg(2000.0, 4000.0), 30.0)
    out = critical_angle_deg(np.array([2000.0, 3000.0, 2500.0]), np.array([4000.0, 2000.0, 2500.0]))
    assert out[0] == pytest.approx(30.0) and np.isinf(out[1]) and np.isinf(out[2])
    out_pd = critical_angle_deg(_t([2000.0, 3000.0]), _t([4000.0, 2000.0])).numpy()
    assert out_pd[0] == pytest.approx(30.0) and np.isinf(out_pd[1])


# --------------------------------------------------------------------------------------------------------
# Wavelet matrices
# --------------------------------------------------------------------------------------------------------

def test_wavelet_matrix_matches_np_convolve():
    rng = np.random.default_rng(6)
    r = rng.normal(size=40)
    w = ricker(25.0, 31, 0.002, t0=15 * 0.002)
    np.testing.assert_allclose(wavelet_matrix(w, 40) @ r, np.convolve(r, w, mode="same"), atol=1e-12)
    w_odd = rng.normal(size=9)
    w_odd[4] = 10.0  # peak at the middle sample, not symmetric
    np.testing.assert_allclose(wavelet_matrix(w_odd, 40) @ r, np.convolve(r, w_odd, mode="same"), atol=1e-12)
    w_long = ricker(10.0, 61, 0.002, t0=30 * 0.002)  # longer than the trace: truncated at both ends
    np.testing.assert_allclose(wavelet_matrix(w_long, 40) @ r, np.convolve(r, w_long)[30:70], atol=1e-12)
    w_even = rng.normal(size=8)
    w_even[5] = 10.0  # even length: centred on the peak sample (index 5)
    np.testing.assert_allclose(wavelet_matrix(w_even, 40) @ r, np.convolve(r, w_even)[5:45], atol=1e-12)
    mat = ricker_wavelet_matrix(30.0, 0.002, 40)  # default: 2 * ceil(1.5 / (30 * 0.002)) + 1 = 51 samples
    np.testing.assert_allclose(mat, wavelet_matrix(ricker(30.0, 51, 0.002, t0=25 * 0.002), 40))
    assert mat[10, 10] == pytest.approx(1.0) and mat.shape == (40, 40)


# --------------------------------------------------------------------------------------------------------
# Batched Aki-Richards vs pylops
# --------------------------------------------------------------------------------------------------------

def _pylops_traces(m, wav, theta_deg, vsvp_rows):
    """pylops' PrestackLinearModelling on ln(m), one operator per trace: [B, L, A]."""
    prestack = require("pylops.avo.prestack")
    out = []
    for b in range(m.shape[0]):
        op = prestack.PrestackLinearModelling(wav, theta_deg, vsvp=vsvp_rows[b], nt0=m.shape[2],
                                              linearization="akirich", explicit=False, kind="forward")
        out.append((op @ np.log(m[b]).T.ravel()).reshape(m.shape[2], theta_deg.size))  # model [L, 3]
    return np.stack(out)


@pytest.mark.parametrize("vsvp_kind", ["constant", "per_sample", "per_trace", "from_model"])
def test_aki_richards_matches_pylops(vsvp_kind):
    n_traces, n_samples = 3, 60
    m = _smooth_model(n_traces, n_samples, seed=7)
    wav = ricker(30.0, 31, 0.002, t0=15 * 0.002).astype(np.float64)
    theta_deg = np.arange(1.0, 46.0)
    rng = np.random.default_rng(8)
    if vsvp_kind == "constant":
        vsvp, rows = 0.5, [0.5] * n_traces
    elif vsvp_kind == "per_sample":
        vsvp = rng.uniform(0.4, 0.6, n_samples)
        rows = [vsvp] * n_traces
    elif vsvp_kind == "per_trace":
        vsvp = rng.uniform(0.4, 0.6, (n_traces, n_samples))
        rows = list(vsvp)
    else:  # None: k = vs/vp of each sample of the model itself
        vsvp, rows = None, list(m[:, 1] / m[:, 0])
    ref = _pylops_traces(m, wav, theta_deg, rows)
    vp, vs, rho = (_t(m[:, k]) for k in range(3))
    r = reflectivity(vp, vs, rho, theta_deg, method="aki_richards", vsvp=vsvp).numpy()
    ours = np.einsum("ij,bja->bia", wavelet_matrix(wav, n_samples), r)
    scale = np.abs(ref).max()
    assert np.abs(ours - ref).max() < 1e-6 * scale
    op = AVAForward(wavelet_matrix(wav, n_samples), [theta_deg], method="aki_richards", vsvp=vsvp, dtype="float64")
    assert np.abs(op.gathers(_t(m))[0].numpy() - ref).max() < 1e-6 * scale
    assert np.abs(op(_t(m)).numpy()[:, 0] - ref.sum(axis=2)).max() < 1e-6 * np.abs(ref.sum(axis=2)).max()


# --------------------------------------------------------------------------------------------------------
# Operator: stacks, gradients
# --------------------------------------------------------------------------------------------------------

METHOD_CASES = [("zoeppritz", "error"), ("zoeppritz", "mask"), ("aki_richards", "error"), ("aki_richards", "mask")]


@pytest.mark.parametrize("method, beyond", METHOD_CASES)
def test_gathers_sum_to_stacks(method, beyond):
    m = _t(_smooth_model(3, 50, seed=9))
    op = AVAForward(ricker_wavelet_matrix(30.0, 0.002, 50), default_theta_groups(), method=method,
                    beyond_critical=beyond, dtype="float64")
    stacks = op(m).numpy()
    gathers = op.gathers(m)
    assert stacks.shape == (3, 3, 50) and [tuple(g.shape) for g in gathers] == [(3, 50, 15)] * 3
    np.testing.assert_allclose(np.stack([g.numpy().sum(axis=2) for g in gathers], axis=1), stacks,
                               atol=1e-12 * np.abs(stacks).max())
    r = reflectivity(*(m[:, k] for k in range(3)), np.arange(1, 46), method=method, beyond_critical=beyond)
    w = ricker_wavelet_matrix(30.0, 0.002, 50)
    np.testing.assert_allclose(np.einsum("ij,bja->bia", w, r.numpy())[:, :, 15:30], gathers[1].numpy(),
                               atol=1e-12 * np.abs(stacks).max())


def _operator_and_data(method, vsvp=None, seed=10, n_traces=2, n_samples=30):
    m = _smooth_model(n_traces, n_samples, seed=seed)
    op = AVAForward(ricker_wavelet_matrix(30.0, 0.002, n_samples), default_theta_groups(), method=method,
                    vsvp=vsvp, dtype="float64")
    d_obs = op(_t(_smooth_model(n_traces, n_samples, seed=seed + 1)))
    return m, op, d_obs


@pytest.mark.parametrize("method, vsvp", [("zoeppritz", None), ("aki_richards", None), ("aki_richards", 0.5)])
def test_gradient_matches_finite_differences(method, vsvp):
    m, op, d_obs = _operator_and_data(method, vsvp)
    phi, grad = op.misfit_and_gradient(_t(m), d_obs)
    x = _t(m)
    x.stop_gradient = False
    phi_auto = op.misfit(x, d_obs)
    (grad_auto,) = paddle.grad(phi_auto.sum(), x)
    np.testing.assert_allclose(phi.numpy(), phi_auto.numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad.numpy(), grad_auto.numpy(), rtol=1e-9, atol=1e-12 * np.abs(grad.numpy()).max())
    assert phi.stop_gradient and grad.stop_gradient and tuple(grad.shape) == m.shape

    def total_misfit(model):
        return float(op.misfit(_t(model), d_obs).sum())

    rng = np.random.default_rng(11)
    g = grad.numpy()
    for b, p, i in zip(rng.integers(0, m.shape[0], 12), np.tile([0, 1, 2], 4), rng.integers(0, m.shape[2], 12)):
        h = 1e-5 * m[b, p, i]
        plus, minus = m.copy(), m.copy()
        plus[b, p, i] += h
        minus[b, p, i] -= h
        fd = (total_misfit(plus) - total_misfit(minus)) / (2 * h)
        scale = np.abs(g[:, p]).max()
        assert abs(g[b, p, i] - fd) <= 1e-4 * abs(fd) + 1e-7 * scale, (method, b, p, i, g[b, p, i], fd)


@pytest.mark.parametrize("method", ["zoeppritz", "aki_richards"])
def test_create_graph_gradient_is_differentiable(method):
    m, op, d_obs = _operator_and_data(method, seed=12)
    rng = np.random.default_rng(13)
    direction = _t(rng.normal(size=m.shape) * m * 0.01)
    probe = _t(rng.normal(size=m.shape) / m)

    def objective(alpha):  # J(alpha) = <grad(m0 + alpha dm), probe> + misfit
        phi, grad = op.misfit_and_gradient(_t(m) + alpha * direction, d_obs, create_graph=True)
        return (grad * probe).sum() + phi.sum()

    alpha = _t(0.3)
    alpha.stop_gradient = False
    value = objective(alpha)
    assert not value.stop_gradient
    (d_alpha,) = paddle.grad(value, alpha)
    h = 1e-5
    fd = (float(objective(_t(0.3 + h))) - float(objective(_t(0.3 - h)))) / (2 * h)
    assert abs(float(d_alpha) - fd) <= 1e-5 * abs(fd), (float(d_alpha), fd)


def test_float32_operator_close_to_float64():
    m = _smooth_model(4, 200, seed=14)
    w = ricker_wavelet_matrix(30.0, 0.002, 200)
    for method in ("zoeppritz", "aki_richards"):
        ops = [AVAForward(w, default_theta_groups(), method=method, dtype=dt) for dt in ("float32", "float64")]
        d_obs = ops[1](_t(_smooth_model(4, 200, seed=15)))
        d32, d64 = (op(_t(m)).numpy() for op in ops)
        assert d32.dtype == np.float32 and np.abs(d32 - d64).max() < 1e-4 * np.abs(d64).max()
        g32, g64 = (op.misfit_and_gradient(_t(m), d_obs)[1].numpy() for op in ops)
        for p in range(3):
            assert np.abs(g32[:, p] - g64[:, p]).max() < 1e-3 * np.abs(g64[:, p]).max(), (method, p)


# --------------------------------------------------------------------------------------------------------
# Critical angles
# --------------------------------------------------------------------------------------------------------

def _model_with_strong_contrast():
    """2 traces x 12 samples; trace 1 jumps from vp 2000 to 4000 m/s below sample 5: critical angle 30 deg."""
    m = _smooth_model(2, 12, seed=16, step=0.01)
    m[1, 0] = np.where(np.arange(12) <= 5, 2000.0, 4000.0)
    m[1, 1] = m[1, 0] / 2.0
    return m


def test_beyond_critical_error_names_angle_and_location():
    m = _model_with_strong_contrast()
    match = r"45 deg.*30\.000 deg \(P-P.*trace 1, interface 5 between samples 5 and 6"
    for method in ("zoeppritz", "aki_richards"):
        with pytest.raises(ValueError, match=match):
            reflectivity(*(_t(m[:, k]) for k in range(3)), np.arange(1, 46), method=method)
        op = AVAForward(ricker_wavelet_matrix(30.0, 0.002, 12), default_theta_groups(), method=method)
        with pytest.raises(ValueError, match=match):
            op(_t(m))
        reflectivity(*(_t(m[:, k]) for k in range(3)), np.arange(1, 30), method=method)  # below: fine


@pytest.mark.parametrize("method", ["zoeppritz", "aki_richards"])
def test_beyond_critical_mask_zeroes_and_keeps_gradients_finite(method):
    m = _model_with_strong_contrast()
    theta = np.arange(1, 46)
    r = reflectivity(*(_t(m[:, k]) for k in range(3)), theta, method=method, beyond_critical="mask").numpy()
    assert np.all(r[1, 5, theta >= 30] == 0.0) and np.all(r[1, 5, theta < 30] != 0.0)
    if method == "zoeppritz":
        direct = zoeppritz_rpp(*(_t(m[1, k, j]) for j in (5, 6) for k in range(3)), _t(np.deg2rad(theta[:29])))
        np.testing.assert_allclose(r[1, 5, :29], direct.numpy(), rtol=1e-12)
    free = reflectivity(*(_t(m[:1, k]) for k in range(3)), theta, method=method).numpy()
    np.testing.assert_allclose(r[:1], free, rtol=1e-12, atol=1e-15)  # other traces untouched
    op = AVAForward(ricker_wavelet_matrix(30.0, 0.002, 12), default_theta_groups(), method=method,
                    beyond_critical="mask", dtype="float64")
    d_obs = paddle.zeros([2, 3, 12], dtype="float64")
    phi, grad = op.misfit_and_gradient(_t(m), d_obs)
    x = _t(m)
    x.stop_gradient = False
    (grad_auto,) = paddle.grad(op.misfit(x, d_obs).sum(), x)
    for g in (grad.numpy(), grad_auto.numpy()):
        assert np.isfinite(g).all() and np.isfinite(phi.numpy()).all()
    g_auto = grad_auto.numpy()
    np.testing.assert_allclose(grad.numpy(), g_auto, rtol=1e-9, atol=1e-12 * np.abs(g_auto).max())


def test_p_to_s_critical_is_masked_without_nan():
    # Unphysical lower medium with vs2 > vp2 > vp1: the transmitted-S critical angle asin(vp1/vs2) = 30 deg
    # comes before the P one (asin(2000/3000) = 41.8 deg).
    vp, vs, rho = _t([[2000.0, 3000.0]]), _t([[1000.0, 4000.0]]), _t([[2.0, 2.2]])
    with pytest.raises(ValueError, match=r"30\.000 deg \(P-to-S"):
        reflectivity(vp, vs, rho, np.arange(1, 46))
    vp.stop_gradient = False
    r = reflectivity(vp, vs, rho, np.arange(1, 46), beyond_critical="mask")
    assert np.all(r.numpy()[0, 0, 29:] == 0.0) and np.all(r.numpy()[0, 0, :29] != 0.0)
    (g,) = paddle.grad(r.sum(), vp)
    assert np.isfinite(g.numpy()).all()


# --------------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------------

def test_invalid_inputs_raise():
    w = ricker_wavelet_matrix(30.0, 0.002, 10)
    with pytest.raises(ValueError, match="vsvp is used only"):
        AVAForward(w, default_theta_groups(), vsvp=0.5)
    with pytest.raises(ValueError, match="beyond_critical"):
        AVAForward(w, default_theta_groups(), beyond_critical="clip")
    op = AVAForward(w, default_theta_groups(), dtype="float64")
    with pytest.raises(ValueError, match=r"\[B, 3, 10\]"):
        op(_t(np.ones((2, 3, 11))))
    bad = _smooth_model(1, 10, seed=17)
    bad[0, 1, 3] = -1.0
    with pytest.raises(ValueError, match="> 0"):
        op(_t(bad))
    with pytest.raises(ValueError, match="vsvp must be"):
        AVAForward(w, default_theta_groups(), method="aki_richards", vsvp=np.ones(9))
    assert default_theta_groups() == [list(range(1, 16)), list(range(16, 31)), list(range(31, 46))]
