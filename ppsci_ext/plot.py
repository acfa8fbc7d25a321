"""Figures shared by the examples. Every function writes one PNG and returns its path."""
import os
from typing import Dict
from typing import List

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ppsci_ext.atomic import atomic_open  # noqa: E402

__all__ = ["velocity_comparison", "velocity_profiles", "training_curves", "ava_sections", "well_logs",
           "misfit_curves", "sr_comparison", "field_panels", "spectra_comparison", "uncertainty_panels"]


def _save(fig, path):
    """Write ``fig`` to ``path`` whole or not at all (:func:`ppsci_ext.atomic.atomic_open`), then close it."""
    try:
        with atomic_open(path) as f:
            fig.savefig(f, dpi=120, bbox_inches="tight", format=os.path.splitext(path)[1][1:] or "png")
    finally:
        plt.close(fig)
    return path


def velocity_comparison(true: np.ndarray, pred: np.ndarray, path: str, dx: float = 10.0,
                        vmin: float = 1500.0, vmax: float = 4500.0):
    """Rows: samples; columns: true | predicted | difference. Maps [N, nz, nx] in m/s."""
    n, nz, nx = true.shape
    ext = [0, nx * dx / 1000, nz * dx / 1000, 0]
    fig, axes = plt.subplots(n, 3, figsize=(10, 3.0 * n), squeeze=False)
    for i in range(n):
        for j, (img, title, cmap, lim) in enumerate((
                (true[i], "true", "jet", (vmin, vmax)), (pred[i], "predicted", "jet", (vmin, vmax)),
                (pred[i] - true[i], "predicted - true", "seismic", (-500, 500)))):
            im = axes[i, j].imshow(img, extent=ext, cmap=cmap, vmin=lim[0], vmax=lim[1], aspect="auto")
            axes[i, j].set_title(f"sample {i}: {title}")
            axes[i, j].set_xlabel("x (km)")
            axes[i, j].set_ylabel("depth (km)")
            fig.colorbar(im, ax=axes[i, j], label="m/s")
    fig.tight_layout()
    return _save(fig, path)


def refinement(true, start, refined, histories, path: str, dx: float = 10.0, vmin: float = 1500.0,
               vmax: float = 4500.0, curves=None):
    """Rows: samples; columns: true | start (the network's answer) | refined | the data misfit per iteration (log)
    with the MAE (m/s) where known. Maps [N, nz, nx] m/s (``true`` may be None); ``histories``: one refine
    history per sample; ``curves``: {label: histories} of other runs drawn dashed (e.g. another start)."""
    n, nz, nx = start.shape
    ext = [0, nx * dx / 1000, nz * dx / 1000, 0]
    fig, axes = plt.subplots(n, 4, figsize=(14, 3.0 * n), squeeze=False)
    for i in range(n):
        maps = ([] if true is None else [(true[i], "true")]) + [(start[i], "network"), (refined[i], "refined")]
        for j, (img, title) in enumerate(maps):
            ax = axes[i, j + (true is None)]
            im = ax.imshow(img, extent=ext, cmap="jet", vmin=vmin, vmax=vmax, aspect="auto")
            mae = "" if true is None or title == "true" else f", MAE {np.abs(img - true[i]).mean():.0f} m/s"
            ax.set_title(f"sample {i}: {title}{mae}")
            ax.set_xlabel("x (km)")
            ax.set_ylabel("depth (km)")
            fig.colorbar(im, ax=ax, label="m/s")
        if true is None:
            axes[i, 0].axis("off")
        ax = axes[i, 3]
        runs = [("from the network", histories[i], "-")] + [(k, h[i], "--") for k, h in (curves or {}).items()]
        for label, h, style in runs:
            ax.semilogy(h["misfit"], "b" + style, label=f"misfit, {label}")
        ax.set_xlabel("iteration")
        ax.set_ylabel("relative data misfit", color="b")
        if "mae" in histories[i]:
            twin = ax.twinx()
            for label, h, style in runs:
                twin.plot(h["mae"], "r" + style, label=f"MAE, {label}")
            twin.set_ylabel("MAE (m/s)", color="r")
        ax.legend(fontsize=7, loc="upper right")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def velocity_profiles(true: np.ndarray, pred: np.ndarray, column: int, path: str, dx: float = 10.0):
    """Velocity against depth at one column for each sample; maps [N, nz, nx] in m/s."""
    n, nz, _ = true.shape
    z = np.arange(nz) * dx
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n, 4.5), sharey=True, squeeze=False)
    for i, ax in enumerate(axes[0]):
        ax.plot(true[i, :, column], z, "k-", lw=2, label="true")
        ax.plot(pred[i, :, column], z, "r--", lw=1.5, label="predicted")
        ax.set_title(f"sample {i}, x = {column * dx:.0f} m")
        ax.set_xlabel("velocity (m/s)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("depth (m)")
    axes[0, 0].invert_yaxis()
    axes[0, 0].legend()
    fig.tight_layout()
    return _save(fig, path)


def training_curves(history: List[Dict[str, float]], path: str):
    """Per-epoch losses (left) and held-out metrics (right) from a training history."""
    epochs = [h["epoch"] for h in history]
    skip = {"epoch", "seconds"}
    keys = [k for k in history[0] if k not in skip]
    held = [k for k in keys if k.startswith("val_")]
    train = [k for k in keys if k not in held]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for k in train:
        a.plot(epochs, [h.get(k, np.nan) for h in history], label=k)
    a.set_xlabel("epoch")
    a.set_title("training losses (per-epoch mean)")
    a.set_yscale("symlog", linthresh=1e-2)  # critic losses can be negative
    a.legend(fontsize=8)
    for k in held:
        b.plot(epochs, [h[k] for h in history], marker="o", label=k[4:])
    b.set_xlabel("epoch")
    b.set_title("held-out metrics (normalised scale)")
    b.grid(alpha=0.3)
    b.legend()
    fig.tight_layout()
    return _save(fig, path)


def ava_sections(panels: Dict[str, np.ndarray], wells: List[int], path: str, label: str):
    """One property's sections [L, ntraces] side by side (same colour scale), wells as dashed lines."""
    true = next(iter(panels.values()))
    lo, hi = np.percentile(true, [1, 99])
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), sharey=True, squeeze=False)
    for ax, (name, img) in zip(axes[0], panels.items()):
        im = ax.imshow(img, cmap="jet", vmin=lo, vmax=hi, aspect="auto")
        for w in wells:
            ax.axvline(w, color="k", ls="--", lw=1)
        ax.set_title(name)
        ax.set_xlabel("trace")
    axes[0, 0].set_ylabel("sample")
    fig.colorbar(im, ax=list(axes[0]), label=label, shrink=0.9)
    return _save(fig, path)


