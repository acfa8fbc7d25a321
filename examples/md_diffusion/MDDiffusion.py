"""MD Diffusion: conditional diffusion for simultaneous seismic denoising and 2x super-resolution.

    python examples/md_diffusion/MDDiffusion.py mode=train                          # writes synthetic pairs if missing; resumes
    python examples/md_diffusion/MDDiffusion.py mode=train MODEL.kind=supervised    # the one-pass UNet baseline
    python examples/md_diffusion/MDDiffusion.py mode=sample                         # NNNN_pred.dat per test item
    python examples/md_diffusion/MDDiffusion.py mode=eval                           # PSNR/SSIM/SNR vs bicubic and the UNet

    python examples/md_diffusion/MDDiffusion.py mode=infer INFER.input=section_608x400.dat INFER.output=sr.npy
    python examples/md_diffusion/MDDiffusion.py mode=view                           # figures (synthetic, field + spectra)

Every setting lives in conf/md_diffusion.yaml.
"""
import json
import os
from os import path as osp

import ppsci  # must come before hydra.main (see DEVELOPERS.md)
import hydra
import numpy as np
import paddle
from omegaconf import DictConfig
from ppsci.utils import logger

import ppsci_ext  # noqa: F401  (registers SeismicSRDataset with ppsci)
from ppsci_ext import metric
from ppsci_ext import plot
from ppsci_ext import tiling
from ppsci_ext.arch import MDUNet
from ppsci_ext.checkpoint import load_checkpoint
from ppsci_ext.checkpoint import load_optimizer_state
from ppsci_ext.checkpoint import optimizer_state
from ppsci_ext.checkpoint import save_atomic
from ppsci_ext.data import seismic_sections
from ppsci_ext.data import seismic_sr
from ppsci_ext.diffusion import DiffusionScheduler
from ppsci_ext.diffusion.scheduler import lowpass_consistency
from ppsci_ext.runtime import setup_run

KINDS = ("diffusion", "supervised")


# ------------------------------------------------------------------ data
def prepare_data(cfg):
    """Synthetic pairs (if asked and missing) and the by-file split, written once to the output folder."""
    d = cfg.DATA
    nd = ndim(cfg)
    if d.generate:
        if len(set(d.hr_shape)) != 1:
            raise ValueError(f"DATA.hr_shape: the synthetic generator writes square sections / cubic volumes, "
                             f"found {list(d.hr_shape)} (set DATA.generate=false to use your own pairs)")
        s = d.synthetic
        seismic_sections.generate_pairs(d.root, d.n_pairs, s.seed, size=d.hr_shape[0], ndim=nd,
                                        freq_range=tuple(s.freq_range), dt=s.dt, noise_std=tuple(s.noise_std),
                                        band_limited=s.band_limited)
    pairs = seismic_sr.pair_files(d.root, lr_shape=tuple(d.lr_shape), hr_shape=tuple(d.hr_shape))
    split_path = osp.join(cfg.output_dir, "split.json")
    if osp.isfile(split_path):
        return seismic_sr.read_split(split_path)
    split = seismic_sr.split_files([p[0] for p in pairs], tuple(d.split), d.split_seed)
    os.makedirs(cfg.output_dir, exist_ok=True)
    seismic_sr.write_split(split_path, split)
    return split


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


def dataset(cfg, stems, patch, augment):
    return seismic_sr.SeismicSRDataset(**dataset_args(cfg, stems, patch, augment))


# ---------------------------------------------------------------- builders
def build_model(cfg, kind=None):
    kind = kind or cfg.MODEL.kind
    if kind not in KINDS:
        raise ValueError(f"MODEL.kind: expected one of {list(KINDS)}, found {kind!r}")
    m = cfg.MODEL
    # the supervised baseline is the same backbone run once (x_noisy = 0, noise level 1)
    return MDUNet(("x_noisy", "cond", "noise_level"), ("eps",), in_channels=1, cond_channels=1, out_channels=1, base_channels=m.base_channels,
                  channel_mults=tuple(m.channel_mults), num_res_blocks=m.num_res_blocks,
                  spatial_dims=m.spatial_dims, dropout=m.dropout, norm=m.norm)


