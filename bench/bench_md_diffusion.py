"""MD Diffusion: DDIM step schedules, baselines and the speed target, on a trained run.

Needs `MDDiffusion.py mode=train` (and `MODEL.kind=supervised`) done in --output-dir. Prints:
- network evaluations against PSNR / SSIM (mean over --items test items) for logarithmic, linear and
  quadratic sub-sequences at each of --steps, and for full T-step sampling on --full-items items;
- bicubic and the supervised UNet on the same items;
- seconds to super-resolve the kumano2 field section (608 x 400), median of --repeats.

    python bench/bench_md_diffusion.py [--output-dir outputs/md_diffusion] [--steps 10 25 50 100] [overrides ...]
"""
import argparse
import os
import time

import numpy as np

from common import compose_config
from common import load_example

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
    args, extra = ap.parse_known_args()
    mod = load_example("md_diffusion", "MDDiffusion")
    cfg = compose_config("md_diffusion", [f"output_dir={args.output_dir}", "mode=eval", *extra])
    mod.setup_run(cfg)
    items = mod.test_items(cfg, mod.prepare_data(cfg))[:args.items]
    lr = [it[1] for it in items]
    model = mod.load_model(cfg, "diffusion")
    print(f"\n### DDIM sub-sequences ({len(items)} test items; eta {cfg.DIFFUSION.eta})\n")
    print("| spacing | network evaluations | PSNR (dB) | SSIM |\n|---|---|---|---|")
    base = {"bicubic": scores(mod, [mod.seismic_sr.upsample2(x, "bicubic") for x in lr], items)}
    sup = mod.load_model(cfg, "supervised")
    if sup is not None:
        base["supervised UNet"] = scores(mod, mod.predict(cfg, sup, "supervised", lr), items)
    for spacing in ("log", "linear", "quadratic"):
        for n in args.steps:
            cfg.DIFFUSION.sample_steps, cfg.DIFFUSION.spacing = n, spacing
            s = scores(mod, mod.predict(cfg, model, "diffusion", lr), items)
            print(f"| {spacing} | {n} | {s['PSNR']:.2f} | {s['SSIM']:.4f} |")
    if args.full_items:
        cfg.DIFFUSION.sample_steps, cfg.DIFFUSION.spacing = cfg.DIFFUSION.n_train_steps, "linear"
        s = scores(mod, mod.predict(cfg, model, "diffusion", lr[:args.full_items]), items[:args.full_items])
        print(f"| full (first {args.full_items} items) | {cfg.DIFFUSION.n_train_steps} | {s['PSNR']:.2f} | "
              f"{s['SSIM']:.4f} |")
    for name, s in base.items():
        print(f"| {name} | 1 | {s['PSNR']:.2f} | {s['SSIM']:.4f} |")
    if os.path.isfile(KUMANO):
        cfg = compose_config("md_diffusion", [f"output_dir={args.output_dir}", "mode=infer", *extra])
        section = mod.seismic_sr.read_section(KUMANO)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            mod.super_resolve(cfg, model, "diffusion", section)
            times.append(time.perf_counter() - t)
        print(f"\n| kumano2 608 x 400 -> 1216 x 800, {cfg.DIFFUSION.sample_steps} DDIM steps | "
              f"{np.median(times):.1f} s (median of {args.repeats}) | limit 120 s |")


if __name__ == "__main__":
    main()