def well_logs(true: np.ndarray, back: np.ndarray, preds: Dict[str, np.ndarray], names, units, path: str,
              title: str):
    """Log panels at one trace: true, background and each method; arrays [3, L]."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 5), sharey=True)
    z = np.arange(true.shape[-1])
    for i, ax in enumerate(axes):
        ax.plot(true[i], z, "k-", lw=2, label="true")
        ax.plot(back[i], z, color="0.6", lw=1.5, label="background")
        for name, m in preds.items():
            ax.plot(m[i], z, lw=1, label=name)
        ax.set_xlabel(f"{names[i]} ({units[i]})")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("sample")
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def misfit_curves(curves: Dict[str, List[float]], path: str):
    """Relative data misfit against iteration (step) for each method, log scale."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, c in curves.items():
        ax.semilogy(np.arange(len(c)), c, marker="o" if len(c) < 20 else None, ms=3, label=name)
    ax.set_xlabel("iteration (GDRNN: unrolled step)")
    ax.set_ylabel("||F(m) - d||^2 / ||d||^2")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def ava_evaluation(truth, m_back, shown: Dict[str, np.ndarray], curves, wells: List[int], blind_trace: int,
                   names, units, fig_dir: str):
    """GDRNN's evaluation figures in ``fig_dir``: ``section_<name>.png`` per property (truth, background and
    each method in ``shown``), ``well_logs.png`` at ``blind_trace`` and ``misfit_curves.png``.
    ``truth``, ``m_back`` and each of ``shown`` are [traces, 3, samples]."""
    for i, (p, unit) in enumerate(zip(names, units)):
        panels = {"true": truth[:, i], "background": m_back[:, i], **{k: v[:, i] for k, v in shown.items()}}
        ava_sections({k: v.T for k, v in panels.items()}, wells, os.path.join(fig_dir, f"section_{p}.png"),
                     f"{p} ({unit})")
    well_logs(truth[blind_trace], m_back[blind_trace], {k: v[blind_trace] for k, v in shown.items()}, names, units,
              os.path.join(fig_dir, "well_logs.png"), f"blind trace {blind_trace}")
    misfit_curves(curves, os.path.join(fig_dir, "misfit_curves.png"))


