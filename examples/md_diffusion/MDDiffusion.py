"""MD Diffusion: conditional diffusion for simultaneous seismic denoising and 2x super-resolution.

    python MDDiffusion.py mode=train                          # writes synthetic pairs if missing; resumes
    python MDDiffusion.py mode=train MODEL.kind=supervised    # the one-pass UNet baseline
    PADDLE_DISTRI_BACKEND=gloo python -m paddle.distributed.launch --nproc_per_node 2 MDDiffusion.py mode=train
    python MDDiffusion.py mode=sample                         # NNNN_pred.dat per test item
    python MDDiffusion.py mode=eval                           # PSNR/SSIM/SNR vs bicubic and the UNet
    python MDDiffusion.py mode=infer INFER.input=section_608x400.dat INFER.output=sr.npy
    python MDDiffusion.py mode=view                           # figures (synthetic, field + spectra)

Run from this folder or from the project root; every setting lives in conf/md_diffusion.yaml.
"""
from os import path as osp

import ppsci_ext  # noqa: F401  first: quiets paddle's ccache warning, imports ppsci before hydra.main
import ppsci  # (ppsci's config store must come first) and registers SeismicSRDataset
import hydra
import numpy as np
import paddle
from omegaconf import DictConfig
from omegaconf import OmegaConf
from ppsci.utils import logger

from ppsci_ext import metric
from ppsci_ext import outputs
from ppsci_ext import plot
from ppsci_ext import runtime
from ppsci_ext.arch import MDUNet
from ppsci_ext.atomic import write_json
from ppsci_ext.atomic import write_npy
from ppsci_ext.config_checks import require
from ppsci_ext.data.sr import degradations as dg
from ppsci_ext.data.sr.dataset import SeismicSRDataset
from ppsci_ext.data.sr.dataset import upsample2
from ppsci_ext.data.sr.field import field_panels
from ppsci_ext.data.sr.generator import prepare_pairs
from ppsci_ext.data.sr.reader import read_dat
from ppsci_ext.data.sr.reader import read_section
from ppsci_ext.data.sr.reader import write_dat
from ppsci_ext.data.sr.split import split_once
from ppsci_ext.diffusion import DiffusionScheduler
from ppsci_ext.diffusion import SRPipeline
from ppsci_ext.diffusion.pipeline import KINDS
from ppsci_ext.specs import MD_DIFFUSION
from ppsci_ext.spectra import spectral_fidelity
from ppsci_ext.train import SRTrainer
from ppsci_ext.train import loader_config
from ppsci_ext.train.sr import sr_loss


# the paths a run reads: outputs are never one of these files, nor inside their folders (ppsci_ext.outputs)
FILES = runtime.Files(inputs=("INFER.input", "VIEW.marmousi", "EVAL.pretrained_model_path",
                              "INFER.pretrained_model_path", "TRAIN.init_from"), data_folders=("DATA.root", "VIEW.field_dir"))
SPEC = MD_DIFFUSION  # its training command, checkpoint, the settings weights depend on, the weights inference loads


def check_settings(cfg):
    """This example's own checks of the config, before any data is built (ppsci_ext.config_checks has the rest)."""
    ndim(cfg)
    d, i = cfg.DATA, cfg.INFER
    for key, kind in [("MODEL.kind", cfg.MODEL.kind)] + [("EVAL.kinds", k) for k in cfg.EVAL.kinds]:
        require(kind in KINDS, f"{key}: expected {'a list from ' if key == 'EVAL.kinds' else 'one of '}{list(KINDS)}, "
                               f"found {kind!r}")
    require(list(d.hr_shape) == [2 * n for n in d.lr_shape], f"DATA.hr_shape {list(d.hr_shape)} must be twice "
                                                               f"DATA.lr_shape {list(d.lr_shape)} (2x super-resolution)")
    require(len(d.split) == 3 and min(d.split) >= 0 and abs(sum(d.split) - 1) < 1e-6,
            f"DATA.split: expected three fractions >= 0 summing to 1 (train, val, test), found {list(d.split)}")
    for key, size in (("DATA.patch", d.patch), ("INFER.patch", i.patch)):
        require(size is None or (size > 0 and size % 2 == 0), f"{key} must be an even number of samples, found {size}")
    require(2 * i.overlap < i.patch, f"INFER.overlap ({i.overlap}) must be less than half of INFER.patch ({i.patch})")
    if cfg.TRAIN.init_from and cfg.mode == "train":
        runtime.check_weights(cfg.TRAIN.init_from, runtime.network_config(cfg, SPEC.train_keys(cfg.MODEL.kind)),
                              nets=("model",))


