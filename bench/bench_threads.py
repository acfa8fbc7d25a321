"""Threads and processes on this CPU: one training step of each example's network (the probe ``num_threads: auto``
times, at the default config's sizes) at 1 thread, at all usable cores, and as two single-thread processes side
by side, under the OpenMP environment variables that can matter.

Prints the machine (CPU model, usable cores, paddle version), then a markdown table per example: seconds per step
(median of --repeats after an untimed warm-up, each in a fresh process) with 1 thread and with N threads, the
speed-up of N threads, and the steps a second of two 1-thread processes run at once relative to one 1-thread
process (2.0 = the two cores fully used), for each environment:

- default: Paddle's bundled Intel OpenMP as it comes, and on an AMD CPU with AVX2 ``MKL_DEBUG_CPU_TYPE=5``, which
  ppsci_ext sets (``ppsci_ext.mkl_cpu_type``);
- ``MKL_DEBUG_CPU_TYPE=`` (empty): MKL's own CPU dispatch (its slow path on AMD CPUs);
- ``KMP_BLOCKTIME=0``: a thread sleeps as soon as a parallel region ends instead of spinning for 200 ms;
- ``KMP_AFFINITY=granularity=fine,compact,1,0``: each OpenMP thread pinned to its own core;
- ``OMP_WAIT_POLICY=PASSIVE``: waiting threads yield the core.

    python bench/bench_threads.py [--repeats 5] [--examples velocitygan md_diffusion gdrnn]

Run it alone on the machine: the two-process column measures how two processes share the cores.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

from common import ROOT
from common import compose_config
from common import load_example
from common import timings

EXAMPLES = {"velocitygan": ("velocitygan", "VelocityGAN"), "md_diffusion": ("md_diffusion", "MDDiffusion"),
            "gdrnn": ("gdrnn", "GDRNN")}
ENVS = {"default": {}, "MKL_DEBUG_CPU_TYPE= (MKL's own CPU dispatch)": {"MKL_DEBUG_CPU_TYPE": ""},
        "KMP_BLOCKTIME=0": {"KMP_BLOCKTIME": "0"},
        "KMP_AFFINITY=compact": {"KMP_AFFINITY": "granularity=fine,compact,1,0"},
        "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"}}


def child(example: str, threads: int, repeats: int) -> None:
    """In this process: the example's probe step at ``threads`` threads; prints {"name", "median"} as JSON."""
    import paddle

    folder, script = EXAMPLES[example]
    mod = load_example(folder, script)
    name, step = mod.thread_probe(compose_config(example))
    paddle.base.core.set_num_threads(threads)
    print(json.dumps({"name": name, "median": statistics.median(timings(step, repeats))}))


def start(example: str, threads: int, repeats: int, env: dict) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--child", example, "--threads", str(threads), "--repeats", str(repeats)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "GLOG_minloglevel": "2", **env})


def result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(proc.args)} failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--examples", nargs="+", default=list(EXAMPLES), choices=list(EXAMPLES))
    ap.add_argument("--child", choices=list(EXAMPLES), help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.threads, args.repeats)
    from ppsci_ext.threads import machine

    facts = machine()
    n = facts["cores"]
    print(f"CPU: {facts['cpu']}, {n} usable cores; paddle {facts['paddle']}; median of {args.repeats} steps "
          f"after a warm-up, each in a fresh process\n")
    for example in args.examples:
        rows = []
        for label, env in ENVS.items():
            one = result(start(example, 1, args.repeats, env))
            many = result(start(example, n, args.repeats, env)) if n > 1 else one
            pair = [start(example, 1, args.repeats, env) for _ in range(2)]
            both = [result(p)["median"] for p in pair]
            rows.append(f"| {label} | {one['median']:.3f} | {many['median']:.3f} | "
                        f"{one['median'] / many['median']:.2f}x | "
                        f"{sum(one['median'] / t for t in both):.2f} |")
        print(f"**{example}**: {one['name']}\n")
        print(f"| environment | 1 thread (s/step) | {n} threads (s/step) | speed-up of {n} threads | "
              f"2 processes x 1 thread, steps/s vs 1 process |\n|---|---|---|---|---|")
        print("\n".join(rows) + "\n", flush=True)


if __name__ == "__main__":
    main()
