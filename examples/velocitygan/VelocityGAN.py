"""VelocityGAN: full-waveform inversion from OpenFWI-format shot gathers.

    python VelocityGAN.py mode=train      # builds the synthetic data if missing; resumes from the last checkpoint
    python VelocityGAN.py mode=eval       # eval_metrics.json + figures
    python VelocityGAN.py mode=generate   # only the synthetic data (acoustic FD modelling)
    python VelocityGAN.py mode=infer INFER.input=data.npy INFER.output=models.npy
    python VelocityGAN.py mode=refine INFER.input=data.npy INFER.output=models.npy   # the network, then FWI
    python VelocityGAN.py mode=forward INFER.input=models.npy INFER.output=data.npy
    python VelocityGAN.py mode=export

Run from this folder or as examples/velocitygan/VelocityGAN.py from the project root.
Every setting lives in conf/velocitygan.yaml.
"""
import copy
from os import path as osp

import ppsci_ext  # noqa: F401  first: quiets paddle's ccache warning, imports ppsci before hydra.main
import ppsci  # (ppsci's config store must come first) and registers ExtFWIDataset
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
from ppsci_ext.arch import VelocityDiscriminator
from ppsci_ext.arch import VelocityGenerator
from ppsci_ext.atomic import write_json
from ppsci_ext.atomic import write_npy
from ppsci_ext.data.fwi import FWINormalisation
from ppsci_ext.data.fwi.normalisation import KEYS as FWI_KEYS
from ppsci_ext.data.fwi.normalisation import conversion_of
from ppsci_ext.config_checks import require
from ppsci_ext.data.fwi.generator import amplitude_range
from ppsci_ext.data.fwi.generator import generate_section as generate_openfwi_section
from ppsci_ext.data.fwi.generator import prepare_openfwi
from ppsci_ext.data.fwi.reader import depth_profile
from ppsci_ext.data.fwi.reader import velocity_models
from ppsci_ext.data.fwi.velocity_models import make_velocity_models
from ppsci_ext.physics import forward_model
from ppsci_ext.physics.fwi import refine as fwi_refine
from ppsci_ext.specs import VELOCITYGAN
from ppsci_ext.train import WGANGPTrainer
from ppsci_ext.train import loader_config

SPEC = VELOCITYGAN  # its training command, checkpoint, the settings weights depend on, the weights inference loads
# the paths a run reads: outputs are never one of these files, nor inside their folders (ppsci_ext.outputs)
FILES = runtime.Files(inputs=("INFER.input", "EVAL.pretrained_model_path", "INFER.pretrained_model_path",
                              "TRAIN.init_from", "REFINE.start", "REFINE.truth"),
                      data_folders=("GENERATE.out_dir",), data_files=("DATA.train_anno", "DATA.test_anno", "EVAL.anno"))
# the settings the generator's weights depend on: a checkpoint is loaded only where they are unchanged


# ----------------------------------------------------------------- checks
def check_settings(cfg):
    """The checks of this example's settings, before any data is built (the generic ones are in
    ppsci_ext.config_checks)."""
    FWINormalisation.from_config(cfg.DATA, cfg.MODELLING)  # statistics, log_k, sample_ratio, amplitude_check, file_convention
    m = cfg.GENERATE.models
    require(m.vmin > 0 and 1 <= m.min_layers and m.min_thickness >= 1 and m.min_layers * m.min_thickness <= m.nz,
            f"GENERATE.models: vmin {m.vmin} m/s must be > 0, and {m.min_layers} layers (>= 1) of at least "
            f"{m.min_thickness} cells (>= 1) must fit in nz={m.nz}")
    if cfg.TRAIN.init_from and cfg.mode == "train":
        kind = SPEC.kind_of(cfg)
        require(not outputs.same_file(SPEC.checkpoint(cfg.output_dir, kind), cfg.TRAIN.init_from),
                f"TRAIN.init_from={cfg.TRAIN.init_from} is this run's own checkpoint, which training writes: give "
                f"the run another output_dir")
        nets = ("generator", "critic") if cfg.MODEL.gan else ("generator",)
        runtime.check_weights(cfg.TRAIN.init_from, runtime.network_config(cfg, SPEC.train_keys(kind)), nets=nets,
                              hint="with the critic on (MODEL.gan=true), TRAIN.init_from needs a training checkpoint "
                                   "holding both networks (e.g. <output_dir>/velocitygan/checkpoint.pdparams); or set "
                                   "MODEL.gan=false to fine-tune the generator alone")


