"""MD Diffusion's inference pipeline: a trained backbone run by the scheduler over whole sections.

Like diffusers' pipelines it owns what the scheduler does not: the sampling loop (the scheduler gives one
:meth:`~ppsci_ext.diffusion.scheduler.DiffusionScheduler.step`), the low-pass consistency of every ``x0`` estimate,
ensembles of draws and their statistics, and the tiling of a section of any size. It is built once per run
(:meth:`SRPipeline.from_config`) from the config's ``DIFFUSION`` section (the scheduler) and ``SAMPLING`` section
(its own keys, under the names of its arguments).

The backbone (``MDUNet``) is dict in, dict out, with input keys (noisy sample, condition, noise level) and one
output; :func:`network_fn` turns it into the ``(x_t, gamma, cond) -> raw output`` the loop calls, and
:func:`one_pass` runs the supervised baseline (noise input 0 at noise level 1). Sections are normalised by their
low-resolution input's peak (:func:`ppsci_ext.data.sr.dataset.normalise`) and brought back after.
"""
import math
from typing import Callable
from typing import Optional
from typing import Sequence

import numpy as np
import paddle

from ppsci_ext import tiling
from ppsci_ext.data.sr.dataset import normalise
from ppsci_ext.data.sr.dataset import upsample2
from ppsci_ext.diffusion.scheduler import DiffusionScheduler

__all__ = ["SRPipeline", "KINDS", "network_fn", "one_pass", "gaussian_lowpass", "lowpass_consistency"]

KINDS = ("diffusion", "supervised")


def network_fn(model) -> Callable:
    """``(x_t, gamma, cond) -> raw network output`` for a dict-in/dict-out network whose ``input_keys``
    are (noisy sample, condition, noise level): what the sampling loop calls."""
    k_x, k_cond, k_level = model.input_keys
    k_out = model.output_keys[0]
    return lambda x_t, gamma, cond: model({k_x: x_t, k_cond: cond, k_level: gamma})[k_out]


def one_pass(model, cond: paddle.Tensor) -> paddle.Tensor:
    """The supervised baseline's prediction: the backbone run once (noise input 0 at noise level 1)."""
    return network_fn(model)(paddle.zeros_like(cond), paddle.ones([cond.shape[0]]), cond)


