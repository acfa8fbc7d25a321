"""GDRNN on rocks it was not drawn from: sections built from real well logs and by layering rules the training
family does not use, against gradient descent, damped least squares and the background on the same traces.

Sections (120 traces, 2 ms) from bench/well_logs (four Johan Sverdrup wells, NLOD 2.0). The training family
(conf gdrnn_family) draws rocks from 16/2-6 and 16/2-16; these sections use the other two wells only:
- ``w53``: well 16/5-3 moved along dipping, undulating horizons that thicken 20% across the section;
- ``w53_blocked``: the same, logs blocked to 8 ms;
- ``w53_gas``: the same, its oil sand (the sandstone of highest resistivity) holding gas instead (Gassmann,
  porosity from density) in traces 40-79;
- ``w11_w53``: 16/2-11 A (upper interval, TVD) and 16/5-3 interpolated between their positions, aligned by depth;
- ``facies_<seed>``: beds drawn by a Markov chain of facies (sand, shale, limestone, marl), each bed's rock taken
  from one well's samples of its facies (seed 1: 16/2-11 A, seed 2: 16/5-3), sands graded, beds pinching;
- ``w11``, ``w11_gas``: 16/2-11 A alone (upper interval; deeper interval with its oil sand as gas).
Each with two wavelets the family does not use (an Ormsby 5-10-50-65 Hz, a Berlage of 25 Hz) and their own angle
ranges, noise-free and at 15 dB. The background is the project's (6 Hz Butterworth of the truth). Scored away
from the wells: R2 and PCC per property and the relative data misfit, for GDRNN zero-shot (guard on and off), GD
and Adam at the network's iterations and at EVAL.n_iter_long, damped least squares and the background; seconds
per section (one run each, this machine). With --finetune-epochs, a second GDRNN row: the family model fine-tuned
on the 15 dB case's own wells and section (``TRAIN.init_from``), as a user would on their wells.

    python bench/bench_gdrnn_logs.py [--part test|val] [--weights pretrained/gdrnn_family] [--out DIR]
                                     [--finetune-epochs 5] [--report JSON] [overrides ...]

``--part val`` (16/2-11 A's sections) is kept for choosing settings and never in the reported figures; ``test``
holds the others (``w11_w53`` shares 16/2-11 A's upper interval with ``w11``).
"""
import argparse
import json
import os
import time
import warnings

import numpy as np

from common import ROOT
from common import compose_config
from common import load_example
from ppsci_ext.data.ava import log_sections as ls
from ppsci_ext.data.ava import well_logs
from ppsci_ext.data.ava.generator import build_ava_files

LOGS = os.path.join(ROOT, "bench", "well_logs")
DT, N_TRACES = 0.002, 120
PROPS = ("vp", "vs", "rho")
ORDER = ("gdrnn", "gdrnn_unguarded", "gdrnn_finetuned", "gd", "gd_long", "adam", "adam_long", "dls", "background")
WAVELETS = {  # name -> (angle groups [first, last, step] degrees, wavelet builder)
    "ormsby": ([[0, 10, 2], [12, 22, 2], [24, 34, 2]], lambda b: b.filters.ormsby(0.128, DT, [5, 10, 50, 65],
                                                                                   return_t=False)),
    "berlage": ([[4, 12, 1], [16, 26, 1], [30, 40, 1]], lambda b: b.filters.berlage(0.128, DT, 25, return_t=False)),
}
NOISE = (None, 15.0)  # snr dB
PARTS = {"val": ("w11", "w11_gas", "facies_1"), "test": ("w53", "w53_blocked", "w53_gas", "w11_w53", "facies_2")}
FACIES = {30000: "sand", 65000: "shale", 65030: "shale", 70000: "limestone", 80000: "marl"}


def wells():
    keep = ("FORCE_2020_LITHOFACIES_LITHOLOGY", "RDEP")
    return {"w53": ls.time_log(os.path.join(LOGS, "16_5-3.las"), DT, depth_curve="Z_LOC", keep=keep),
            "w11": ls.time_log(os.path.join(LOGS, "16_2-11_A.las"), DT, depth_curve="Z_LOC", keep=keep),
            "w11_deep": ls.time_log(os.path.join(LOGS, "16_2-11_A.las"), DT, depth_curve="Z_LOC", max_gap=60,
                                    top=2100.0, keep=keep)}


