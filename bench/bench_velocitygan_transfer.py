"""Transfer learning (the VelocityGAN paper's strategy): a model trained on one model family, fine-tuned on a
few samples of another, against the same network trained from scratch on those samples.

Source: the default run (FlatVel-like, `python examples/velocitygan/VelocityGAN.py mode=train`, trained here
if --source has no checkpoint). Target: CurveVel-like models (GENERATE.models.family=curved, its own seed),
600 training + 200 test samples in files of 20; "5%" etc. are fractions of the default training set size
(2400): the first 120, 240, 600 samples. Every run trains --epochs epochs (the same for scratch and fine-tune,
so fine-tuning costs no more), then `mode=eval` on the 200 CurveVel-like test samples.

    python bench/bench_velocitygan_transfer.py [--fractions 0.05 0.1 0.25] [--epochs 15]

About 20 min for the source run if missing, 3 min for the target data, then 1-6 min per run (2-core CPU).
"""
import argparse
import json
import os

from common import ROOT
from common import run_example

SCRIPT = os.path.join(ROOT, "examples", "velocitygan", "VelocityGAN.py")
FILE_SIZE, FULL = 20, 2400


def run(mode, overrides, log):
    """``VelocityGAN.py mode=mode overrides...``; returns minutes taken."""
    return run_example(SCRIPT, [f"mode={mode}", *overrides], log)


def scores(folder):
    with open(os.path.join(folder, "eval_metrics.json")) as f:
        r = json.load(f)
    return f"{r['SSIM']:.3f} / {r['MAE_mps']:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default="outputs/velocitygan", help="output_dir of the FlatVel-like run")
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.1, 0.25], help="of 2400 samples")
    ap.add_argument("--epochs", type=int, default=15, help="epochs of every target run")
    ap.add_argument("--root", default="outputs/bench_velocitygan_transfer", help="output folder of this bench")
    args = ap.parse_args()
    root, source = os.path.join(ROOT, args.root), os.path.join(ROOT, args.source)
    os.makedirs(root, exist_ok=True)
    log = os.path.join(root, "bench.log")
    source_ckpt = os.path.join(source, "velocitygan", "checkpoint.pdparams")
    if not os.path.isfile(os.path.join(source, "velocitygan", "history.json")):
        print(f"training the source model in {source}: {run('train', [f'output_dir={source}'], log):.1f} min")
    if not os.path.isfile(os.path.join(source, "eval_metrics.json")):
        run("eval", [f"output_dir={source}"], log)
    target = os.path.join(ROOT, "data_gen", "curvevel_transfer")
    n_max = int(round(max(args.fractions) * FULL / FILE_SIZE)) * FILE_SIZE
    data = ["GENERATE.models.family=curved", f"GENERATE.out_dir={target}", f"GENERATE.n_train={n_max}",
            "GENERATE.n_test=200", f"GENERATE.file_size={FILE_SIZE}", "GENERATE.seed=4042"]
    run("generate", data, log)
    test = [f"DATA.test_anno={target}/test.txt"]
    run("eval", [f"output_dir={root}/zero_shot", f"EVAL.pretrained_model_path={source_ckpt}", *test], log)
    lines = open(os.path.join(target, "train.txt")).read().split()
    print("\n| CurveVel-like training samples | scratch SSIM / MAE m/s | min | fine-tuned from FlatVel-like "
          "SSIM / MAE m/s | min |\n|---|---|---|---|---|")
    print(f"| 0 (the FlatVel-like model as is; on its own FlatVel-like test set: {scores(source)}) | - | - | "
          f"{scores(os.path.join(root, 'zero_shot'))} | - |")
    for frac in args.fractions:
        n = int(round(frac * FULL / FILE_SIZE)) * FILE_SIZE
        anno = os.path.join(target, f"train_{n}.txt")
        with open(anno, "w") as f:
            f.write("\n".join(f"{lines[2 * i]}\t{lines[2 * i + 1]}" for i in range(n // FILE_SIZE)) + "\n")
        row = []
        for name, extra in (("scratch", []), ("finetuned", [f"TRAIN.init_from={source_ckpt}"])):
            out = os.path.join(root, f"{name}_{n}")
            over = [f"output_dir={out}", f"DATA.train_anno={anno}", *test, f"TRAIN.epochs={args.epochs}", *extra]
            minutes = run("train", over, log)
            run("eval", over, log)
            row += [scores(out), f"{minutes:.1f}"]
        print(f"| {n} ({100 * frac:.0f}%) | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
