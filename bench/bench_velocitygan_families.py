"""OpenFWI's four A families (ppsci_ext.data.fwi.velocity_models): the shipped VelocityGAN (trained on this
project's FlatVel-like models) and the same default training run on a mix of the four families, each scored on a
held-out test set of every family (and on the FlatVel-like one the shipped model was trained on).

Data: `mode=generate` per family, this project's convention, 600 training + 100 test samples each (the mix: the
four training sets, 2400 samples, as many as the default run); seeds 8101.. (none shared with the default run's
2024). The mix model: `mode=train` with the default config (GAN, 14 epochs, 2 processes) on the mix.

    python bench/bench_velocitygan_families.py [--n-train 600] [--n-test 100]
    python bench/bench_velocitygan_families.py --report     # the table from the saved eval_metrics.json files

About 4 min of data, 17 min of training and 1 min of evaluation per (model, family) on a 2-core CPU.
"""
import argparse
import json
import os

from common import ROOT
from common import run_example

SCRIPT = os.path.join(ROOT, "examples", "velocitygan", "VelocityGAN.py")
FAMILIES = ("flatvel-a", "curvevel-a", "flatfault-a", "curvefault-a")
OWN = ("flat", os.path.join(ROOT, "data_gen", "families", "flat"))  # the shipped model's own prior, new samples
SHIPPED = os.path.join(ROOT, "pretrained", "velocitygan.pdparams")


def folder(family):
    return os.path.join(ROOT, "data_gen", "families", family)


def scores(path):
    with open(path) as f:
        r = json.load(f)
    return f"{r['SSIM']:.3f} / {r['MAE_mps']:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-train", type=int, default=600, help="training samples per family (multiple of 100)")
    ap.add_argument("--n-test", type=int, default=100, help="test samples per family (multiple of 100)")
    ap.add_argument("--out", default="outputs/bench_velocitygan_families", help="output folder of this bench")
    ap.add_argument("--report", action="store_true", help="print the table of the saved results and stop")
    args = ap.parse_args()
    out = os.path.join(ROOT, args.out)
    mix = os.path.join(out, "mix")
    models = {"shipped (FlatVel-like)": SHIPPED, "trained on the mix": os.path.join(mix, "velocitygan",
                                                                                    "checkpoint.pdparams")}
    tests = {f: os.path.join(folder(f), "test.txt") for f in ("flat",) + FAMILIES}
    if not args.report:
        os.makedirs(out, exist_ok=True)
        log = os.path.join(out, "bench.log")
        for k, fam in enumerate(("flat",) + FAMILIES):
            minutes = run_example(SCRIPT, ["mode=generate", f"GENERATE.models.family={fam}",
                                           f"GENERATE.out_dir={folder(fam)}", f"GENERATE.seed={8101 + k}",
                                           f"GENERATE.n_train={args.n_train}", f"GENERATE.n_test={args.n_test}"], log)
            print(f"{fam}: data in {minutes:.1f} min", flush=True)
        annos = folder("mix")  # the mix's annotation files: a data folder, apart from every output
        os.makedirs(annos, exist_ok=True)
        lines = {s: [] for s in ("train", "test")}
        for fam in FAMILIES:
            for s in lines:
                lines[s] += [os.path.relpath(os.path.join(folder(fam), p), annos) + "\t"
                             + os.path.relpath(os.path.join(folder(fam), q), annos)
                             for p, q in (line.split("\t") for line in
                                          open(os.path.join(folder(fam), f"{s}.txt")).read().splitlines() if line)]
        for s, ls in lines.items():
            with open(os.path.join(annos, f"{s}.txt"), "w") as f:
                f.write("\n".join(ls) + "\n")
        train = [f"DATA.train_anno={annos}/train.txt", f"DATA.test_anno={annos}/test.txt", f"output_dir={mix}"]
        print(f"mix model: trained in {run_example(SCRIPT, ['mode=train', *train], log):.1f} min", flush=True)
        for name, weights in models.items():
            for fam, anno in tests.items():
                run_example(SCRIPT, ["mode=eval", f"EVAL.anno={anno}", f"EVAL.pretrained_model_path={weights}",
                                     f"output_dir={out}/eval/{name.split()[0]}/{fam}", "EVAL.data_misfit=false",
                                     *(train[:1] if "mix" in name else [])], log)
    print("\nSSIM / MAE (m/s) on each family's test set\n")
    print("| model | " + " | ".join(("flat (own prior)",) + FAMILIES) + " |\n" + "|---" * (len(tests) + 1) + "|")
    for name in models:
        cells = [scores(os.path.join(out, "eval", name.split()[0], fam, "eval_metrics.json")) for fam in tests]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
