"""GDRNN out of its training distribution: a model trained on a family of random sections, scored on
sections it never saw, against the classical methods on the same traces.

Scenarios (each: `GDRNN.py mode=eval` with the family-trained checkpoint copied in, once with the guard
on and once off; every method scored on the traces away from the wells):
- zero_shot_marmousi: the Marmousi window (conf gdrnn_marmousi); nothing of Marmousi is seen in training;
- heldout_family: sections drawn with another seed and another geology mix (every section faulted and
  with a gas sand, thinner beds, a wider depth trend) than the training family;
- with --marmousi-runs NAME=FOLDER ...: Marmousi scores of other runs (e.g. trained on the Marmousi
  files, or fine-tuned from the family model), read from FOLDER/eval_metrics.json.

    python bench/bench_gdrnn_ood.py --model outputs/gdrnn_family [--root outputs/bench_gdrnn_ood] [--skip-eval]

It also times inverting the Marmousi window (800 traces x 550 samples) with the family model, guard on
and off (median of --repeats runs in this process).

Targets (printed): out of distribution GDRNN's PCC and R2 >= those of GD with the same number of
iterations on every property and its data misfit <= GD's; stretch: >= GD at EVAL.n_iter_long.
"""
import argparse
import json
import os
import time

from common import GDRNN_HELD_OUT
from common import compose_config
from common import evaluate_gdrnn
from common import load_example
from common import timings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROPS = ("vp", "vs", "rho")
ORDER = ("gdrnn", "gdrnn_unguarded", "gd", "adam", "gd_long", "adam_long", "dls", "background")
SCENARIOS = {
    "zero_shot_marmousi": ("gdrnn_marmousi", []),
    "heldout_family": ("gdrnn_family", GDRNN_HELD_OUT),
}


def table(name, res):
    methods = [m for m in ORDER if m in res["methods"]]
    print(f"\n### {name}: {res['scored_traces']} traces scored; GDRNN T = {res['n_steps']}, gd/adam = "
          f"{res['n_steps']} iterations, *_long = {res['n_iter_long']}; guard: {res.get('guard', {}).get('gdrnn')}\n")
    print("| method | " + " | ".join(f"{p} PCC | {p} R2" for p in PROPS) + " | data misfit |")
    print("|---" * (2 + 2 * len(PROPS)) + "|")
    for m in methods:
        r = res["methods"][m]
        print(f"| {m} | " + " | ".join(f"{r[f'{p}_PCC']:.3f} | {r[f'{p}_R2']:.3f}" for p in PROPS)
              + f" | {r['data_misfit']:.3g} |")


def targets(name, res):
    g = res["methods"]["gdrnn"]
    rows = []
    for ref, label in (("gd", "target"), ("gd_long", "stretch")):
        r = res["methods"][ref]
        worse = [f"{p} {k}" for p in PROPS for k in ("PCC", "R2") if g[f"{p}_{k}"] < r[f"{p}_{k}"]]
        rows.append(f"| {name} | {label}: >= {ref} on 6 scores | {'yes' if not worse else 'no: ' + ', '.join(worse)} "
                    f"| misfit {g['data_misfit']:.3g} vs {r['data_misfit']:.3g}: "
                    f"{'yes' if g['data_misfit'] <= r['data_misfit'] else 'no'} |")
    return rows


def time_inversion(out, repeats):
    """Median seconds to invert the Marmousi window with the GDRNN in ``out``, guard on and off."""
    import numpy as np
    mod = load_example("gdrnn", "GDRNN")
    medians = {}
    for guard in (True, False):
        cfg = compose_config("gdrnn_marmousi", [f"output_dir={out}", f"MODEL.guard={guard}"])
        mod.runtime.set_threads(cfg, mod.thread_probe)
        paths = mod.data_paths(cfg)
        stacks, m_back, _ = mod.AVADataset(paths["section"], label_keys=()).arrays()
        model = mod.load_model(cfg, "gdrnn", mod.build_forward_op(cfg, paths["section"]))
        nprocs = mod.runtime.inference_procs(cfg, "INFER.nprocs")
        run = lambda: mod.invert(model, stacks, m_back, cfg.INFER.batch_size, nprocs)  # noqa: E731
        medians[guard] = float(np.median(timings(run, repeats, warm_up=False)))
    return medians, stacks.shape


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="outputs/gdrnn_family", help="output folder of the family-trained run")
    ap.add_argument("--root", default="outputs/bench_gdrnn_ood", help="output folder of this bench")
    ap.add_argument("--marmousi-runs", nargs="*", default=[], help="NAME=FOLDER of other Marmousi evaluations")
    ap.add_argument("--skip-eval", action="store_true", help="only the timing (the evaluations are in --root)")
    ap.add_argument("--repeats", type=int, default=3, help="inversion timing runs (median)")
    args = ap.parse_args()
    model = os.path.join(ROOT, args.model, "gdrnn", "checkpoint.pdparams")
    root = os.path.join(ROOT, args.root)
    os.makedirs(root, exist_ok=True)
    log = os.path.join(root, "bench.log")
    rows = []
    for name, (config, over) in ([] if args.skip_eval else SCENARIOS.items()):
        t = time.time()
        res = evaluate_gdrnn(config, os.path.join(root, name), model, over, log)
        off = evaluate_gdrnn(config, os.path.join(root, name + "_unguarded"), model, over + ["MODEL.guard=false"], log)
        res["methods"]["gdrnn_unguarded"] = off["methods"]["gdrnn"]
        table(f"{name} ({time.time() - t:.0f} s for both evaluations)", res)
        rows += targets(name, res)
    for spec in args.marmousi_runs:
        name, folder = spec.split("=", 1)
        table(f"Marmousi, {name}", json.load(open(os.path.join(ROOT, folder, "eval_metrics.json"))))
    print("\n| scenario | GDRNN (guard on) | PCC and R2 | data misfit <= |\n|---|---|---|---|")
    print("\n".join(rows))
    medians, shape = time_inversion(os.path.join(root, "zero_shot_marmousi"), args.repeats)
    print(f"\n| invert {shape[0]} traces x {shape[2]} samples, median of {args.repeats} | seconds | limit |\n|---|---|---|")
    for guard, s in medians.items():
        print(f"| guard {'on' if guard else 'off'} | {s:.1f} | 60 |")


if __name__ == "__main__":
    main()