class SRPipeline:
    """A trained backbone of ``kind`` ("diffusion" or "supervised") run over sections.

    Args:
        model: the backbone (``MDUNet``), in eval mode.
        kind: "diffusion" (DDIM sampling with ``scheduler``) or "supervised" (one pass).
        scheduler: the :class:`DiffusionScheduler` (diffusion only).
        seed: draw ``k`` of a prediction takes its noise from ``numpy.random.default_rng(seed + k)``.
        n_samples: draws per prediction (int >= 1): their mean is the prediction, and with ``ensemble`` the
            draws themselves are returned (their spread is the error bar).
        std_scale: factor (> 0) applied to the draws' standard deviation (:meth:`ensemble_stats`), calibrated on
            the validation split (``metric.spread_scale``).
        lowpass_sigma: None, or the std > 0 (samples) of the Gaussian low-pass whose band every ``x0`` estimate
            takes from the condition (:func:`lowpass_consistency`).
    """

    def __init__(self, model, kind: str, scheduler: Optional[DiffusionScheduler] = None, seed: int = 0,
                 n_samples: int = 1, std_scale: float = 1.0, lowpass_sigma: Optional[float] = None):
        if kind not in KINDS:
            raise ValueError(f"MODEL.kind: expected one of {list(KINDS)}, found {kind!r}")
        if kind == "diffusion" and scheduler is None:
            raise ValueError("the diffusion kind needs a DiffusionScheduler")
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"SAMPLING.n_samples must be an integer >= 1, found {n_samples!r}")
        if not (isinstance(std_scale, (int, float)) and std_scale > 0):
            raise ValueError(f"SAMPLING.std_scale must be a number > 0, found {std_scale!r}")
        if lowpass_sigma is not None and not (isinstance(lowpass_sigma, (int, float)) and lowpass_sigma > 0):
            raise ValueError(f"SAMPLING.lowpass_sigma must be None or a number > 0, found {lowpass_sigma!r}")
        self.model, self.kind, self.scheduler, self.seed = model, kind, scheduler, int(seed)
        self.n_samples, self.std_scale = int(n_samples), float(std_scale)
        self.lowpass_sigma = None if lowpass_sigma is None else float(lowpass_sigma)

    @classmethod
    def from_config(cls, model, kind: str, cfg) -> "SRPipeline":
        """The pipeline of a run: its scheduler built once from ``cfg.DIFFUSION`` (diffusion only), its own
        settings from ``cfg.SAMPLING``, the draws seeded by ``cfg.seed``."""
        scheduler = DiffusionScheduler.from_config(cfg.DIFFUSION) if kind == "diffusion" else None
        return cls(model, kind, scheduler, cfg.seed, **cfg.SAMPLING)

    @property
    def ensemble(self) -> bool:
        """True when predictions have a spread: several diffusion draws."""
        return self.kind == "diffusion" and self.n_samples > 1

    # ------------------------------------------------------------ the loop
    def sample(self, model_fn: Callable, shape: Sequence[int], seed: Optional[int] = None, cond=None,
               progress: bool = False, n_steps: Optional[int] = None, ensemble: bool = False):
        """Mean of ``n_samples`` full DDIM loops from ``x_T ~ N(0, I)`` down to ``x0``, under ``paddle.no_grad()``.

        At each visited ``t`` (the scheduler's ``ddim_timesteps``) the network is called as
        ``out = model_fn(x_t, gamma_t, cond)`` with ``gamma_t`` a ``[B]`` float32 tensor filled with ``gamma_t``
        (``B = shape[0]``), then the scheduler's ``step`` converts ``out`` and goes to the next visited timestep (0
        after the last). With ``lowpass_sigma`` set, every ``x0`` estimate, the last included, takes its low band
        from ``cond`` (:func:`lowpass_consistency`). With ``n_samples > 1`` the samples are summed in float32
        numpy and divided by ``n_samples`` (an estimate of the posterior mean).

        Args:
            model_fn: any callable ``(x [B, ...], gamma [B], cond) -> raw output [B, ...]`` (``eps`` or ``v`` by the
                scheduler's ``prediction_type``); the pipeline's own network is ``network_fn(self.model)``.
            shape: shape of the sample, batch first (e.g. ``[B, C, H, W]``).
            cond: passed to the network unchanged (the upsampled low-resolution section); with ``lowpass_sigma``
                set it must be a tensor of ``shape``, ``[B, 1, H, W]`` or ``[B, 1, D, H, W]``.
            seed: if given, sample ``k`` draws ``x_T`` and the step noise (``eta > 0``) from a local
                ``numpy.random.default_rng(seed + k)``, so the result is reproducible and paddle's global RNG is
                untouched; otherwise all samples draw, one after the other, from paddle's global RNG.
            progress: show a tqdm bar per sample.
            n_steps: DDIM steps; None: the scheduler's ``sample_steps``.
            ensemble: return the ``n_samples`` draws themselves, not their mean.

        Returns:
            float32 tensor of ``shape``; with ``ensemble``, a float32 numpy array ``[n_samples, *shape]``.
        """
        shape = [int(s) for s in shape]
        times = self.scheduler.ddim_timesteps(n_steps)
        x0_fn = None
        if self.lowpass_sigma is not None:
            if not isinstance(cond, paddle.Tensor) or list(cond.shape) != shape \
                    or len(shape) not in (4, 5) or shape[1] != 1:
                found = list(cond.shape) if isinstance(cond, paddle.Tensor) else type(cond).__name__
                raise ValueError(f"lowpass_sigma={self.lowpass_sigma} needs cond to be a tensor of the sample's "
                                 f"shape {shape}, [B, 1, H, W] or [B, 1, D, H, W]; found {found}")
            x0_fn = lowpass_consistency(cond, self.lowpass_sigma)
        n = self.n_samples

        def one(k):
            desc = (f"DDIM {k + 1}/{n}" if n > 1 else "DDIM") if progress else None
            return self._sample_one(model_fn, shape, times, None if seed is None else seed + k, cond, x0_fn, desc)

        if ensemble:
            return np.stack([one(k).numpy() for k in range(n)])
        if n == 1:
            return one(0)  # no round trip through numpy: the tensor of a single DDIM loop
        total = 0.0
        for k in range(n):
            # a running float32 numpy sum in this order: what the example script averaged so far
            total = total + one(k).numpy()
        return paddle.to_tensor((total / n).astype(np.float32))

    def _sample_one(self, model_fn, shape, times, seed, cond, x0_fn, desc) -> paddle.Tensor:
        """One DDIM loop over ``times`` (see :meth:`sample`); ``desc``: tqdm label, None for no bar."""
        rng = None if seed is None else np.random.default_rng(seed)
        scheduler = self.scheduler

        def gaussian():
            if rng is None:
                return paddle.randn(shape, dtype="float32")
            return paddle.to_tensor(rng.standard_normal(shape).astype(np.float32))

        iterator = times
        if desc:
            from tqdm import tqdm
            iterator = tqdm(times, desc=desc, total=len(times))
        with paddle.no_grad():
            x = gaussian()
            for i, t in enumerate(iterator):
                t = int(t)
                t_prev = int(times[i + 1]) if i + 1 < len(times) else 0
                gamma = paddle.full([shape[0]], float(scheduler.alphas_cumprod[t]), dtype="float32")
                out = model_fn(x, gamma, cond)
                z = gaussian() if (scheduler.eta > 0 and t_prev > 0) else None
                x = scheduler.step(out, t, t_prev, x, noise=z, x0_fn=x0_fn)
        return x

    # ---------------------------------------------------------- predictions
    def predict(self, cond_tiles: np.ndarray, steps: Optional[int] = None, ensemble: bool = False) -> np.ndarray:
        """Condition tiles on the high-res grid [B, p, p(, p)] -> predictions of the same shape (normalised units).

        ``supervised``: one pass. ``diffusion``: the mean of ``n_samples`` DDIM draws (seeds ``seed``, ``seed + 1``,
        ...: an estimate of the posterior mean) with ``steps`` network evaluations (None: the scheduler's); with
        ``ensemble`` the draws themselves, [B, n_samples, p, p(, p)]."""
        cond = paddle.to_tensor(cond_tiles[:, None], dtype="float32")
        with paddle.no_grad():
            if self.kind == "supervised":
                return one_pass(self.model, cond).numpy()[:, 0]
            out = self.sample(network_fn(self.model), cond.shape, seed=self.seed, cond=cond, n_steps=steps,
                              ensemble=ensemble)
            return np.moveaxis(out[:, :, 0], 0, 1) if ensemble else out.numpy()[:, 0]

    def predict_sections(self, lr: Sequence[np.ndarray], ensemble: bool = False) -> np.ndarray:
        """Normalised low-resolution sections [N, h, w] -> normalised predictions [N, 2h, 2w] (bilinear
        condition; with ``ensemble`` the draws, [N, n_samples, 2h, 2w])."""
        ndim = np.asarray(lr[0]).ndim
        return self.predict(np.stack([upsample2(x, "bilinear", ndim) for x in lr]), ensemble=ensemble)

    def super_resolve(self, lr: np.ndarray, patch: int, overlap: int, batch_size: int, steps: Optional[int] = None,
                      ensemble: bool = False) -> np.ndarray:
        """A whole low-resolution section [h, w] (or volume, any size, raw amplitudes) -> [2h, 2w], by blended tiles
        of ``patch`` samples overlapping by ``overlap`` (with ``ensemble``, each diffusion draw: [n_samples, 2h, 2w])."""
        x, scale = normalise(lr)
        cond = upsample2(x, "bilinear", lr.ndim)
        fn = lambda tiles: self.predict(tiles, steps, ensemble)  # noqa: E731
        return tiling.tiled_apply(fn, cond, patch, overlap, batch_size=batch_size, progress=True) * scale

    def ensemble_stats(self, draws: np.ndarray):
        """Draws along axis 0 -> (their mean, their standard deviation times ``std_scale``): the prediction and its
        calibrated error bar (:func:`ppsci_ext.metric.spread_scale` fits the factor)."""
        if len(draws) < 2:
            raise ValueError(f"an ensemble needs at least 2 draws (SAMPLING.n_samples), found {len(draws)}")
        return draws.mean(0), draws.std(0, ddof=1) * self.std_scale