def clouds(logs):
    out = {}
    for log in logs:
        code = log["force_2020_lithofacies_lithology"]
        for c, name in FACIES.items():
            rows = np.stack([log[p] for p in PROPS], 1)[code == c]
            out.setdefault(name, []).append(rows)
    return {k: np.concatenate(v) for k, v in out.items()}


TRANSITIONS = {"sand": {"shale": 0.6, "marl": 0.2, "sand": 0.2}, "shale": {"sand": 0.5, "marl": 0.3, "limestone": 0.2},
               "marl": {"limestone": 0.4, "shale": 0.4, "sand": 0.2}, "limestone": {"marl": 0.6, "shale": 0.4}}
THICKNESS = {"sand": 8.0, "shale": 10.0, "marl": 6.0, "limestone": 5.0}  # mean bed thickness, samples


def sections(part):
    """name -> (vp, vs, rho [L, N], well trace positions)."""
    w = wells()
    out = {}
    common = dict(dip=12.0, undulation=3.0, wavelength=70.0, stretch=0.2)
    lens = (np.arange(N_TRACES) >= 40) & (np.arange(N_TRACES) < 80)
    for name in PARTS[part]:
        if name in ("w53", "w53_blocked", "w11"):
            log = well_logs.blocked(w[name[:3]], 4) if name.endswith("blocked") else w[name[:3]]
            out[name] = (*ls.section_between_wells([log], [60], N_TRACES, seed=3, **common), [60])
        elif name in ("w53_gas", "w11_gas"):  # the oil sand holding gas in traces 40-79
            log = w["w53"] if name == "w53_gas" else w["w11_deep"]
            oil = ls.section_between_wells([log], [20], N_TRACES, seed=5, **common)
            gas = ls.section_between_wells([gas_sand(log)], [20], N_TRACES, seed=5, **common)
            out[name] = (*(np.where(lens[None], g, o) for g, o in zip(gas, oil)), [20])
        elif name == "w11_w53":
            a, b = w["w11"], w["w53"]
            # aligned by depth below sea level: 16/2-11 A's first sample sits where 16/5-3 reaches its depth
            off = [float(np.interp(a["z_top"], b["z"], np.arange(len(b["z"])))), 0.0]
            out[name] = (*ls.section_between_wells([a, b], [25, 95], N_TRACES, offsets=off, seed=4, **common),
                         [25, 95])
        elif name.startswith("facies_"):
            seed = int(name.split("_")[1])
            rocks = clouds([w["w11"], w["w11_deep"]] if seed == 1 else [w["w53"]])
            out[name] = (*ls.facies_section(rocks, TRANSITIONS, 160, N_TRACES, THICKNESS, seed=seed), [60])
    return out


def gas_sand(log):
    """The log with its oil sand (the sandstone run of highest median resistivity) holding gas."""
    code = log["force_2020_lithofacies_lithology"]
    sand = np.flatnonzero(code == 30000)
    runs = [r for r in np.split(sand, np.flatnonzero(np.diff(sand) > 1) + 1) if len(r) >= 3]
    run = max(runs, key=lambda r: np.median(log["rdep"][r]))
    gas, changed = ls.gas_case(log, (int(run[0]), int(run[-1]) + 1))
    print(f"gas case: {log['name']} samples {run[0]}..{run[-1]} (RDEP median {np.median(log['rdep'][run]):.0f} "
          f"ohm.m; {changed} substituted)")
    return gas


def finetune(mod, cfg, folder, out, paths, stacks, m_back, truth, far, epochs):
    """GDRNN fine-tuned from the eval weights on the case's own wells and section (TRAIN.init_from), then scored
    with the same inference settings (guard, trust region)."""
    weights = cfg.EVAL.pretrained_model_path
    ft = compose_config("gdrnn", ["mode=train", f"output_dir={out}", f"DATA.out_dir={folder}", "num_threads=1",
                                  f"TRAIN.init_from={os.path.join(weights, 'gdrnn.pdparams')}", f"TRAIN.epochs={epochs}",
                                  "TRAIN.schedule.start_steps=6", "TRAIN.schedule.grow_epochs=1"])
    ft.MODEL.guard, ft.MODEL.trust_region = cfg.MODEL.guard, cfg.MODEL.trust_region
    t0 = time.time()
    mod.train(ft)
    seconds = time.time() - t0
    ft.mode = "eval"
    op = mod.build_forward_op(ft, paths["section"])
    m = mod.invert(mod.load_model(ft, "gdrnn", op), stacks, m_back, ft.EVAL.batch_size)[0]
    return mod.scores({"gdrnn_finetuned": m}, truth, stacks, op, far)["gdrnn_finetuned"], seconds


