"""Metrics shared by the examples (paddle tensors in, scalar tensors out).

All functions take batched images [B, C, H, W]; each returns the mean over
the batch. ``ssim`` reproduces ``skimage.metrics.structural_similarity``
with ``gaussian_weights=True, sigma=1.5, use_sample_covariance=True`` (its
defaults apart from the window), averaged over the valid region (skimage
crops the (win_size - 1) // 2 border from the SSIM map; here the convolution
simply has no padding).
"""
import functools

import numpy as np
import paddle
import paddle.nn.functional as F

__all__ = ["mae", "rmse", "ssim", "gaussian_window", "fwi_metric_expr", "pcc", "r2", "section_scores", "psnr", "snr_db",
           "image_scores", "relative_data_misfit", "scaled_data_misfit", "spearman", "ensemble_scores",
           "spread_scale"]


def mae(pred, true):
    return (pred - true).abs().mean()


def rmse(pred, true):
    return (pred - true).square().mean().sqrt()


@functools.lru_cache(maxsize=8)
def gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
    """2-D Gaussian window as scipy.ndimage.gaussian_filter builds it (radius = int(truncate*sigma+0.5))."""
    r = int(truncate * sigma + 0.5)
    g = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    g /= g.sum()
    return np.outer(g, g).astype(np.float64)


def ssim(pred, true, data_range: float = 1.0, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03):
    """Mean structural similarity of [B, C, H, W] images (per-channel maps averaged)."""
    w = gaussian_window(sigma)
    n = w.shape[0]
    c = pred.shape[1]
    kernel = paddle.to_tensor(np.tile(w[None, None], (c, 1, 1, 1)), dtype=pred.dtype)
    filt = functools.partial(F.conv2d, weight=kernel, groups=c)
    cov_norm = n * n / (n * n - 1.0)  # skimage's sample-covariance correction
    ux, uy = filt(pred), filt(true)
    vx = cov_norm * (filt(pred * pred) - ux * ux)
    vy = cov_norm * (filt(true * true) - uy * uy)
    vxy = cov_norm * (filt(pred * true) - ux * uy)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean()


def fwi_metric_expr(norm, key: str = "velocity"):
    """``FunctionalMetric`` expression for velocity maps normalised to [-1, 1] by ``norm``
    (:class:`ppsci_ext.data.fwi.FWINormalisation`).

    MAE, RMSE on the [-1, 1] scale and SSIM on [0, 1] (data range 1), as OpenFWI
    reports them; MAE_mps and RMSE_mps in m/s (the errors times ``norm.half_range``).
    """
    half_range = norm.half_range

    def expr(output_dict, label_dict):
        pred, true = output_dict[key], label_dict[key]
        err_mae, err_rmse = mae(pred, true), rmse(pred, true)
        return {"MAE": err_mae, "RMSE": err_rmse,
                "SSIM": ssim((pred + 1) / 2, (true + 1) / 2, data_range=1.0),
                "MAE_mps": err_mae * half_range, "RMSE_mps": err_rmse * half_range}

    return expr


def pcc(pred: np.ndarray, true: np.ndarray) -> float:
    """Pearson correlation coefficient of two arrays (flattened)."""
    p, t = np.ravel(pred).astype(np.float64), np.ravel(true).astype(np.float64)
    p, t = p - p.mean(), t - t.mean()
    return float((p * t).sum() / np.sqrt((p * p).sum() * (t * t).sum()))


def r2(pred: np.ndarray, true: np.ndarray) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot (can be negative)."""
    p, t = np.ravel(pred).astype(np.float64), np.ravel(true).astype(np.float64)
    return float(1.0 - ((t - p) ** 2).sum() / ((t - t.mean()) ** 2).sum())


def section_scores(pred: np.ndarray, true: np.ndarray) -> dict:
    """PCC, R2, MAE (units of the input) and SSIM of a 2-D section [L, ntraces].

    SSIM is computed on both sections mapped to [0, 1] by the true section's
    range (data range 1), as skimage does with ``data_range``.
    """
    lo, hi = float(true.min()), float(true.max())
    to01 = lambda a: paddle.to_tensor(((a - lo) / (hi - lo))[None, None], dtype="float64")  # noqa: E731
    return {"PCC": pcc(pred, true), "R2": r2(pred, true), "MAE": float(np.abs(pred - true).mean()),
            "SSIM": float(ssim(to01(pred), to01(true), data_range=1.0))}


def psnr(pred: np.ndarray, true: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB, peak = the true image's range (max - min)."""
    mse = float(np.mean((np.asarray(pred, np.float64) - true) ** 2))
    return float(10 * np.log10((float(true.max()) - float(true.min())) ** 2 / mse))


def snr_db(pred: np.ndarray, true: np.ndarray) -> float:
    """Signal-to-noise ratio 10 log10(||true||^2 / ||pred - true||^2) in dB."""
    true = np.asarray(true, np.float64)
    return float(10 * np.log10((true ** 2).sum() / ((np.asarray(pred, np.float64) - true) ** 2).sum()))


def image_scores(pred: np.ndarray, true: np.ndarray) -> dict:
    """PSNR, SSIM (both mapped to [0, 1] by the true image's range, as ``section_scores``) and SNR of a 2-D image.

    For a 3-D volume [n1, n2, n3] the SSIM is the mean over its n1 slices [n2, n3] (each
    mapped to [0, 1] by the whole true volume's range); PSNR and SNR use every voxel.
    """
    if np.ndim(true) == 3:
        lo, hi = float(true.min()), float(true.max())
        to01 = lambda a: paddle.to_tensor(((a - lo) / (hi - lo))[:, None], dtype="float64")  # noqa: E731
        s = float(ssim(to01(pred), to01(true), data_range=1.0))
    else:
        s = section_scores(pred, true)["SSIM"]
    return {"PSNR": psnr(pred, true), "SSIM": s, "SNR": snr_db(pred, true)}