def prepare_data(cfg):
    """The pairs under DATA.root and their by-file split, written once to the output folder. With DATA.generate,
    synthetic pairs are written first into a new, empty or generated folder; a folder of your own is only read."""
    d, s = cfg.DATA, cfg.DATA.synthetic
    ndim(cfg)
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in OmegaConf.to_container(s).items() if k != "seed"}
    pairs = prepare_pairs(d.root, d.generate, d.n_pairs, s.seed, d.lr_shape, d.hr_shape,
                                           logger.info, **kw)
    return split_once(osp.join(cfg.output_dir, "split.json"), [p[0] for p in pairs], tuple(d.split),
                                 d.split_seed, root=d.root)


def ndim(cfg):
    """2 (sections) or 3 (volumes): MODEL.spatial_dims, checked against the data shapes."""
    nd, d = cfg.MODEL.spatial_dims, cfg.DATA
    if nd not in (2, 3) or len(d.lr_shape) != nd or len(d.hr_shape) != nd:
        raise ValueError(f"MODEL.spatial_dims={nd}: DATA.lr_shape and DATA.hr_shape need {nd} sizes each "
                         f"(2: traces x samples, 3: inline x crossline x samples), found {list(d.lr_shape)} "
                         f"and {list(d.hr_shape)}")
    return nd


def dataset_args(cfg, stems, patch, augment):
    """SeismicSRDataset's arguments from DATA (shared by the training constraint and the scored items)."""
    d = cfg.DATA
    return {"root": d.root, "stems": list(stems), "lr_shape": list(d.lr_shape), "hr_shape": list(d.hr_shape),
            "patch": patch, "augment": augment, "interp": d.interp}


def build_model(cfg, kind=None):
    kind = kind or cfg.MODEL.kind
    if kind not in KINDS:
        raise ValueError(f"MODEL.kind: expected one of {list(KINDS)}, found {kind!r}")
    m = cfg.MODEL
    # the supervised baseline is the same backbone run once (x_noisy = 0, noise level 1)
    return MDUNet(("x_noisy", "cond", "noise_level"), ("out",), in_channels=1, cond_channels=1, out_channels=1,
                  base_channels=m.base_channels, channel_mults=tuple(m.channel_mults),
                  num_res_blocks=m.num_res_blocks, spatial_dims=m.spatial_dims, dropout=m.dropout, norm=m.norm)


def thread_probe(cfg):
    """One training step of the network at batch 2 on training patches (num_threads=auto measures it)."""
    model, p = build_model(cfg), int(cfg.DATA.patch or 64)
    opt = paddle.optimizer.Adam(parameters=model.parameters())
    grid = [2, 1] + [p] * int(cfg.MODEL.spatial_dims)
    x = {"x_noisy": paddle.randn(grid), "cond": paddle.randn(grid), "noise_level": paddle.rand([2])}

    def step():
        model(x)["out"].square().mean().backward()
        opt.step()
        opt.clear_grad()

    m = cfg.MODEL
    return f"MD UNet {m.base_channels} x {list(m.channel_mults)}, {m.spatial_dims}-D patch {p}, batch 2", step