def _sym_clip(a: np.ndarray) -> float:
    """Symmetric colour limit: 99th percentile of |a| (falls back to max |a|, then 1)."""
    a = np.abs(np.asarray(a, dtype=np.float64))
    c = float(np.percentile(a, 99)) if a.size else 0.0
    if not c > 0:
        c = float(a.max()) if a.size else 0.0
    return c if c > 0 else 1.0


def sr_comparison(items, path: str, titles=("low-resolution input", "prediction", "high-resolution truth"),
                  cmap: str = "gray"):
    """Rows: samples; columns: low-resolution input | prediction | high-resolution truth.

    ``items`` is a list of ``(lr [h, w], pred [2h, 2w], hr [2h, 2w])`` in ``[traces, samples]``
    layout (volumes ``[inline, crossline, samples]``: their middle crossline slice); each panel is shown
    transposed so that time runs down. One symmetric colour scale per row, from the 99th percentile of
    |truth|.
    """
    n = len(items)
    if n == 0:
        raise ValueError("items is empty")
    fig, axes = plt.subplots(n, 3, figsize=(11, 3.2 * n), squeeze=False, layout="constrained")
    for i, arrays in enumerate(items):
        if len(arrays) != 3:
            raise ValueError(f"item {i} must be (lr, pred, hr), got {len(arrays)} arrays")
        c = _sym_clip(arrays[2])
        for j, (a, title) in enumerate(zip(arrays, titles)):
            a = np.asarray(a)
            a = a[:, a.shape[1] // 2] if a.ndim == 3 else a
            if a.ndim != 2:
                raise ValueError(f"item {i}, panel {j}: expected a 2-D [traces, samples] array, got {a.shape}")
            ax = axes[i, j]
            im = ax.imshow(a.T, cmap=cmap, vmin=-c, vmax=c, aspect="auto", interpolation="nearest")
            ax.set_title(f"sample {i}: {title} {a.shape[0]}x{a.shape[1]}", fontsize=9)
            ax.set_xlabel("trace")
            ax.set_ylabel("sample")
        fig.colorbar(im, ax=list(axes[i]), shrink=0.9)
    return _save(fig, path)


def field_panels(rows, path: str, fmax: float = 60.0, cmap: str = "gray"):
    """Rows: sections; columns: original | super-resolved | normalised amplitude spectra (0..fmax Hz).

    Each row is a dict with ``name``, ``original``, ``super`` (2x samples or the same grid),
    ``dt_original`` and ``dt_super`` (s), and ``transpose``: True for sections stored
    ``[traces, samples]`` (shown transposed, time down; spectrum along the last axis), False for
    a section already stored depth/time-down ``[samples, traces]`` (shown as is; spectrum along
    axis 0). The row title gives the -6 dB band of both sections.
    """
    from ppsci_ext.spectra import amplitude_spectrum
    from ppsci_ext.spectra import bandwidth_db

    n = len(rows)
    if n == 0:
        raise ValueError("rows is empty")
    fig = plt.figure(figsize=(13, 3.4 * n), layout="constrained")
    subs = np.atleast_1d(fig.subfigures(n, 1))
    for sub, row in zip(subs, rows):
        orig, sup = np.asarray(row["original"]), np.asarray(row["super"])
        dto, dts = float(row["dt_original"]), float(row["dt_super"])
        tr = bool(row.get("transpose", True))
        axis = -1 if tr else 0
        axes = sub.subplots(1, 3)
        c = _sym_clip(orig)
        bands = []
        for ax, a, dt, label in ((axes[0], orig, dto, "original"), (axes[1], sup, dts, "super-resolved")):
            img = a.T if tr else a
            ns, ntr = img.shape
            im = ax.imshow(img, cmap=cmap, vmin=-c, vmax=c, aspect="auto", interpolation="nearest",
                           extent=[-0.5, ntr - 0.5, ns * dt, 0])
            ax.set_title(f"{label} ({ns} samples, dt = {dt * 1000:g} ms)", fontsize=9)
            ax.set_xlabel("trace")
            ax.set_ylabel("time (s)" if tr else "depth axis (s)")
            f, amp = amplitude_spectrum(a, dt, axis=axis)
            bands.append(bandwidth_db(f, amp))
            keep = f <= fmax
            axes[2].plot(f[keep], amp[keep], "k-" if label == "original" else "r-", lw=1.5, label=label)
        sub.colorbar(im, ax=list(axes[:2]), shrink=0.9)
        axes[2].set_xlim(0, fmax)
        axes[2].set_ylim(0, 1.05)
        axes[2].axhline(10 ** (-6 / 20), color="0.6", ls=":", lw=1)
        axes[2].set_xlabel("frequency (Hz)")
        axes[2].set_ylabel("normalised amplitude")
        axes[2].grid(alpha=0.3)
        axes[2].legend(fontsize=8)
        (lo0, hi0, w0), (lo1, hi1, w1) = bands
        sub.suptitle(f"{row['name']}: -6 dB band original {lo0:.1f}-{hi0:.1f} Hz ({w0:.1f} Hz), "
                     f"super-resolved {lo1:.1f}-{hi1:.1f} Hz ({w1:.1f} Hz)", fontsize=10)
    return _save(fig, path)


def spectra_comparison(panels, path: str, dt: float):
    """One panel per entry of ``panels``: ``(title, {label: [sections [traces, samples]]})`` with a ``"truth"``
    label. Each curve is the mean over the sections of their trace-averaged amplitude spectra (Hann-tapered
    ``rfft`` along time, :func:`ppsci_ext.spectra.spectral_fidelity`'s), in dB relative to the truth's peak,
    so that a prediction that smooths away detail lies under the truth's curve at high frequencies."""
    from ppsci_ext.spectra import trace_averaged_spectrum

    if not panels:
        raise ValueError("panels is empty")
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False, layout="constrained")
    styles = {"truth": ("k", 2.0), "bicubic": ("tab:gray", 1.3), "supervised": ("tab:blue", 1.3),
              "diffusion": ("tab:red", 1.3)}
    for ax, (title, curves) in zip(axes[0], panels):
        if "truth" not in curves:
            raise ValueError(f"panel {title!r} has no 'truth' curve")
        f = np.fft.rfftfreq(np.asarray(curves["truth"][0]).shape[-1], d=dt)

        def one(a):  # sections of other lengths: their spectrum (per sample) onto the first truth's frequencies
            n = np.shape(a)[-1]
            return np.interp(f, np.fft.rfftfreq(n, d=dt), trace_averaged_spectrum(a) / n)

        spec = {k: np.mean([one(a) for a in v], axis=0) for k, v in curves.items()}
        ref = spec["truth"].max()
        for k, a in spec.items():
            colour, lw = styles.get(k, (None, 1.3))
            ax.plot(f, 20 * np.log10(np.maximum(a / ref, 1e-6)), color=colour, lw=lw, label=k)
        ax.set_ylim(-60, 5)
        ax.set_xlim(0, f[-1])
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("amplitude (dB re truth's peak)")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def uncertainty_panels(rows, path: str, cmap: str = "gray"):
    """Rows: ``(title, lr, mean, truth, std)`` sections [traces, samples] (lr at half the size); columns: the
    low-resolution input, the ensemble mean, its absolute error and the ensemble's standard deviation (the
    last two on one colour scale, so that a calibrated spread looks like the error)."""
    if not rows:
        raise ValueError("rows is empty")
    fig, axes = plt.subplots(len(rows), 4, figsize=(15, 3.4 * len(rows)), squeeze=False, layout="constrained")
    for r, (title, lr, mean, truth, std) in enumerate(rows):
        c = _sym_clip(truth)
        err = np.abs(np.asarray(mean) - truth)
        top = float(np.percentile(np.concatenate([err.ravel(), 2 * np.asarray(std).ravel()]), 99)) or 1.0
        for ax, a, name, kw in ((axes[r, 0], lr, "input", dict(cmap=cmap, vmin=-c, vmax=c)),
                                (axes[r, 1], mean, "ensemble mean", dict(cmap=cmap, vmin=-c, vmax=c)),
                                (axes[r, 2], err, "|mean - truth|", dict(cmap="magma", vmin=0, vmax=top)),
                                (axes[r, 3], 2 * np.asarray(std), "2 x ensemble std", dict(cmap="magma", vmin=0,
                                                                                            vmax=top))):
            im = ax.imshow(np.asarray(a).T, aspect="auto", interpolation="nearest", **kw)
            ax.set_title(f"{title}: {name}", fontsize=9)
            ax.set_xlabel("trace")
            ax.set_ylabel("sample")
        fig.colorbar(im, ax=list(axes[r, 2:]), shrink=0.9)
    return _save(fig, path)