def scaled_data_misfit(synth: np.ndarray, observed: np.ndarray):
    """The data misfit across amplitude conventions: per sample (axis 0) the one factor ``a`` that best scales
    the synthetic data onto the observed (least squares, ``a = <s, d> / <s, s>``; its sign carries a polarity
    flip), then ``||a s - d|| / ||d||``. Returns (mean misfit, median factor, per-sample factors)."""
    if synth.shape != observed.shape:
        raise ValueError(f"data misfit: the configured acquisition gives {synth.shape}, the data is {observed.shape}")
    axes = tuple(range(1, observed.ndim))
    s, d = synth.astype(np.float64), observed.astype(np.float64)
    a = (s * d).sum(axis=axes) / np.maximum(np.square(s).sum(axis=axes), 1e-300)
    fitted = a.reshape((-1,) + (1,) * len(axes)) * s
    misfit = np.sqrt(np.square(fitted - d).sum(axis=axes)) / np.sqrt(np.square(d).sum(axis=axes))
    return float(np.mean(misfit)), float(np.median(a)), a


def relative_data_misfit(synth: np.ndarray, observed: np.ndarray) -> float:
    """Mean over samples (axis 0) of ||synth - observed|| / ||observed||: do predicted models explain the data?"""
    if synth.shape != observed.shape:
        raise ValueError(f"data misfit: the configured acquisition gives {synth.shape}, the data is {observed.shape}")
    axes = tuple(range(1, observed.ndim))
    num = np.sqrt(np.square(synth - observed).sum(axis=axes))
    den = np.sqrt(np.square(observed).sum(axis=axes))
    return float(np.mean(num / den))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two equally long arrays (ties share their mean rank)."""
    from scipy.stats import rankdata

    a, b = np.ravel(a), np.ravel(b)
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"spearman: expected two arrays of the same size >= 2, found {a.size} and {b.size}")
    ra, rb = rankdata(a) - (a.size + 1) / 2, rankdata(b) - (b.size + 1) / 2
    den = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def _block_rms(a: np.ndarray, b: int) -> np.ndarray:
    """RMS over non-overlapping b x b blocks of the last two axes (a partial last block is left out)."""
    h, w = a.shape[-2] // b * b, a.shape[-1] // b * b
    a = a[..., :h, :w].reshape(a.shape[:-2] + (h // b, b, w // b, b))
    return np.sqrt(np.mean(np.square(a), axis=(-3, -1)))


def ensemble_scores(mean: np.ndarray, std: np.ndarray, true: np.ndarray, k: float = 2.0, block: int = 8) -> dict:
    """Is an ensemble's spread an honest error bar? ``mean``, ``std``: per-pixel mean and standard deviation of
    draws for one ``true`` (all the same shape).

    ``spearman_std_error``: rank correlation, over pixels, of the standard deviation with the absolute error of
    the mean (high: the spread shows where the prediction is wrong); ``coverage_2std``: share of pixels whose
    truth lies within mean +- k std (k = 2: 95% for a calibrated Gaussian spread); ``mean_std``: the mean
    spread, in the data's units. A single error sample is a noisy read of its own std: a perfectly calibrated
    Gaussian ensemble whose std varies 20-fold scores only ~0.55 per pixel. ``spearman_std_error_block``
    ranks RMS std against RMS error over ``block`` x ``block`` tiles of the last two axes instead (does the
    spread show *where*, at the scale of a few samples, the prediction is wrong); None when that leaves
    fewer than 2 tiles."""
    mean, std, true = (np.asarray(a, np.float64) for a in (mean, std, true))
    if not mean.shape == std.shape == true.shape:
        raise ValueError(f"ensemble_scores: mean {list(mean.shape)}, std {list(std.shape)} and truth "
                         f"{list(true.shape)} must have one shape")
    err = np.abs(mean - true)
    tiles = _block_rms(std, block) if mean.ndim >= 2 else np.zeros(0)
    return {"spearman_std_error": spearman(std, err), f"coverage_{k:g}std": float(np.mean(err <= k * std)),
            "mean_std": float(std.mean()),
            "spearman_std_error_block": spearman(tiles, _block_rms(err, block)) if tiles.size >= 2 else None}


def spread_scale(mean, std, true, k: float = 2.0, coverage: float = 0.95) -> float:
    """The factor ``s`` by which an ensemble's standard deviation must be multiplied for ``mean +- k s std`` to
    hold the truth at the share ``coverage`` of the samples (pooled over every array of the lists, or the one
    array, given): the ``coverage`` quantile of ``|mean - true| / (k std)``. Chosen on a validation split, it
    calibrates the spread of later ensembles (``DIFFUSION.std_scale``); rank scores are unchanged by it."""
    as_list = lambda a: [np.asarray(x, np.float64).ravel() for x in (a if isinstance(a, (list, tuple)) else [a])]  # noqa: E731
    m, s, t = (np.concatenate(as_list(a)) for a in (mean, std, true))
    if not m.shape == s.shape == t.shape:
        raise ValueError(f"spread_scale: mean, std and truth sizes differ: {m.size}, {s.size}, {t.size}")
    if not 0.0 < coverage < 1.0 or k <= 0:
        raise ValueError(f"spread_scale: coverage must lie in (0, 1) and k > 0, found {coverage}, {k}")
    return float(np.quantile(np.abs(m - t) / (k * np.maximum(s, np.finfo(np.float64).tiny)), coverage))