def run_case(mod, cfg, folder, section, wavelet, snr, finetune_epochs=0):
    import bruges
    import paddle

    vp, vs, rho, well_pos = section
    theta, make = WAVELETS[wavelet]
    groups = [list(np.arange(a, b + s / 2, s, dtype=float)) for a, b, s in theta]
    paths = build_ava_files(vp, vs, rho, folder, well_traces=well_pos, n_aug=16, dt=DT, cutoff_hz=6.0,
                            theta_groups=groups, snr_db=snr, seed=5, fmt="npz", wavelet=make(bruges),
                            method="zoeppritz", settings={"bench": "gdrnn_logs"})
    stacks, m_back, _ = mod.AVADataset(paths["section"], label_keys=()).arrays()
    truth = np.stack([vp.T, vs.T, rho.T], 1)
    far = np.abs(np.arange(len(truth))[:, None] - np.asarray(well_pos)[None]).min(1) > cfg.EVAL.well_margin
    t0 = time.time()
    results, _, guard = mod.run_methods(cfg, paths, stacks, m_back, ["gdrnn"])
    seconds = {"all methods": time.time() - t0}
    op = mod.build_forward_op(cfg, paths["section"])
    cfg.MODEL.guard = False
    model = mod.load_model(cfg, "gdrnn", op)
    cfg.MODEL.guard = True
    t0 = time.time()
    results["gdrnn_unguarded"] = mod.invert(model, stacks, m_back, cfg.EVAL.batch_size)[0]
    seconds["gdrnn_unguarded"] = time.time() - t0
    t0 = time.time()
    mod.invert(mod.load_model(cfg, "gdrnn", op), stacks, m_back, cfg.EVAL.batch_size)
    seconds["gdrnn"] = time.time() - t0
    d, m0 = paddle.to_tensor(stacks), paddle.to_tensor(m_back)
    for name, n in (("gd", cfg.MODEL.n_steps), ("gd_long", cfg.EVAL.n_iter_long)):
        t0 = time.time()
        mod.ava_inversion.gradient_descent(op, m0, d, n, cfg.MODEL.scale, step0=cfg.EVAL.gd_step0)
        seconds[name] = time.time() - t0
    table = mod.scores(dict(results, background=m_back), truth, stacks, op, far)
    if finetune_epochs:
        table["gdrnn_finetuned"], seconds["finetune"] = finetune(
            mod, cfg, folder, folder + "_finetuned", paths, stacks, m_back, truth, far,
            finetune_epochs)
    return {"methods": table, "guard": guard.get("gdrnn"), "seconds": seconds, "shape": list(stacks.shape)}


