"""MD Diffusion against bicubic and the supervised UNet in and out of its training distribution, with the
scores that can show what diffusion adds: spectral fidelity and the ensemble's spread.

Needs `MDDiffusion.py mode=train` for both kinds in --output-dir. Every method scores the same inputs. The
held-out synthetic sections (the HR truth of the first --items test files) are degraded again under each
condition, new sections are drawn where the condition is about structure or band, and real sections nobody on
this project made (the field sections and a Marmousi section, from VIEW.field_dir / VIEW.marmousi; skipped
where missing) are degraded 2x with 10% white noise, their own samples taken as the truth. Prints one table per
condition (every condition but the first varies one thing from white noise in the training range on the
sample-aligned grid; PSNR, SSIM, the predicted / true amplitude spectrum along time in the first two quarters of the HR
Nyquist and in the truth's upper signal band - peak to -20 dB, where over-smoothing shows - and the
log-spectral distance); each condition's title says whether the training data (DATA.synthetic) held it. Then,
for the diffusion model's --draws stochastic draws (eta 1), the Spearman correlation of the ensemble spread
with the error (per sample and over 8 x 8 tiles) and the share of samples within mean +- 2 std, the spread
scaled by SAMPLING.std_scale (bench_md_calibration.py fits it on the validation split; unscaled shown too). Writes the results to
<output-dir>/robustness.json and, with --figures DIR, the spectra and uncertainty figures.

    python bench/bench_md_robustness.py [--output-dir outputs/md_diffusion] [--items 6] [--draws 8]
                                        [--figures docs/zh/examples/md_diffusion.assets] [overrides]
"""
import argparse
import json
import os

import numpy as np

from common import compose_config
from common import load_example
from ppsci_ext.data.sr import generator as sr_generator
from ppsci_ext.data.sr.dataset import normalise
from ppsci_ext.data.sr.dataset import upsample2
from ppsci_ext.data.sr.field import field_panels
from ppsci_ext.data.sr.generator import degrade
from ppsci_ext.diffusion import SRPipeline

BANDS = ("spec_ratio_0_25", "spec_ratio_25_50", "spec_ratio_upper_signal")
REAL_NOISE = 0.1  # white noise std / RMS of the decimated real sections (inside the training range)


def _inside(lo_hi, value_range):
    return lo_hi[0] <= value_range[0] and value_range[1] <= lo_hi[1]


def conditions(s):
    """name -> (degrade keyword arguments, synthetic_section keyword arguments or None for the test HR); each name
    says whether the training settings ``s`` (DATA.synthetic) held the condition."""
    top = float(max(s.noise_std))
    trained = lambda ok: "in training" if ok else "outside training"  # noqa: E731
    colours = {True, False} if s.band_limited == "mixed" else {bool(s.band_limited)}
    grids = {"aligned", "centred"} if s.grid == "mixed" else {s.grid}
    plain = {"band_limited": False, "grid": "aligned"}  # every condition but the first varies one thing from this
    band = lambda lo, hi: (f"Ricker {lo:g}-{hi:g} Hz, {trained(_inside(s.freq_range, (lo, hi)))}",  # noqa: E731
                           (plain, {"freq_range": (lo, hi)}))
    out = {"in-distribution (the training degradation)": ({}, None),
           f"white noise, sample-aligned decimation, {trained(False in colours and 'aligned' in grids)}": (plain, None),
           f"noise 2x the training maximum ({2 * top:.0%} of RMS, white), outside training":
               ({**plain, "noise_std": 2 * top}, None),
           f"noise 3x the training maximum ({3 * top:.0%} of RMS, white), outside training":
               ({**plain, "noise_std": 3 * top}, None),
           f"band-limited noise, {trained(True in colours)}": ({**plain, "band_limited": True}, None),
           f"cell-centred decimation (image libraries'), {trained('centred' in grids)}":
               ({**plain, "grid": "centred"}, None)}
    for name, lo, hi in (("finer events", 50.0, 80.0), ("coarser events", 8.0, 15.0),
                         ("finer than the widest training band", 90.0, 110.0)):
        label, kw = band(lo, hi)
        out[f"{name} ({label})"] = kw
    steep = _inside(s.fold_amp, (40.0, 60.0)) and _inside(s.n_folds_range, (3, 6))
    faults = _inside(s.n_faults_range, (4, 7)) and _inside(s.throw_range, (10.0, 30.0))
    out[f"steep dips, strong folding, {trained(steep)}"] = (plain, {"fold_amp": (40.0, 60.0), "n_folds_range": (3, 6)})
    out[f"many faults (4-7), {trained(faults)}"] = (plain, {"n_faults_range": (4, 7), "throw_range": (10.0, 30.0)})
    return out