def build_scheduler(cfg):
    d = cfg.DIFFUSION
    return DiffusionScheduler(d.n_train_steps, d.beta_start, d.beta_end)


def checkpoint_path(cfg, kind):
    return osp.join(cfg.output_dir, kind, "checkpoint.pdparams")


def noise_fn(cfg, model):
    """(x_t, gamma, cond) -> predicted noise: the network's output through DIFFUSION.parametrisation."""
    param = cfg.DIFFUSION.parametrisation

    def fn(x_t, gamma, cond):
        out = model({"x_noisy": x_t, "cond": cond, "noise_level": gamma})["eps"]
        return DiffusionScheduler.predicted_noise(out, x_t, gamma, param)
    return fn


# ------------------------------------------------------------------ train
def sr_loss(cfg, kind):
    """``FunctionalLoss`` on {"pred"} vs {"target"}: the predicted vs the drawn noise (diffusion, L1 or L2
    by DIFFUSION.loss), or the one-pass section vs the high-resolution truth (supervised, L1)."""
    name = cfg.DIFFUSION.loss if kind == "diffusion" else "l1"
    if name not in ("l1", "l2"):
        raise ValueError(f"DIFFUSION.loss: expected 'l1' or 'l2', found {name!r}")

    def expr(output_dict, label_dict, weight_dict=None):
        diff = output_dict["pred"] - label_dict["target"]
        return {name: diff.abs().mean() if name == "l1" else diff.square().mean()}

    return ppsci.loss.FunctionalLoss(expr)


def batch_loss(cfg, model, scheduler, cond, hr, kind, loss):
    """Diffusion: noise drawn at a continuous noise level, the network's predicted noise scored against it
    (a network output is converted to the predicted noise by DIFFUSION.parametrisation: eps or v);
    supervised: one pass of the same backbone (noise input 0 at noise level 1) scored against the section."""
    if kind == "supervised":
        pred = model({"x_noisy": paddle.zeros_like(hr), "cond": cond,
                      "noise_level": paddle.ones([hr.shape[0]])})["eps"]
        target = hr
    else:
        gamma = scheduler.sample_noise_level(hr.shape[0])
        target = paddle.randn(hr.shape, dtype=hr.dtype)
        pred = noise_fn(cfg, model)(scheduler.add_noise(hr, target, gamma), gamma, cond)
    return sum(loss({"pred": pred}, {"target": target}).values())


def train_constraint(cfg, stems, kind):
    """The training patches as a ppsci ``SupervisedConstraint`` (SeismicSRDataset built by name)."""
    t = cfg.TRAIN
    dataset_cfg = {"name": "SeismicSRDataset", **dataset_args(cfg, stems, cfg.DATA.patch, True),
                   "seed": cfg.seed, "input_keys": ["cond"], "label_keys": ["hr"]}
    loader = {"dataset": dataset_cfg, "batch_size": t.batch_size, "num_workers": t.num_workers,
              "sampler": {"name": "BatchSampler", "shuffle": True, "drop_last": True}}
    return ppsci.constraint.SupervisedConstraint(loader, sr_loss(cfg, kind), name=f"md_{kind}")


class WeightEMA:
    """Exponential moving average of the weights (sampled from, as DDPM / SR3 do).

    decay_k = min(decay, (1 + k) / (10 + k)) at step k, so the average forgets the
    random initialisation quickly. ``state()`` / ``from_state`` go through the checkpoint.
    """

    def __init__(self, model, decay, state=None):
        self.decay = float(decay)
        params = dict(model.named_parameters())
        self.params = params
        if state is None:  # starts at the current weights (also when resuming a run saved without EMA)
            state = {k: v.detach().clone() for k, v in params.items()}
        self.avg = {k: (state[k].detach().clone() if isinstance(state[k], paddle.Tensor) else paddle.to_tensor(state[k]))
                    for k in params}

    def update(self, step):
        d = min(self.decay, (1.0 + step) / (10.0 + step))
        with paddle.no_grad():
            for k, p in self.params.items():
                self.avg[k].set_value(d * self.avg[k] + (1.0 - d) * p.detach())

    def state(self):
        return self.avg