def gaussian_lowpass(x: paddle.Tensor, sigma: float) -> paddle.Tensor:
    """Separable Gaussian low-pass (std ``sigma`` samples, kernel radius ``ceil(3 sigma)``, reflected edges)
    over every spatial axis of ``[B, 1, H, W]`` or ``[B, 1, D, H, W]``; preserves a constant exactly.
    On an axis shorter than the radius the kernel is cut to ``n - 1`` (and renormalised)."""
    nd = x.ndim - 2
    conv = paddle.nn.functional.conv2d if nd == 2 else paddle.nn.functional.conv3d
    fmt = "NCHW" if nd == 2 else "NCDHW"
    for axis in range(nd):
        radius = min(int(math.ceil(3.0 * sigma)), int(x.shape[2 + axis]) - 1)
        if radius < 1:
            continue
        k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        shape = [1, 1] + [1] * nd
        shape[2 + axis] = 2 * radius + 1
        pad = [0] * (2 * nd)
        pad[2 * (nd - 1 - axis)] = pad[2 * (nd - 1 - axis) + 1] = radius  # paddle's pad list runs from the last axis
        kernel = paddle.to_tensor((k / k.sum()).astype(np.float32)).reshape(shape)
        x = conv(paddle.nn.functional.pad(x, pad, mode="reflect", data_format=fmt), kernel)
    return x


def lowpass_consistency(cond: paddle.Tensor, sigma: float) -> Callable:
    """The ``x0_fn`` that :meth:`SRPipeline.sample` builds when ``lowpass_sigma`` is set (also usable with the
    scheduler's ``step``): keep the estimate's band above a Gaussian low-pass and take the low band from ``cond``:
    ``x0 - LP(x0) + LP(cond)``.

    The low-pass replacement of ILVR (Choi et al., 2021), applied to the x0 estimate as the
    range-space step of DDNM (Wang et al., 2023). It is sound where the condition knows the low band:
    a 2x decimation after an anti-alias filter keeps it, and white noise has little power there.
    """
    low = gaussian_lowpass(cond, sigma)
    return lambda x0: x0 - gaussian_lowpass(x0, sigma) + low
