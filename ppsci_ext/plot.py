"""Figures shared by the examples. Every function writes one PNG and returns its path."""
import os
from typing import Dict
from typing import List

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["velocity_comparison", "velocity_profiles", "training_curves", "ava_sections", "well_logs",
           "misfit_curves"]


def _save(fig, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
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