def train(cfg: DictConfig):
    setup_run(cfg)
    split = prepare_data(cfg)
    kind, t = cfg.MODEL.kind, cfg.TRAIN
    model, scheduler = build_model(cfg), build_scheduler(cfg)
    opt = paddle.optimizer.Adam(learning_rate=t.lr, parameters=model.parameters())
    ckpt = checkpoint_path(cfg, kind)
    state = load_checkpoint(ckpt, required=("model", "optimizer", "step", "history"))
    step, history = 0, []
    if state is not None:
        model.set_state_dict(state["model"])
        load_optimizer_state(opt, model.parameters(), state["optimizer"])
        step, history = int(state["step"]), list(state["history"])
        logger.info(f"resumed from {ckpt} at step {step}")
    ema = WeightEMA(model, t.ema_decay, (state or {}).get("ema")) if t.ema_decay else None
    constraint = train_constraint(cfg, split["train"], kind)
    model.train()
    while step < t.iters:
        paddle.seed(cfg.seed + step)  # noise draws reproducible after a resume
        for inputs, labels, _ in constraint.data_loader:
            loss = batch_loss(cfg, model, scheduler, inputs["cond"], labels["hr"], kind, constraint.loss)
            opt.clear_grad()
            loss.backward()
            opt.step()
            step += 1
            if ema is not None:
                ema.update(step)
            history.append({"step": step, "loss": float(loss)})
            if step % t.save_every == 0 or step == t.iters:
                extra = {} if ema is None else {"ema": ema.state()}
                save_atomic({"model": model.state_dict(), "optimizer": optimizer_state(opt, model.parameters()),
                             "step": step, "history": history, **extra}, ckpt)
                logger.info(f"step {step}/{t.iters} loss {np.mean([h['loss'] for h in history[-t.save_every:]]):.4f}")
            if step >= t.iters:
                break
    return history


# --------------------------------------------------------- sample / eval
def load_model(cfg, kind):
    state = load_checkpoint(checkpoint_path(cfg, kind), required=("model",))
    if state is None:
        return None
    model = build_model(cfg, kind)
    # the weight average when training kept one (TRAIN.ema_decay), else the last weights
    model.set_state_dict(state["ema"] if "ema" in state else state["model"])
    model.eval()
    return model


def test_items(cfg, split):
    """(stem, normalised LR [h, w], normalised HR, scale) of the scored test items, whole sections."""
    ds = dataset(cfg, split["test"], None, False)
    n = len(split["test"]) if cfg.EVAL.n_items is None else min(cfg.EVAL.n_items, len(split["test"]))
    return [(split["test"][i], *ds.lr_hr(i)) for i in range(n)]


def predict(cfg, model, kind, lr):
    """Normalised LR sections [N, h, w] -> normalised HR predictions [N, 2h, 2w] (bilinear condition)."""
    return predict_tiles(cfg, model, kind, np.stack([seismic_sr.upsample2(x, "bilinear", ndim(cfg)) for x in lr]))


def sample(cfg: DictConfig):
    """NNNN_pred.dat (de-normalised, HR grid) for each scored test item and each trained kind."""
    setup_run(cfg)
    items = test_items(cfg, prepare_data(cfg))
    for kind in cfg.EVAL.kinds:
        if kind not in KINDS:
            raise ValueError(f"EVAL.kinds: expected a list from {list(KINDS)}, found {kind!r}")
        model = load_model(cfg, kind)
        if model is None:
            continue
        pred = predict(cfg, model, kind, [it[1] for it in items])
        for (stem, _, _, scale), p in zip(items, pred):
            seismic_sr.write_dat(osp.join(cfg.EVAL.pred_dir, kind, f"{stem}_pred.dat"), p * scale)
        logger.info(f"{kind}: {len(items)} predictions in {osp.join(cfg.EVAL.pred_dir, kind)}")


