"""Benchmark of ppsci_ext.physics.forward_model: PML width vs cost vs accuracy, and vs deepwave.

Prints markdown tables.  A sample is one 70x70 model x 5 shots x nt steps (OpenFWI).
Table C checks MODELLING.convention=openfwi: against an independent PyTorch re-implementation of OpenFWI's
published modelling (120-cell sponge; ppsci_ext/testing/openfwi_fd.py), against deepwave, and the
amplitude range of the FlatVel-/CurveVel-like priors against OpenFWI's published statistics.
Usage: python bench/bench_modelling.py [--quick] [--only-openfwi]
"""

import argparse
import warnings

import numba
import numpy as np

from common import median_time
from ppsci_ext.data.fwi.velocity_models import make_velocity_models
from ppsci_ext.physics import ricker
from ppsci_ext.physics.acoustic import DEFAULT_PAD, forward_model

SRC_X = (0, 17, 34, 52, 69)
DX, DT, FREQ = 10.0, 1e-3, 15.0  # m, s, Hz


def layered_models(n_models, seed=0, size=70, n_layers=4):
    """Flat layered models (the data generator's), 1500-4500 m/s increasing with depth, [N, size, size] float32."""
    return make_velocity_models(range(n_models), seed, "flat", size, size, n_layers, n_layers, vmin=1500.0,
                                vmax=4500.0, min_thickness=5, increasing=True)[:, 0]


def reference_gathers(vel, nt):
    """Gathers free of boundary echoes: the models extended by enough cells that echoes arrive after nt*dt."""
    ext = int(np.ceil(float(vel.max()) * nt * DT / DX / 2)) + 5
    big = np.pad(vel, ((0, 0), (ext, ext), (ext, ext)), mode="edge")
    return forward_model(big, nt=nt, src_x=tuple(x + ext for x in SRC_X), src_z=1 + ext,
                         rec_x=np.arange(vel.shape[2]) + ext, rec_z=1 + ext, pad=DEFAULT_PAD)


def table_pad(pads, nt, repeats, threads):
    vel = layered_models(3)
    ref = reference_gathers(vel, nt)
    print(f"\n### A. PML width vs cost vs accuracy (70x70, 5 shots, nt={nt}, {threads} threads, 3 layered models)\n")
    print("| pad (cells) | grid | s / sample | rel. L2 error vs reference | max abs error / max abs ref |")
    print("|---|---|---|---|---|")
    for pad in pads:
        data = forward_model(vel, nt=nt, pad=pad, num_threads=threads)
        sec = median_time(lambda: forward_model(vel[:1], nt=nt, pad=pad, num_threads=threads), repeats)
        err = np.linalg.norm(data - ref) / np.linalg.norm(ref)
        peak = np.abs(data - ref).max() / np.abs(ref).max()
        mark = " (default)" if pad == DEFAULT_PAD else ""
        print(f"| {pad}{mark} | {70 + 2 * pad}^2 | {sec:.3f} | {err:.2e} | {peak:.2e} |")


def deepwave_runner(vel, nt, pad):
    """Return a callable running deepwave.scalar on vel [N, 70, 70] (5 shots each), or None if unavailable."""
    try:
        import deepwave
        import torch
    except ImportError as exc:
        print(f"\n(deepwave comparison skipped: {exc}; install with `pip install torch deepwave`)")
        return None
    warnings.filterwarnings("ignore", module="deepwave")
    n_src, nx = len(SRC_X), vel.shape[2]
    src_loc = torch.zeros(n_src, 1, 2, dtype=torch.long)
    src_loc[:, 0, 0] = 1
    src_loc[:, 0, 1] = torch.tensor(SRC_X)
    rec_loc = torch.zeros(n_src, nx, 2, dtype=torch.long)
    rec_loc[:, :, 0] = 1
    rec_loc[:, :, 1] = torch.arange(nx)
    amp = torch.from_numpy(ricker(FREQ, nt, DT)).repeat(n_src, 1, 1)
    models = [torch.from_numpy(v) for v in vel]

    def run():
        with torch.no_grad():
            return [deepwave.scalar(v, DX, DT, source_amplitudes=amp, source_locations=src_loc,
                                    receiver_locations=rec_loc, pml_width=pad, accuracy=4, pml_freq=FREQ)[-1]
                    for v in models]

    return run, torch


def table_throughput(nt, repeats, thread_counts, n_models):
    vel = layered_models(n_models, seed=1)
    dw = deepwave_runner(vel, nt, DEFAULT_PAD)
    print(f"\n### B. Throughput, samples/s (70x70, 5 shots, nt={nt}, PML {DEFAULT_PAD} cells, {n_models} models/call)\n")
    print("| threads | ppsci_ext (numba) | deepwave.scalar (torch CPU) | ratio |")
    print("|---|---|---|---|")
    for threads in thread_counts:
        ours = n_models / median_time(lambda: forward_model(vel, nt=nt, num_threads=threads), repeats)
        if dw is None:
            print(f"| {threads} | {ours:.2f} | skipped | - |")
            continue
        run, torch = dw
        torch.set_num_threads(threads)
        theirs = n_models / median_time(run, repeats)
        print(f"| {threads} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f}x |")


