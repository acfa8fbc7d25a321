"""Which velocity prior trains the model that holds on other geology? One VelocityGAN per prior, trained on
--n-train samples of it for --epochs epochs, each scored on every test set: FlatVel-like (velocity increasing
with depth, the default), FlatVel-like with velocity inversions in --p-inversion of the models, and
CurveVel-like. Each data set has its own seed, so no test model is a training model.

    python bench/bench_velocitygan_priors.py [--n-train 600] [--epochs 15] [--p-inversion 0.3]

About 2 min of data generation per prior and 5 min per training (2-core CPU) at the defaults.
"""
import argparse
import json
import os

from common import ROOT
from common import run_example

SCRIPT = os.path.join(ROOT, "examples", "velocitygan", "VelocityGAN.py")


def run(mode, overrides, log):
    """``VelocityGAN.py mode=mode overrides...``; returns minutes taken."""
    return run_example(SCRIPT, [f"mode={mode}", *overrides], log)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-train", type=int, default=600, help="training samples per prior (multiple of 20)")
    ap.add_argument("--epochs", type=int, default=15, help="training epochs")
    ap.add_argument("--p-inversion", type=float, default=0.3, help="share of models with inversions")
    ap.add_argument("--root", default="outputs/bench_velocitygan_priors", help="output folder of this bench")
    args = ap.parse_args()
    root = os.path.join(ROOT, args.root)
    os.makedirs(root, exist_ok=True)
    log = os.path.join(root, "bench.log")
    priors = {"flat (default)": ["GENERATE.models.family=flat"],
              f"flat, {100 * args.p_inversion:.0f}% with inversions": [
                  "GENERATE.models.family=flat", f"GENERATE.models.p_inversion={args.p_inversion}"],
              "curved": ["GENERATE.models.family=curved"]}
    folders = {}
    for k, (name, rules) in enumerate(priors.items()):
        folders[name] = os.path.join(ROOT, "data_gen", f"priors_{k}")
        run("generate", [*rules, f"GENERATE.out_dir={folders[name]}", f"GENERATE.n_train={args.n_train}",
                         "GENERATE.n_test=200", "GENERATE.file_size=20", f"GENERATE.seed={7000 + k}"], log)
    print(f"| trained on ({args.n_train} samples, {args.epochs} epochs) | min | "
          + " | ".join(f"on {n}: SSIM / MAE m/s" for n in priors) + " |\n|---|---|" + "---|" * len(priors))
    for k, name in enumerate(priors):
        out = os.path.join(root, f"prior_{k}")
        data = [f"DATA.train_anno={folders[name]}/train.txt", f"DATA.test_anno={folders[name]}/test.txt"]
        minutes = run("train", [f"output_dir={out}", *data, f"TRAIN.epochs={args.epochs}"], log)
        cells = []
        for j, test in enumerate(priors):
            scored = os.path.join(out, f"eval_{j}")
            run("eval", [f"output_dir={scored}", *data, f"EVAL.anno={folders[test]}/test.txt",
                         f"EVAL.pretrained_model_path={out}/velocitygan/checkpoint.pdparams", "EVAL.data_misfit=false"], log)
            with open(os.path.join(scored, "eval_metrics.json")) as f:
                r = json.load(f)
            cells.append(f"{r['SSIM']:.3f} / {r['MAE_mps']:.0f}")
        print(f"| {name} | {minutes:.1f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
