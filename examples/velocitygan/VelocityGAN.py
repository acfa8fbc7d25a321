"""VelocityGAN: full-waveform inversion from OpenFWI-format shot gathers.

    python examples/velocitygan/VelocityGAN.py mode=generate   # synthetic data by FD modelling
    python examples/velocitygan/VelocityGAN.py mode=train      # resumes from the last checkpoint
    python examples/velocitygan/VelocityGAN.py mode=eval       # eval_metrics.json + figures
    python examples/velocitygan/VelocityGAN.py mode=infer INFER.input=data.npy INFER.output=models.npy
    python examples/velocitygan/VelocityGAN.py mode=forward INFER.input=models.npy INFER.output=data.npy
    python examples/velocitygan/VelocityGAN.py mode=export

Every setting lives in conf/velocitygan.yaml.
"""
import json
import os
import threading
import time
from os import path as osp

import ppsci  # noqa: F401  (must come before hydra.main, see DEVELOPERS.md)
import hydra
import numpy as np
import paddle
from omegaconf import DictConfig
from omegaconf import OmegaConf
from ppsci.utils import logger
from ppsci.utils import misc

import ppsci_ext  # noqa: F401  (registers ExtFWIDataset with ppsci)
from ppsci_ext import metric
from ppsci_ext import plot
from ppsci_ext.arch import VelocityDiscriminator
from ppsci_ext.arch import VelocityGenerator
from ppsci_ext.checkpoint import load_checkpoint
from ppsci_ext.data import SeismicTransform
from ppsci_ext.data import VelocityTransform
from ppsci_ext.data.openfwi_generator import generate_openfwi
from ppsci_ext.data.openfwi_generator import write_npy_atomic
from ppsci_ext.gan import WGANGPTrainer
from ppsci_ext.physics import forward_model


# ----------------------------------------------------------------- builders
def build_generator(cfg):
    return VelocityGenerator(**cfg.MODEL.generator)


def dataset_cfg(cfg, anno):
    g = cfg.MODEL.generator
    return {"name": "ExtFWIDataset", "input_keys": tuple(g.input_keys), "label_keys": tuple(g.output_keys),
            "anno": anno, "data_shape": (g.n_sources, g.time_samples, g.n_receivers),
            "label_shape": (1, *g.out_shape),
            **{k: cfg.DATA[k] for k in ("data_min", "data_max", "label_min", "label_max", "sample_ratio", "log_k")}}


def loader_cfg(cfg, anno, batch_size, shuffle):
    return {"dataset": dataset_cfg(cfg, anno), "batch_size": batch_size,
            "sampler": {"name": "DistributedBatchSampler", "drop_last": shuffle, "shuffle": shuffle},
            "num_workers": cfg.TRAIN.num_workers}


def generator_loss(cfg):
    t, key = cfg.TRAIN, cfg.MODEL.generator.output_keys[0]

    def expr(output_dict, label_dict, weight_dict=None):
        diff = output_dict[key] - label_dict[key]
        losses = {"l1": t.lambda_g1v * diff.abs().mean(), "l2": t.lambda_g2v * diff.square().mean()}
        if "score_fake" in output_dict:
            losses["adv"] = -t.lambda_adv * output_dict["score_fake"].mean()
        return losses

    return ppsci.loss.FunctionalLoss(expr)


def critic_loss(cfg):
    def expr(out, label_dict=None, weight_dict=None):
        return {"critic": out["score_fake"].mean() - out["score_real"].mean(),
                "gp": cfg.TRAIN.lambda_gp * out["gp"]}

    return ppsci.loss.FunctionalLoss(expr)


def adamw(cfg, lr, net):
    return paddle.optimizer.AdamW(lr, beta1=cfg.TRAIN.betas[0], beta2=cfg.TRAIN.betas[1],
                                  parameters=net.parameters(), weight_decay=cfg.TRAIN.weight_decay)


def load_generator(cfg, ckpt_path):
    state = load_checkpoint(ckpt_path, required=["generator"])
    if state is None:
        raise FileNotFoundError(f"checkpoint not found: {ckpt_path} (train first, or set the checkpoint key)")
    model = build_generator(cfg)
    model.set_state_dict(state["generator"])
    model.eval()
    return model