def synthetic_items(mod, cfg, hr_sections, degrade_kw, section_kw, seed):
    """(normalised LR, normalised HR) pairs of one condition on the held-out synthetic sections."""
    sec = sr_generator
    s = cfg.DATA.synthetic
    out = []
    for k, hr in enumerate(hr_sections):
        rng = np.random.default_rng([seed, k])
        if section_kw is not None:
            hr = sec.synthetic_section(rng, size=hr.shape[-1], n_traces=hr.shape[0], dt=s.dt, **section_kw)
        kw = {"noise_std": tuple(s.noise_std), "band_limited": s.band_limited, "grid": s.grid, "dt": s.dt,
              **degrade_kw}
        lr = sec.degrade(hr, rng, **kw)
        x, scale = normalise(lr)
        out.append((x, (hr / scale).astype(np.float32)))
    return out


def real_sections(mod, cfg):
    """{name: raw HR section [traces, samples]} of the field sections and the Marmousi section that exist, each
    cut to even sizes (the truth of a 2x decimation)."""
    v = cfg.VIEW
    panels = field_panels(v.field_dir, v.marmousi, v.marmousi_freq, v.dt, lambda a: a)
    out = {}
    for p in panels:
        a = p["original"] if p["transpose"] else p["original"].T  # traces x samples
        out[p["name"]] = np.ascontiguousarray(a[:a.shape[0] // 2 * 2, :a.shape[1] // 2 * 2], dtype=np.float32)
    return out


def real_items(mod, sections, grid, seed):
    out = []
    for k, hr in enumerate(sections.values()):
        lr = degrade(hr, np.random.default_rng([seed, 100 + k]), noise_std=REAL_NOISE, grid=grid)
        x, scale = normalise(lr)
        out.append((x, (hr / scale).astype(np.float32)))
    return out


def predictions(mod, cfg, models, lr):
    """{method: [normalised HR predictions]} for normalised LR sections of any sizes (tiled as mode=infer)."""
    out = {"bicubic": [upsample2(x, "bicubic", 2) for x in lr]}
    for kind, model in models.items():
        if len({x.shape for x in lr}) == 1 and lr[0].shape[-1] * 2 == cfg.INFER.patch:
            out[kind] = list(SRPipeline.from_config(model, kind, cfg).predict_sections(lr)[0])
        else:
            out[kind] = [mod.super_resolve(cfg, SRPipeline.from_config(model, kind, cfg), x)[0] for x in lr]
    return out


def score(mod, pred, hr):
    r = {**mod.metric.image_scores(pred, hr), **mod.spectral_fidelity(pred, hr)}
    return {k: r[k] for k in ("PSNR", "SSIM", *BANDS, "log_spectral_distance")}


def table(mod, name, pairs, preds):
    """Prints one condition's table; returns {method: mean scores}."""
    print(f"**{name}**\n\n| method | PSNR (dB) | SSIM | spectrum ratio 0-25% of Nyquist | 25-50% | upper "
          f"signal band | log-spectral distance (dB) |\n|---|---|---|---|---|---|---|")
    res = {}
    for method, p in preds.items():
        rows = [score(mod, a, hr) for a, (_, hr) in zip(p, pairs)]
        m = res[method] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        print(f"| {method} | {m['PSNR']:.2f} | {m['SSIM']:.4f} | "
              + " | ".join(f"{m[b]:.3f}" for b in BANDS) + f" | {m['log_spectral_distance']:.2f} |")
    print()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output-dir", default="outputs/md_diffusion")
    ap.add_argument("--items", type=int, default=6, help="held-out sections per synthetic condition")
    ap.add_argument("--draws", type=int, default=8, help="diffusion draws (eta 1) for the uncertainty table")
    ap.add_argument("--seed", type=int, default=11, help="degradation and new-section draws")
    ap.add_argument("--figures", default=None, help="folder for spectra.png and uncertainty.png")
    args, extra = ap.parse_known_args()
    mod = load_example("md_diffusion", "MDDiffusion")
    cfg = compose_config("md_diffusion", [f"output_dir={args.output_dir}", "mode=eval", *extra])
    mod.runtime.setup_run(cfg)
    items = mod.test_items(cfg, mod.prepare_data(cfg))[:args.items]
    hr_sections = [hr * scale for _, _, hr, scale in items]  # raw HR truth of the held-out files
    models = {k: mod.load_model(cfg, k) for k in ("supervised", "diffusion")}
    print(f"\n### MD Diffusion in and out of distribution ({len(items)} synthetic sections per condition; "
          f"diffusion: {cfg.DIFFUSION.sample_steps} DDIM steps, eta {cfg.DIFFUSION.eta}, "
          f"{cfg.SAMPLING.n_samples} sample(s) averaged)\n")
    results, shown = {}, {}
    for name, (degrade_kw, section_kw) in conditions(cfg.DATA.synthetic).items():
        pairs = synthetic_items(mod, cfg, hr_sections, degrade_kw, section_kw, args.seed)
        preds = predictions(mod, cfg, models, [x for x, _ in pairs])
        results[name] = table(mod, name, pairs, preds)
        if name.startswith("in-distribution"):
            shown["held-out synthetic sections"] = {"truth": [hr for _, hr in pairs], **preds}
    real = real_sections(mod, cfg)
    for grid in ("aligned", "centred"):
        if not real:
            print(f"(no real sections under {cfg.VIEW.field_dir} or {cfg.VIEW.marmousi}: real-data tables skipped)")
            break
        name = (f"real sections ({', '.join(real)}), 2x {grid} decimation, {REAL_NOISE:.0%} white noise, "
                f"outside training")
        pairs = real_items(mod, real, grid, args.seed)
        preds = predictions(mod, cfg, models, [x for x, _ in pairs])
        results[name] = table(mod, name, pairs, preds)
        if grid == "aligned":
            shown[f"real sections, {grid} decimation"] = {"truth": [hr for _, hr in pairs], **preds}

    ens_cfg = compose_config("md_diffusion", [f"output_dir={args.output_dir}", "mode=eval", *extra,
                                              f"SAMPLING.n_samples={args.draws}", "DIFFUSION.eta=1.0"])
    pairs = synthetic_items(mod, cfg, hr_sections, {}, None, args.seed)
    pipe = SRPipeline.from_config(models["diffusion"], "diffusion", ens_cfg)
    draws = pipe.predict_sections([x for x, _ in pairs], ensemble=True)[0]
    k = pipe.std_scale  # the spread's calibration, chosen on the validation split
    stats = [pipe.ensemble_stats(d) for d in draws]
    rows = [mod.metric.ensemble_scores(mean, std, hr) for (mean, std), (_, hr) in zip(stats, pairs)]
    m = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
    m["coverage_2std_unscaled"] = float(np.mean([mod.metric.ensemble_scores(mean, std / k, hr)["coverage_2std"]
                                                 for (mean, std), (_, hr) in zip(stats, pairs)]))
    m["std_scale"] = float(k)
    m["PSNR_of_mean"] = float(np.mean([mod.metric.psnr(mean, hr) for (mean, _), (_, hr) in zip(stats, pairs)]))
    results["uncertainty"] = m
    print(f"**uncertainty, in-distribution: {args.draws} draws, eta 1, spread x SAMPLING.std_scale = {k:g}**\n\n"
          f"| Spearman(std, abs error), per sample | over 8 x 8 tiles | coverage of mean +- 2 std | unscaled | "
          f"mean std | PSNR of the mean (dB) |\n|---|---|---|---|---|---|\n| {m['spearman_std_error']:.3f} | "
          f"{m['spearman_std_error_block']:.3f} | {m['coverage_2std']:.3f} | {m['coverage_2std_unscaled']:.3f} | "
          f"{m['mean_std']:.4f} | {m['PSNR_of_mean']:.2f} |")
    with open(os.path.join(args.output_dir, "robustness.json"), "w") as f:
        json.dump(results, f, indent=1)
    if args.figures:
        p = mod.plot.spectra_comparison(list(shown.items()), os.path.join(args.figures, "spectra.png"),
                                        dt=cfg.DATA.synthetic.dt)
        u = [(f"test {i}", x, mean, hr, std) for i, ((mean, std), (x, hr)) in enumerate(zip(stats, pairs))]
        q = mod.plot.uncertainty_panels(u[:2], os.path.join(args.figures, "uncertainty.png"))
        print(f"\nfigures: {p}, {q}")


if __name__ == "__main__":
    main()
