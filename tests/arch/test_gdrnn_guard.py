"""GDRNN's guarded inference: a step that raises a trace's misfit falls back to one gradient-descent step."""
import math

import numpy as np
import paddle
import pytest
from paddle import nn

from ppsci_ext.arch import GDRNN
from ppsci_ext.physics import AVAForward
from ppsci_ext.physics import ava_inversion
from ppsci_ext.physics import default_theta_groups
from ppsci_ext.physics import ricker_wavelet_matrix

SCALE = (3000.0, 1500.0, 2.3)
KEYS_IN, KEYS_OUT = ("stacks", "m_back"), ("m", "m_steps", "d_steps")
LENGTH = 32  # samples per trace


class GradientUpdate(nn.Layer):
    """Stands in for the UNet: U(g, x) = g (normalised), so a step is gradient descent of fixed size alpha_t."""

    def forward(self, inputs):
        return {"update": inputs["gradient"]}


def section(n, seed=0):
    """Blocky float32 traces (vp, vs, rho) and their smoothed backgrounds, [n, 3, LENGTH] each."""
    rng = np.random.default_rng(seed)
    vp = 3000 * np.exp(0.03 * rng.standard_normal((n, LENGTH)).cumsum(-1) / 3)
    vs = vp / (1.9 + 0.1 * rng.random((n, LENGTH)))
    rho = 0.31 * vp ** 0.25 * (1 + 0.01 * rng.standard_normal((n, LENGTH)))
    back = [np.apply_along_axis(lambda a: np.convolve(np.pad(a, 6, mode="edge"), np.ones(13) / 13, "valid"), 1, p)
            for p in (vp, vs, rho)]
    return (paddle.to_tensor(np.stack([vp, vs, rho], 1).astype("float32")),
            paddle.to_tensor(np.stack(back, 1).astype("float32")))


@pytest.fixture(scope="module")
def problem():
    op = AVAForward(ricker_wavelet_matrix(30.0, 0.002, LENGTH), default_theta_groups(), beyond_critical="mask")
    true, back = section(8)
    return op, {"stacks": op(true), "m_back": back}


def network(op, alpha_init, guard, gradient_update=False, **kw):
    paddle.seed(0)
    net = GDRNN(KEYS_IN, KEYS_OUT, op, SCALE, n_steps=3, dims=(8, 16), alpha_init=alpha_init, guard=guard, **kw)
    if gradient_update:
        net.unet = GradientUpdate()
    return net


def infer(net, inputs):
    net.eval()
    with paddle.no_grad():
        return net(inputs)


def misfits(op, inputs, out):
    """Per-trace J = 1/2 ||F(m) - d_obs||^2 at m_back and after every step: [B, T + 1] (same sums as the guard)."""
    d_obs = inputs["stacks"]
    j = [0.5 * (op(inputs["m_back"]) - d_obs).square().sum(axis=[1, 2])]
    j += [0.5 * (out["d_steps"][:, t] - d_obs).square().sum(axis=[1, 2]) for t in range(out["d_steps"].shape[1])]
    return paddle.stack(j, axis=1).numpy()


def assert_outputs_equal(a, b):
    for k in KEYS_OUT:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy(), err_msg=k)


@pytest.mark.timeout(120)
def test_guard_never_lets_the_misfit_rise(problem):
    """An untrained UNet with a large step overshoots: unguarded, misfits rise; guarded, they never do."""
    op, inputs = problem
    net = network(op, alpha_init=1.0, guard=False)
    j_off = misfits(op, inputs, infer(net, inputs))
    assert net.last_fallback is None
    assert (j_off[:, 1:] > 1.1 * j_off[:, :-1]).any()
    net.guard = True
    j_on = misfits(op, inputs, infer(net, inputs))
    assert net.last_fallback.shape == (8, 3) and net.last_fallback.dtype == np.bool_
    assert net.last_fallback.any()
    assert (j_on[:, 1:] <= j_on[:, :-1]).all(), f"misfit rose: {j_on}"
    assert (j_on[:, -1] < j_on[:, 0]).all()  # the fall-back steps do descend


