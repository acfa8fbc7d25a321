"""Tests for ppsci_ext.diffusion.pipeline: the DDIM sampling loop, low-pass consistency, ensembles of draws and the
consistency of outputs with their input (the scheduler's own step is tested in test_scheduler.py)."""
import re

import numpy as np
import paddle
import pytest

from ppsci_ext.data.sr import degradations as dg
from ppsci_ext.diffusion import DiffusionScheduler
from ppsci_ext.diffusion import SRPipeline
from ppsci_ext.diffusion import gaussian_lowpass
from ppsci_ext.diffusion import lowpass_consistency
from ppsci_ext.diffusion import pipeline as pipeline_module


@pytest.fixture(scope="module")
def sched():
    return DiffusionScheduler()


def pipe(scheduler, **kw):
    """The sampling loop of ``scheduler`` (no network of its own: the tests give ``model_fn``)."""
    return SRPipeline(None, "diffusion", scheduler, **kw)


def _t(a):
    return paddle.to_tensor(np.asarray(a, dtype=np.float32))


# --------------------------------------------------------------------- loop
S = 0.5  # std of the toy data distribution x0 ~ N(cond, S^2 I)


def gaussian_eps(x, gamma, cond, nonlinear=0.0):
    """Exact E[eps | x_gamma] for x0 ~ N(cond, S^2 I), plus an optional tanh term."""
    g = gamma.reshape([-1] + [1] * (x.ndim - 1))
    eps = (1.0 - g).sqrt() * (x - g.sqrt() * cond) / (g * S * S + 1.0 - g)
    return eps + nonlinear * paddle.tanh(x) if nonlinear else eps


def _ramp():
    return paddle.linspace(-1.0, 1.0, 64).reshape([1, 1, 8, 8])


def pinned_model(x, gamma, cond):
    return gaussian_eps(x, gamma, cond, nonlinear=0.1)


def test_sample_pinned_values(sched):
    # Pinned once by running exactly this call (paddle 3.3.1 CPU, numpy 1.26) and
    # printing repr(float(out.sum())), repr(float(out.abs().mean())). x_T comes from
    # numpy.random.default_rng(0), so the values do not depend on paddle's RNG.
    out = pipe(sched).sample(pinned_model, [1, 1, 8, 8], n_steps=10, seed=0, cond=_ramp())
    assert out.shape == [1, 1, 8, 8] and out.dtype == paddle.float32
    assert float(out.sum()) == pytest.approx(0.9442092180252075, rel=1e-5)
    assert float(out.abs().mean()) == pytest.approx(0.4998403787612915, rel=1e-5)


def test_sample_deterministic_and_progress_independent(sched, capsys):
    a = pipe(sched).sample(pinned_model, [2, 1, 8, 8], n_steps=10, seed=3, cond=_ramp()).numpy()
    b = pipe(sched).sample(pinned_model, [2, 1, 8, 8], n_steps=10, seed=3, cond=_ramp()).numpy()
    c = pipe(sched).sample(pinned_model, [2, 1, 8, 8], n_steps=10, seed=3, cond=_ramp(), progress=True).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert "DDIM" in capsys.readouterr().err
    d = pipe(sched).sample(pinned_model, [2, 1, 8, 8], n_steps=10, seed=4, cond=_ramp()).numpy()
    assert not np.allclose(a, d)
    paddle.seed(9)  # seed=None: paddle's global RNG
    half = pipe(DiffusionScheduler(eta=0.5))
    e = half.sample(pinned_model, [2, 1, 8, 8], n_steps=5, cond=_ramp()).numpy()
    paddle.seed(9)
    np.testing.assert_array_equal(half.sample(pinned_model, [2, 1, 8, 8], n_steps=5, cond=_ramp()).numpy(), e)


