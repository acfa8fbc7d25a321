"""Noise schedule and DDIM sampler for conditional diffusion (MD Diffusion).

The scheduler is pure numerics and never knows the network. Like diffusers'
``DDIMScheduler`` it owns the schedule and every setting of one step (prediction
type, number of steps, spacing, eta, step noise, clip), and
:meth:`DiffusionScheduler.step` converts the raw network output itself, so the
network never knows which sampler runs it. Training draws a noise level with
:meth:`DiffusionScheduler.sample_noise_level` and builds the network input with
:meth:`DiffusionScheduler.add_noise`; the sampling loop, the ensembles and the
tiling of sections are the pipeline's (:mod:`ppsci_ext.diffusion.pipeline`), as
diffusers keeps scheduler and pipeline apart. Every constructor argument is a
key of the YAML's ``DIFFUSION`` section, under the same name.

Conventions
-----------
- ``T = n_train_steps``; betas ``beta_1..beta_T`` are linear from
  ``beta_start`` to ``beta_end``.
- ``gamma_t`` (the "alpha-bar" / ``alphas_cumprod`` of DDPM) is
  ``prod_{s<=t} (1 - beta_s)``, stored with ``gamma_0 = 1`` so that index ``t``
  of the ``[T+1]`` array is timestep ``t``; ``gamma_0 = 1`` means "clean".
- The network is conditioned on the continuous noise level ``gamma`` (SR3 /
  WaveGrad), a ``[B]`` float32 tensor, not on the integer timestep.
- The forward process is ``x_t = sqrt(gamma) x0 + sqrt(1 - gamma) eps`` with
  ``eps ~ N(0, I)``; the network predicts ``eps`` or ``v``
  (``prediction_type``), see :meth:`DiffusionScheduler.predicted_noise`.
- Tensors are batch-first of any rank: ``[B, C, H, W]`` images or
  ``[B, C, D, H, W]`` volumes; per-sample scalars are ``[B]``.
"""
import math
from typing import Callable
from typing import Optional

import numpy as np
import paddle

SPACINGS = ("log", "linear", "quadratic")
PREDICTION_TYPES = ("eps", "v")
STEP_NOISES = ("ddim", "large")