@pytest.mark.timeout(120)
def test_guard_off_is_the_plain_unrolled_network(problem):
    """Guard off: exactly x_{t+1} = x_t - alpha_t U(g_t / rms(g_t), x_t), whatever the guard did before."""
    op, inputs = problem
    net = network(op, alpha_init=0.05, guard=True)
    infer(net, inputs)
    net.guard = False
    out = infer(net, inputs)
    assert net.last_fallback is None
    d_obs = inputs["stacks"]
    with paddle.no_grad():
        x = (inputs["m_back"] / net.scale).log()
        xs, ds = [], []
        for t in range(3):
            d, g = net.misfit_gradient(x, d_obs, "none")
            ds += [d] if t else []
            g = g / (g.square().mean(axis=[1, 2], keepdim=True).sqrt() + 1e-12)
            x = x - net.step_size(t, g, x) * net.unet({"gradient": g, "model": x})["update"]
            xs.append(x)
        ds.append(op(net.scale * x.exp()))
    np.testing.assert_array_equal(out["m_steps"].numpy(),
                                  (paddle.stack(xs, axis=1).exp() * net.scale.unsqueeze(1)).numpy())
    np.testing.assert_array_equal(out["d_steps"].numpy(), paddle.stack(ds, axis=1).numpy())


@pytest.mark.timeout(120)
def test_guard_that_accepts_every_step_changes_nothing(problem):
    """Small descent steps are all accepted: the guarded output equals the unguarded one bit for bit."""
    op, inputs = problem
    plain = infer(network(op, alpha_init=1e-4, guard=False, gradient_update=True), inputs)
    net = network(op, alpha_init=1e-4, guard=True, gradient_update=True)
    guarded = infer(net, inputs)
    assert not net.last_fallback.any()
    assert_outputs_equal(guarded, plain)


@pytest.mark.timeout(120)
def test_guard_does_nothing_in_training(problem):
    op, inputs = problem
    outs = []
    for guard in (False, True):
        net = network(op, alpha_init=1.0, guard=guard)
        net.train()
        out = net(inputs)
        assert net.last_fallback is None
        out["m"].abs().mean().backward()
        outs.append((out, net.alpha_raw.grad.numpy()))
    assert_outputs_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


@pytest.mark.timeout(120)
def test_rejected_step_is_one_gradient_descent_iteration(problem):
    """Where the first step is rejected, the trace's model is one ``gradient_descent`` iteration from m_back.

    Equal to float32 rounding, not bit for bit: the guard reuses GDRNN's gradient (the operator's explicit
    adjoint), ``gradient_descent`` takes autograd's; the line search itself is the same function.
    """
    op, inputs = problem
    step0 = 0.01
    net = network(op, alpha_init=0.005, guard=True, gradient_update=True, guard_step0=step0, max_halvings=6)
    out = infer(net, inputs)
    rejected = np.flatnonzero(net.last_fallback[:, 0])
    assert 0 < rejected.size < 8, "the test needs accepted and rejected traces in one batch"
    for i in rejected:
        m_gd, _ = ava_inversion.gradient_descent(op, inputs["m_back"][i:i + 1], inputs["stacks"][i:i + 1], 1,
                                                 SCALE, step0=step0, max_halvings=6)
        np.testing.assert_allclose(out["m_steps"][i:i + 1, 0].numpy(), m_gd.numpy(), rtol=2e-6)
        np.testing.assert_allclose(out["d_steps"][i:i + 1, 0].numpy(), op(m_gd).numpy(), rtol=1e-4, atol=1e-6)
    accepted = np.flatnonzero(~net.last_fallback[:, 0])
    m_back, m_first = inputs["m_back"].numpy(), out["m_steps"][:, 0].numpy()
    assert not np.allclose(m_first[accepted], m_back[accepted])  # accepted traces took the network's step