@runtime.mode
def train(cfg: DictConfig):
    """Train MODEL.kind; with TRAIN.nprocs > 1 (CPU) in that many data-parallel processes of 1 thread each."""
    runtime.rank_zero_first(prepare_data, cfg)  # the pairs and the split written once, before any worker starts
    return runtime.data_parallel(_train, cfg, cfg.TRAIN.nprocs)


def _train(cfg):
    split = prepare_data(cfg)  # there by now: only read
    kind, t = cfg.MODEL.kind, cfg.TRAIN
    model = build_model(cfg)
    dataset_cfg = {"name": "SeismicSRDataset", **dataset_args(cfg, split["train"], cfg.DATA.patch, True),
                   "seed": cfg.seed, "input_keys": ["cond"], "label_keys": ["hr"],
                   "degrade": None if cfg.DATA.degrade is None else OmegaConf.to_container(cfg.DATA.degrade)}
    constraint = ppsci.constraint.SupervisedConstraint(loader_config(dataset_cfg, t.batch_size, True, t.num_workers),
                                                       sr_loss(kind, t.loss), name=f"md_{kind}")
    opt = paddle.optimizer.Adam(learning_rate=t.lr, parameters=model.parameters())
    scheduler = DiffusionScheduler.from_config(cfg.DIFFUSION) if kind == "diffusion" else None
    trainer = SRTrainer(model=model, kind=kind, scheduler=scheduler, constraint=constraint, optimizer=opt, train=t,
                        checkpoint=SPEC.checkpoint(cfg.output_dir, kind),
                        config=runtime.run_config(cfg, SPEC.train_keys(kind)), seed=cfg.seed, log=logger.info)
    return trainer.fit()


def load_model(cfg, kind, section="EVAL"):
    """The trained network of ``kind`` with the weights sampling uses (the average, when training kept one),
    from ``<section>.pretrained_model_path`` or the run's checkpoint (the example's SPEC)."""
    return runtime.load_network(SPEC, cfg, kind, lambda: build_model(cfg, kind), section)


def test_items(cfg, split):
    """(stem, normalised LR [h, w], normalised HR, scale) of the scored test items, whole sections."""
    if not split["test"]:
        raise ValueError(f"the split of the {sum(map(len, split.values()))} pairs in DATA.root={cfg.DATA.root} has no "
                         f"test items (DATA.split={list(cfg.DATA.split)}): give more pairs or a larger test fraction")
    ds = SeismicSRDataset(**dataset_args(cfg, split["test"], None, False))
    n = len(split["test"]) if cfg.EVAL.n_items is None else min(cfg.EVAL.n_items, len(split["test"]))
    return [(split["test"][i], *ds.lr_hr(i)) for i in range(n)]


@runtime.mode
def sample(cfg: DictConfig):
    """Per scored test item and trained kind: NNNN_pred.dat (several draws: their mean; NNNN_std.dat: spread)."""
    outputs.check_output_folder(cfg.EVAL.pred_dir, "EVAL.pred_dir", **runtime.path_checks(cfg, FILES))
    kinds = runtime.trained_kinds(SPEC, cfg, list(cfg.EVAL.kinds))  # first: wrong weights cost no data building
    items = test_items(cfg, prepare_data(cfg))
    for kind in kinds:
        pipe = pipeline(cfg, kind)
        pred, _ = pipe.predict_sections([it[1] for it in items], pipe.ensemble)  # several draws: mean and spread
        for (stem, _, _, scale), p in zip(items, pred):
            out = osp.join(cfg.EVAL.pred_dir, kind, stem)
            p, std = pipe.ensemble_stats(p) if pipe.ensemble else (p, None)
            write_dat(out + "_pred.dat", p * scale)
            if pipe.ensemble:
                write_dat(out + "_std.dat", std * scale)
        logger.info(f"{kind}: {len(items)} predictions in {osp.join(cfg.EVAL.pred_dir, kind)}")


