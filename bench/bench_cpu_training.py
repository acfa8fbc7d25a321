"""Default CPU speed of MD Diffusion and GDRNN: the old defaults (one process, 2 threads, MKL's own CPU dispatch)
against one process with ``num_threads: auto`` and today's defaults (two data-parallel single-thread processes;
on an AMD CPU with AVX2 ppsci_ext also tells MKL to use its AVX2 kernels, see ``ppsci_ext.mkl_cpu_type``).

Training: each row is the example's own ``mode=train`` command, run twice from scratch with a short and a longer
length; the seconds of the difference divided by the extra optimiser steps is the time a step (start-up, data and
the thread probe cancel out). The two-process row keeps the global batch (``TRAIN.nprocs=2``, half the batch per
process; the one-process rows take the whole step's batch). Prints the machine and a markdown table per example:
seconds a step, the speed-up over the old default,
and the default config's whole training extrapolated from it (steps x seconds a step).

MD Diffusion's ``mode=infer`` on a field section (``--section``, default the 592 x 400 Lulia section of
../shared/data/field) with the shipped weights: the whole command's seconds (median of ``--repeats``, start-up
included) with the old default, 2 threads and 1 thread in one process, and today's defaults (``INFER.nprocs: auto``:
the tiles shared by single-thread processes where 1 thread was chosen); the outputs must agree.

    python bench/bench_cpu_training.py [--examples md_diffusion gdrnn md_infer] [--repeats 2]

Run it alone on the machine. Data go to data_gen/bench_cpu_training, outputs to a temporary folder.
"""
import argparse
import os
import statistics
import shutil
import tempfile
import time

from common import ROOT
from common import compose_config
from common import run_example

import numpy as np

DATA = os.path.join(ROOT, "data_gen", "bench_cpu_training")
ONE_PROCESS_MD = ["TRAIN.nprocs=1", "TRAIN.batch_size=8"]  # one process, the whole step's batch (the old default)
ONE_PROCESS_GDRNN = ["TRAIN.nprocs=1", "TRAIN.batch_size=16", "TRAIN.well_batch_size=8"]
OLD_MKL = {"MKL_DEBUG_CPU_TYPE": ""}  # set, so ppsci_ext leaves MKL's own CPU dispatch (see ppsci_ext.mkl_cpu_type)
EXAMPLES = {
    # script, data override, (short, long) length override, steps of one length unit, variants
    "md_diffusion": ("examples/md_diffusion/MDDiffusion.py", f"DATA.root={DATA}/md", ("TRAIN.iters={}", 8, 32),
                     {"old default: 1 process, 2 threads, MKL's own path": (ONE_PROCESS_MD + ["num_threads=2"], OLD_MKL),
                      "1 process, num_threads=auto": (ONE_PROCESS_MD, {}),
                      "today's default: 2 processes x 1 thread, batch 4 each": ([], {})}),
    "gdrnn": ("examples/gdrnn/GDRNN.py", f"DATA.out_dir={DATA}/gdrnn", ("TRAIN.epochs={}", 1, 6),
              {"old default: 1 process, 2 threads, MKL's own path": (ONE_PROCESS_GDRNN + ["num_threads=2"], OLD_MKL),
               "1 process, num_threads=auto": (ONE_PROCESS_GDRNN, {}),
               "today's default: 2 processes x 1 thread, batch 8 + 4 wells each": ([], {})}),
}


def steps_per_unit(example: str) -> int:
    """Optimiser steps of one unit of the length key: 1 for MD Diffusion's iters, GDRNN's steps an epoch (every
    variant takes the same: its processes share the traces, TRAIN.nprocs x TRAIN.batch_size a step)."""
    if example == "md_diffusion":
        return 1
    t = compose_config("gdrnn", ONE_PROCESS_GDRNN).TRAIN
    return compose_config("gdrnn").DATA.synthetic.n_traces // (t.nprocs * t.batch_size)


