"""MD Diffusion: DDIM step schedules, baselines and the speed target, on a trained run.

Needs `MDDiffusion.py mode=train` (and `MODEL.kind=supervised`) done in --output-dir. Prints:
- network evaluations against PSNR / SSIM (mean over --items test items) for logarithmic, linear and
  quadratic sub-sequences at each of --steps, and for full T-step sampling on --full-items items;
- bicubic on the same items (the supervised UNet is in mode=eval's table);
- the -6 dB band of the amplitude spectrum of each field section (../shared/data/field, and the Marmousi
  section) before and after super-resolution;
- seconds to super-resolve the kumano2 field section (608 x 400), median of --repeats.

    python bench/bench_md_diffusion.py [--output-dir outputs/md_diffusion] [--steps 10 25 50 100] [overrides ...]
"""
import argparse
import os
import time

import numpy as np

from common import compose_config
from common import load_example
from ppsci_ext.data.sr.dataset import upsample2
from ppsci_ext.data.sr.reader import read_section
from ppsci_ext.diffusion import SRPipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KUMANO = os.path.join(ROOT, "..", "shared", "data", "field", "kumano2_608x400.dat")


def scores(mod, preds, items):
    rows = [mod.metric.image_scores(p, hr) for p, (_, _, hr, _) in zip(preds, items)]
    return {k: float(np.mean([r[k] for r in rows])) for k in ("PSNR", "SSIM")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output-dir", default="outputs/md_diffusion")
    ap.add_argument("--steps", type=int, nargs="+", default=[10, 25, 50, 100])
    ap.add_argument("--items", type=int, default=6, help="test items for the schedule table")
    ap.add_argument("--full-items", type=int, default=2, help="test items for full T-step sampling (slow)")
    ap.add_argument("--repeats", type=int, default=3, help="kumano2 timing runs (median)")
    ap.add_argument("--skip", default="", help="comma-separated tables to leave out: schedules,field,timing")
    args, extra = ap.parse_known_args()
    args.skip = [k for k in args.skip.split(",") if k]
    if set(args.skip) - {"schedules", "field", "timing"}:
        raise SystemExit(f"--skip: expected names from schedules,field,timing, found {args.skip}")
    mod = load_example("md_diffusion", "MDDiffusion")
    cfg = compose_config("md_diffusion", [f"output_dir={args.output_dir}", "mode=eval", *extra])
    mod.runtime.setup_run(cfg)
    items = mod.test_items(cfg, mod.prepare_data(cfg))[:args.items]
    model = mod.load_model(cfg, "diffusion")
    if model is None:
        raise SystemExit(f"no diffusion checkpoint in {args.output_dir}: run MDDiffusion.py mode=train first")
    if "schedules" not in args.skip:
        schedule_table(mod, cfg, model, items, args)
    if "field" not in args.skip:
        field_table(mod, extra, args)
    if "timing" not in args.skip and os.path.isfile(KUMANO):
        timing(mod, model, extra, args)


def schedule_table(mod, cfg, model, items, args):
    lr = [it[1] for it in items]
    print(f"\n### DDIM sub-sequences ({len(items)} test items; eta {cfg.DIFFUSION.eta})\n")
    print("| spacing | network evaluations | PSNR (dB) | SSIM |\n|---|---|---|---|")
    base = {"bicubic": scores(mod, [upsample2(x, "bicubic") for x in lr], items)}
    for spacing in ("log", "linear", "quadratic"):
        for n in args.steps:
            cfg.DIFFUSION.sample_steps, cfg.DIFFUSION.spacing = n, spacing
            s = scores(mod, SRPipeline.from_config(model, "diffusion", cfg).predict_sections(lr)[0], items)
            print(f"| {spacing} | {n} | {s['PSNR']:.2f} | {s['SSIM']:.4f} |")
    if cfg.SAMPLING.lowpass_sigma:  # the same sampler without the low-pass consistency
        sigma, cfg.SAMPLING.lowpass_sigma = cfg.SAMPLING.lowpass_sigma, None
        cfg.DIFFUSION.sample_steps, cfg.DIFFUSION.spacing = max(args.steps), "log"
        s = scores(mod, SRPipeline.from_config(model, "diffusion", cfg).predict_sections(lr)[0], items)
        print(f"| log, no low-pass consistency | {max(args.steps)} | {s['PSNR']:.2f} | {s['SSIM']:.4f} |")
        cfg.SAMPLING.lowpass_sigma = sigma
    if args.full_items:  # every step 1..T against the default sub-sequence, on the same first items
        k, default = args.full_items, (cfg.DIFFUSION.sample_steps, cfg.DIFFUSION.spacing)
        for n, spacing, label in ((max(args.steps), "log", f"log, first {k} items"),
                                  (cfg.DIFFUSION.n_train_steps, "linear", f"full T, first {k} items")):
            cfg.DIFFUSION.sample_steps, cfg.DIFFUSION.spacing = n, spacing
            s = scores(mod, SRPipeline.from_config(model, "diffusion", cfg).predict_sections(lr[:k])[0], items[:k])
            print(f"| {label} | {n} | {s['PSNR']:.2f} | {s['SSIM']:.4f} |")
        cfg.DIFFUSION.sample_steps, cfg.DIFFUSION.spacing = default
    for name, s in base.items():
        print(f"| {name} | 1 | {s['PSNR']:.2f} | {s['SSIM']:.4f} |")


def infer_steps(cfg):
    return cfg.INFER.sample_steps or cfg.DIFFUSION.sample_steps


def field_table(mod, extra, args):
    """-6 dB band of the trace-averaged amplitude spectrum, original vs super-resolved (time axis)."""
    from ppsci_ext.spectra import amplitude_spectrum
    from ppsci_ext.spectra import bandwidth_db

    cfg = compose_config("md_diffusion", [f"output_dir={args.output_dir}", "mode=view", *extra])
    panels = mod.view(cfg)  # draws the figures too (figures/synthetic.png, figures/field.png)
    print(f"\n### Field sections: -6 dB band of the amplitude spectrum (Hz), {infer_steps(cfg)} "
          f"DDIM steps, tiles {cfg.INFER.patch}/{cfg.INFER.overlap}\n")
    print("| section | shape | original band | original width | super-resolved band | super-resolved width |")
    print("|---|---|---|---|---|---|")
    for p in panels:
        axis = -1 if p["transpose"] else 0  # time axis: last for [traces, samples], first for depth-down
        bands = [bandwidth_db(*amplitude_spectrum(p[k], p[dt], axis=axis)) for k, dt in
                 (("original", "dt_original"), ("super", "dt_super"))]
        (a0, a1, aw), (b0, b1, bw) = bands
        print(f"| {p['name']} | {' x '.join(map(str, p['original'].shape))} | {a0:.1f}-{a1:.1f} | {aw:.1f} | "
              f"{b0:.1f}-{b1:.1f} | {bw:.1f} |")


def timing(mod, model, extra, args):
    cfg = compose_config("md_diffusion", [f"output_dir={args.output_dir}", "mode=infer", *extra])
    section = read_section(KUMANO)
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        mod.super_resolve(cfg, SRPipeline.from_config(model, "diffusion", cfg), section)
        times.append(time.perf_counter() - t)
    print(f"\n| kumano2 608 x 400 -> 1216 x 800, {infer_steps(cfg)} DDIM steps, tiles "
          f"{cfg.INFER.patch}/{cfg.INFER.overlap} | {np.median(times):.1f} s (median of {args.repeats}) | limit 120 s |")


if __name__ == "__main__":
    main()