@pytest.mark.timeout(120)
def test_trace_without_descent_stays_put(problem):
    """A line search that finds no Armijo step (huge first trial, one try) leaves the trace where it was."""
    op, inputs = problem
    net = network(op, alpha_init=1.0, guard=True, guard_step0=50.0, max_halvings=1)
    out = infer(net, inputs)
    assert net.last_fallback.all()
    m_back = inputs["m_back"].numpy()
    for t in range(3):
        np.testing.assert_allclose(out["m_steps"][:, t].numpy(), m_back, rtol=1e-6)  # exp(ln(m / scale)) * scale
        np.testing.assert_array_equal(out["m_steps"][:, t].numpy(), out["m"].numpy())
        np.testing.assert_array_equal(out["d_steps"][:, t].numpy(), op(out["m"]).numpy())


@pytest.mark.timeout(120)
def test_proposal_outside_the_operators_domain_is_rejected(problem):
    """A step so large that m overflows is rejected like any other, instead of failing in the operator."""
    op, inputs = problem
    net = network(op, alpha_init=math.exp(80.0), guard=True)
    out = infer(net, inputs)
    assert net.last_fallback[:, 0].all()
    assert np.isfinite(out["m"].numpy()).all() and float(out["m"].min()) > 0


@pytest.mark.timeout(120)
def test_bad_guard_settings_are_named(problem):
    op, _ = problem
    with pytest.raises(ValueError, match=r"guard_step0 > 0.*guard_step0=0\.0"):
        GDRNN(KEYS_IN, KEYS_OUT, op, SCALE, 2, (8, 16), guard=True, guard_step0=0.0)
    with pytest.raises(ValueError, match=r"max_halvings >= 1.*max_halvings=0"):
        GDRNN(KEYS_IN, KEYS_OUT, op, SCALE, 2, (8, 16), guard=True, max_halvings=0)


# ------------------------------------------------------------------ trust region
def rms_change(m, m_back):
    return np.sqrt(np.square(np.log(m) - np.log(m_back)).mean(-1))  # [B, 3]


@pytest.mark.timeout(120)
def test_trust_region_bounds_each_property_by_gradient_descents_change(problem):
    """With c for rho only: rho's change per trace is at most c x that of T gradient-descent steps from the same
    start, its direction is the network's, and vp and vs are the network's untouched."""
    op, inputs = problem
    free = infer(network(op, alpha_init=0.5, guard=False), inputs)["m"].numpy()
    net = network(op, alpha_init=0.5, guard=False, trust_region=[None, None, 0.5])
    out = infer(net, inputs)
    m, back = out["m"].numpy(), inputs["m_back"].numpy()
    m_gd, _ = ava_inversion.gradient_descent(op, inputs["m_back"], inputs["stacks"], 3, SCALE, net.guard_step0)
    limit = 0.5 * rms_change(m_gd.numpy(), back)[:, 2]
    assert (rms_change(m, back)[:, 2] <= limit * (1 + 1e-4) + 1e-7).all()
    np.testing.assert_allclose(m[:, :2], free[:, :2], rtol=1e-6)
    assert net.last_trust.shape == (8, 3) and (net.last_trust[:, :2] == 1).all() and (net.last_trust[:, 2] < 1).any()
    # scaled, not turned: the change is the free change times the factor
    f = net.last_trust[:, 2:3]
    np.testing.assert_allclose(np.log(m[:, 2]) - np.log(back[:, 2]), f * (np.log(free[:, 2]) - np.log(back[:, 2])),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["d_steps"][:, -1].numpy(), op(out["m"]).numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.timeout(120)
def test_trust_region_off_or_wide_changes_nothing_and_is_checked(problem):
    op, inputs = problem
    plain = infer(network(op, alpha_init=0.05, guard=False), inputs)
    wide = network(op, alpha_init=0.05, guard=False, trust_region=[1e6, 1e6, 1e6])
    np.testing.assert_allclose(infer(wide, inputs)["m"].numpy(), plain["m"].numpy(), rtol=1e-6)
    assert (wide.last_trust == 1).all()
    with pytest.raises(ValueError, match=r"trust_region.*3 entries.*\[0\.5\]"):
        GDRNN(KEYS_IN, KEYS_OUT, op, SCALE, 2, (8, 16), trust_region=[0.5])
    with pytest.raises(ValueError, match=r"trust_region.*> 0"):
        GDRNN(KEYS_IN, KEYS_OUT, op, SCALE, 2, (8, 16), trust_region=[None, 0.0, None])
