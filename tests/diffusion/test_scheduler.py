"""Tests for ppsci_ext.diffusion.scheduler: schedule, noise levels, forward process, DDIM."""
import ast
import inspect

import numpy as np
import paddle
import pytest

from ppsci_ext.diffusion import DiffusionScheduler
from ppsci_ext.diffusion import scheduler as scheduler_module

T = 1000


@pytest.fixture(scope="module")
def sched():
    return DiffusionScheduler()


def _t(a):
    return paddle.to_tensor(np.asarray(a, dtype=np.float32))


# ------------------------------------------------------------------ schedule
@pytest.mark.parametrize("n, b0, b1", [(1000, 1e-6, 1e-2), (50, 1e-4, 0.2), (1, 0.3, 0.3)])
def test_schedule_values(n, b0, b1):
    s = DiffusionScheduler(n, b0, b1, sample_steps=min(10, n))  # sample_steps must be <= T
    g = s.alphas_cumprod
    assert g.dtype == np.float64 and g.shape == (n + 1,)
    assert s.gammas is g
    assert g[0] == 1.0
    assert np.all(np.diff(g) < 0)
    # independent closed form: gamma_t = prod_{s<=t} (1 - beta_s), linear betas
    expected = np.cumprod(1.0 - np.linspace(b0, b1, n))
    np.testing.assert_allclose(g[1:], expected, rtol=1e-12)
    assert g[-1] == pytest.approx(np.prod([1.0 - b for b in np.linspace(b0, b1, n)]), rel=1e-12)


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_train_steps=0), "n_train_steps"),
    (dict(n_train_steps=2.5), "n_train_steps"),
    (dict(n_train_steps=True), "n_train_steps"),
    (dict(beta_start=0.0), "beta_start"),
    (dict(beta_start=-1e-3), "beta_start"),
    (dict(beta_end=1.0), "beta_end"),
    (dict(beta_start=0.2, beta_end=0.1), "beta_start"),
])
def test_schedule_errors(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DiffusionScheduler(**kwargs)


def test_scheduler_imports_no_network_code():
    tree = ast.parse(inspect.getsource(scheduler_module))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module.split(".")[0])
    assert names <= {"math", "typing", "numpy", "paddle", "tqdm"}, names


# ------------------------------------------------------------ noise levels
def test_sample_noise_level_range_and_reproducible(sched):
    paddle.seed(123)
    g = sched.sample_noise_level(4000)
    assert g.shape == [4000] and g.dtype == paddle.float32
    g = g.numpy()
    assert np.all(g > np.float32(sched.gammas[-1])) and np.all(g <= 1.0)
    assert g.min() < 0.05 and g.max() > 0.95  # the draw covers the whole range
    paddle.seed(123)
    np.testing.assert_array_equal(sched.sample_noise_level(4000).numpy(), g)
    paddle.seed(124)
    assert not np.array_equal(sched.sample_noise_level(4000).numpy(), g)


@pytest.mark.parametrize("t", [1, 2, 500, T])
def test_sample_noise_level_forced_t(sched, t):
    g = sched.sample_noise_level(256, t=t).numpy()
    assert np.all(g >= np.float32(sched.gammas[t])) and np.all(g <= np.float32(sched.gammas[t - 1]))
    assert len(np.unique(g)) > 1


def test_sample_noise_level_per_sample_t(sched):
    t = np.array([1, 10, 999, 1000])
    g = sched.sample_noise_level(4, t=paddle.to_tensor(t)).numpy()
    assert np.all(g >= sched.gammas[t].astype(np.float32))
    assert np.all(g <= sched.gammas[t - 1].astype(np.float32))


def test_sample_noise_level_uniform_in_sqrt_space():
    # T = 2 with big betas: gamma = 1, 0.5, 0.05. For t = 2, uniform sqrt(gamma) on
    # (sqrt(.05), sqrt(.5)) has E[sqrt(gamma)] = 0.4654; uniform gamma would give 0.5072.
    s = DiffusionScheduler(2, 0.5, 0.9, sample_steps=2)
    paddle.seed(0)
    r = s.sample_noise_level(20000, t=2).sqrt().numpy()
    assert r.mean() == pytest.approx((np.sqrt(0.05) + np.sqrt(0.5)) / 2, abs=0.005)
    hist, _ = np.histogram(r, bins=4, range=(np.sqrt(0.05), np.sqrt(0.5)))
    np.testing.assert_allclose(hist / r.size, 0.25, atol=0.02)