@runtime.mode
def evaluate(cfg: DictConfig):
    """PSNR, SSIM, SNR per item and mean: saved predictions of each kind, and bicubic of the noisy input;
    figures/synthetic.png."""
    items = test_items(cfg, prepare_data(cfg))
    rows = {}
    for name in ("bicubic",) + KINDS:
        per_item = {}
        for stem, lr, hr, scale in items:
            if name == "bicubic":
                pred = upsample2(lr, "bicubic", ndim(cfg))
            else:
                path = osp.join(cfg.EVAL.pred_dir, name, f"{stem}_pred.dat")
                if not osp.isfile(path):
                    break
                pred = read_dat(path, hr.shape) / scale
            per_item[stem] = {**metric.image_scores(pred, hr), **spectral_fidelity(pred, hr)}
            std = osp.join(cfg.EVAL.pred_dir, name, f"{stem}_std.dat")
            if name == "diffusion" and osp.isfile(std):  # the ensemble's spread against the error
                spread = read_dat(std, hr.shape) / scale
                per_item[stem].update(metric.ensemble_scores(pred, spread, hr))
        if len(per_item) == len(items):
            rows[name] = {"items": per_item, **{k: float(np.mean([v[k] for v in per_item.values()]))
                                                 for k in next(iter(per_item.values()))}}
        elif name != "bicubic":
            logger.warning(f"{name}: no predictions for all {len(items)} test items in "
                           f"{osp.join(cfg.EVAL.pred_dir, name)}; not scored (mode=sample writes them)")
    if set(rows) == {"bicubic"}:
        raise FileNotFoundError(f"no predictions to score in EVAL.pred_dir={cfg.EVAL.pred_dir} (for any of {list(KINDS)}): "
                                f"run mode=sample first, with the same EVAL settings")
    write_json(osp.join(cfg.output_dir, "eval_metrics.json"), rows)
    synthetic_figure(cfg, items)
    for name, r in rows.items():
        logger.info(f"{name:10s} PSNR {r['PSNR']:.2f} dB  SSIM {r['SSIM']:.4f}  SNR {r['SNR']:.2f} dB")
    return rows


def synthetic_figure(cfg, items):
    """figures/synthetic.png: input | diffusion | truth for the scored items with a saved prediction."""
    paths = [osp.join(cfg.EVAL.pred_dir, "diffusion", f"{it[0]}_pred.dat") for it in items]
    rows = [(lr, read_dat(p, hr.shape) / scale, hr) for p, (_, lr, hr, scale) in zip(paths, items)
            if osp.isfile(p)]
    if rows:
        plot.sr_comparison(rows, osp.join(cfg.output_dir, "figures", "synthetic.png"))
    return rows


def pipeline(cfg, kind, section="EVAL"):
    """The run's inference pipeline of ``kind``: its trained network (weights from ``section``), the scheduler built
    once from DIFFUSION, the SAMPLING settings and ``seed``; infer and view share their tiles over INFER.nprocs CPU
    processes."""
    nprocs = runtime.inference_procs(cfg, "INFER.nprocs") if section == "INFER" else 1
    return SRPipeline.from_config(load_model(cfg, kind, section), kind, cfg, nprocs)