def evaluate(cfg: DictConfig):
    """PSNR, SSIM, SNR per item and mean: saved predictions of each kind, and bicubic of the noisy input."""
    setup_run(cfg)
    items = test_items(cfg, prepare_data(cfg))
    rows = {}
    for name in ("bicubic",) + KINDS:
        per_item = {}
        for stem, lr, hr, scale in items:
            if name == "bicubic":
                pred = seismic_sr.upsample2(lr, "bicubic", ndim(cfg))
            else:
                path = osp.join(cfg.EVAL.pred_dir, name, f"{stem}_pred.dat")
                if not osp.isfile(path):
                    break
                pred = seismic_sr.read_dat(path, hr.shape) / scale
            per_item[stem] = metric.image_scores(pred, hr)
        if len(per_item) == len(items):
            rows[name] = {"items": per_item, **{k: float(np.mean([v[k] for v in per_item.values()]))
                                                 for k in ("PSNR", "SSIM", "SNR")}}
    with open(osp.join(cfg.output_dir, "eval_metrics.json"), "w") as f:
        json.dump(rows, f, indent=1)
    for name, r in rows.items():
        logger.info(f"{name:10s} PSNR {r['PSNR']:.2f} dB  SSIM {r['SSIM']:.4f}  SNR {r['SNR']:.2f} dB")
    return rows


# ------------------------------------------------------------------ infer
def super_resolve(cfg, model, kind, lr):
    """A whole low-resolution section [h, w] (or volume, any size, raw amplitudes) -> [2h, 2w], by blended tiles."""
    if lr.ndim != ndim(cfg):
        raise ValueError(f"the input has shape {list(lr.shape)}, the model (MODEL.spatial_dims={cfg.MODEL.spatial_dims}) "
                         f"needs a {cfg.MODEL.spatial_dims}-D array")
    x, scale = seismic_sr.normalise(lr)
    cond = seismic_sr.upsample2(x, "bilinear", lr.ndim)
    fn = lambda tiles: predict_tiles(cfg, model, kind, tiles, cfg.INFER.sample_steps)  # noqa: E731
    i = cfg.INFER
    return tiling.tiled_apply(fn, cond, i.patch, i.overlap, batch_size=i.batch_size, progress=True) * scale


def predict_tiles(cfg, model, kind, cond_tiles, steps=None):
    """Condition tiles on the high-res grid [B, p, p(, p)] -> predictions of the same shape (normalised units);
    ``steps`` DDIM network evaluations (None: DIFFUSION.sample_steps). The diffusion prediction is the mean of
    DIFFUSION.n_samples samples (seeds ``seed``, ``seed + 1``, ...): an estimate of the posterior mean."""
    cond = paddle.to_tensor(cond_tiles[:, None], dtype="float32")
    with paddle.no_grad():
        if kind == "supervised":
            out = model({"x_noisy": paddle.zeros_like(cond), "cond": cond,
                         "noise_level": paddle.ones([cond.shape[0]])})["eps"]
            return out.numpy()[:, 0]
        d = cfg.DIFFUSION
        x0_fn = lowpass_consistency(cond, d.lowpass_sigma) if d.lowpass_sigma else None
        scheduler, eps_fn = build_scheduler(cfg), noise_fn(cfg, model)
        total = 0.0
        for k in range(d.n_samples):
            total = total + scheduler.sample(eps_fn, cond.shape, n_steps=steps or d.sample_steps, spacing=d.spacing,
                                             eta=d.eta, clip=d.clip, seed=cfg.seed + k, cond=cond, x0_fn=x0_fn).numpy()
    return total[:, 0] / d.n_samples


def inference(cfg: DictConfig):
    setup_run(cfg)
    if not cfg.INFER.input or not cfg.INFER.output:
        raise ValueError("mode=infer needs INFER.input=<section .dat/.npy/.sgy> and INFER.output=<.npy>")
    model = load_model(cfg, cfg.MODEL.kind)
    if model is None:
        raise FileNotFoundError(f"no checkpoint at {checkpoint_path(cfg, cfg.MODEL.kind)}; train first")
    out = super_resolve(cfg, model, cfg.MODEL.kind, seismic_sr.read_section(cfg.INFER.input))
    os.makedirs(osp.dirname(osp.abspath(cfg.INFER.output)), exist_ok=True)
    np.save(cfg.INFER.output, out)
    logger.info(f"{cfg.INFER.input} -> {cfg.INFER.output} {list(out.shape)}")
    return out