# ----------------------------------------------------------------- builders
def build_generator(cfg):
    return VelocityGenerator(**cfg.MODEL.generator)


def thread_probe(cfg):
    """One generator training step at batch 2 (num_threads=auto measures it): (name, step)."""
    g = cfg.MODEL.generator
    net = build_generator(cfg)
    opt = paddle.optimizer.AdamW(parameters=net.parameters())
    x = paddle.randn([2, g.n_sources, -(-g.time_samples // g.sample_ratio), g.n_receivers])

    def step():
        net({g.input_keys[0]: x})[g.output_keys[0]].square().mean().backward()
        opt.step()
        opt.clear_grad()

    return f"VelocityGAN generator {list(g.dims)} {list(g.out_shape)}, batch 2", step


def dataset_cfg(cfg, anno):
    g = cfg.MODEL.generator
    return {"name": "ExtFWIDataset", "input_keys": tuple(g.input_keys), "label_keys": tuple(g.output_keys),
            "anno": anno, "data_shape": (g.n_sources, g.time_samples, g.n_receivers),
            "label_shape": (1, *g.out_shape), **{k: cfg.DATA[k] for k in FWI_KEYS},
            "conversion": conversion_of(cfg.DATA, cfg.MODELLING)}


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
    return ppsci.loss.FunctionalLoss(lambda out, label_dict=None, weight_dict=None: {
        "critic": out["score_fake"].mean() - out["score_real"].mean(), "gp": cfg.TRAIN.lambda_gp * out["gp"]})


def adamw(cfg, lr, net):
    return paddle.optimizer.AdamW(lr, beta1=cfg.TRAIN.betas[0], beta2=cfg.TRAIN.betas[1],
                                  parameters=net.parameters(), weight_decay=cfg.TRAIN.weight_decay)


def load_generator(cfg, section):
    """The trained generator eval/infer/export (``section``) use: ``<section>.pretrained_model_path`` or the run's."""
    return runtime.load_network(SPEC, cfg, SPEC.kind_of(cfg), lambda: build_generator(cfg), section)


def predict(cfg, model, inputs):
    """Normalised inputs [N, ...] -> normalised predictions [N, 1, nz, nx] (numpy)."""
    g = cfg.MODEL.generator
    return runtime.predict_batches(model, {g.input_keys[0]: inputs}, g.output_keys[0], cfg.EVAL.batch_size)


def held_out_arrays(cfg, anno):
    """All samples of an annotation file: (normalised inputs, normalised labels, the data set)."""
    ds = ppsci.data.dataset.build_dataset(dataset_cfg(cfg, anno))
    items = [ds[i] for i in range(len(ds))]
    key_in, key_out = cfg.MODEL.generator.input_keys[0], cfg.MODEL.generator.output_keys[0]
    return np.stack([it[0][key_in] for it in items]), np.stack([it[1][key_out] for it in items]), ds


def modelling_kwargs(cfg):
    return OmegaConf.to_container(cfg.MODELLING, resolve=True)


def files_convention(cfg):
    """The modelling convention of the files read and written: DATA.file_convention, or MODELLING.convention."""
    return cfg.DATA.file_convention or cfg.MODELLING.convention


def file_modelling(cfg):
    """forward_model's arguments for data as the files hold them (MODELLING, in the files' convention)."""
    return {**modelling_kwargs(cfg), "convention": files_convention(cfg)}


# the settings of the network's input: eval, infer, refine and export take them from the weights they load, and
# files of another convention are converted to the weights' (DATA.file_convention)
INPUT_KEYS = ("MODELLING.convention", "DATA.data_min", "DATA.data_max", "DATA.log_k")


def with_weights_input(cfg, section):
    """``cfg`` with the network-input settings (:data:`INPUT_KEYS`) the weights of ``section`` record; the files'
    convention is kept as DATA.file_convention, so they are converted to the network's input exactly. Unchanged
    where the config already has the weights' settings."""
    kind = SPEC.kind_of(cfg)
    path = SPEC.weights_path(cfg, kind, section)
    recorded = runtime.check_weights(path, {}, SPEC.train_command(kind)).get("config") or {}
    recorded = {**(recorded.get("settings") or {}), **(recorded.get("network") or {})}
    theirs = {k: recorded[k] for k in INPUT_KEYS if k in recorded}
    now = runtime.network_config(cfg, tuple(theirs))
    changed = [f"{k}: {now[k]} -> {v}" for k, v in theirs.items() if now[k] != v]
    if not changed:
        return cfg
    new = copy.deepcopy(cfg)
    OmegaConf.update(new, "DATA.file_convention", files_convention(cfg))
    for key, value in theirs.items():
        OmegaConf.update(new, key, value)
    logger.message(f"{path} was trained on input normalised otherwise than the config says; its settings are used "
                   f"({'; '.join(changed)}), and files of the {files_convention(cfg)!r} convention are converted to "
                   f"its {theirs.get('MODELLING.convention', cfg.MODELLING.convention)!r} convention")
    return new


def generate_settings(cfg):
    """The GENERATE section as plain data (out_dir, counts, seed, model rules)."""
    return OmegaConf.to_container(cfg.GENERATE, resolve=True)


def prepare_data(cfg, annos):
    """Build the synthetic files behind the annotation files ``annos`` where they are the generator's own and
    missing (prepare_openfwi); yours are only read."""
    if "train" in prepare_openfwi(annos, generate_settings(cfg), file_modelling(cfg), cfg.num_threads):
        check_training_range(cfg)


# ------------------------------------------------------------------- modes
def check_training_range(cfg):
    """Log the training files' amplitude range (a warning where it leaves DATA.data_min/data_max)."""
    g = cfg.GENERATE
    lo, hi = amplitude_range(g.out_dir, g.n_train // g.file_size)
    logger.message(f"training data in {g.out_dir}: amplitude range [{lo:.3g}, {hi:.3g}]")
    FWINormalisation.from_config(cfg.DATA, cfg.MODELLING).warn_outside((lo, hi), f"training data in {g.out_dir}")


@runtime.mode
def generate(cfg):
    """The synthetic data set in GENERATE.out_dir (a new, empty or earlier generated folder; complete files kept)."""
    generate_openfwi_section(generate_settings(cfg), file_modelling(cfg), cfg.num_threads)
    check_training_range(cfg)




@runtime.mode
def forward(cfg):
    """Forward-model user velocity models (m/s) with the configured acquisition, in the files' convention."""
    out = runtime.output_file(cfg, "INFER.output", FILES)
    vel = velocity_models(runtime.read_npy(cfg.INFER.input, "INFER.input"), f"{cfg.INFER.input} (INFER.input)")
    data = forward_model(vel, num_threads=cfg.num_threads, **file_modelling(cfg))
    write_npy(out, data)
    logger.message(f"wrote {cfg.INFER.output}: {data.shape} (N, shots, time, receivers)")


@runtime.mode
def train(cfg):
    """Train; with TRAIN.nprocs > 1 (CPU) in that many data-parallel processes of 1 thread each."""
    prepare_data(cfg, (cfg.DATA.train_anno, cfg.DATA.test_anno))
    return runtime.data_parallel(_train, cfg, cfg.TRAIN.nprocs)


def _train(cfg):
    key_out = cfg.MODEL.generator.output_keys[0]
    loader = loader_config(dataset_cfg(cfg, cfg.DATA.train_anno), cfg.TRAIN.batch_size, True, cfg.TRAIN.num_workers)
    constraint = ppsci.constraint.SupervisedConstraint(loader, generator_loss(cfg), name="fwi")
    generator = build_generator(cfg)
    critic = VelocityDiscriminator(**cfg.MODEL.critic) if cfg.MODEL.gan else None
    x_val, y_val, _ = held_out_arrays(cfg, cfg.DATA.test_anno)
    metric_fn = metric.fwi_metric_expr(FWINormalisation.from_config(cfg.DATA), key_out)

    def validate(model):
        model.eval()
        pred = predict(cfg, model, x_val)
        model.train()
        m = metric_fn({key_out: paddle.to_tensor(pred)}, {key_out: paddle.to_tensor(y_val)})
        return {f"val_{k}": float(m[k]) for k in ("MAE", "RMSE", "SSIM")}

    kind = SPEC.kind_of(cfg)
    trainer = WGANGPTrainer(generator=generator, critic=critic, constraint=constraint, critic_loss=critic_loss(cfg),
                            opt_g=adamw(cfg, cfg.TRAIN.lr_g, generator),
                            opt_d=adamw(cfg, cfg.TRAIN.lr_d, critic) if critic is not None else None,
                            train=cfg.TRAIN, checkpoint=SPEC.checkpoint(cfg.output_dir, kind),
                            config=runtime.run_config(cfg, SPEC.train_keys(kind)), validate=validate)
    history = trainer.fit()
    if paddle.distributed.get_rank() == 0:
        plot.training_curves(history, osp.join(cfg.output_dir, "training_curves.png"))
    return history


@runtime.mode
def evaluate(cfg):
    cfg = with_weights_input(cfg, "EVAL")  # first: wrong weights cost no data building
    key_out, norm = cfg.MODEL.generator.output_keys[0], FWINormalisation.from_config(cfg.DATA, cfg.MODELLING)
    model = load_generator(cfg, "EVAL")
    prepare_data(cfg, (cfg.EVAL.anno,))
    validator = ppsci.validate.SupervisedValidator(
        loader_config(dataset_cfg(cfg, cfg.EVAL.anno), cfg.EVAL.batch_size, False), ppsci.loss.L1Loss(),
        metric={"FWI": ppsci.metric.FunctionalMetric(metric.fwi_metric_expr(norm, key_out))},
        name="test")
    solver = ppsci.solver.Solver(model, validator={validator.name: validator}, output_dir=cfg.output_dir)
    _, groups = solver.eval()
    results = dict(groups["FWI"])
    x, y, ds = held_out_arrays(cfg, cfg.EVAL.anno)
    pred_mps = norm.velocity_inverse(predict(cfg, model, x))[:, 0]
    true_mps = norm.velocity_inverse(y)[:, 0]
    obs = np.concatenate([np.asarray(d) for d in ds.data])  # the files' gathers, in their convention
    if cfg.EVAL.data_misfit:
        # do the predictions explain the data? forward-model them with the acquisition of the test data
        synth = forward_model(pred_mps.astype(np.float32), num_threads=cfg.num_threads, **file_modelling(cfg))
        results["data_misfit"] = metric.relative_data_misfit(synth, obs)
        # across amplitude conventions: one fitted scale factor per sample (reported: its median)
        results["data_misfit_scaled"], results["amplitude_factor"], _ = metric.scaled_data_misfit(synth, obs)
    if cfg.INFER.refine_iters:
        refined, history = refine_models(cfg, pred_mps, obs, cfg.INFER.refine_iters, truth=true_mps)
        fn = metric.fwi_metric_expr(norm, key_out)
        scores = fn({key_out: paddle.to_tensor(norm.velocity(refined)[:, None])}, {key_out: paddle.to_tensor(y)})
        results["refined"] = {**{k: float(v) for k, v in scores.items()}, "iters": int(cfg.INFER.refine_iters),
                              "data_misfit": metric.relative_data_misfit(forward_model(
                                  refined, num_threads=cfg.num_threads, **file_modelling(cfg)), obs)}
        k = min(cfg.EVAL.n_figures, len(x))
        plot.refinement(true_mps[:k], pred_mps[:k], refined[:k], history[:k],
                        osp.join(cfg.output_dir, "refinement.png"), cfg.MODELLING.dx, cfg.DATA.label_min,
                        cfg.DATA.label_max)
    results.update(n_samples=int(len(x)), anno=str(cfg.EVAL.anno), checkpoint=SPEC.weights_path(cfg, SPEC.kind_of(cfg)),
                   baseline_depth_mean=baseline_scores(cfg, y))
    write_json(osp.join(cfg.output_dir, "eval_metrics.json"), results)
    logger.message(f"eval_metrics.json: {results}")
    n = min(cfg.EVAL.n_figures, len(x))
    plot.velocity_comparison(true_mps[:n], pred_mps[:n], osp.join(cfg.output_dir, "predictions.png"),
                             cfg.MODELLING.dx, cfg.DATA.label_min, cfg.DATA.label_max)
    plot.velocity_profiles(true_mps[:n], pred_mps[:n], cfg.EVAL.profile_column,
                           osp.join(cfg.output_dir, "profiles.png"), cfg.MODELLING.dx)
    return results


def training_profile(cfg):
    """The mean velocity at each depth [nz] (m/s) of the training models, or None where they cannot be read."""
    g, anno = cfg.GENERATE, cfg.DATA.train_anno
    if outputs.same_file(anno, osp.join(g.out_dir, "train.txt")):  # the generator's: its models, no modelling
        models = OmegaConf.to_container(g.models, resolve=True)
        return make_velocity_models(range(g.n_train), g.seed, **models).mean(axis=(0, 1, 3))
    return depth_profile(anno) if osp.isfile(anno) else None


def baseline_scores(cfg, y):
    """The scores (as the network's, over the whole set at once) of the simplest answer a network must beat: every
    map is the training models' mean velocity at each depth. None (logged) where the training models are unknown."""
    profile = training_profile(cfg)
    if profile is None:
        logger.info(f"no depth-mean baseline: the training models of {cfg.DATA.train_anno} are not readable here")
        return None
    key = cfg.MODEL.generator.output_keys[0]
    norm = FWINormalisation.from_config(cfg.DATA)
    pred = norm.velocity(np.broadcast_to(profile[:, None], y.shape[2:]))
    fn = metric.fwi_metric_expr(norm, key)
    scores = fn({key: paddle.to_tensor(np.broadcast_to(pred, y.shape).copy())}, {key: paddle.to_tensor(y)})
    return {k: float(v) for k, v in scores.items()}


def read_gathers(cfg):
    """INFER.input's shot gathers [N, n_sources, time_samples, n_receivers], checked."""
    g = cfg.MODEL.generator
    data = runtime.read_npy(cfg.INFER.input, "INFER.input")
    expected = (g.n_sources, g.time_samples, g.n_receivers)
    if data.ndim != 4 or tuple(data.shape[1:]) != expected:
        raise ValueError(f"{cfg.INFER.input}: expected shot gathers [N, {', '.join(map(str, expected))}], "
                         f"found shape {data.shape}")
    return data


def network_answer(cfg, data):
    """The network's velocity models [N, nz, nx] (m/s) for raw gathers ``data`` (cfg: with_weights_input's)."""
    g = cfg.MODEL.generator
    norm = FWINormalisation.from_config(cfg.DATA, cfg.MODELLING)
    norm.check_amplitudes((data.min(), data.max()), f"{cfg.INFER.input} (INFER.input)")
    model = load_generator(cfg, "INFER")
    pred = runtime.predict_batches(model, {g.input_keys[0]: norm.data(data)}, g.output_keys[0], cfg.INFER.batch_size)
    return norm.velocity_inverse(pred)[:, 0].astype(np.float32)


def refine_models(cfg, start, observed, iters, truth=None):
    """REFINE's FWI of ``observed`` (raw gathers, the files' convention) from ``start`` [N, nz, nx] m/s, ``iters``
    iterations each; writes REFINE.history and returns the refined models [N, nz, nx] float32 and the
    per-sample histories."""
    r = cfg.REFINE
    # rewritten by every refinement, never one of the run's inputs nor inside a data folder
    outputs.check_output_file(r.history, "REFINE.history", overwrite=True, **runtime.path_checks(cfg, FILES))
    logger.message(f"refining {len(start)} models by FWI, {iters} iterations each over the bands {list(r.bands)} Hz "
                   f"(about {0.7 * iters * len(start):.0f} s on one core)")
    res = fwi_refine(np.asarray(start, np.float32), np.asarray(observed, np.float32), iters=int(iters),
                     bands=list(r.bands), vmin=float(r.vmin), vmax=float(r.vmax), depth_power=float(r.depth_power),
                     truth=truth, ssim_range=float(cfg.DATA.label_max - cfg.DATA.label_min), log=logger.info,
                     num_threads=cfg.num_threads, **file_modelling(cfg))
    write_json(r.history, {"iters": int(iters), "bands": list(r.bands), "samples": res.history})
    for i, h in enumerate(res.history):
        logger.message(f"sample {i}: data misfit {h['misfit'][0]:.4g} -> {h['misfit'][-1]:.4g} in "
                       f"{len(h['misfit']) - 1} iterations" + (f", MAE {h['mae'][0]:.1f} -> {h['mae'][-1]:.1f} m/s"
                                                                if "mae" in h else ""))
    return res.vel.astype(np.float32), res.history


@runtime.mode
def inference(cfg):
    out = runtime.output_file(cfg, "INFER.output", FILES)
    data = read_gathers(cfg)
    cfg = with_weights_input(cfg, "INFER")
    vel = network_answer(cfg, data)
    if cfg.INFER.refine_iters:
        vel, _ = refine_models(cfg, vel, data, cfg.INFER.refine_iters)
    write_npy(out, vel[:, None])
    logger.message(f"wrote {cfg.INFER.output}: velocity {vel[:, None].shape} m/s, range [{vel.min():.0f}, "
                   f"{vel.max():.0f}]")


@runtime.mode
def refine(cfg):
    """FWI of INFER.input's gathers from REFINE.start's models (null: the network's answer) -> INFER.output."""
    out = runtime.output_file(cfg, "INFER.output", FILES)
    data = read_gathers(cfg)
    nz, nx = cfg.MODEL.generator.out_shape

    def models(key):
        path = OmegaConf.select(cfg, key)
        v = velocity_models(runtime.read_npy(path, key), f"{path} ({key})")
        if v.shape != (len(data), nz, nx):
            raise ValueError(f"{path} ({key}): expected {len(data)} models of {nz} x {nx} cells (one per sample of "
                             f"INFER.input), found shape {v.shape[:1] + (1,) + v.shape[1:]}")
        return v

    if cfg.REFINE.start:
        start = models("REFINE.start")
    else:
        cfg = with_weights_input(cfg, "INFER")
        start = network_answer(cfg, data)
    truth = models("REFINE.truth") if cfg.REFINE.truth else None
    vel, _ = refine_models(cfg, start, data, cfg.REFINE.iters, truth=truth)
    write_npy(out, vel[:, None])
    logger.message(f"wrote {cfg.INFER.output}: velocity {vel[:, None].shape} m/s, refined; per iteration in "
                   f"{cfg.REFINE.history}")


@runtime.mode
def export(cfg):
    g = cfg.MODEL.generator
    outputs.check_output_folder(osp.dirname(osp.abspath(cfg.INFER.export_path)), "INFER.export_path",
                                **runtime.path_checks(cfg, FILES))
    model = load_generator(with_weights_input(cfg, "INFER"), "INFER")
    solver = ppsci.solver.Solver(model)
    n_time = -(-g.time_samples // g.sample_ratio)
    spec = [{g.input_keys[0]: paddle.static.InputSpec([None, g.n_sources, n_time, g.n_receivers], "float32", g.input_keys[0])}]
    solver.export(spec, cfg.INFER.export_path, skip_prune_program=True)


def run(cfg: DictConfig):
    """The mode ``cfg.mode``, after the start checks (what ``main`` runs; tests call it with a composed config)."""
    modes = {"generate": generate, "forward": forward, "train": train, "eval": evaluate, "infer": inference,
             "refine": refine, "export": export}
    return runtime.dispatch(cfg, modes, FILES, check_settings, lambda c: SPEC.checkpoint(c.output_dir, SPEC.kind_of(c)),
                            thread_probe)


@hydra.main(version_base=None, config_path="../../conf", config_name="velocitygan")
def main(cfg: DictConfig):
    return run(cfg)


if __name__ == "__main__":
    main()
