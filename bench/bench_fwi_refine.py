"""VelocityGAN where the network stops: adjoint-state FWI (mode=refine) from the shipped network's answer, on
OpenFWI-convention files of families and samples the network was not trained on, against the same FWI from a 1-D
linear-gradient start.

The network: the shipped weights (trained on FlatVel-like models, velocity increasing with depth, this project's
convention), run as a user with OpenFWI files runs them: `--config-name velocitygan_openfwi` (the weights' input
settings are taken, the files converted). The data: every sample modelled in OpenFWI's convention by an
independent re-implementation of OpenFWI's published modelling (ppsci_ext/testing/openfwi_fd.py: 120-cell sponge,
PyTorch), not by the modelling the FWI runs. The families (ppsci_ext.data.fwi.velocity_models), none trained on:
  flatfault-a, curvefault-a, curvevel-a   OpenFWI's A families (faults, curved layers)
  flat-inverted                           flat layers in random order (velocity inversions)
Parts: `--part val` (seed 7001) tunes REFINE's settings; `--part test` (seed 7002) is reported.

The 1-D start: a straight line in depth fitted to the training models' mean velocity at each depth (what is known
before any data is seen). Both starts get the same iterations and settings (conf/velocitygan.yaml REFINE).

    python bench/bench_fwi_refine.py --part test [--per-family 4] [--iters 30] [--figure PATH] [REFINE.key=value ...]
    python bench/bench_fwi_refine.py --report outputs/bench_fwi_refine/test.json

About 2 x 13 s per sample on two cores, plus about 10 minutes of reference modelling for the 16 test samples
(cached in the output folder).
"""
import argparse
import json
import os
import statistics
import time

from common import ROOT
from common import compose_config
from common import load_example

import numpy as np

FAMILIES = {"flatfault-a": dict(family="flatfault-a"), "curvefault-a": dict(family="curvefault-a"),
            "curvevel-a": dict(family="curvevel-a"), "flat-inverted": dict(family="flat", p_inversion=1.0)}
SEEDS = {"val": 7001, "test": 7002}
WEIGHTS = os.path.join(ROOT, "pretrained", "velocitygan.pdparams")


def models_of(part, per_family, rules):
    """{family: models [n, 70, 70] m/s} of the part's seed; rules: GENERATE.models of the config."""
    from ppsci_ext.data.fwi.velocity_models import make_velocity_models

    out = {}
    for k, (name, own) in enumerate(FAMILIES.items()):
        r = {**rules, **own}
        if name == "flat-inverted":  # inversions in every sample: keep drawing until the order is not increasing
            found, i = [], 0
            while len(found) < per_family:
                m = make_velocity_models([i], SEEDS[part] + 100 * k, **r)[0, 0]
                i += 1
                if (np.diff(m[:, 0]) < 0).any():
                    found.append(m)
            out[name] = np.stack(found)
        else:
            out[name] = make_velocity_models(range(per_family), SEEDS[part] + 100 * k, **r)[:, 0]
    return out


def observed(models, cache):
    """OpenFWI-convention gathers of ``models`` by the independent reference modelling, cached in ``cache``."""
    from ppsci_ext.testing.openfwi_fd import openfwi_gathers

    if os.path.isfile(cache):
        with np.load(cache) as f:
            if np.array_equal(f["models"], models):
                return f["data"]
    start = time.time()
    data = openfwi_gathers(models).astype(np.float32)
    print(f"reference modelling of {len(models)} samples: {time.time() - start:.0f} s")
    np.savez(cache, models=models, data=data)
    return data


def one_d_start(vg, cfg, n):
    """[n, nz, nx]: the straight line in depth fitted to the training models' mean velocity at each depth."""
    profile = vg.training_profile(cfg)
    z = np.arange(len(profile))
    line = np.polyval(np.polyfit(z, profile, 1), z)
    return np.broadcast_to(line[None, :, None], (n, len(profile), cfg.MODEL.generator.out_shape[1])).astype(
        np.float32).copy()