def test_sample_calls_model_with_gamma_and_cond():
    calls = []
    cond = object()
    lin = paddle.nn.Linear(4, 4)  # a parameter inside the "network": no graph must be built

    def model(x, gamma, c):
        calls.append((gamma.shape, str(gamma.dtype), gamma.numpy().copy(), c))
        return lin(x) * 0.0

    sched = DiffusionScheduler(spacing="quadratic")
    out = pipe(sched).sample(model, [3, 2, 4], n_steps=6, seed=0, cond=cond)
    ts = sched.ddim_timesteps(6, "quadratic")
    assert len(calls) == 6 and out.shape == [3, 2, 4] and out.stop_gradient
    for (shape, dtype, g, c), t in zip(calls, ts):
        assert shape == [3] and dtype == "paddle.float32" and c is cond
        np.testing.assert_allclose(g, sched.gammas[t], rtol=1e-6)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_sample_recovers_gaussian_data(eta):
    # with the exact denoiser of x0 ~ N(cond, S^2), DDIM must produce that distribution
    out = pipe(DiffusionScheduler(eta=eta)).sample(gaussian_eps, [128, 1, 8, 8], n_steps=200, seed=1, cond=_ramp())
    r = (out - _ramp()).numpy()
    assert abs(r.mean()) < 0.02
    assert r.std() == pytest.approx(S, abs=0.02)


def test_sample_volume():
    cond = paddle.zeros([1, 1, 3, 4, 5])
    out = pipe(DiffusionScheduler(clip=1.0)).sample(gaussian_eps, [2, 1, 3, 4, 5], n_steps=4, seed=0, cond=cond)
    assert out.shape == [2, 1, 3, 4, 5] and float(out.abs().max()) <= 1.0


# ------------------------------------------------------ low-pass consistency
@pytest.mark.parametrize("shape, sigma", [((2, 1, 40, 33), 2.0), ((1, 1, 12, 14, 10), 1.5)])
def test_gaussian_lowpass_matches_scipy(shape, sigma):
    from scipy import ndimage

    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ref = ndimage.gaussian_filter(x, (0, 0) + (sigma,) * (len(shape) - 2), mode="mirror", truncate=3.0)
    np.testing.assert_allclose(gaussian_lowpass(_t(x), sigma).numpy(), ref, atol=1e-5)


def test_lowpass_consistency_swaps_the_low_band_and_sample_applies_x0_fn_last(monkeypatch):
    rng = np.random.default_rng(1)
    cond, x0 = _t(rng.standard_normal((2, 1, 24, 20))), _t(rng.standard_normal((2, 1, 24, 20)) + 3.0)
    got = lowpass_consistency(cond, 3.0)(x0).numpy()
    want = x0.numpy() - gaussian_lowpass(x0, 3.0).numpy() + gaussian_lowpass(cond, 3.0).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert abs(got.mean() - cond.numpy().mean()) < 0.05  # the offset of 3 is gone
    calls = []

    def x0_fn(x):
        calls.append(1)
        return x * 0.0 + 5.0

    # sample builds its x0_fn with the module's lowpass_consistency: swap in the counting one
    monkeypatch.setattr(pipeline_module, "lowpass_consistency", lambda c, sigma: x0_fn)
    out = pipe(DiffusionScheduler(), lowpass_sigma=1.0).sample(lambda x, g, c: x * 0.1, [1, 1, 4, 4], n_steps=7, seed=0,
                                                       cond=paddle.zeros([1, 1, 4, 4]))
    assert len(calls) == 7
    np.testing.assert_allclose(out.numpy(), 5.0)


# ------------------------------------------------------------- n_samples
def test_sample_n_samples_is_the_mean_of_single_seed_samples():
    one, two = pipe(DiffusionScheduler(eta=0.5)), pipe(DiffusionScheduler(eta=0.5), n_samples=2)
    a = one.sample(pinned_model, [2, 1, 8, 8], seed=3, cond=_ramp()).numpy()
    b = one.sample(pinned_model, [2, 1, 8, 8], seed=4, cond=_ramp()).numpy()
    m = two.sample(pinned_model, [2, 1, 8, 8], seed=3, cond=_ramp())
    assert m.shape == [2, 1, 8, 8] and m.dtype == paddle.float32
    np.testing.assert_array_equal(m.numpy(), (0.0 + a + b) / 2)
    assert not np.array_equal(a, b)
    paddle.seed(11)  # seed=None: the samples draw one after the other from paddle's global RNG
    a = one.sample(pinned_model, [2, 1, 8, 8], cond=_ramp()).numpy()
    b = one.sample(pinned_model, [2, 1, 8, 8], cond=_ramp()).numpy()
    paddle.seed(11)
    np.testing.assert_array_equal(two.sample(pinned_model, [2, 1, 8, 8], cond=_ramp()).numpy(), (0.0 + a + b) / 2)


