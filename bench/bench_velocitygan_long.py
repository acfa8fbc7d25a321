"""The long CPU preset (conf/velocitygan_cpu_long.yaml) against OpenFWI's InversionNet trained on this project's
data on a GPU: held-out SSIM and MAE after every epoch, against epochs and minutes of training.

Usage:
  python bench/bench_velocitygan_long.py --train          # generate (if needed), train, eval, then the table
  python bench/bench_velocitygan_long.py                  # the table from a finished (or running) run
  python bench/bench_velocitygan_long.py --figure docs/zh/examples/velocitygan.assets/learning_curve.png

The run is the example's own: ``VelocityGAN.py --config-name velocitygan_cpu_long mode=train`` (resumable;
history.json, and the checkpoint while it runs, hold each epoch's seconds and held-out metrics). The reference rows are the PyTorch figures
quoted in docs/results/velocitygan.md (OpenFWI's layout, full 5 x 1000 x 70 input, widths 32-512, batch 64,
AdamW 1e-3 with cosine decay, L1 + L2): they were measured on a GPU outside this project and are quoted,
not recomputed.
"""
import argparse
import json
import os
import sys

from common import ROOT
from common import run_example

SCRIPT = os.path.join(ROOT, "examples", "velocitygan", "VelocityGAN.py")
OUT = os.path.join(ROOT, "outputs", "velocitygan_cpu_long")
TARGET_SSIM = 0.92
# OpenFWI's InversionNet on this project's default FlatVel-like data, PyTorch on a GPU (samples, epochs, SSIM, MAE)
REFERENCE = [(2400, 70, 0.925, 0.037), (8000, 58, 0.964, 0.020)]


def read_history(out):
    """Each finished epoch's record: history.json once training ends, the checkpoint's copy while it runs."""
    path = os.path.join(out, "velocitygan", "history.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    from ppsci_ext.train.checkpoint import load_checkpoint

    return load_checkpoint(os.path.join(out, "velocitygan", "checkpoint.pdparams"))["history"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="run generate (if needed), train and eval first")
    parser.add_argument("--out", default=OUT, help="the run's output_dir")
    parser.add_argument("--every", type=int, default=4, help="table rows: every k-th epoch (and the best, the last)")
    parser.add_argument("--figure", help="write SSIM against epochs and minutes here (png)")
    args = parser.parse_args()
    if args.train:
        log = os.path.join(args.out, "bench_long.log")
        os.makedirs(args.out, exist_ok=True)
        base = ["--config-name", "velocitygan_cpu_long", f"output_dir={args.out}"]
        minutes = {mode: run_example(SCRIPT, [*base, f"mode={mode}"], log) for mode in ("generate", "train", "eval")}
        print(f"wall clock: generate {minutes['generate']:.1f} min (kept files are not redone), "
              f"train {minutes['train']:.1f} min, eval {minutes['eval']:.1f} min", file=sys.stderr)
    history = read_history(args.out)
    minutes, total = [], 0.0
    for rec in history:
        total += rec["seconds"] / 60
        minutes.append(total)
    best = max(range(len(history)), key=lambda i: history[i]["val_SSIM"])
    first = next((i for i, r in enumerate(history) if r["val_SSIM"] >= TARGET_SSIM), None)
    show = sorted({i for i in range(len(history)) if (i + 1) % args.every == 0} | {0, best, len(history) - 1})
    print(f"\n### VelocityGAN, long CPU preset: held-out SSIM / MAE against training time ({args.out})\n")
    print("| epoch | training minutes (cumulative) | held-out SSIM | held-out MAE |")
    print("|---|---|---|---|")
    for i in show:
        mark = " (best)" if i == best else ""
        print(f"| {history[i]['epoch']}{mark} | {minutes[i]:.1f} | {history[i]['val_SSIM']:.4f} | "
              f"{history[i]['val_MAE']:.4f} |")
    for n, epochs, ssim, mae in REFERENCE:
        print(f"| OpenFWI's InversionNet in PyTorch, GPU, {n} samples, {epochs} epochs (quoted) | - | {ssim:.3f} | "
              f"{mae:.3f} |")
    metrics = os.path.join(args.out, "eval_metrics.json")
    if os.path.exists(metrics):
        with open(metrics) as f:
            m = json.load(f)
        print(f"\nmode=eval on the final weights: SSIM {m['SSIM']:.4f}, MAE {m['MAE']:.4f}, RMSE {m['RMSE']:.4f}, "
              f"MAE {m.get('MAE_mps', float('nan')):.1f} m/s, data misfit {m.get('data_misfit', float('nan')):.4f}")
    met = "yes" if history[-1]["val_SSIM"] >= TARGET_SSIM else "**no**"
    reached = f"first at epoch {first + 1}, {minutes[first]:.0f} min" if first is not None else "not reached"
    print(f"\n| target | found | met |\n|---|---|---|\n| final held-out SSIM >= {TARGET_SSIM} | "
          f"{history[-1]['val_SSIM']:.4f} ({reached}) | {met} |\n| training <= 150 min | {minutes[-1]:.1f} min | "
          f"{'yes' if minutes[-1] <= 150 else '**no**'} |")
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
        ssim = [r["val_SSIM"] for r in history]
        for ax, x, label in ((axes[0], [r["epoch"] for r in history], "epoch"), (axes[1], minutes, "training minutes")):
            ax.plot(x, ssim, "o-", ms=3, label="VelocityGAN, velocitygan_cpu_long (Paddle, 2 CPU cores)")
            for n, _, s, _ in REFERENCE:
                ax.axhline(s, ls="--", lw=1, color="gray" if n == 2400 else "silver")
                ax.text(x[0], s + 0.003, f"InversionNet, PyTorch, GPU, {n} samples: {s}", fontsize=7)
            ax.set_xlabel(label)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("held-out SSIM (200 samples)")
        axes[0].legend(loc="lower right", fontsize=7)
        fig.tight_layout()
        fig.savefig(args.figure, dpi=110)
        print(f"figure: {args.figure}", file=sys.stderr)


if __name__ == "__main__":
    main()