def test_sample_noise_level_errors(sched):
    with pytest.raises(ValueError, match="t must lie"):
        sched.sample_noise_level(3, t=0)
    with pytest.raises(ValueError, match="t must lie"):
        sched.sample_noise_level(2, t=[5, T + 1])
    with pytest.raises(ValueError, match="batch_size"):
        sched.sample_noise_level(0)


# ---------------------------------------------------------------- add_noise
@pytest.mark.parametrize("shape", [(2, 1, 200, 200), (2, 1, 16, 50, 50)])
def test_add_noise_statistics(sched, shape, rng):
    g = np.array([0.9, 0.3])
    x0 = np.full(shape, 0.7, np.float32)
    noise = rng.standard_normal(shape).astype(np.float32)
    out = sched.add_noise(_t(x0), _t(noise), _t(g))
    assert out.shape == list(shape)
    out = out.numpy().reshape(2, -1)
    np.testing.assert_allclose(out.mean(1), np.sqrt(g) * 0.7, atol=0.02)
    np.testing.assert_allclose(out.var(1), 1.0 - g, rtol=0.05)


def test_add_noise_exact_and_errors(sched, rng):
    x0, noise = rng.standard_normal((2, 3, 4, 5, 6)), rng.standard_normal((2, 3, 4, 5, 6))
    g = np.array([0.25, 0.64])
    out = sched.add_noise(_t(x0), _t(noise), _t(g)).numpy()
    ref = np.sqrt(g)[:, None, None, None, None] * x0 + np.sqrt(1 - g)[:, None, None, None, None] * noise
    np.testing.assert_allclose(out, ref, atol=1e-6)
    out = sched.add_noise(_t(x0), _t(noise), 0.25).numpy()
    np.testing.assert_allclose(out, 0.5 * x0 + np.sqrt(0.75) * noise, atol=1e-6)
    with pytest.raises(ValueError, match="gamma must have shape"):
        sched.add_noise(_t(x0), _t(noise), _t([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="noise must have the shape"):
        sched.add_noise(_t(x0), _t(noise[:, :1]), _t(g))


# ----------------------------------------------------------- ddim timesteps
@pytest.mark.parametrize("spacing", ["log", "linear", "quadratic"])
@pytest.mark.parametrize("n", [1, 2, 10, 100, 500, 999, 1000])
def test_ddim_timesteps_properties(sched, spacing, n):
    ts = sched.ddim_timesteps(n, spacing)
    assert ts.shape == (n,) and np.issubdtype(ts.dtype, np.integer)
    assert len(np.unique(ts)) == n
    assert np.all(np.diff(ts) < 0)
    assert ts[0] == T and ts[-1] >= 1


@pytest.mark.parametrize("spacing", ["log", "linear", "quadratic"])
def test_ddim_timesteps_every_step(spacing):
    np.testing.assert_array_equal(DiffusionScheduler(1000).ddim_timesteps(1000, spacing), np.arange(1000, 0, -1))
    np.testing.assert_array_equal(DiffusionScheduler(7, sample_steps=7).ddim_timesteps(7, spacing), np.arange(7, 0, -1))
    ts = DiffusionScheduler(10).ddim_timesteps(7, spacing)  # heavy rounding collisions
    assert len(np.unique(ts)) == 7 and ts[0] == 10 and ts[-1] >= 1


def test_ddim_timesteps_spacing_density(sched):
    below = {sp: int(np.sum(sched.ddim_timesteps(50, sp) < T / 10)) for sp in ("log", "linear", "quadratic")}
    assert below["log"] > below["quadratic"] > below["linear"]
    np.testing.assert_array_equal(sched.ddim_timesteps(10, "log"), [1000, 464, 215, 100, 46, 22, 10, 5, 2, 1])
    np.testing.assert_array_equal(sched.ddim_timesteps(4, "linear"), [1000, 667, 334, 1])


def test_ddim_timesteps_errors(sched):
    with pytest.raises(ValueError, match="spacing"):
        sched.ddim_timesteps(10, "cosine")
    for bad in (0, T + 1, 2.5):
        with pytest.raises(ValueError, match="n_steps"):
            sched.ddim_timesteps(bad)


# --------------------------------------------------------------------- step
def _make_xt(sched, t, rng, scale=1.0, shape=(2, 1, 6, 7)):
    x0 = scale * rng.standard_normal(shape).astype(np.float32)
    noise = rng.standard_normal(shape).astype(np.float32)
    g = float(sched.gammas[t])
    x_t = sched.add_noise(_t(x0), _t(noise), np.full(shape[0], g))  # float64 gamma: exact near t = 1
    return x0, noise, x_t


@pytest.mark.parametrize("t", [1, 37, 500, T])
def test_step_last_returns_x0(sched, rng, t):
    x0, noise, x_t = _make_xt(sched, t, rng)
    out = sched.step(_t(noise), t, 0, x_t)
    np.testing.assert_allclose(out.numpy(), x0, atol=1e-5)
    out = DiffusionScheduler(eta=1.0).step(_t(noise), t, 0, x_t)  # no noise at the last step
    np.testing.assert_allclose(out.numpy(), x0, atol=1e-5)


@pytest.mark.parametrize("t, t_prev", [(2, 1), (500, 499), (500, 17), (T, 1), (T, 464)])
def test_step_deterministic_consistency(sched, rng, t, t_prev):
    x0, noise, x_t = _make_xt(sched, t, rng, shape=(2, 1, 3, 4, 5))
    out = DiffusionScheduler(eta=0.0).step(_t(noise), t, t_prev, x_t)
    g = float(sched.gammas[t_prev])
    ref = sched.add_noise(_t(x0), _t(noise), [g, g]).numpy()
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-5)


def test_step_clip(sched, rng):
    x0, noise, x_t = _make_xt(sched, 300, rng, scale=3.0)
    assert np.abs(x0).max() > 1.5
    clipped = DiffusionScheduler(clip=1.0)
    out = clipped.step(_t(noise), 300, 0, x_t).numpy()
    np.testing.assert_allclose(out, np.clip(x0, -1, 1), atol=1e-5)
    g = float(sched.gammas[100])
    out = clipped.step(_t(noise), 300, 100, x_t).numpy()
    np.testing.assert_allclose(out, np.sqrt(g) * np.clip(x0, -1, 1) + np.sqrt(1 - g) * noise, atol=1e-5)


def test_step_eta_adds_noise(sched, rng):
    t, tp = 600, 300
    x0, noise, x_t = _make_xt(sched, t, rng)
    z = rng.standard_normal(x0.shape).astype(np.float32)
    det = sched.step(_t(noise), t, tp, x_t).numpy()
    sto = DiffusionScheduler(eta=1.0).step(_t(noise), t, tp, x_t, noise=_t(z)).numpy()
    assert np.abs(sto - det).max() > 1e-2
    gt, gp = sched.gammas[t], sched.gammas[tp]
    sigma = np.sqrt((1 - gp) / (1 - gt) * (1 - gt / gp))  # DDPM posterior std (eta = 1)
    ref = np.sqrt(gp) * x0 + np.sqrt(1 - gp - sigma ** 2) * noise + sigma * z
    np.testing.assert_allclose(sto, ref, atol=1e-5)
    half = DiffusionScheduler(eta=0.5)
    paddle.seed(5)
    a = half.step(_t(noise), t, tp, x_t).numpy()
    paddle.seed(5)
    np.testing.assert_array_equal(half.step(_t(noise), t, tp, x_t).numpy(), a)
    assert np.abs(a - det).max() > 1e-3


def test_step_noise_large_is_the_authors_update(sched, rng):
    """step_noise="large" against the MD Diffusion authors' update written in their own terms:
    x_prev = sqrt(g_prev / g_t) x_t + (sqrt(1 - g_prev - var) - sqrt(g_prev (1 - g_t) / g_t)) eps
    + sqrt(1 - g_t / g_prev) z, var = eta (1 - g_prev) / (1 - g_t) (1 - g_t / g_prev), eta = 1."""
    t, tp = 600, 300
    x0, noise, x_t = _make_xt(sched, t, rng)
    z = rng.standard_normal(x0.shape).astype(np.float32)
    got = DiffusionScheduler(eta=1.0, step_noise="large").step(_t(noise), t, tp, x_t, noise=_t(z)).numpy()
    gt, gp = sched.gammas[t], sched.gammas[tp]
    var = (1 - gp) / (1 - gt) * (1 - gt / gp)
    x = x_t.numpy().astype(np.float64)
    ref = (np.sqrt(gp / gt) * x + (np.sqrt(1 - gp - var) - np.sqrt(gp * (1 - gt) / gt)) * noise
           + np.sqrt(1 - gt / gp) * z)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    ddim = DiffusionScheduler(eta=1.0).step(_t(noise), t, tp, x_t, noise=_t(z)).numpy()
    assert np.abs(got - ddim).max() > 1e-2  # more noise than the DDIM step adds
    det = DiffusionScheduler(eta=0.0, step_noise="large").step(_t(noise), t, tp, x_t, noise=_t(z)).numpy()
    np.testing.assert_array_equal(det, sched.step(_t(noise), t, tp, x_t).numpy())  # eta 0: deterministic
    with pytest.raises(ValueError, match=r"step_noise must be one of \('ddim', 'large'\), found 'big'"):
        DiffusionScheduler(step_noise="big")


def test_step_errors(sched, rng):
    _, noise, x_t = _make_xt(sched, 10, rng)
    for t, tp, name in [(10, 10, "t_prev"), (10, -1, "t_prev"), (0, 0, "t"), (T + 1, 3, "t")]:
        with pytest.raises(ValueError, match=name):
            sched.step(_t(noise), t, tp, x_t)
    with pytest.raises(ValueError, match="eta"):
        DiffusionScheduler(eta=-0.1)


# ---------------------------------------------------------- parametrisation
def test_predicted_noise_v_recovers_eps_and_bounds_x0_error(sched, rng):
    x0 = rng.standard_normal((3, 1, 6, 5))
    eps = rng.standard_normal(x0.shape)
    gamma = np.array([sched.gammas[T], sched.gammas[500], sched.gammas[3]])
    g = gamma.reshape(-1, 1, 1, 1)
    x_t = np.sqrt(g) * x0 + np.sqrt(1 - g) * eps
    v = np.sqrt(g) * eps - np.sqrt(1 - g) * x0  # Salimans & Ho's target
    by_type = {p: DiffusionScheduler(prediction_type=p) for p in ("eps", "v")}
    got = by_type["v"].predicted_noise(_t(v), _t(x_t), _t(gamma)).numpy()
    np.testing.assert_allclose(got, eps, atol=1e-5)
    np.testing.assert_array_equal(by_type["eps"].predicted_noise(_t(v), _t(x_t), _t(gamma)).numpy(),
                                  _t(v).numpy())
    # an output error d moves x0_hat by sqrt(1 - g) d under "v", by sqrt((1 - g) / g) d under "eps"
    d = 0.01
    for param, factor in (("v", np.sqrt(1 - g)), ("eps", np.sqrt((1 - g) / g))):
        exact = v if param == "v" else eps
        e_hat = by_type[param].predicted_noise(_t(exact + d), _t(x_t), _t(gamma)).numpy()
        x0_hat = (x_t - np.sqrt(1 - g) * e_hat) / np.sqrt(g)
        np.testing.assert_allclose(x0_hat - x0, -d * factor * np.ones_like(x0), atol=2e-4)
    with pytest.raises(ValueError, match="prediction_type"):
        DiffusionScheduler(prediction_type="x0")


# ------------------------------------------------------- settings and config
def test_from_config_round_trip_with_yaml():
    """Every key of the YAML's DIFFUSION section is an argument of the scheduler, under the same name."""
    from omegaconf import OmegaConf
    d = OmegaConf.load("conf/md_diffusion.yaml").DIFFUSION
    s = DiffusionScheduler.from_config(d)
    assert s.config == OmegaConf.to_container(d) and set(d) == set(DiffusionScheduler.ARGS)
    again = DiffusionScheduler.from_config(s.config)
    assert again.config == s.config and repr(again) == repr(s)
    np.testing.assert_array_equal(again.alphas_cumprod, s.alphas_cumprod)
    for key in DiffusionScheduler.ARGS:
        assert f"{key}=" in repr(s), key
    # a missing key takes the constructor's default
    assert DiffusionScheduler.from_config({"prediction_type": "v"}).config == \
        dict(DiffusionScheduler(prediction_type="v").config)


def test_from_config_rejects_unknown_key():
    with pytest.raises(ValueError, match=r"unknown DIFFUSION key.*'steps'.*known keys.*prediction_type"):
        DiffusionScheduler.from_config({"n_train_steps": 10, "steps": 5})
    with pytest.raises(ValueError, match=r"unknown DIFFUSION key.*'n_samples'"):  # the pipeline's (SAMPLING)
        DiffusionScheduler.from_config({"n_samples": 2})
    with pytest.raises(ValueError, match="mapping"):
        DiffusionScheduler.from_config([("eta", 0.0)])


@pytest.mark.parametrize("kwargs, name, allowed", [
    (dict(prediction_type="x0"), "prediction_type", r"\('eps', 'v'\)"),
    (dict(spacing="cosine"), "spacing", r"\('log', 'linear', 'quadratic'\)"),
    (dict(sample_steps=0), "sample_steps", r"\[1, 1000\]"),
    (dict(sample_steps=1001), "sample_steps", r"\[1, 1000\]"),
    (dict(n_train_steps=5, sample_steps=6), "sample_steps", r"\[1, 5\]"),
    (dict(sample_steps=2.5), "sample_steps", "integer"),
    (dict(eta=-0.1), "eta", ">= 0"),
    (dict(eta=float("nan")), "eta", ">= 0"),
    (dict(eta="0"), "eta", ">= 0"),
    (dict(clip=0.0), "clip", "None or a number > 0"),
    (dict(clip=-1.0), "clip", "None or a number > 0"),
])
def test_invalid_options_name_option_allowed_and_found(kwargs, name, allowed):
    found = repr(next(iter(kwargs.values())) if name != "sample_steps" else kwargs["sample_steps"])
    with pytest.raises(ValueError, match=name) as err:
        DiffusionScheduler(**kwargs)
    assert err.match(allowed) and found in str(err.value)


def test_ddim_timesteps_defaults_to_owned_settings():
    s = DiffusionScheduler(sample_steps=4, spacing="linear")
    np.testing.assert_array_equal(s.ddim_timesteps(), [1000, 667, 334, 1])
    np.testing.assert_array_equal(s.ddim_timesteps(10, "log"), [1000, 464, 215, 100, 46, 22, 10, 5, 2, 1])
    np.testing.assert_array_equal(s.ddim_timesteps(spacing="log"), s.ddim_timesteps(4, "log"))


# ------------------------------------------------------------ v prediction
@pytest.mark.parametrize("t, t_prev", [(T, 464), (500, 17), (37, 0)])
def test_step_v_equals_manual_conversion_then_eps_step(rng, t, t_prev):
    kw = dict(eta=0.7, clip=2.0)
    s_v, s_eps = DiffusionScheduler(prediction_type="v", **kw), DiffusionScheduler(**kw)
    x0, noise, x_t = _make_xt(s_v, t, rng)
    g = float(s_v.gammas[t])
    out = _t(np.sqrt(g) * noise - np.sqrt(1 - g) * x0 + 0.05 * rng.standard_normal(x0.shape))  # a raw "v" output
    z = _t(rng.standard_normal(x0.shape))
    gb = paddle.full([x0.shape[0]], g, dtype="float32").reshape([-1, 1, 1, 1])  # what the sampling loop gives the net
    eps = (1.0 - gb).sqrt() * x_t + gb.sqrt() * out
    np.testing.assert_array_equal(s_v.step(out, t, t_prev, x_t, noise=z).numpy(),
                                  s_eps.step(eps, t, t_prev, x_t, noise=z).numpy())


def test_step_v_with_exact_v_recovers_x0(rng):
    s = DiffusionScheduler(prediction_type="v")
    x0, noise, x_t = _make_xt(s, 700, rng)
    g = float(s.gammas[700])
    v = np.sqrt(g) * noise - np.sqrt(1 - g) * x0
    np.testing.assert_allclose(s.step(_t(v), 700, 0, x_t).numpy(), x0, atol=1e-5)