def print_tables(rows):
    print("\n| section | wavelet | SNR | method | vp R2 | vs R2 | rho R2 | vp PCC | vs PCC | rho PCC | misfit |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        for m in (m for m in ORDER if m in r["methods"]):
            s = r["methods"][m]
            print(f"| {r['section']} | {r['wavelet']} | {r['snr']} | {m} | "
                  + " | ".join(f"{s[p + '_R2']:.3f}" for p in PROPS) + " | "
                  + " | ".join(f"{s[p + '_PCC']:.3f}" for p in PROPS) + f" | {s['data_misfit']:.4f} |")
    print("\n**Per section** (median over its wavelets and noise levels; R2 vp / vs / rho)\n")
    shown = [m for m in ("gdrnn", "gdrnn_finetuned", "gd", "gd_long", "dls", "background")
             if any(m in r["methods"] for r in rows)]
    print("| section | " + " | ".join(shown) + " |\n|---|" + "---|" * len(shown))
    for name in dict.fromkeys(r["section"] for r in rows):
        cells = []
        for m in shown:
            have = [r["methods"][m] for r in rows if r["section"] == name and m in r["methods"]]
            cells.append(" / ".join(f"{np.median([h[p + '_R2'] for h in have]):.3f}" for p in PROPS))
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\n**Summary over the cases** (per property: cases where GDRNN's R2 >= that of the method; median R2)\n")
    print("| method | median R2 vp / vs / rho | GDRNN >= it (vp / vs / rho, of n) | median misfit |\n|---|---|---|---|")
    n = len(rows)
    for m in ORDER:
        have = [r for r in rows if m in r["methods"]]
        if not have:
            continue
        med = [np.median([r["methods"][m][p + "_R2"] for r in have]) for p in PROPS]
        wins = [sum(r["methods"]["gdrnn"][p + "_R2"] >= r["methods"][m][p + "_R2"] for r in have) for p in PROPS]
        mis = np.median([r["methods"][m]["data_misfit"] for r in have])
        print(f"| {m} | " + " / ".join(f"{x:.3f}" for x in med) + " | " + " / ".join(str(w) for w in wins)
              + f" (of {len(have)}) | {mis:.4f} |")
    below = [sum(r["methods"]["gdrnn"][p + "_R2"] < r["methods"]["background"][p + "_R2"] for r in rows)
             for p in PROPS]
    print(f"\nGDRNN below the background in R2: vp {below[0]}, vs {below[1]}, rho {below[2]} of {n} cases")
    fell = [r["guard"] for r in rows if r.get("guard") and "steps" in r["guard"]]
    if fell:
        steps = sum(g["steps_fell_back"] for g in fell)
        total = sum(g["steps"] for g in fell)
        print(f"guard: {steps} of {total} unrolled trace-steps fell back to gradient descent")
    bounded = [r["guard"]["trust_bounded"] for r in rows if r.get("guard") and "trust_bounded" in r["guard"]]
    if bounded:
        traces = sum(r["shape"][0] for r in rows)
        print("trust region: changes bounded in " + ", ".join(f"{p} {sum(b[p] for b in bounded)}" for p in PROPS)
              + f" of {traces} traces")
    secs = {k: np.median([r["seconds"][k] for r in rows if k in r["seconds"]])
            for k in ("gdrnn", "gdrnn_unguarded", "gd", "gd_long", "finetune") if any(k in r["seconds"] for r in rows)}
    print("\nseconds per section (median over the cases, " + f"{rows[0]['shape'][0]} traces x {rows[0]['shape'][2]}"
          " samples or so): " + ", ".join(f"{k} {v:.1f}" for k, v in secs.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=sorted(PARTS), default="test")
    ap.add_argument("--weights", default="pretrained/gdrnn_family")
    ap.add_argument("--out", default="outputs/bench_gdrnn_logs")
    ap.add_argument("--report", default=None, help="a JSON this bench wrote: print its tables and stop")
    ap.add_argument("--finetune-epochs", type=int, default=0,
                    help="> 0: also GDRNN fine-tuned this many epochs on each 15 dB case's own wells (TRAIN.init_from)")
    args, extra = ap.parse_known_args()
    if args.report:
        print_tables(json.load(open(args.report)))
        return
    warnings.filterwarnings("ignore", message="pkg_resources")
    mod = load_example("gdrnn", "GDRNN")
    out = os.path.join(ROOT, args.out, args.part)
    cfg = compose_config("gdrnn_family", ["mode=eval", f"output_dir={out}",
                                          f"EVAL.pretrained_model_path={os.path.join(ROOT, args.weights)}", *extra])
    mod.runtime.setup_run(cfg)
    rows = []
    for name, section in sections(args.part).items():
        for wavelet in WAVELETS:
            for snr in NOISE:
                case = f"{name}_{wavelet}_{'clean' if snr is None else f'{snr:g}dB'}"
                r = run_case(mod, cfg, os.path.join(out, "data", case), section, wavelet, snr,
                             args.finetune_epochs if snr is not None else 0)
                r.update(section=name, wavelet=wavelet, snr="none" if snr is None else f"{snr:g} dB")
                rows.append(r)
                g = r["methods"]["gdrnn"]
                print(f"{case}: {section[0].shape[0]} x {section[0].shape[1]}, GDRNN R2 "
                      + " ".join(f"{g[p + '_R2']:.3f}" for p in PROPS) + ", GD(6) R2 "
                      + " ".join(f"{r['methods']['gd'][p + '_R2']:.3f}" for p in PROPS), flush=True)
    with open(os.path.join(out, f"gdrnn_logs_{args.part}.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print_tables(rows)


if __name__ == "__main__":
    main()