# --------------------------------------------------------- low-pass in sample
def test_sample_lowpass_takes_the_low_band_of_cond():
    cond = _t(np.random.default_rng(2).standard_normal((2, 1, 16, 12)))

    def biased(x, g, c):  # a constant noise prediction: x0 estimates far below the data
        return x * 0.0 + 1.0

    s, plain = pipe(DiffusionScheduler(), lowpass_sigma=2.0), pipe(DiffusionScheduler())
    # one step T -> 0: the output is the consistency map applied to the plain x0 estimate
    out = s.sample(biased, [2, 1, 16, 12], n_steps=1, seed=0, cond=cond)
    ref = plain.sample(biased, [2, 1, 16, 12], n_steps=1, seed=0, cond=cond)
    np.testing.assert_array_equal(out.numpy(), lowpass_consistency(cond, 2.0)(ref).numpy())
    # a denoiser for data offset by 3 from cond: the plain sample keeps the offset, the low band of cond
    # removes it
    def offset(x, g, c):
        return gaussian_eps(x, g, c + 3.0)

    out = s.sample(offset, [2, 1, 16, 12], n_steps=10, seed=0, cond=cond).numpy()
    ref = plain.sample(offset, [2, 1, 16, 12], n_steps=10, seed=0, cond=cond).numpy()
    assert abs((ref - cond.numpy()).mean() - 3.0) < 0.25  # 10 DDIM steps: about 2.9
    assert abs((out - cond.numpy()).mean()) < 0.05


@pytest.mark.parametrize("cond", [None, np.zeros((1, 1, 4, 4)), paddle.zeros([1, 1, 4, 5])])
def test_sample_lowpass_needs_cond_of_the_sample_shape(cond):
    with pytest.raises(ValueError, match=r"lowpass_sigma.*cond.*\[1, 1, 4, 4\]"):
        pipe(DiffusionScheduler(), lowpass_sigma=1.0).sample(lambda x, g, c: x, [1, 1, 4, 4], seed=0, cond=cond)
    with pytest.raises(ValueError, match=r"\[B, 1, H, W\]"):  # the low-pass acts on one channel
        pipe(DiffusionScheduler(), lowpass_sigma=1.0).sample(lambda x, g, c: x, [1, 2, 4, 4], seed=0,
                                                            cond=paddle.zeros([1, 2, 4, 4]))