# OpenFWI's published data statistics (its dataset_config.json): data_min, data_max
PUBLISHED = {"flat": ("flatvel-a", -26.95, 52.77), "curved": ("curvevel-a", -27.11, 55.10)}


def table_openfwi(n_stats, threads):
    """C. the openfwi convention against OpenFWI's modelling (sponge) and deepwave; amplitude statistics."""
    from ppsci_ext.testing.openfwi_fd import openfwi_gathers
    from ppsci_ext.testing.openfwi_fd import openfwi_wavelet

    vel = layered_models(2, seed=5).astype(np.float64)
    ref = openfwi_gathers(vel)
    print("\n### C1. convention=openfwi vs OpenFWI's modelling re-implemented (120-cell sponge), nt=1000, 2 models\n")
    print("| our C-PML (cells) | rel. L2 difference | corr | max / reference max |\n|---|---|---|---|")
    for pad in (10, 15, 20, 30, 60):
        ours = forward_model(vel, convention="openfwi", pad=pad, num_threads=threads)
        err = np.linalg.norm(ours - ref) / np.linalg.norm(ref)
        corr = np.corrcoef(ours.ravel(), ref.ravel())[0, 1]
        print(f"| {pad}{' (default)' if pad == DEFAULT_PAD else ''} | {err:.4f} | {corr:.6f} | "
              f"{ours.max() / ref.max():.4f} |")
    try:
        import deepwave
        import torch
    except ImportError as exc:
        print(f"\n(deepwave comparison skipped: {exc})")
    else:
        warnings.filterwarnings("ignore", module="deepwave")
        src = torch.zeros(len(SRC_X), 1, 2, dtype=torch.long)
        src[:, 0, 0], src[:, 0, 1] = 1, torch.tensor(SRC_X)
        rec = torch.zeros(len(SRC_X), 70, 2, dtype=torch.long)
        rec[:, :, 0], rec[:, :, 1] = 1, torch.arange(70)
        amp = torch.from_numpy(openfwi_wavelet(FREQ, DT, 1000)).repeat(len(SRC_X), 1, 1)
        ours = forward_model(vel, convention="openfwi", num_threads=threads)
        print("\n### C2. convention=openfwi vs deepwave.scalar (same wavelet, C-PML 15, accuracy 4)\n")
        print("| model | corr, same samples | corr, deepwave one sample later | max abs ratio |\n|---|---|---|---|")
        for i, v in enumerate(vel):
            dw = deepwave.scalar(torch.from_numpy(v), DX, DT, source_amplitudes=amp, source_locations=src,
                                 receiver_locations=rec, pml_width=DEFAULT_PAD, accuracy=4,
                                 pml_freq=FREQ)[-1].numpy().transpose(0, 2, 1)
            same = np.corrcoef(ours[i].ravel(), dw.ravel())[0, 1]
            later = np.corrcoef(ours[i][:, :-1].ravel(), dw[:, 1:].ravel())[0, 1]
            print(f"| {i} | {same:.5f} | {later:.6f} | {np.abs(ours[i]).max() / np.abs(dw).max():.4f} |")
    print(f"\n### C3. amplitude range of {n_stats} models per prior, convention=openfwi, vs OpenFWI's statistics\n")
    print("| prior | data_min | data_max | published (data set) | difference min / max |\n|---|---|---|---|---|")
    for family, (name, lo_pub, hi_pub) in PUBLISHED.items():
        lo = hi = 0.0
        for start in range(0, n_stats, 50):
            models = make_velocity_models(range(start, min(start + 50, n_stats)), 2024, family, 70, 70, 2, 5,
                                          vmin=1500.0, vmax=4500.0, min_thickness=4, increasing=True,
                                          min_contrast=100.0)[:, 0]
            d = forward_model(models, convention="openfwi", num_threads=threads)
            lo, hi = min(lo, float(d.min())), max(hi, float(d.max()))
        print(f"| {family} | {lo:.2f} | {hi:.2f} | {lo_pub} / {hi_pub} ({name}) | "
              f"{100 * (lo / lo_pub - 1):+.1f}% / {100 * (hi / hi_pub - 1):+.1f}% |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pads, steps and repeats (~30 s)")
    parser.add_argument("--only-openfwi", action="store_true", help="only table C")
    args = parser.parse_args()
    max_threads = numba.config.NUMBA_NUM_THREADS
    threads = tuple(t for t in (1, 2) if t <= max_threads)
    if not args.only_openfwi:
        run_tables(args.quick, threads)
    table_openfwi(50 if args.quick else 400, threads[-1])


def run_tables(quick, threads):
    if quick:
        table_pad((10, 15, 20, 40), nt=500, repeats=2, threads=threads[-1])
        table_throughput(nt=500, repeats=2, thread_counts=threads, n_models=2)
    else:
        table_pad((5, 10, 15, 20, 30, 40, 60, 120), nt=1000, repeats=3, threads=threads[-1])
        table_throughput(nt=1000, repeats=3, thread_counts=threads, n_models=4)


if __name__ == "__main__":
    main()