def super_resolve(cfg, pipe, lr, ensemble=False):
    """A whole low-resolution section [h, w] (or volume, any size, raw amplitudes) -> ([2h, 2w], consistency report
    or None), by INFER's blended tiles (with ``ensemble``, each diffusion draw: [n_samples, 2h, 2w]). Logs how well
    the output explains its input, and warns when it does not (SAMPLING.consistency_warning)."""
    if lr.ndim != ndim(cfg):
        raise ValueError(f"the input has shape {list(lr.shape)}, the model (MODEL.spatial_dims={cfg.MODEL.spatial_dims}) "
                         f"needs a {cfg.MODEL.spatial_dims}-D array")
    i = cfg.INFER
    out, report = pipe.super_resolve(lr, i.patch, i.overlap, i.batch_size, i.sample_steps, ensemble)
    if report is not None:
        said = (f"{pipe.kind}: the output degraded by '{report['operator']}' differs from the input by "
                f"{report['residual']:.2f} times the input's estimated noise level"
                + ("" if "coarse_gain_db" not in report else f"; from the input made 2x coarser, the network restores "
                   f"the input {report['coarse_gain_db']:+.2f} dB against bicubic interpolation"))
        if report["warn"]:
            logger.warning(f"{said}. Over SAMPLING.consistency_warning={cfg.SAMPLING.consistency_warning:g}, or below "
                           f"bicubic one scale up: the section is likely outside what the network learned, and "
                           f"bicubic interpolation may be better (if you know how the section was made coarser, name "
                           f"it: SAMPLING.degradation=<one of {list(dg.OPERATORS)}>). The output written has been "
                           f"moved to agree with the input within its noise level")
        else:
            logger.info(said)
    return out, report


def std_path(cfg):
    """Where infer writes the ensemble's spread: next to INFER.output, as <name>_std.npy."""
    return osp.splitext(cfg.INFER.output)[0] + "_std.npy"


@runtime.mode
def inference(cfg: DictConfig):
    runtime.required(cfg.INFER.input, "INFER.input", "<section .dat/.npy/.sgy>")
    kind = cfg.MODEL.kind
    ens = kind == "diffusion" and cfg.SAMPLING.n_samples > 1
    runtime.output_file(cfg, "INFER.output", FILES)
    if ens:  # the spread is written next to it
        outputs.check_output_file(std_path(cfg), "INFER.output (its _std.npy)", overwrite=bool(cfg.INFER.overwrite),
                                  **runtime.path_checks(cfg, FILES))
    pipe = pipeline(cfg, kind, "INFER")
    out, _ = super_resolve(cfg, pipe, read_section(cfg.INFER.input), ens)
    if ens:  # the draws' mean, and their (calibrated) standard deviation next to it
        out, std = pipe.ensemble_stats(out)
        write_npy(std_path(cfg), std)
    write_npy(cfg.INFER.output, out)
    logger.info(f"{cfg.INFER.input} -> {cfg.INFER.output} {list(out.shape)}")
    return out


def field_sections(cfg, pipe):
    """The field sections and the Marmousi section, each with its super-resolved version (plot.field_panels)."""
    v = cfg.VIEW
    return field_panels(v.field_dir, v.marmousi, v.marmousi_freq, v.dt, lambda a: super_resolve(cfg, pipe, a)[0])


@runtime.mode
def view(cfg: DictConfig):
    """Figures: synthetic items (as eval) and the field sections with spectra. Returns the field panels."""
    fig_dir = osp.join(cfg.output_dir, "figures")
    rows = synthetic_figure(cfg, test_items(cfg, prepare_data(cfg)))
    # the field sections are 2-D: a 3-D model (MODEL.spatial_dims=3) draws no field figure
    panels = field_sections(cfg, pipeline(cfg, "diffusion", "INFER")) if ndim(cfg) == 2 else []
    if panels:
        plot.field_panels(panels, osp.join(fig_dir, "field.png"), fmax=cfg.VIEW.fmax)
    logger.info(f"figures in {fig_dir}: {len(rows)} synthetic items, {len(panels)} field sections")
    return panels


def run(cfg: DictConfig):
    """The mode ``cfg.mode``, after the start checks (what ``main`` runs; tests call it with a composed config)."""
    return runtime.dispatch(cfg, {"train": train, "sample": sample, "eval": evaluate, "infer": inference,
                                  "view": view}, FILES, check_settings,
                            lambda c: SPEC.checkpoint(c.output_dir, c.MODEL.kind), thread_probe)


@hydra.main(version_base=None, config_path="../../conf", config_name="md_diffusion")
def main(cfg: DictConfig):
    return run(cfg)


if __name__ == "__main__":
    main()