# ------------------------------------------------------------------- view
def marmousi_section(path, freq, dt):
    """A depth-down section [samples, traces] from the Marmousi vp window: acoustic-impedance reflectivity
    (density by Gardner's relation, rho = 0.31 vp^0.25) convolved along depth with a Ricker of ``freq``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f"VIEW.marmousi: {path} not found (../shared/data is not shipped with the project)")
    vp = np.load(path)["model"] * 1000.0                  # km/s -> m/s, [depth, offset]
    z = vp * 0.31 * vp ** 0.25
    r = np.zeros_like(z)
    r[:-1] = (z[1:] - z[:-1]) / (z[1:] + z[:-1])
    w = seismic_sections.ricker(freq, dt)
    c, n = len(w) // 2, r.shape[0]  # centred convolution cropped to the trace (the wavelet may be longer)
    return np.apply_along_axis(lambda t: np.convolve(t, w)[c:c + n], 0, r).astype(np.float32)


def field_sections(cfg, model, kind):
    """The sections in VIEW.field_dir (traces x samples) and the Marmousi section (depth-down), each with
    its super-resolved version: dicts as :func:`ppsci_ext.plot.field_panels` takes them."""
    v, panels = cfg.VIEW, []
    for name in sorted(os.listdir(v.field_dir)) if osp.isdir(v.field_dir) else []:
        if name.endswith(".dat"):
            section = seismic_sr.read_section(osp.join(v.field_dir, name))
            panels.append({"name": name, "original": section, "super": super_resolve(cfg, model, kind, section),
                           "dt_original": v.dt, "dt_super": v.dt / 2, "transpose": True})
    if osp.isfile(v.marmousi):
        section = marmousi_section(v.marmousi, v.marmousi_freq, v.dt)  # depth-down
        panels.append({"name": "Marmousi", "original": section,
                       "super": super_resolve(cfg, model, kind, section.T).T,
                       "dt_original": v.dt, "dt_super": v.dt / 2, "transpose": False})
    return panels


def view(cfg: DictConfig):
    """Figures: synthetic test items (input | prediction | truth) and the field sections with spectra.
    Returns the field panels (original and super-resolved sections)."""
    setup_run(cfg)
    fig_dir = osp.join(cfg.output_dir, "figures")
    items = test_items(cfg, prepare_data(cfg))
    rows = []
    for stem, lr, hr, scale in items:
        path = osp.join(cfg.EVAL.pred_dir, "diffusion", f"{stem}_pred.dat")
        if osp.isfile(path):
            row = (lr, seismic_sr.read_dat(path, hr.shape) / scale, hr)
            # volumes: the middle crossline slice [inline, samples]
            rows.append(tuple(a[:, a.shape[1] // 2] for a in row) if hr.ndim == 3 else row)
    if rows:
        plot.sr_comparison(rows, osp.join(fig_dir, "synthetic.png"))
    model = load_model(cfg, "diffusion")
    if model is None:
        raise FileNotFoundError(f"no checkpoint at {checkpoint_path(cfg, 'diffusion')}; train first")
    if ndim(cfg) == 3:
        logger.info("MODEL.spatial_dims=3: the field sections are 2-D, so there is no field figure")
        panels = []
    else:
        panels = field_sections(cfg, model, "diffusion")
    if panels:
        plot.field_panels(panels, osp.join(fig_dir, "field.png"), fmax=cfg.VIEW.fmax)
    logger.info(f"figures in {fig_dir}: {len(rows)} synthetic items, {len(panels)} field sections")
    return panels


@hydra.main(version_base=None, config_path="../../conf", config_name="md_diffusion")
def main(cfg: DictConfig):
    modes = {"train": train, "sample": sample, "eval": evaluate, "infer": inference, "view": view}
    if cfg.mode not in modes:
        raise ValueError(f"mode: expected one of {list(modes)}, found {cfg.mode!r}")
    modes[cfg.mode](cfg)


if __name__ == "__main__":
    main()