def _check_int(name, value, low, high):
    """Return ``value`` as int if it is an integer in [low, high], else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, found {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], found {value!r}")
    return int(value)


def _check_positive(name, value, allow_zero=False, allow_none=False):
    """Return ``value`` as float if it is a number > 0 (>= 0 with ``allow_zero``; None passes with
    ``allow_none``), else raise ValueError naming ``name``, the allowed values and ``value``."""
    if allow_none and value is None:
        return None
    bound = ">= 0" if allow_zero else "> 0"
    allowed = f"None or a number {bound}" if allow_none else f"a number {bound}"
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if not ok or not (float(value) >= 0.0 if allow_zero else float(value) > 0.0):  # NaN fails both
        raise ValueError(f"{name} must be {allowed}, found {value!r}")
    return float(value)


def _batch_view(v, x):
    """Reshape a per-sample ``[B]`` tensor ``v`` to ``[B, 1, ..., 1]`` matching ``x.ndim``."""
    return v.reshape([-1] + [1] * (x.ndim - 1))


def _distinct_ascending(values: np.ndarray, high: int) -> np.ndarray:
    """Round ascending reals in [1, high] to distinct ints in [1, high] whose last is ``high``.

    Rounding can produce equal neighbours (e.g. many values below 2 near t=1
    in log spacing). Two sweeps fix this while keeping the count:
    1. ascending: each value is raised to at least ``previous + 1`` (so a run of
       duplicates becomes consecutive integers above the first of them);
    2. descending: the last is set to ``high`` and each value is lowered to at
       most ``next - 1`` (undoes any overflow past ``high`` from sweep 1).
    With ``len(values) <= high`` the result is strictly increasing, >= 1.
    """
    t = np.rint(values).astype(np.int64)
    t[0] = max(t[0], 1)
    for i in range(1, len(t)):
        t[i] = max(t[i], t[i - 1] + 1)
    t[-1] = high
    for i in range(len(t) - 2, -1, -1):
        t[i] = min(t[i], t[i + 1] - 1)
    return t


class DiffusionScheduler:
    """Linear-beta noise schedule, SR3 noise-level sampling and a DDIM sampler that owns its settings.

    Args:
        n_train_steps: number of diffusion steps ``T`` (int >= 1).
        beta_start: ``beta_1``; requires ``0 < beta_start <= beta_end``.
        beta_end: ``beta_T``; requires ``beta_end < 1``.
        prediction_type: what the network outputs, ``"eps"`` or ``"v"`` (see
            :meth:`predicted_noise`).
        sample_steps: DDIM network evaluations per sample, int in [1, T].
        spacing: sub-sequence of 1..T visited by DDIM, one of :data:`SPACINGS`
            (see :meth:`ddim_timesteps`).
        eta: DDIM stochasticity, >= 0 (0: deterministic DDIM, 1: DDPM posterior variance).
        step_noise: the noise added by a stochastic step (``eta > 0``), one of :data:`STEP_NOISES`:
            ``"ddim"``, std ``sigma`` (Song et al.); ``"large"``, std ``sqrt(1 - g_t / g_prev)``, DDPM's
            larger variance over the jump (beta_t for one step), with the ``eps`` coefficient still from
            ``sigma``: the MD Diffusion authors' sampler at ``eta = 1`` (see :meth:`step`).
        clip: None, or a bound > 0: every ``x0`` estimate is clipped to ``[-clip, clip]``
            (units of the data, e.g. normalised).

    Every option is validated here; a bad one raises ValueError naming it, the allowed values
    and the value found.

    Attributes:
        n_train_steps: ``T``; the other settings are stored under their argument names.
        betas: numpy float64 ``[T]``, ``betas[t-1] = beta_t``.
        alphas_cumprod: numpy float64 ``[T+1]``, ``alphas_cumprod[t] = gamma_t``,
            ``alphas_cumprod[0] = 1``; strictly decreasing. ``gammas`` is the
            same array.
    """

    ARGS = ("n_train_steps", "beta_start", "beta_end", "prediction_type", "sample_steps", "spacing", "eta",
            "step_noise", "clip")  # the constructor's arguments: the DIFFUSION section's keys

    def __init__(self, n_train_steps: int = 1000, beta_start: float = 1e-6, beta_end: float = 1e-2,
                 prediction_type: str = "eps", sample_steps: int = 10, spacing: str = "log", eta: float = 0.0,
                 clip: Optional[float] = None, step_noise: str = "ddim"):
        if isinstance(n_train_steps, bool) or not isinstance(n_train_steps, (int, np.integer)) \
                or n_train_steps < 1:
            raise ValueError(f"n_train_steps must be an integer >= 1, found {n_train_steps!r}")
        for name, value in (("beta_start", beta_start), ("beta_end", beta_end)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not 0.0 < float(value) < 1.0:
                raise ValueError(f"{name} must be a number in (0, 1), found {value!r}")
        if beta_start > beta_end:
            raise ValueError(f"beta_start must be <= beta_end ({beta_end!r}), found {beta_start!r}")
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, found {prediction_type!r}")
        if spacing not in SPACINGS:
            raise ValueError(f"spacing must be one of {SPACINGS}, found {spacing!r}")
        if step_noise not in STEP_NOISES:
            raise ValueError(f"step_noise must be one of {STEP_NOISES}, found {step_noise!r}")
        self.step_noise = str(step_noise)
        self.n_train_steps = int(n_train_steps)
        self.beta_start = float(beta_start)
        self.beta_end = float(beta_end)
        self.prediction_type = str(prediction_type)
        self.sample_steps = _check_int("sample_steps", sample_steps, 1, self.n_train_steps)
        self.spacing = str(spacing)
        self.eta = _check_positive("eta", eta, allow_zero=True)
        self.clip = _check_positive("clip", clip, allow_none=True)
        self.betas = np.linspace(self.beta_start, self.beta_end, self.n_train_steps, dtype=np.float64)
        self.alphas_cumprod = np.concatenate([[1.0], np.cumprod(1.0 - self.betas)])
        self.gammas = self.alphas_cumprod
        self._sqrt_gammas = paddle.to_tensor(np.sqrt(self.alphas_cumprod), dtype="float64")

    @classmethod
    def from_config(cls, config) -> "DiffusionScheduler":
        """Build from the ``DIFFUSION`` section of ``conf/md_diffusion.yaml`` (a mapping or DictConfig): every key is
        an argument of the constructor (:attr:`ARGS`), a missing one takes its default, and any other key is a
        ValueError naming it."""
        if not hasattr(config, "keys"):
            raise ValueError(f"config must be a mapping (e.g. cfg.DIFFUSION), found {type(config).__name__}")
        unknown = [k for k in config.keys() if k not in cls.ARGS]
        if unknown:
            raise ValueError(f"unknown DIFFUSION key(s) {unknown}; known keys: {list(cls.ARGS)}")
        return cls(**{k: config[k] for k in config.keys()})

    @property
    def config(self) -> dict:
        """The settings under their YAML keys: ``from_config(s.config)`` rebuilds ``s``."""
        return {arg: getattr(self, arg) for arg in self.ARGS}

    def __repr__(self):
        return "DiffusionScheduler(" + ", ".join(f"{k}={v!r}" for k, v in self.config.items()) + ")"

    # ------------------------------------------------------------------ training
    def sample_noise_level(self, batch_size: int, t=None) -> paddle.Tensor:
        """Draw continuous noise levels ``gamma`` for training (SR3 / WaveGrad).

        For each sample a timestep ``t ~ U{1..T}`` is drawn, then
        ``sqrt(gamma) ~ U(sqrt(gamma_t), sqrt(gamma_{t-1})]``: the uniform draw
        is in ``sqrt(alpha-bar)`` space (the signal scale), not in ``gamma``
        space, and ``gamma`` is its square. Hence every value lies in
        ``(gamma_T, 1]``. Uses paddle's global RNG (``paddle.seed`` makes it
        reproducible).

        Args:
            batch_size: ``B`` (int >= 1).
            t: optional forced timestep(s) in [1, T]: an int, or a ``[B]``
                int array/tensor; then only the uniform part is random.

        Returns:
            ``[B]`` float32 tensor of noise levels ``gamma``.
        """
        batch_size = _check_int("batch_size", batch_size, 1, 2 ** 62)
        T = self.n_train_steps
        if t is None:
            t = paddle.randint(1, T + 1, [batch_size], dtype="int64")
        else:
            t_np = np.asarray(t.numpy() if isinstance(t, paddle.Tensor) else t)
            t_np = np.broadcast_to(t_np, [batch_size]).astype(np.int64)
            if t_np.min() < 1 or t_np.max() > T:
                raise ValueError(f"t must lie in [1, {T}], found values in [{t_np.min()}, {t_np.max()}]")
            t = paddle.to_tensor(t_np, dtype="int64")
        low = paddle.gather(self._sqrt_gammas, t)
        high = paddle.gather(self._sqrt_gammas, t - 1)
        u = 1.0 - paddle.rand([batch_size], dtype="float64")  # in (0, 1]
        sqrt_gamma = low + (high - low) * u
        return sqrt_gamma.square().astype("float32")

    def add_noise(self, x0: paddle.Tensor, noise: paddle.Tensor, gamma) -> paddle.Tensor:
        """Forward process: ``x_noisy = sqrt(gamma) x0 + sqrt(1 - gamma) noise``.

        Args:
            x0: clean data ``[B, ...]`` (any rank >= 1, e.g. ``[B, C, H, W]`` or
                ``[B, C, D, H, W]``).
            noise: same shape as ``x0``, normally ``N(0, I)``.
            gamma: ``[B]`` tensor, numpy array or list (or one float for all
                samples), broadcast over the non-batch dims of ``x0``. The two
                coefficients are computed in float64 and then cast to
                ``x0.dtype``; pass float64 gammas for full precision near 1.

        Returns:
            ``x_noisy`` with the shape and dtype of ``x0``.
        """
        if not isinstance(gamma, paddle.Tensor):
            gamma = paddle.to_tensor(np.broadcast_to(np.asarray(gamma, np.float64), [x0.shape[0]]))
        if gamma.ndim != 1 or gamma.shape[0] != x0.shape[0]:
            raise ValueError(f"gamma must have shape [B] = [{x0.shape[0]}], found {list(gamma.shape)}")
        if list(noise.shape) != list(x0.shape):
            raise ValueError(f"noise must have the shape of x0 {list(x0.shape)}, found {list(noise.shape)}")
        g = _batch_view(gamma.astype("float64"), x0)  # 1 - gamma in float32 loses digits near 1
        return g.sqrt().astype(x0.dtype) * x0 + (1.0 - g).sqrt().astype(x0.dtype) * noise

    def predicted_noise(self, output: paddle.Tensor, x_t: paddle.Tensor, gamma: paddle.Tensor) -> paddle.Tensor:
        """The network's output -> the predicted noise ``eps_hat`` (what the loss and DDIM use),
        by ``self.prediction_type``.

        - ``"eps"``: the output is ``eps_hat`` itself.
        - ``"v"``: the output ``F`` predicts ``v = sqrt(gamma) eps - sqrt(1 - gamma) x0`` (Salimans &
          Ho, 2022), so ``eps_hat = sqrt(1 - gamma) x_t + sqrt(gamma) F``. Then
          ``x0_hat = sqrt(gamma) x_t - sqrt(1 - gamma) F``: an error in ``F`` moves ``x0_hat`` by at
          most as much, where with ``"eps"`` an error in the output is multiplied by
          ``sqrt((1 - gamma) / gamma)`` (about 12 at ``gamma_T`` of the default schedule) and a
          small bias at the noisiest steps becomes a DC offset of the whole sample.

        Args:
            output, x_t: ``[B, ...]`` tensors of the same shape.
            gamma: ``[B]`` tensor of noise levels (cast to ``x_t.dtype``).

        Returns:
            ``eps_hat``, shape of ``x_t``; ``output`` itself for ``"eps"``.
        """
        if self.prediction_type == "eps":
            return output
        g = _batch_view(gamma.astype(x_t.dtype), x_t)
        return (1.0 - g).sqrt() * x_t + g.sqrt() * output

    # ----------------------------------------------------------------- inference
    def ddim_timesteps(self, n_steps: Optional[int] = None, spacing: Optional[str] = None) -> np.ndarray:
        """Timesteps visited by DDIM: descending, distinct ints in [1, T], first == T.

        Spacing of the ascending grid ``u = 0..1`` (``n_steps`` points) mapped to [1, T]:
        - ``"log"``: ``t = T ** u`` (geometric, dense near t = 1);
        - ``"linear"``: ``t = 1 + (T - 1) u``;
        - ``"quadratic"``: ``t = 1 + (T - 1) u^2`` (dense near 1, as DDIM's quadratic).
        Values are rounded; duplicates from rounding are removed by shifting
        them up to consecutive integers (then capping at T), see
        :func:`_distinct_ascending`, so exactly ``n_steps`` distinct values come
        out. ``n_steps == T`` gives ``T, T-1, ..., 1``.

        Args:
            n_steps: int in [1, T]; None: ``self.sample_steps``.
            spacing: one of :data:`SPACINGS`; None: ``self.spacing``.

        Returns:
            int64 numpy array ``[n_steps]``, descending.
        """
        T = self.n_train_steps
        n_steps = self.sample_steps if n_steps is None else n_steps
        spacing = self.spacing if spacing is None else spacing
        n_steps = _check_int("n_steps", n_steps, 1, T)
        if spacing not in SPACINGS:
            raise ValueError(f"spacing must be one of {SPACINGS}, found {spacing!r}")
        u = np.linspace(0.0, 1.0, n_steps) if n_steps > 1 else np.ones(1)
        if spacing == "log":
            grid = np.exp(u * math.log(T))
        elif spacing == "linear":
            grid = 1.0 + (T - 1) * u
        else:
            grid = 1.0 + (T - 1) * np.square(u)
        return _distinct_ascending(grid, T)[::-1].copy()

    def step(self, model_output: paddle.Tensor, t: int, t_prev: int, x_t: paddle.Tensor,
             noise: Optional[paddle.Tensor] = None, x0_fn: Optional[Callable] = None) -> paddle.Tensor:
        """One DDIM update ``x_t -> x_{t_prev}`` (Song et al. 2021, eq. 12) from the raw network output.

        ``eps = predicted_noise(model_output, x_t, gamma_t)`` with ``gamma_t`` a ``[B]`` float32
        tensor (what the sampling loop gives the network; the identity for ``"eps"``), then
        ``x0_hat = (x_t - sqrt(1 - g_t) eps) / sqrt(g_t)`` (clipped to
        ``[-clip, clip]`` if ``self.clip`` is set);
        ``sigma = eta sqrt((1 - g_prev) / (1 - g_t)) sqrt(1 - g_t / g_prev)``;
        ``x_prev = sqrt(g_prev) x0_hat + sqrt(1 - g_prev - sigma^2) eps + sigma z``.
        ``t_prev = 0`` is the last step: ``g_prev = 1``, ``sigma = 0`` and
        ``x0_hat`` is returned. ``eta = 0`` is deterministic (DDIM), ``eta = 1``
        matches the DDPM posterior variance. ``eta`` and ``clip`` are ``self.eta``, ``self.clip``.
        With ``step_noise = "large"`` (and ``sigma > 0``) the added noise is ``sqrt(1 - g_t / g_prev) z``
        instead of ``sigma z``: more than the ``eps`` coefficient leaves room for, as in the MD Diffusion
        authors' sampler (which also adds ``sqrt(beta_1)``-sized noise after its last step; here the last
        step returns ``x0_hat``).

        Args:
            model_output: the network's raw output (``eps`` or ``v`` by ``self.prediction_type``),
                shape of ``x_t`` (``[B, ...]``).
            t, t_prev: ints with ``0 <= t_prev < t <= T``.
            x_t: current sample ``[B, ...]``.
            noise: optional ``z`` (shape of ``x_t``); drawn with ``paddle.randn``
                when needed and not given.
            x0_fn: optional map applied to ``x0_hat`` after the clip (e.g. a consistency
                projection onto what the condition determines); ``eps`` is kept as predicted.

        Returns:
            ``x_{t_prev}``, shape and dtype of ``x_t``.
        """
        t = _check_int("t", t, 1, self.n_train_steps)
        t_prev = _check_int("t_prev", t_prev, 0, t - 1)
        g_t, g_prev = float(self.alphas_cumprod[t]), float(self.alphas_cumprod[t_prev])
        eps = model_output
        if self.prediction_type != "eps":
            # the float32 gamma the network saw in the sampling loop, so the conversion matches it bit for bit
            eps = self.predicted_noise(model_output, x_t, paddle.full([x_t.shape[0]], g_t, dtype="float32"))
        x0_hat = (x_t - math.sqrt(1.0 - g_t) * eps) / math.sqrt(g_t)
        if self.clip is not None:
            x0_hat = x0_hat.clip(-self.clip, self.clip)
        if x0_fn is not None:
            x0_hat = x0_fn(x0_hat)
        if t_prev == 0:
            return x0_hat
        sigma = self.eta * math.sqrt((1.0 - g_prev) / (1.0 - g_t)) * math.sqrt(1.0 - g_t / g_prev)
        c_eps = math.sqrt(max(1.0 - g_prev - sigma * sigma, 0.0))
        x_prev = math.sqrt(g_prev) * x0_hat + c_eps * eps
        if sigma > 0.0:
            z = paddle.randn(x_t.shape, dtype=x_t.dtype) if noise is None else noise
            scale = sigma if self.step_noise == "ddim" else math.sqrt(1.0 - g_t / g_prev)
            x_prev = x_prev + scale * z
        return x_prev
