"""GDRNN against its baselines, and the speed targets, on one config.

Trains GDRNN and the original joint network from scratch (each timed, as
separate processes), times inverting the whole section with the trained GDRNN
(median of --repeats runs in one process), runs `GDRNN.py mode=eval` (every
method scored on traces away from the wells) and prints the tables.

    python bench/bench_gdrnn.py --config gdrnn_marmousi [--root outputs/bench_gdrnn] [--skip-train] [overrides ...]

Training is one run per network (one sample, not a median): ~15-20 minutes each.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from common import compose_config
from common import load_example

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "gdrnn", "GDRNN.py")
PROPS = ("vp", "vs", "rho")
ORDER = ("gdrnn", "original", "gd", "adam", "dls", "gd_long", "adam_long", "background")


def run(config, mode, overrides, log):
    t = time.time()
    with open(log, "a") as f:
        subprocess.run([sys.executable, SCRIPT, "--config-name", config, f"mode={mode}", *overrides], check=True,
                       cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env={**os.environ, "GLOG_minloglevel": "2"})
    return time.time() - t


def time_inversion(config, overrides, repeats):
    """Median seconds to invert the whole section with the trained GDRNN as mode=infer does (its batches shared by
    INFER.nprocs single-thread processes on the CPU)."""
    import numpy as np
    mod = load_example("gdrnn", "GDRNN")
    cfg = compose_config(config, ["mode=infer", *overrides])
    mod.runtime.set_threads(cfg, mod.thread_probe)
    paths = mod.data_paths(cfg)
    ds = mod.AVADataset(paths["section"], label_keys=())
    model = mod.load_model(cfg, "gdrnn", mod.build_forward_op(cfg, paths["section"]))
    stacks, m_back, _ = ds.arrays()
    nprocs = mod.runtime.inference_procs(cfg, "INFER.nprocs")
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        mod.invert(model, stacks, m_back, cfg.INFER.batch_size, nprocs)
        times.append(time.perf_counter() - t)
    return float(np.median(times)), stacks.shape


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="gdrnn_marmousi", help="config name in conf/")
    ap.add_argument("--root", default="outputs/bench_gdrnn", help="output folder (emptied unless --skip-train)")
    ap.add_argument("--skip-train", action="store_true", help="reuse the checkpoints already in --root")
    ap.add_argument("--repeats", type=int, default=3, help="inversion timing runs (median)")
    ap.add_argument("--figures", default=None, help="copy the eval figures here")
    args, extra = ap.parse_known_args()
    root = os.path.join(ROOT, args.root)
    if not args.skip_train:
        shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root, exist_ok=True)
    log = os.path.join(root, "bench.log")
    over = [f"output_dir={root}", *extra]
    train_s = {}
    if not args.skip_train:
        for kind in ("gdrnn", "original"):
            train_s[kind] = run(args.config, "train", over + [f"MODEL.kind={kind}"], log)
    inv_s, shape = time_inversion(args.config, over, args.repeats)
    run(args.config, "eval", over, log)
    res = json.load(open(os.path.join(root, "eval_metrics.json")))
    print_tables(args, res, train_s, inv_s, shape)
    if args.figures:
        shutil.copytree(os.path.join(root, "figures"), args.figures, dirs_exist_ok=True)


def print_tables(args, res, train_s, inv_s, shape):
    methods = [m for m in ORDER if m in res["methods"]]
    print(f"\n### {args.config}: {res['scored_traces']} traces scored (wells {res['wells']} and their margin "
          f"excluded); GDRNN T = {res['n_steps']}, gd/adam = {res['n_steps']} iterations, "
          f"*_long = {res['n_iter_long']}\n")
    print("| method | " + " | ".join(f"{p} PCC | {p} R2 | {p} MAE | {p} SSIM" for p in PROPS) + " | data misfit |")
    print("|---" * (1 + 4 * len(PROPS) + 1) + "|")
    for m in methods:
        r = res["methods"][m]
        cells = [f"{r[f'{p}_PCC']:.3f} | {r[f'{p}_R2']:.3f} | {r[f'{p}_MAE']:.4g} | {r[f'{p}_SSIM']:.3f}" for p in PROPS]
        print(f"| {m} | " + " | ".join(cells) + f" | {r['data_misfit']:.3g} |")
    others = [m for m in methods if m not in ("gdrnn", "background")]
    print("\n| property | GDRNN beats every other method on PCC | ... on R2 |\n|---|---|---|")
    g = res["methods"].get("gdrnn")
    for p in PROPS:
        if g is None:
            continue
        win = lambda k: all(g[f"{p}_{k}"] > res["methods"][m][f"{p}_{k}"] for m in others)  # noqa: E731
        print(f"| {p} | {'yes' if win('PCC') else 'no'} | {'yes' if win('R2') else 'no'} |")
    print("\n| target | measured | limit | holds |\n|---|---|---|---|")
    for kind, s in train_s.items():
        print(f"| train {kind} | {s:.0f} s | 1200 s | {'yes' if s <= 1200 else 'no'} |")
    print(f"| invert {shape[0]} traces x {shape[2]} samples (median of {args.repeats}) | {inv_s:.1f} s | 60 s | "
          f"{'yes' if inv_s <= 60 else 'no'} |")


if __name__ == "__main__":
    main()