def default_steps(example: str) -> int:
    cfg = compose_config(example)
    return cfg.TRAIN.iters if example == "md_diffusion" else cfg.TRAIN.epochs * steps_per_unit(example)


def seconds_a_step(example: str, variant, tmp: str, log: str) -> float:
    script, data, (key, short, long), _ = EXAMPLES[example]
    extra, env = variant
    seconds = []
    for n in (short, long):
        out = tempfile.mkdtemp(dir=tmp)
        start = time.perf_counter()
        run_example(os.path.join(ROOT, script), ["mode=train", f"output_dir={out}", data, key.format(n), *extra], log,
                    env)
        seconds.append(time.perf_counter() - start)
    return (seconds[1] - seconds[0]) / ((long - short) * steps_per_unit(example))


INFER_VARIANTS = {"old default: 2 threads, MKL's own path": (["num_threads=2", "INFER.nprocs=1"], OLD_MKL),
                  "2 threads, 1 process": (["num_threads=2", "INFER.nprocs=1"], {}),
                  "1 thread, 1 process": (["num_threads=1", "INFER.nprocs=1"], {}),
                  "today's defaults (num_threads and INFER.nprocs auto)": ([], {})}


def md_infer(section: str, repeats: int, tmp: str, log: str) -> None:
    """The table of MD Diffusion's infer on ``section`` (module docstring)."""
    script = os.path.join(ROOT, "examples", "md_diffusion", "MDDiffusion.py")
    weights = os.path.join(ROOT, "pretrained", "md_diffusion")
    print(f"**md_diffusion infer** on {section} (whole command, start-up included, median of {repeats})\n\n"
          f"| variant | seconds | speed-up over the old default | max difference from the first row |\n"
          f"|---|---|---|---|")
    base, first = None, None
    for k, (label, (extra, env)) in enumerate(INFER_VARIANTS.items()):
        times = []
        for r in range(repeats):
            out = os.path.join(tmp, f"sr_{k}_{r}.npy")
            start = time.perf_counter()
            run_example(script, ["mode=infer", f"output_dir={tmp}/infer", f"INFER.input={section}",
                                 f"INFER.output={out}", f"INFER.pretrained_model_path={weights}", *extra], log, env)
            times.append(time.perf_counter() - start)
        t, pred = statistics.median(times), np.load(out)
        base, first = base or t, pred if first is None else first
        diff = float(np.abs(pred - first).max() / np.abs(first).max())
        print(f"| {label} | {t:.1f} | {base / t:.2f}x | {diff:.1e} of the peak |", flush=True)
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", nargs="+", default=[*EXAMPLES, "md_infer"], choices=[*EXAMPLES, "md_infer"])
    ap.add_argument("--section", default=os.path.join(ROOT, "..", "shared", "data", "field", "lulia_592x400.dat"))
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    from ppsci_ext.threads import machine

    facts = machine()
    print(f"CPU: {facts['cpu']}, {facts['cores']} usable cores; paddle {facts['paddle']}\n")
    log = os.path.join(ROOT, "logs", "bench_cpu_training.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="bench_cpu_training_")
    try:
        for example in args.examples:
            if example == "md_infer":
                md_infer(os.path.abspath(args.section), args.repeats, tmp, log)
                continue
            variants = EXAMPLES[example][3]
            total = default_steps(example)
            print(f"**{example}** ({total} steps in the default config)\n\n| variant | s / step | speed-up over the "
                  f"old default | default training, extrapolated (min) |\n|---|---|---|---|")
            script, data, (key, short, _), _ = EXAMPLES[example]  # untimed: builds the data, caches the thread probe
            run_example(os.path.join(ROOT, script), ["mode=train", f"output_dir={tempfile.mkdtemp(dir=tmp)}", data,
                                                     key.format(short)], log)
            base = None
            for label, variant in variants.items():
                t = seconds_a_step(example, variant, tmp, log)
                base = base or t
                print(f"| {label} | {t:.3f} | {base / t:.2f}x | {total * t / 60:.1f} |", flush=True)
            print()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
