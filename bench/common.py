"""Helpers shared by the bench scripts (run as `python bench/<script>.py`, so this folder is on sys.path).

``load_example`` and ``compose_config`` come from the package's test support (:mod:`ppsci_ext.testing.examples`),
as in the tests.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from ppsci_ext.testing.examples import compose_config  # noqa: E402,F401
from ppsci_ext.testing.examples import load_example  # noqa: E402,F401


def timings(fn, repeats, warm_up=True):
    """Seconds of each of ``repeats`` calls of ``fn``, after one untimed warm-up call unless ``warm_up`` is False."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_time(fn, repeats, warm_up=True):
    """Median of :func:`timings`."""
    return statistics.median(timings(fn, repeats, warm_up))


# ------------------------------------------------------------------ GDRNN
GDRNN_SCRIPT = os.path.join(ROOT, "examples", "gdrnn", "GDRNN.py")
# a family drawn with another seed and another geology mix than conf/gdrnn.yaml's DATA.family: every section
# faulted and with a gas sand, thinner beds, a wider depth trend
GDRNN_HELD_OUT = ["DATA.family.seed=9001", "DATA.family.n_sections=3", "DATA.family.mix.p_fault=1.0",
                  "DATA.family.mix.p_gas=1.0", "DATA.family.mix.thin_bed_fraction=[0.4,0.8]",
                  "DATA.family.mix.vp_min=[1700.0,2200.0]", "DATA.family.mix.vp_max=[4500.0,5600.0]",
                  f"DATA.out_dir={ROOT}/data_gen/gdrnn_family_heldout"]


def run_example(script, args, log, env=None):
    """``python script args...`` from the project root (with the variables ``env`` added to the environment), its
    output appended to ``log``; returns minutes taken."""
    start = time.time()
    with open(log, "a") as f:
        subprocess.run([sys.executable, script, *args], check=True, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                       env={**os.environ, "GLOG_minloglevel": "2", **(env or {})})
    return (time.time() - start) / 60


def run_gdrnn(config, mode, overrides, log):
    """``GDRNN.py --config-name config mode=mode overrides...``, its output appended to ``log``; minutes."""
    return run_example(GDRNN_SCRIPT, ["--config-name", config, f"mode={mode}", *overrides], log)


def evaluate_gdrnn(config, out, model, overrides, log):
    """`mode=eval` in ``out`` with the checkpoint ``model`` as its GDRNN; returns eval_metrics.json."""
    os.makedirs(os.path.join(out, "gdrnn"), exist_ok=True)
    shutil.copy(model, os.path.join(out, "gdrnn", "checkpoint.pdparams"))
    run_gdrnn(config, "eval", [f"output_dir={out}", *overrides], log)
    with open(os.path.join(out, "eval_metrics.json")) as f:
        return json.load(f)
