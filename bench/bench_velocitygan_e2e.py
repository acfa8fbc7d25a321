"""End-to-end timing and accuracy of the default CPU config (README's main job).

Runs `VelocityGAN.py mode=generate`, `mode=train`, `mode=eval` as separate
processes from empty folders, times each, and prints the held-out metrics
against the issue's targets. With --baseline it also trains and evaluates the
plain InversionNet (MODEL.gan=false) on the same data, as the baseline row.

    python bench/bench_velocitygan_e2e.py [--root outputs/e2e] [--baseline] [--figures DIR] [overrides ...]

One run takes ~20 minutes on 2 cores, so it is one sample, not a median.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "velocitygan", "VelocityGAN.py")
TARGETS = {"SSIM": (">=", 0.90), "MAE": ("<=", 0.05)}


def run(mode, overrides, log):
    t = time.time()
    with open(log, "a") as f:
        subprocess.run([sys.executable, SCRIPT, f"mode={mode}", *overrides], check=True, cwd=ROOT,
                       stdout=f, stderr=subprocess.STDOUT, env={**os.environ, "GLOG_minloglevel": "2"})
    return time.time() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="outputs/e2e", help="folder for data, outputs and logs (emptied first)")
    ap.add_argument("--baseline", action="store_true", help="also train/eval plain InversionNet on the same data")
    ap.add_argument("--figures", default=None,
                    help="copy the VelocityGAN run's figures here (the docs use docs/zh/examples/velocitygan.assets)")
    args, extra = ap.parse_known_args()
    root = os.path.join(ROOT, args.root)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    log = os.path.join(root, "e2e.log")
    data = [f"GENERATE.out_dir={root}/data"]
    runs = {"VelocityGAN": [f"output_dir={root}/velocitygan"]}
    if args.baseline:
        runs["InversionNet"] = [f"output_dir={root}/inversionnet", "MODEL.gan=false"]
    times = {"generate": run("generate", data + extra, log)}
    rows = {}
    for name, over in runs.items():
        t_train = run("train", data + over + extra, log)
        t_eval = run("eval", data + over + extra, log)
        with open(os.path.join(root, over[0].split("=", 1)[1], "eval_metrics.json")) as f:
            rows[name] = (t_train, t_eval, json.load(f))
    print(f"| run | generate (s) | train (s) | eval (s) | total (min) | MAE | RMSE | SSIM | MAE (m/s) | RMSE (m/s) | data misfit |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, (t_train, t_eval, m) in rows.items():
        total = (times["generate"] + t_train + t_eval) / 60
        print(f"| {name} | {times['generate']:.0f} | {t_train:.0f} | {t_eval:.0f} | {total:.1f} | {m['MAE']:.4f} | "
              f"{m['RMSE']:.4f} | {m['SSIM']:.4f} | {m['MAE_mps']:.1f} | {m['RMSE_mps']:.1f} | {m['data_misfit']:.4f} |")
    if args.figures:
        os.makedirs(args.figures, exist_ok=True)
        for fig in ("predictions.png", "profiles.png", "training_curves.png"):
            shutil.copy(os.path.join(root, "velocitygan", fig), os.path.join(args.figures, fig))
    m = rows["VelocityGAN"][2]
    total = (times["generate"] + rows["VelocityGAN"][0] + rows["VelocityGAN"][1]) / 60
    print("\n| target (VelocityGAN, default config) | found | met |\n|---|---|---|")
    print(f"| end to end <= 20 min | {total:.1f} min | {'yes' if total <= 20 else 'NO'} |")
    for key, (op, value) in TARGETS.items():
        ok = m[key] >= value if op == ">=" else m[key] <= value
        print(f"| {key} {op} {value} | {m[key]:.4f} | {'yes' if ok else 'NO'} |")


if __name__ == "__main__":
    main()