def summary(rows):
    """Per family and over all: medians of the scores and the target counts."""
    fams = list(dict.fromkeys(r["family"] for r in rows))
    lines = ["| family | n | network SSIM / MAE m/s / misfit | refined from the network | ratio MAE / misfit | "
             "refined from 1-D | network start better (MAE / misfit) | s a sample |", "|---|---|---|---|---|---|---|---|"]
    for fam in fams + ["all"]:
        rs = [r for r in rows if fam in ("all", r["family"])]

        def med(key):
            return statistics.median(r[key] for r in rs)

        lines.append(
            f"| {fam} | {len(rs)} | {med('net_ssim'):.3f} / {med('net_mae'):.0f} / {med('net_misfit'):.3g} | "
            f"{med('ref_ssim'):.3f} / {med('ref_mae'):.0f} / {med('ref_misfit'):.3g} | "
            f"{statistics.median(r['ref_mae'] / r['net_mae'] for r in rs):.2f} / "
            f"{statistics.median(r['ref_misfit'] / r['net_misfit'] for r in rs):.2g} | "
            f"{med('one_ssim'):.3f} / {med('one_mae'):.0f} / {med('one_misfit'):.3g} | "
            f"{sum(r['ref_mae'] < r['one_mae'] for r in rs)} / {sum(r['ref_misfit'] < r['one_misfit'] for r in rs)}"
            f" of {len(rs)} | {med('seconds'):.1f} |")
    n = len(rows)
    lines += ["", "Targets, per sample:",
              f"- refined MAE <= 0.7x the network's: {sum(r['ref_mae'] <= 0.7 * r['net_mae'] for r in rows)} of {n} "
              f"(median ratio {statistics.median(r['ref_mae'] / r['net_mae'] for r in rows):.2f})",
              f"- data misfit <= 0.5x the network's: {sum(r['ref_misfit'] <= 0.5 * r['net_misfit'] for r in rows)} "
              f"of {n} (median ratio {statistics.median(r['ref_misfit'] / r['net_misfit'] for r in rows):.2f})",
              f"- the network's start beats the 1-D start at the same iterations: MAE in "
              f"{sum(r['ref_mae'] < r['one_mae'] for r in rows)} of {n}, misfit in "
              f"{sum(r['ref_misfit'] < r['one_misfit'] for r in rows)} of {n}",
              f"- <= 30 s a sample: median {statistics.median(r['seconds'] for r in rows):.1f} s, max "
              f"{max(r['seconds'] for r in rows):.1f} s"]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=sorted(SEEDS), default="test")
    ap.add_argument("--per-family", type=int, default=4, help="samples per family")
    ap.add_argument("--iters", type=int, default=None, help="FWI iterations per sample (default REFINE.iters)")
    ap.add_argument("--out", default="outputs/bench_fwi_refine", help="output folder of this bench")
    ap.add_argument("--figure", default=None, help="write the figure (one sample per family) here")
    ap.add_argument("--report", default=None, help="print the tables of a saved JSON and stop")
    ap.add_argument("overrides", nargs="*", help="config overrides (REFINE.*, num_threads=...)")
    args = ap.parse_args()
    if args.report:
        with open(args.report) as f:
            saved = json.load(f)
        print(saved["command"] + "\n\n" + summary(saved["rows"]))
        return
    from ppsci_ext.physics.fwi import refine
    from skimage.metrics import structural_similarity

    out = os.path.join(ROOT, args.out)
    os.makedirs(out, exist_ok=True)
    vg = load_example("velocitygan", "VelocityGAN")
    cfg = compose_config("velocitygan_openfwi", [f"INFER.pretrained_model_path={WEIGHTS}", f"output_dir={out}/run",
                                                 *args.overrides])
    vg.runtime.set_threads(cfg, vg.thread_probe)
    iters = args.iters if args.iters is not None else cfg.REFINE.iters
    from omegaconf import OmegaConf
    rules = OmegaConf.to_container(cfg.GENERATE.models, resolve=True)
    fams = models_of(args.part, args.per_family, rules)
    truth = np.concatenate(list(fams.values()))
    names = [f for f, m in fams.items() for _ in m]
    data = observed(truth, os.path.join(out, f"{args.part}_data.npz"))
    net_cfg = vg.with_weights_input(cfg, "INFER")
    net = vg.network_answer(net_cfg, data)
    one = one_d_start(vg, cfg, len(truth))
    r = cfg.REFINE
    lo, hi = float(cfg.DATA.label_min), float(cfg.DATA.label_max)
    modelling = vg.file_modelling(cfg)
    print(f"{len(truth)} samples, {iters} iterations, bands {list(r.bands)}, depth_power {r.depth_power}, "
          f"modelling convention {modelling['convention']}, num_threads {cfg.num_threads}")

    def run(start, i):
        t = time.perf_counter()
        res = refine(start[i], data[i], iters=iters, bands=list(r.bands), vmin=float(r.vmin), vmax=float(r.vmax),
                     depth_power=float(r.depth_power), truth=truth[i], ssim_range=hi - lo,
                     num_threads=cfg.num_threads, **modelling)
        return res, time.perf_counter() - t

    rows, hist = [], {"network": [], "one_d": []}
    refined = np.empty_like(truth)
    for i in range(len(truth)):
        a, seconds = run(net, i)
        b, _ = run(one, i)
        refined[i] = a.vel
        ha, hb = a.history[0], b.history[0]
        hist["network"].append(ha)
        hist["one_d"].append(hb)
        rows.append(dict(family=names[i], net_mae=ha["mae"][0], net_ssim=ha["ssim"][0], net_misfit=ha["misfit"][0],
                         ref_mae=ha["mae"][-1], ref_ssim=ha["ssim"][-1], ref_misfit=ha["misfit"][-1],
                         one_mae=hb["mae"][-1], one_ssim=hb["ssim"][-1], one_misfit=hb["misfit"][-1],
                         one_start_mae=hb["mae"][0], seconds=seconds, iterations=len(ha["misfit"]) - 1))
        print(f"{i:2d} {names[i]:14s} network MAE {ha['mae'][0]:6.1f} misfit {ha['misfit'][0]:.3g} -> refined "
              f"{ha['mae'][-1]:6.1f} / {ha['misfit'][-1]:.3g}; 1-D start {hb['mae'][0]:6.1f} -> {hb['mae'][-1]:6.1f}"
              f" / {hb['misfit'][-1]:.3g}; {seconds:.1f} s", flush=True)
        assert abs(structural_similarity(a.vel, truth[i], data_range=hi - lo) - ha["ssim"][-1]) < 1e-4
    command = ("python bench/bench_fwi_refine.py --part " + args.part + f" --per-family {args.per_family}"
               + (f" --iters {args.iters}" if args.iters is not None else "") + "".join(f" {o}" for o in args.overrides))
    with open(os.path.join(out, f"{args.part}.json"), "w") as f:
        json.dump({"command": command, "rows": rows, "history": hist}, f)
    print("\n" + summary(rows))
    if args.figure:
        from ppsci_ext import plot

        pick = [names.index(f) for f in fams]
        plot.refinement(truth[pick], net[pick], refined[pick], [hist["network"][i] for i in pick], args.figure,
                        10.0, lo, hi, curves={"from the 1-D start": [hist["one_d"][i] for i in pick]})
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
