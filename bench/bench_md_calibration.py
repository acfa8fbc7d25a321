"""Calibrate the diffusion ensemble's spread on the validation split: the factor ``SAMPLING.std_scale`` by which
the draws' standard deviation is multiplied so that mean +- 2 std holds the truth at 95% of the samples.

Needs `MDDiffusion.py mode=train` (diffusion) in --output-dir. Reads validation sections only (the test split is
not looked at): draws --draws samples (eta 1) for each of the first --items, and prints the coverage and the
Spearman correlation of spread and error before scaling, the factor fitted on all of them, and, as a check that
the factor carries over to sections it was not fitted on, the coverage of each half scaled by the factor fitted
on the other half. Set the printed value as SAMPLING.std_scale.

    python bench/bench_md_calibration.py [--output-dir outputs/md_diffusion] [--items 6] [--draws 8] [overrides]
"""
import argparse

import numpy as np

from common import compose_config
from common import load_example
from ppsci_ext.data.sr.dataset import SeismicSRDataset
from ppsci_ext.diffusion import SRPipeline


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output-dir", default="outputs/md_diffusion")
    ap.add_argument("--items", type=int, default=6, help="validation sections")
    ap.add_argument("--draws", type=int, default=8, help="diffusion draws (eta 1) per section")
    args, extra = ap.parse_known_args()
    mod = load_example("md_diffusion", "MDDiffusion")
    cfg = compose_config("md_diffusion", [f"output_dir={args.output_dir}", "mode=eval", *extra,
                                          f"SAMPLING.n_samples={args.draws}", "DIFFUSION.eta=1.0"])
    mod.runtime.setup_run(cfg)
    split = mod.prepare_data(cfg)
    stems = split["val"][:args.items]
    ds = SeismicSRDataset(**mod.dataset_args(cfg, stems, None, False))
    items = [ds.lr_hr(i) for i in range(len(stems))]
    pipe = SRPipeline.from_config(mod.load_model(cfg, "diffusion"), "diffusion", cfg)
    draws = pipe.predict_sections([lr for lr, _, _ in items], ensemble=True)[0]
    means, stds = zip(*((d.mean(0), d.std(0, ddof=1)) for d in draws))  # the spread unscaled: what is fitted
    hrs = [hr for _, hr, _ in items]
    raw = [mod.metric.ensemble_scores(m, s, t) for m, s, t in zip(means, stds, hrs)]
    scale = mod.metric.spread_scale(list(means), list(stds), hrs)
    half = len(items) // 2
    a, b = slice(0, half), slice(half, None)
    cross = []
    for fit, test in ((a, b), (b, a)):
        s = mod.metric.spread_scale(list(means[fit]), list(stds[fit]), hrs[fit])
        cov = np.mean([mod.metric.ensemble_scores(m, s * sd, t)["coverage_2std"]
                       for m, sd, t in zip(means[test], stds[test], hrs[test])])
        cross.append((s, cov))
    mean = lambda k: float(np.mean([r[k] for r in raw]))  # noqa: E731
    print(f"\n### diffusion ensemble spread on {len(items)} validation sections ({args.draws} draws, eta 1, "
          f"{cfg.DIFFUSION.sample_steps} DDIM steps)\n")
    print("| coverage of mean +- 2 std, unscaled | Spearman per sample | over 8 x 8 tiles | factor (all) | "
          "factor fitted on half 1 -> coverage of half 2 | half 2 -> half 1 |\n|---|---|---|---|---|---|")
    print(f"| {mean('coverage_2std'):.3f} | {mean('spearman_std_error'):.3f} | {mean('spearman_std_error_block'):.3f} "
          f"| {scale:.3f} | {cross[0][0]:.3f} -> {cross[0][1]:.3f} | {cross[1][0]:.3f} -> {cross[1][1]:.3f} |")
    print(f"\nset SAMPLING.std_scale: {scale:.2f}")


if __name__ == "__main__":
    main()
