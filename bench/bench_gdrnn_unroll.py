"""Does a longer unroll help GDRNN out of distribution? The seed trains with a curriculum of 5 -> 20 unrolled
steps; the default here is 3 -> 6 (conf/gdrnn.yaml MODEL.n_steps, TRAIN.schedule). This bench trains one
GDRNN per --steps T on the same smaller family (4 sections, 6 epochs, steps growing over 3 epochs from
--start-steps), then scores each, guard on, on the held-out family of bench_gdrnn_ood.py (another seed and
geology mix) against gradient descent with the same number of iterations and with EVAL.n_iter_long.

    python bench/bench_gdrnn_unroll.py [--steps 6 12] [--root outputs/bench_gdrnn_unroll] [--skip-train]

Training is one run per T (minutes printed; the family is redrawn each epoch as by default); about 4 min for
T=6, 8 min for T=12 on the 2-core machine, plus 2-3 min per evaluation.
"""
import argparse
import os
import time

from common import GDRNN_HELD_OUT
from common import ROOT
from common import evaluate_gdrnn
from common import run_gdrnn

PROPS = ("vp", "vs", "rho")
SMALL = ["DATA.family.n_sections=4", f"DATA.out_dir={ROOT}/data_gen/gdrnn_family4", "TRAIN.epochs=6",
         "TRAIN.schedule.grow_epochs=3"]


def row(name, r):
    return (f"| {name} | " + " | ".join(f"{r[f'{p}_PCC']:.3f} / {r[f'{p}_R2']:.3f}" for p in PROPS)
            + f" | {r['data_misfit']:.3g} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, nargs="+", default=[6, 12], help="unrolled steps T to compare")
    ap.add_argument("--start-steps", type=int, nargs="+", default=[3, 5],
                    help="first epoch's steps, one per --steps (the seed starts at 5)")
    ap.add_argument("--root", default="outputs/bench_gdrnn_unroll", help="output folder of this bench")
    ap.add_argument("--skip-train", action="store_true", help="score the checkpoints already in --root")
    args = ap.parse_args()
    if len(args.start_steps) != len(args.steps):
        ap.error(f"--start-steps needs one value per --steps ({len(args.steps)}), found {len(args.start_steps)}")
    root = os.path.join(ROOT, args.root)
    os.makedirs(root, exist_ok=True)
    log = os.path.join(root, "bench.log")
    print("| T (curriculum) | train min | method | " + " | ".join(f"{p} PCC / R2" for p in PROPS)
          + " | data misfit |\n|---|---|---|---|---|---|---|")
    for steps, start in zip(args.steps, args.start_steps):
        out = os.path.join(root, f"T{steps}")
        minutes = float("nan")
        if not args.skip_train:
            t = time.time()
            run_gdrnn("gdrnn_family", "train", SMALL + [f"output_dir={out}", f"MODEL.n_steps={steps}",
                                                        f"TRAIN.schedule.start_steps={start}"], log)
            minutes = (time.time() - t) / 60
        res = evaluate_gdrnn("gdrnn_family", out + "_heldout", os.path.join(out, "gdrnn", "checkpoint.pdparams"),
                             GDRNN_HELD_OUT + [f"MODEL.n_steps={steps}"], log)
        m, n_long = res["methods"], res["n_iter_long"]
        guard = res["guard"]["gdrnn"]
        label = f"{steps} ({start} -> {steps})"
        print(row(f"{label} | {minutes:.1f} | GDRNN (fell back: {guard['steps_fell_back']} of {guard['steps']} "
                  f"steps)", m["gdrnn"]))
        print(row(f"{label} | | GD({steps})", m["gd"]))
        print(row(f"{label} | | GD({n_long})", m["gd_long"]))


if __name__ == "__main__":
    main()
