"""MD Diffusion against bicubic and the supervised UNet in and out of its training distribution, with the
scores that can show what diffusion adds: spectral fidelity and the ensemble's spread.

Needs `MDDiffusion.py mode=train` for both kinds in --output-dir. The same held-out sections (the HR truth of
the first --items test files) are degraded under each condition, and new sections are drawn where the
condition is about structure or band; every method scores the same inputs. Prints one table per condition
(PSNR, SSIM, the predicted / true amplitude spectrum along time in the first two quarters of the HR
Nyquist and in the truth's upper signal band - peak to -20 dB, where over-smoothing shows - and the
log-spectral distance) and, for the diffusion model's --draws stochastic draws (eta 1) on the
in-distribution condition, the Spearman correlation of the ensemble spread with the error and the share of
samples within mean +- 2 std.

Conditions (training settings from conf/md_diffusion.yaml, DATA.synthetic):
- in-distribution: the training degradation (noise 5-20% of RMS, white, sample-aligned decimation);
- noise 2x / 3x the training maximum;
- band-limited noise (the model trained on white) - or white when it trained on band-limited;
- cell-centred decimation (image libraries' convention) instead of the sample-aligned one;
- finer events (Ricker 50-80 Hz at 2 ms) and coarser events (8-15 Hz), new sections;
- steep dips and strong folding, and many faults, new sections.

    python bench/bench_md_robustness.py [--output-dir outputs/md_diffusion] [--items 6] [--draws 8] [overrides]
"""
import argparse

import numpy as np

from common import compose_config
from common import load_example

BANDS = ("spec_ratio_0_25", "spec_ratio_25_50", "spec_ratio_upper_signal")


def conditions(s):
    """name -> (degrade keyword arguments, synthetic_section keyword arguments or None for the test HR)."""
    top = float(max(s.noise_std))
    return {
        "in-distribution": ({}, None),
        f"noise 2x the training maximum ({2 * top:.0%} of RMS)": ({"noise_std": 2 * top}, None),
        f"noise 3x the training maximum ({3 * top:.0%} of RMS)": ({"noise_std": 3 * top}, None),
        ("band-limited noise (trained on white)" if not s.band_limited else "white noise (trained on band-limited)"):
            ({"band_limited": not s.band_limited}, None),
        "cell-centred decimation (trained on sample-aligned)": ({"grid": "centred"}, None),
        "finer events (Ricker 50-80 Hz)": ({}, {"freq_range": (50.0, 80.0)}),
        "coarser events (Ricker 8-15 Hz)": ({}, {"freq_range": (8.0, 15.0)}),
        "steep dips, strong folding": ({}, {"fold_amp": (40.0, 60.0), "n_folds_range": (3, 6)}),
        "many faults": ({}, {"n_faults_range": (4, 7), "throw_range": (10.0, 30.0)}),
    }


def degraded_items(mod, cfg, hr_sections, degrade_kw, section_kw, seed):
    """(normalised LR, normalised HR) pairs of one condition."""
    sec = mod.seismic_sections
    s = cfg.DATA.synthetic
    out = []
    for k, hr in enumerate(hr_sections):
        rng = np.random.default_rng([seed, k])
        if section_kw is not None:
            hr = sec.synthetic_section(rng, size=hr.shape[-1], n_traces=hr.shape[0], dt=s.dt, **section_kw)
        kw = {"noise_std": tuple(s.noise_std), "band_limited": s.band_limited, "dt": s.dt, **degrade_kw}
        lr = sec.degrade(hr, rng, **kw)
        x, scale = mod.seismic_sr.normalise(lr)
        out.append((x, (hr / scale).astype(np.float32)))
    return out


def score(mod, pred, hr):
    r = {**mod.metric.image_scores(pred, hr), **mod.spectral_fidelity(pred, hr)}
    return {k: r[k] for k in ("PSNR", "SSIM", *BANDS, "log_spectral_distance")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output-dir", default="outputs/md_diffusion")
    ap.add_argument("--items", type=int, default=6, help="held-out sections per condition")
    ap.add_argument("--draws", type=int, default=8, help="diffusion draws (eta 1) for the uncertainty table")
    ap.add_argument("--seed", type=int, default=11, help="degradation and new-section draws")
    args, extra = ap.parse_known_args()
    mod = load_example("md_diffusion", "MDDiffusion")
    cfg = compose_config("md_diffusion", [f"output_dir={args.output_dir}", "mode=eval", *extra])
    mod.runtime.setup_run(cfg)
    items = mod.test_items(cfg, mod.prepare_data(cfg))[:args.items]
    hr_sections = [hr * scale for _, _, hr, scale in items]  # raw HR truth of the held-out files
    models = {k: mod.load_model(cfg, k) for k in ("supervised", "diffusion")}
    print(f"\n### MD Diffusion in and out of distribution ({len(items)} sections per condition; "
          f"diffusion: {cfg.DIFFUSION.sample_steps} DDIM steps, eta {cfg.DIFFUSION.eta}, "
          f"{cfg.DIFFUSION.n_samples} sample(s) averaged)\n")
    for name, (degrade_kw, section_kw) in conditions(cfg.DATA.synthetic).items():
        pairs = degraded_items(mod, cfg, hr_sections, degrade_kw, section_kw, args.seed)
        lr = [x for x, _ in pairs]
        preds = {"bicubic": [mod.seismic_sr.upsample2(x, "bicubic", 2) for x in lr],
                 **{k: list(mod.predict(cfg, m, k, lr)) for k, m in models.items()}}
        print(f"**{name}**\n\n| method | PSNR (dB) | SSIM | spectrum ratio 0-25% of Nyquist | 25-50% | upper "
              f"signal band | log-spectral distance (dB) |\n|---|---|---|---|---|---|---|")
        for method, p in preds.items():
            rows = [score(mod, a, hr) for a, (_, hr) in zip(p, pairs)]
            m = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
            print(f"| {method} | {m['PSNR']:.2f} | {m['SSIM']:.4f} | "
                  + " | ".join(f"{m[b]:.3f}" for b in BANDS) + f" | {m['log_spectral_distance']:.2f} |")
        print()
    ens_cfg = compose_config("md_diffusion", [f"output_dir={args.output_dir}", "mode=eval", *extra,
                                              f"DIFFUSION.n_samples={args.draws}", "DIFFUSION.eta=1.0"])
    pairs = degraded_items(mod, cfg, hr_sections, {}, None, args.seed)
    draws = mod.predict(ens_cfg, models["diffusion"], "diffusion", [x for x, _ in pairs], ensemble=True)
    rows = [mod.metric.ensemble_scores(d.mean(0), d.std(0, ddof=1), hr) for d, (_, hr) in zip(draws, pairs)]
    m = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    mean_psnr = np.mean([mod.metric.psnr(d.mean(0), hr) for d, (_, hr) in zip(draws, pairs)])
    print(f"**uncertainty, in-distribution: {args.draws} draws, eta 1**\n\n| Spearman(std, abs error) | "
          f"coverage of mean +- 2 std | mean std | PSNR of the mean (dB) |\n|---|---|---|---|\n"
          f"| {m['spearman_std_error']:.3f} | {m['coverage_2std']:.3f} | {m['mean_std']:.4f} | {mean_psnr:.2f} |")


if __name__ == "__main__":
    main()
