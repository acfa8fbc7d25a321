"""MD Diffusion's inference pipeline: a trained backbone run by the scheduler over whole sections.

Like diffusers' pipelines it owns what the scheduler does not: the sampling loop (the scheduler gives one
:meth:`~ppsci_ext.diffusion.scheduler.DiffusionScheduler.step`), the consistency of every ``x0`` estimate and of
the output with the low-resolution input (by a low-pass band, or by the operator that made the input:
``data/sr/degradations.py``), the network's self-check one scale up, ensembles of draws and their statistics, and
the tiling of a section of any size. It is built once per run
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
from ppsci_ext.data.sr import degradations as dg
from ppsci_ext.data.sr.dataset import normalise
from ppsci_ext.data.sr.dataset import upsample2
from ppsci_ext.diffusion.scheduler import DiffusionScheduler
from ppsci_ext.metric import psnr

__all__ = ["SRPipeline", "KINDS", "network_fn", "one_pass", "gaussian_lowpass", "lowpass_consistency",
           "make_consistent", "projection_fn", "DEGRADATIONS"]

DEGRADATIONS = ("auto", "none") + dg.OPERATORS

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
        degradation: how the low-resolution input was made, for the consistency of the output with it
            (:func:`make_consistent`; diffusion also on every ``x0`` estimate, :func:`projection_fn`): one of
            ``degradations.OPERATORS``, ``"auto"`` (the operator the output explains the input best by) or
            ``"none"`` (the network's output as it is).
        noise_level: the noise std of the low-resolution input over its std, which the degraded output may differ
            from it by (0: exact consistency); None: estimated from each input (``degradations.noise_level``).
        consistency_warning: the ratio of the output's consistency residual to the input's estimated noise level
            above which :meth:`super_resolve` reports the output as not consistent with its input.
        nprocs: CPU processes that share the tiles of :meth:`super_resolve` (:func:`ppsci_ext.tiling.tiled_apply`).
    """

    def __init__(self, model, kind: str, scheduler: Optional[DiffusionScheduler] = None, seed: int = 0,
                 n_samples: int = 1, std_scale: float = 1.0, lowpass_sigma: Optional[float] = None,
                 degradation: str = "none", noise_level: Optional[float] = None,
                 consistency_warning: float = float("inf"), nprocs: int = 1):
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
        if degradation not in DEGRADATIONS:
            raise ValueError(f"SAMPLING.degradation: expected one of {list(DEGRADATIONS)}, found {degradation!r}")
        if not (isinstance(consistency_warning, (int, float)) and consistency_warning > 0):
            raise ValueError(f"SAMPLING.consistency_warning must be a number > 0, found {consistency_warning!r}")
        if noise_level is not None and not (isinstance(noise_level, (int, float)) and noise_level >= 0):
            raise ValueError(f"SAMPLING.noise_level must be null or a number >= 0, found {noise_level!r}")
        self.degradation, self.consistency_warning = degradation, float(consistency_warning)
        self.noise_level = None if noise_level is None else float(noise_level)
        self.nprocs = int(nprocs)

    @classmethod
    def from_config(cls, model, kind: str, cfg, nprocs: int = 1) -> "SRPipeline":
        """The pipeline of a run: its scheduler built once from ``cfg.DIFFUSION`` (diffusion only), its own
        settings from ``cfg.SAMPLING``, the draws seeded by ``cfg.seed``; ``nprocs`` as the class's."""
        scheduler = DiffusionScheduler.from_config(cfg.DIFFUSION) if kind == "diffusion" else None
        return cls(model, kind, scheduler, cfg.seed, **cfg.SAMPLING, nprocs=nprocs)

    @property
    def ensemble(self) -> bool:
        """True when predictions have a spread: several diffusion draws."""
        return self.kind == "diffusion" and self.n_samples > 1

    # ------------------------------------------------------------ the loop
    def sample(self, model_fn: Callable, shape: Sequence[int], seed: Optional[int] = None, cond=None,
               progress: bool = False, n_steps: Optional[int] = None, ensemble: bool = False, noise=None):
        """Mean of ``n_samples`` full DDIM loops from ``x_T ~ N(0, I)`` down to ``x0``, under ``paddle.no_grad()``.

        At each visited ``t`` (the scheduler's ``ddim_timesteps``) the network is called as
        ``out = model_fn(x_t, gamma_t, cond)`` with ``gamma_t`` a ``[B]`` float32 tensor filled with ``gamma_t``
        (``B = shape[0]``), then the scheduler's ``step`` converts ``out`` and goes to the next visited timestep (0
        after the last). With ``lowpass_sigma`` set, every ``x0`` estimate, the last included, takes its low band
        from ``cond`` (:func:`lowpass_consistency`). With ``n_samples > 1`` the samples are summed in float32
        numpy and divided by ``n_samples`` (an estimate of the posterior mean). With a ``degradation`` other than
        ``"none"`` and ``noise`` given, every ``x0`` estimate is then made consistent with the low-resolution input
        that ``cond`` was interpolated from (:func:`projection_fn`).

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
            noise: the input's noise level (normalised units, a number or one per item), for the projection.

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
        if self.degradation != "none" and noise is not None and len(shape) == 4:
            x0_fn = projection_fn(cond, noise, self.degradation, self.grid, x0_fn)
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
    def predict(self, cond_tiles: np.ndarray, steps: Optional[int] = None, ensemble: bool = False,
                noise=None) -> np.ndarray:
        """Condition tiles on the high-res grid [B, p, p(, p)] -> predictions of the same shape (normalised units).

        ``supervised``: one pass. ``diffusion``: the mean of ``n_samples`` DDIM draws (seeds ``seed``, ``seed + 1``,
        ...: an estimate of the posterior mean) with ``steps`` network evaluations (None: the scheduler's); with
        ``ensemble`` the draws themselves, [B, n_samples, p, p(, p)]. ``noise``: the input's noise level, for the
        projection of every ``x0`` estimate (:meth:`sample`)."""
        cond = paddle.to_tensor(cond_tiles[:, None], dtype="float32")
        with paddle.no_grad():
            if self.kind == "supervised":
                return one_pass(self.model, cond).numpy()[:, 0]
            out = self.sample(network_fn(self.model), cond.shape, seed=self.seed, cond=cond, n_steps=steps,
                              ensemble=ensemble, noise=noise)
            return np.moveaxis(out[:, :, 0], 0, 1) if ensemble else out.numpy()[:, 0]

    def predict_sections(self, lr: Sequence[np.ndarray], ensemble: bool = False, check: bool = False):
        """Normalised low-resolution sections [N, h, w] -> (normalised predictions [N, 2h, 2w], their consistency
        reports): each conditioned by :meth:`condition` and made consistent with its input (:meth:`consistent`); with
        ``ensemble`` the draws, [N, n_samples, 2h, 2w]. ``check``: the reports also hold :meth:`coarse_check`'s."""
        ndim = np.asarray(lr[0]).ndim
        noise = np.array([self.noise_of(x) if ndim == 2 else 0.0 for x in lr], np.float32)
        out = self.predict(np.stack([self.condition(x) for x in lr]), ensemble=ensemble, noise=noise)
        done = [self.consistent(p, x) for p, x in zip(out, lr)]
        reports = [d[1] for d in done]
        if check and reports[0] is not None:
            crops, coarse = zip(*[self.coarser(x) for x in lr])
            pred = self.predict_sections(list(coarse))[0]
            reports = [{**r, **self._coarse_report(r, p, c, y2)} for r, p, c, y2 in zip(reports, pred, crops, coarse)]
        return np.stack([d[0] for d in done]), reports

    def coarser(self, lr: np.ndarray):
        """(the input cut to even sizes, that cut made 2x coarser by the operator of :attr:`grid`): what
        :meth:`coarse_check` restores."""
        crop = lr[: lr.shape[0] // 2 * 2, : lr.shape[1] // 2 * 2]
        return crop, dg.apply(crop, self.grid).astype(np.float32)

    def _coarse_report(self, report, pred, crop, coarse):
        """``coarse_gain_db``: the PSNR (peak: the input's range) of the network's restoration of the input from its
        coarser copy minus that of bicubic interpolation on the same grid; below 0 the network is worse than bicubic
        one scale up, and the report warns."""
        bicubic = dg.upsample(coarse, dg.grid_offset(self.grid), cubic=True)
        gain = psnr(pred, crop) - psnr(bicubic, crop)
        return {"coarse_gain_db": float(gain), "warn": bool(report["warn"] or gain < 0)}

    def coarse_check(self, lr: np.ndarray, patch: int, overlap: int, batch_size: int, steps: Optional[int] = None,
                     report: Optional[dict] = None) -> dict:
        """The network's self-check one scale up, for a normalised input: the input made 2x coarser by the
        operator of :attr:`grid` is super-resolved as the input was (tiles, consistency) and compared with the input
        itself, and with bicubic interpolation of the coarser copy (``coarse_gain_db``; sections of under 16
        samples on an axis are not checked). ``report`` (the input's own consistency report) is returned with it."""
        report = dict(report or {"warn": False})
        if min(lr.shape) < 16:
            return report
        crop, coarse = self.coarser(lr)
        cond = self.condition(coarse)
        fn = lambda tiles: self.predict(tiles, steps, False, self.noise_of(coarse))  # noqa: E731
        pred = self.consistent(tiling.tiled_apply(fn, cond, patch, overlap, batch_size=batch_size,
                                                  nprocs=self.nprocs), coarse)[0]
        return {**report, **self._coarse_report(report, pred, crop, coarse)}

    def consistent(self, out: np.ndarray, lr: np.ndarray):
        """A prediction (or draws along axis 0) and its normalised input -> (the prediction made consistent with
        the input by ``degradation``, its report: :func:`make_consistent`, with ``"warn"`` when the residual
        before is over ``consistency_warning`` times the noise level). Volumes and ``"none"``: unchanged, no
        report."""
        if self.degradation == "none" or lr.ndim != 2:
            return out, None
        if out.ndim == 3:  # draws: each made consistent; the report of their mean
            sigma = self.noise_of(lr)
            fixed = np.stack([make_consistent(o, lr, self.degradation, sigma)[0] for o in out]).astype(np.float32)
            report = make_consistent(out.mean(0), lr, self.degradation, sigma)[1]
            return fixed, {**report, **self._warn(report)}
        fixed, report = make_consistent(out, lr, self.degradation, self.noise_of(lr))
        return fixed.astype(np.float32), {**report, **self._warn(report)}

    @property
    def grid(self) -> str:
        """The operator whose grid the condition puts the input on: ``degradation`` when it names one, else
        ``"decimate"`` (output sample ``2i`` at input sample ``i``)."""
        return self.degradation if self.degradation in dg.OPERATORS else "decimate"

    def condition(self, lr: np.ndarray) -> np.ndarray:
        """A normalised input on the high-resolution grid: linear interpolation from its samples placed on the grid
        of :attr:`grid` (``degradations.upsample``); volumes: ``upsample2``'s trilinear."""
        if lr.ndim != 2:
            return upsample2(lr, "bilinear", lr.ndim)
        return dg.upsample(lr, dg.grid_offset(self.grid))

    def noise_of(self, lr: np.ndarray) -> float:
        """The noise std of a normalised input that its prediction may differ from it by, degraded: ``noise_level``
        times the input's std, or, when that is None, the estimate of
        :func:`~ppsci_ext.data.sr.degradations.noise_level`."""
        if self.noise_level is None:
            return dg.noise_level(lr)
        return self.noise_level * float(np.std(lr))

    def _warn(self, report):
        return {"warn": bool(report["residual"] > self.consistency_warning)}

    def super_resolve(self, lr: np.ndarray, patch: int, overlap: int, batch_size: int, steps: Optional[int] = None,
                      ensemble: bool = False):
        """A whole low-resolution section [h, w] (or volume, any size, raw amplitudes) -> ([2h, 2w], report), by
        blended tiles of ``patch`` samples overlapping by ``overlap``, made consistent with the input
        (:meth:`consistent`) and checked one scale up (:meth:`coarse_check`); the report is None when nothing was
        checked. With ``ensemble``, each diffusion draw: [n_samples, 2h, 2w]."""
        x, scale = normalise(lr)
        cond = self.condition(x)
        noise = self.noise_of(x) if lr.ndim == 2 else None
        fn = lambda tiles: self.predict(tiles, steps, ensemble, noise)  # noqa: E731
        out = tiling.tiled_apply(fn, cond, patch, overlap, batch_size=batch_size, progress=True, nprocs=self.nprocs)
        out, report = self.consistent(out, x)
        if report is not None:
            report = self.coarse_check(x, patch, overlap, batch_size, steps, report)
        return out * scale, report

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


def make_consistent(out: np.ndarray, lr: np.ndarray, degradation: str, noise: float):
    """A prediction [2h, 2w] and its low-resolution input [h, w] (normalised units) -> (the prediction made consistent
    with the input, a report), in two steps for the operator ``A`` of ``degradation`` (one of
    ``degradations.OPERATORS``, or ``"auto"``: the one the prediction explains the input best by):

    1. amplitude: the prediction times the least-squares gain ``g = <A out, lr> / <A out, A out>`` (the input's noise
       is uncorrelated with the prediction, so ``g`` is unbiased by it);
    2. detail: moved the least along ``A``'s pseudo-inverse until ``A out`` is within the input's estimated noise
       std ``noise`` of ``lr`` (:func:`~ppsci_ext.data.sr.degradations.project`; 0: exactly).

    The report: ``operator``, ``gain`` (``g``), ``noise`` and ``residual``, the RMS of ``A out - lr`` before either
    step over the noise (over 1% of the input's std when the noise is below it): well above 1, the network's output
    does not explain its input."""
    lr = np.asarray(lr, np.float64)
    out = np.asarray(out, np.float64)
    op = dg.best_operator(out, lr) if degradation == "auto" else degradation
    sigma = float(noise)
    residual = dg.consistency_residual(out, lr, op) / max(sigma, 0.01 * float(lr.std()))
    a_out = dg.apply(out, op)
    gain = float(np.sum(a_out * lr) / max(np.sum(a_out * a_out), 1e-30))
    fixed = dg.project(gain * out, lr, op, noise=sigma)
    return fixed, {"operator": op, "gain": gain, "noise": sigma, "residual": residual}


def projection_fn(cond: paddle.Tensor, noise, degradation: str, grid: str = "decimate",
                  then: Optional[Callable] = None) -> Callable:
    """The ``x0_fn`` of :meth:`SRPipeline.sample` with a degradation: every ``x0`` estimate [B, 1, H, W] (after
    ``then``, if given) moved along the operator's pseudo-inverse until its degraded version is within ``noise``
    (RMS, per item) of the low-resolution input (the DDNM range-space step with a noise allowance). The input is
    recovered from ``cond``, its interpolation on the grid of operator ``grid`` (``degradations.recover``).
    ``"auto"`` takes, at the first estimate, the operator that explains the inputs best."""
    h, w = int(cond.shape[2]), int(cond.shape[3])
    t = lambda a: paddle.to_tensor(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    y = paddle.matmul(paddle.matmul(t(dg.recover(grid, h)), cond), t(dg.recover(grid, w).T))
    sigma = t(np.broadcast_to(np.asarray(noise, np.float32), [int(cond.shape[0])])).reshape([-1, 1, 1, 1])
    chosen = {}

    def mats(op):
        if op not in chosen:
            chosen[op] = (t(dg.matrix(op, h)), t(dg.matrix(op, w).T), t(dg.pinv(op, h)), t(dg.pinv(op, w).T))
        return chosen[op]

    def residual(x0, op):
        d1, d2t, _, _ = mats(op)
        return y - paddle.matmul(paddle.matmul(d1, x0), d2t)

    def fn(x0):
        if then is not None:
            x0 = then(x0)
        if "op" not in chosen:
            ops = dg.OPERATORS if degradation == "auto" else (degradation,)
            chosen["op"] = min(ops, key=lambda k: float(residual(x0, k).square().mean()))
        op = chosen["op"]
        r = residual(x0, op)
        rms = r.square().mean(axis=[1, 2, 3], keepdim=True).sqrt()
        lam = paddle.clip(1.0 - sigma / paddle.clip(rms, min=1e-12), min=0.0)
        _, _, p1, p2t = mats(op)
        return x0 + lam * paddle.matmul(paddle.matmul(p1, r), p2t)

    return fn