@pytest.mark.parametrize("kwargs, says", [
    (dict(n_samples=0), "SAMPLING.n_samples must be an integer >= 1, found 0"),
    (dict(n_samples=1.0), "SAMPLING.n_samples must be an integer >= 1, found 1.0"),
    (dict(n_samples=True), "SAMPLING.n_samples must be an integer >= 1, found True"),
    (dict(std_scale=0), "SAMPLING.std_scale must be a number > 0, found 0"),
    (dict(lowpass_sigma=0), "SAMPLING.lowpass_sigma must be None or a number > 0, found 0"),
])
def test_invalid_pipeline_options_name_key_rule_and_value(sched, kwargs, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        pipe(sched, **kwargs)
    with pytest.raises(ValueError, match="the diffusion kind needs a DiffusionScheduler"):
        SRPipeline(None, "diffusion")
    with pytest.raises(ValueError, match=r"MODEL.kind: expected one of \['diffusion', 'supervised'\]"):
        SRPipeline(None, "gan")


def test_ensemble_stats_are_the_mean_and_the_scaled_spread(sched):
    draws = np.random.default_rng(0).standard_normal((5, 3, 4))
    mean, std = pipe(sched, std_scale=2.0).ensemble_stats(draws)
    np.testing.assert_allclose(mean, draws.mean(0))
    np.testing.assert_allclose(std, 2.0 * draws.std(0, ddof=1))
    with pytest.raises(ValueError, match=r"at least 2 draws \(SAMPLING.n_samples\), found 1"):
        pipe(sched).ensemble_stats(draws[:1])


# ------------------------------------------------------ consistency with the input


def _section(seed=0, shape=(32, 24)):
    """Smooth dipping events plus a little texture: a section whose degraded versions differ by operator."""
    rng = np.random.default_rng(seed)
    i, j = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    return np.sin(0.4 * j + 0.1 * i) + 0.3 * rng.standard_normal(shape)


@pytest.mark.parametrize("op", dg.OPERATORS)
def test_make_consistent_is_exact_for_a_known_operator_without_noise(op):
    truth = _section(1)
    lr = dg.apply(truth, op)
    wrong = 1.4 * truth + 0.2 * np.random.default_rng(2).standard_normal(truth.shape)
    fixed, report = pipeline_module.make_consistent(wrong, lr, op, 0.0)
    np.testing.assert_allclose(dg.apply(fixed, op), lr, atol=1e-10)
    assert report["operator"] == op and report["residual"] > 1.0
    # a loud but otherwise right output: the gain alone makes it consistent, and it is the truth again
    fixed, report = pipeline_module.make_consistent(1.4 * truth, lr, op, 0.0)
    assert report["gain"] == pytest.approx(1 / 1.4, rel=1e-9)
    np.testing.assert_allclose(fixed, truth, atol=1e-10)


def test_auto_takes_the_operator_that_made_the_input():
    truth = _section(3)
    for op in dg.OPERATORS:
        assert pipeline_module.make_consistent(truth, dg.apply(truth, op), "auto", 0.0)[1]["operator"] == op


def test_the_warning_fires_on_an_output_that_does_not_explain_its_input():
    truth = _section(4)
    lr = dg.apply(truth, "area")
    p = SRPipeline(None, "supervised", degradation="area", noise_level=0.05, consistency_warning=3.0)
    assert not p.consistent(truth.astype(np.float32), lr)[1]["warn"]
    assert p.consistent(np.roll(truth, 3, axis=1).astype(np.float32), lr)[1]["warn"]
    none = SRPipeline(None, "supervised")  # degradation none: the output as it is, nothing reported
    out, report = none.consistent(truth.astype(np.float32), lr)
    assert report is None and out is not None


@pytest.mark.parametrize("op", ["decimate", "decimate_odd", "bicubic"])
def test_every_x0_estimate_is_projected_onto_the_input(sched, op):
    """Whatever the network says, the DDIM result degraded by the operator is the input (noise 0), the input
    recovered from the condition on the operator's grid."""
    rng = np.random.default_rng(5)
    lr = rng.standard_normal((2, 8, 6)).astype(np.float32)
    p = pipe(sched, degradation=op, noise_level=0.0)
    cond = _t(np.stack([p.condition(x) for x in lr])[:, None])
    out = p.sample(lambda x, g, c: 0.3 * x, list(cond.shape), seed=0, cond=cond, n_steps=5,
                   noise=np.zeros(2)).numpy()[:, 0]
    for o, y in zip(out, lr):
        np.testing.assert_allclose(dg.apply(o, op), y, atol=1e-4)


def test_pipeline_rejects_unknown_degradations():
    with pytest.raises(ValueError, match=r"SAMPLING.degradation: expected one of \['auto', 'none', 'decimate'"):
        SRPipeline(None, "supervised", degradation="cubic")
    with pytest.raises(ValueError, match="SAMPLING.noise_level must be null or a number >= 0, found -1"):
        SRPipeline(None, "supervised", noise_level=-1)