def predict(model, inputs, batch_size, key_in, key_out):
    """Normalised inputs [N, ...] (numpy) -> normalised predictions [N, 1, nz, nx] (numpy)."""
    outs = []
    with paddle.no_grad():
        for i in range(0, len(inputs), batch_size):
            x = paddle.to_tensor(np.asarray(inputs[i:i + batch_size], dtype=np.float32))
            outs.append(model({key_in: x})[key_out].numpy())
    return np.concatenate(outs)


def held_out_arrays(cfg, anno):
    """All samples of an annotation file: (normalised inputs, normalised labels, the data set)."""
    ds = ppsci.data.dataset.build_dataset(dataset_cfg(cfg, anno))
    items = [ds[i] for i in range(len(ds))]
    key_in, key_out = cfg.MODEL.generator.input_keys[0], cfg.MODEL.generator.output_keys[0]
    x = np.stack([it[0][key_in] for it in items])
    y = np.stack([it[1][key_out] for it in items])
    return x, y, ds


def modelling_kwargs(cfg):
    return OmegaConf.to_container(cfg.MODELLING, resolve=True)


# ------------------------------------------------------------------- modes
def generate(cfg):
    g = cfg.GENERATE
    annos = generate_openfwi(g.out_dir, g.n_train, g.n_test, g.file_size, g.seed,
                             OmegaConf.to_container(g.models, resolve=True), modelling_kwargs(cfg),
                             num_threads=cfg.num_threads)
    lo = hi = 0.0
    for k in range(g.n_train // g.file_size):
        d = np.load(osp.join(g.out_dir, f"data{k}.npy"), mmap_mode="r")
        lo, hi = min(lo, float(d.min())), max(hi, float(d.max()))
    logger.message(f"wrote {annos}; training data amplitude range [{lo:.3g}, {hi:.3g}]")
    if lo < cfg.DATA.data_min or hi > cfg.DATA.data_max:
        logger.warning(f"the data range [{lo:.3g}, {hi:.3g}] exceeds DATA.data_min/data_max = "
                       f"[{cfg.DATA.data_min}, {cfg.DATA.data_max}]: update them in the YAML")


def forward(cfg):
    """Forward-model user velocity models (m/s) with the configured acquisition."""
    vel = _load_array(cfg.INFER.input, "INFER.input")
    if vel.ndim == 4 and vel.shape[1] == 1:
        vel = vel[:, 0]
    if vel.ndim != 3:
        raise ValueError(f"{cfg.INFER.input}: expected velocity models [N, 1, nz, nx] or [N, nz, nx] (m/s), "
                         f"found shape {vel.shape}")
    data = forward_model(vel.astype(np.float32), num_threads=cfg.num_threads, **modelling_kwargs(cfg))
    write_npy_atomic(_output_path(cfg), data)
    logger.message(f"wrote {cfg.INFER.output}: {data.shape} (N, shots, time, receivers)")


def train(cfg):
    """Train; with TRAIN.nprocs > 1 (CPU) start that many data-parallel workers of 1 thread each.

    Paddle's CPU convolutions at these sizes gain nothing from a second thread,
    while two single-thread processes train nearly twice as many samples per
    second (measured on 2 cores). Under paddle.distributed.launch the launcher
    has already started the processes, and TRAIN.nprocs is ignored.
    """
    if cfg.TRAIN.nprocs > 1 and paddle.distributed.get_world_size() == 1:
        if cfg.device != "cpu":
            raise ValueError("TRAIN.nprocs > 1 starts CPU workers; on GPUs use paddle.distributed.launch (README)")
        paddle.distributed.spawn(_train_worker, args=(OmegaConf.to_container(cfg, resolve=True), os.getpid()),
                                 nprocs=cfg.TRAIN.nprocs, backend="gloo")
        return
    _train(cfg)


def _exit_with_parent(parent_pid):
    """Workers end when the process that spawned them dies (killed runs must not leave
    orphans that keep writing the checkpoint a resumed run reads)."""

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _train_worker(cfg_dict, parent_pid):
    _exit_with_parent(parent_pid)
    cfg = OmegaConf.create(cfg_dict)
    paddle.set_device("cpu")
    paddle.distributed.init_parallel_env()
    paddle.base.core.set_num_threads(1)
    misc.set_random_seed(cfg.seed)
    logger.init_logger("ppsci", osp.join(cfg.output_dir, "train.log"), "info")
    _train(cfg)


def _train(cfg):
    key_out = cfg.MODEL.generator.output_keys[0]
    constraint = ppsci.constraint.SupervisedConstraint(
        loader_cfg(cfg, cfg.DATA.train_anno, cfg.TRAIN.batch_size, shuffle=True), generator_loss(cfg), name="fwi")
    generator = build_generator(cfg)
    critic = VelocityDiscriminator(**cfg.MODEL.critic) if cfg.MODEL.gan else None
    x_val, y_val, _ = held_out_arrays(cfg, cfg.DATA.test_anno)
    metric_fn = metric.fwi_metric_expr(cfg.DATA.label_min, cfg.DATA.label_max, key_out)

    def validate(model):
        model.eval()
        pred = predict(model, x_val, cfg.EVAL.batch_size, cfg.MODEL.generator.input_keys[0], key_out)
        model.train()
        m = metric_fn({key_out: paddle.to_tensor(pred)}, {key_out: paddle.to_tensor(y_val)})
        return {f"val_{k}": float(m[k]) for k in ("MAE", "RMSE", "SSIM")}

    trainer = WGANGPTrainer(generator, critic, constraint, critic_loss(cfg), adamw(cfg, cfg.TRAIN.lr_g, generator),
                            adamw(cfg, cfg.TRAIN.lr_d, critic) if critic is not None else None,
                            cfg.TRAIN, cfg.TRAIN.checkpoint, validate)
    history = trainer.train()
    if paddle.distributed.get_rank() == 0:
        with open(osp.join(cfg.output_dir, "history.json"), "w") as f:
            json.dump(history, f, indent=1)
        plot.training_curves(history, osp.join(cfg.output_dir, "training_curves.png"))


def evaluate(cfg):
    key_in, key_out = cfg.MODEL.generator.input_keys[0], cfg.MODEL.generator.output_keys[0]
    model = load_generator(cfg, cfg.EVAL.checkpoint)
    validator = ppsci.validate.SupervisedValidator(
        loader_cfg(cfg, cfg.EVAL.anno, cfg.EVAL.batch_size, shuffle=False), ppsci.loss.L1Loss(),
        metric={"FWI": ppsci.metric.FunctionalMetric(metric.fwi_metric_expr(cfg.DATA.label_min, cfg.DATA.label_max, key_out))},
        name="test")
    solver = ppsci.solver.Solver(model, validator={validator.name: validator}, output_dir=cfg.output_dir)
    _, groups = solver.eval()
    results = dict(groups["FWI"])
    x, y, ds = held_out_arrays(cfg, cfg.EVAL.anno)
    vt = VelocityTransform(cfg.DATA.label_min, cfg.DATA.label_max)
    pred_mps = vt.inverse(predict(model, x, cfg.EVAL.batch_size, key_in, key_out))[:, 0]
    true_mps = vt.inverse(y)[:, 0]
    if cfg.EVAL.data_misfit:
        results["data_misfit"] = data_misfit(cfg, pred_mps, np.concatenate([np.asarray(d) for d in ds.data]))
    results.update(n_samples=int(len(x)), anno=str(cfg.EVAL.anno), checkpoint=str(cfg.EVAL.checkpoint))
    with open(osp.join(cfg.output_dir, "eval_metrics.json"), "w") as f:
        json.dump(results, f, indent=1)
    logger.message(f"eval_metrics.json: {json.dumps(results)}")
    n = min(cfg.EVAL.n_figures, len(x))
    plot.velocity_comparison(true_mps[:n], pred_mps[:n], osp.join(cfg.output_dir, "predictions.png"),
                             cfg.MODELLING.dx, cfg.DATA.label_min, cfg.DATA.label_max)
    plot.velocity_profiles(true_mps[:n], pred_mps[:n], cfg.EVAL.profile_column,
                           osp.join(cfg.output_dir, "profiles.png"), cfg.MODELLING.dx)
    return results


def data_misfit(cfg, pred_mps, observed):
    """Mean over samples of ||F(v_pred) - d_obs|| / ||d_obs||: do predictions explain the data?"""
    synth = forward_model(pred_mps.astype(np.float32), num_threads=cfg.num_threads, **modelling_kwargs(cfg))
    if synth.shape != observed.shape:
        raise ValueError(f"data_misfit: the configured acquisition gives {synth.shape}, the test data is {observed.shape}")
    num = np.sqrt(((synth - observed) ** 2).sum(axis=(1, 2, 3)))
    den = np.sqrt((observed ** 2).sum(axis=(1, 2, 3)))
    return float(np.mean(num / den))


def inference(cfg):
    g = cfg.MODEL.generator
    data = _load_array(cfg.INFER.input, "INFER.input")
    expected = (g.n_sources, g.time_samples, g.n_receivers)
    if data.ndim != 4 or tuple(data.shape[1:]) != expected:
        raise ValueError(f"{cfg.INFER.input}: expected shot gathers [N, {', '.join(map(str, expected))}], "
                         f"found shape {data.shape}")
    st = SeismicTransform(cfg.DATA.data_min, cfg.DATA.data_max, cfg.DATA.log_k, cfg.DATA.sample_ratio)
    model = load_generator(cfg, cfg.INFER.checkpoint)
    pred = predict(model, st(data), cfg.INFER.batch_size, g.input_keys[0], g.output_keys[0])
    vel = VelocityTransform(cfg.DATA.label_min, cfg.DATA.label_max).inverse(pred).astype(np.float32)
    write_npy_atomic(_output_path(cfg), vel)
    logger.message(f"wrote {cfg.INFER.output}: velocity {vel.shape} m/s, range [{vel.min():.0f}, {vel.max():.0f}]")


def export(cfg):
    g = cfg.MODEL.generator
    model = load_generator(cfg, cfg.INFER.checkpoint)
    solver = ppsci.solver.Solver(model)
    n_time = -(-g.time_samples // g.sample_ratio)
    spec = [{g.input_keys[0]: paddle.static.InputSpec([None, g.n_sources, n_time, g.n_receivers], "float32", g.input_keys[0])}]
    solver.export(spec, cfg.INFER.export_path, skip_prune_program=True)


def _load_array(file, key):
    if file is None:
        raise ValueError(f"{key} is not set: pass {key}=<file.npy>")
    if not osp.isfile(file):
        raise FileNotFoundError(f"{key}: file not found: {file}")
    arr = np.load(file)
    if not np.isfinite(arr).all():
        raise ValueError(f"{file} ({key}) contains NaN or Inf")
    return arr


def _output_path(cfg):
    if cfg.INFER.output is None:
        raise ValueError("INFER.output is not set: pass INFER.output=<file.npy>")
    os.makedirs(osp.dirname(osp.abspath(cfg.INFER.output)), exist_ok=True)
    return cfg.INFER.output


MODES = {"generate": generate, "forward": forward, "train": train, "eval": evaluate,
         "infer": inference, "export": export}


@hydra.main(version_base=None, config_path="../../conf", config_name="velocitygan")
def main(cfg: DictConfig):
    if cfg.mode not in MODES:
        raise ValueError(f"cfg.mode should be one of {sorted(MODES)}, but got {cfg.mode!r}")
    paddle.set_device(cfg.device)
    if paddle.distributed.get_world_size() > 1:  # started by paddle.distributed.launch
        paddle.distributed.init_parallel_env()
    if cfg.num_threads:
        paddle.base.core.set_num_threads(cfg.num_threads)
    misc.set_random_seed(cfg.seed)
    os.makedirs(cfg.output_dir, exist_ok=True)
    logger.init_logger("ppsci", osp.join(cfg.output_dir, f"{cfg.mode}.log"), "info")
    return MODES[cfg.mode](cfg)


if __name__ == "__main__":
    main()
