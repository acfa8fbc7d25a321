"""GDRNN: prestack AVA inversion with a physics-guided unrolled network, and its baselines.

    python GDRNN.py mode=train                       # builds the data if missing; resumes
    python GDRNN.py mode=train MODEL.kind=original   # the joint data/physics-driven baseline
    python GDRNN.py mode=eval                        # every trained kind + classical methods
    python GDRNN.py mode=infer INFER.input=section.npz INFER.output=inverted.npz
    python GDRNN.py --config-name gdrnn_marmousi mode=train   # or gdrnn_family: many sections of varied geology

Run from this folder or as examples/gdrnn/GDRNN.py from the project root.
Every setting lives in conf/gdrnn.yaml.
"""
from os import path as osp

import ppsci_ext  # noqa: F401  first: quiets paddle's ccache warning, imports ppsci before hydra.main
import ppsci  # (ppsci's config store must come first) and registers AVADataset
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
from ppsci_ext.arch import AVAUNet
from ppsci_ext.arch import GDRNN
from ppsci_ext.arch.gdrnn import guard_report
from ppsci_ext.atomic import write_json
from ppsci_ext.atomic import write_npz
from ppsci_ext.config_checks import require
from ppsci_ext.data.ava import AVADataset
from ppsci_ext.data.ava.generator import ava_file_paths
from ppsci_ext.data.ava.generator import build_ava_files
from ppsci_ext.data.ava.elastic_models import elastic_section_of
from ppsci_ext.data.ava.reader import read_ava_file
from ppsci_ext.data.ava.reader import read_wavelet
from ppsci_ext.parallel import fork_map
from ppsci_ext.physics import AVAForward
from ppsci_ext.physics import ava_inversion
from ppsci_ext.physics import ricker_wavelet_matrix
from ppsci_ext.specs import GDRNN as GDRNN_SPEC
from ppsci_ext.train import UnrolledTrainer
from ppsci_ext.train import loader_config
from ppsci_ext.train.unrolled import AVALossTerms

SPEC = GDRNN_SPEC  # its training command, checkpoint, the settings weights depend on, the weights inference loads
KINDS = SPEC.kinds
IN_KEYS, OUT_KEYS = ("stacks", "m_back"), ("m", "m_steps", "d_steps")
PROPS = ("vp", "vs", "rho")
UNITS = ("m/s", "m/s", "g/cc")
# the paths a run reads: outputs are never one of these files, nor inside their folders (ppsci_ext.outputs)
FILES = runtime.Files(inputs=("INFER.input", "DATA.wavelet_file", "DATA.marmousi.path", "EVAL.pretrained_model_path",
                              "INFER.pretrained_model_path", "TRAIN.init_from"), data_folders=("DATA.out_dir",))


# ---------------------------------------------------------------- checks
def check_settings(cfg):
    """This example's own checks of the config, before any data is built (ppsci_ext.config_checks has the rest)."""
    d = cfg.DATA
    require(cfg.MODEL.kind in KINDS, f"MODEL.kind: expected one of {list(KINDS)}, found {cfg.MODEL.kind!r}")
    require(d.source in ("synthetic", "family", "marmousi"), f"DATA.source: expected synthetic, family or "
                                                             f"marmousi, found {d.source!r}")
    if d.snr_db is not None and d.snr_db < 0:
        logger.warning(f"DATA.snr_db={d.snr_db} dB: the noise is stronger than the signal")
    for g, (first, last, step) in enumerate(d.theta_groups):
        require(0 <= first <= last < 90 and step > 0, f"DATA.theta_groups[{g}] = {[first, last, step]}: expected "
                                                      f"[first, last, step] degrees with 0 <= first <= last < 90, step > 0")
    if cfg.TRAIN.init_from and cfg.mode == "train":
        require(not outputs.same_file(cfg.TRAIN.init_from, SPEC.checkpoint(cfg.output_dir, cfg.MODEL.kind)),
                f"TRAIN.init_from={cfg.TRAIN.init_from} is this run's own checkpoint, which training writes: give "
                f"the run another output_dir")
        runtime.check_weights(cfg.TRAIN.init_from, runtime.network_config(cfg, SPEC.train_keys(cfg.MODEL.kind)),
                              nets=("model",))


# ------------------------------------------------------------------ data
def data_paths(cfg):
    return ava_file_paths(cfg.DATA.out_dir, cfg.DATA.format)


def theta_groups(cfg):
    return [list(np.arange(a, b + step / 2, step, dtype=float)) for a, b, step in cfg.DATA.theta_groups]


def data_settings(cfg, draw=0):
    """What DATA.out_dir's files (or a family's epoch ``draw``) are built from, recorded in the folder's marker."""
    data = {k: v for k, v in OmegaConf.to_container(cfg.DATA, resolve=True).items() if k != "out_dir"}  # where, not what
    return {"DATA": data, "PHYSICS.method": cfg.PHYSICS.method, "draw": draw}


def prepare_data(cfg, needed=("labelled", "section", "truth")):
    """The AVA files of DATA.out_dir, built from the elastic section when the ``needed`` ones are missing and the
    folder is new, empty or the project's own; files present are only read (with a warning where the folder
    records other settings), and a folder of your own that lacks some is an error naming them."""
    paths = data_paths(cfg)
    missing = [paths[k] for k in needed if not osp.isfile(paths[k])]
    if not missing:
        diff = outputs.differences(cfg.DATA.out_dir, data_settings(cfg))
        if diff:
            logger.warning(f"DATA.out_dir={cfg.DATA.out_dir} holds files built with other settings than the config's "
                           f"({'; '.join(diff)}): they are read as they are")
        return paths
    if outputs.folder_state(cfg.DATA.out_dir) == "user":
        raise FileNotFoundError(f"{', '.join(missing)} not found in DATA.out_dir={cfg.DATA.out_dir}, a folder of "
                                f"your own (no {outputs.MARKER}): nothing is built into it. Add the missing files, or "
                                f"choose a new or empty DATA.out_dir to build the {cfg.DATA.source} data there")
    logger.message(f"{missing[0]} not found: building the AVA files from the {cfg.DATA.source} section in "
                   f"{cfg.DATA.out_dir} (seconds to a minute)")
    build_data(cfg)
    return paths


def build_data(cfg, out_dir=None, draw=0):
    """The AVA files of DATA.source in ``out_dir`` (default DATA.out_dir); ``draw`` > 0: a family's new sections,
    wells and noise for training epoch ``draw`` (DATA.family.redraw)."""
    vp, vs, rho, wells = elastic_section_of(cfg.DATA, draw)
    bad = [w for w in wells if not 0 <= w < vp.shape[1]]
    if bad:
        raise ValueError(f"DATA.wells: trace indices {bad} outside the section's 0..{vp.shape[1] - 1}")
    d, out_dir = cfg.DATA, out_dir or cfg.DATA.out_dir
    logger.info(f"building AVA files in {out_dir} from a {vp.shape[0]} x {vp.shape[1]} {d.source} section")
    build_ava_files(vp, vs, rho, out_dir, well_traces=list(wells), n_aug=d.n_aug, aug_noise=d.aug_noise,
                    cutoff_hz=d.cutoff_hz, butter_order=d.butter_order, dt=d.dt, freq=d.freq,
                    theta_groups=theta_groups(cfg), snr_db=d.snr_db, seed=d.seed + draw, fmt=d.format,
                    method=cfg.PHYSICS.method, wavelet=read_wavelet(cfg.DATA.wavelet_file),
                    settings=data_settings(cfg, draw), key="DATA.out_dir")


# ---------------------------------------------------------------- builders
def build_forward_op(cfg, ava_file, dtype="float32"):
    """The forward operator of a file: its own wavelet matrix and angle groups."""
    data = read_ava_file(ava_file)
    return AVAForward(data["wavemat"], data["theta"], method=cfg.PHYSICS.method,
                      beyond_critical=cfg.PHYSICS.beyond_critical, dtype=dtype)


def build_model(cfg, forward_op, kind=None):
    kind = kind or cfg.MODEL.kind
    m = cfg.MODEL
    if kind == "gdrnn":
        return GDRNN(IN_KEYS, OUT_KEYS, forward_op, m.scale, m.n_steps, m.dims, m.adaptive_step, m.alpha_init,
                     guard=m.guard, guard_step0=cfg.EVAL.gd_step0, trust_region=m.trust_region)
    if kind == "original":
        return AVAUNet(IN_KEYS, OUT_KEYS, forward_op, m.scale, 3, m.dims, m.lam)
    raise ValueError(f"MODEL.kind: expected one of {list(KINDS)}, found {kind!r}")


def loader_cfg(path, labelled, batch_size, traces=None):
    return loader_config({"name": "AVADataset", "file_path": path, "input_keys": IN_KEYS,
                          "label_keys": ("m",) if labelled else (), "traces": traces}, batch_size, True)


def train_constraints(cfg, paths):
    """(the wells, the section's traces) of the AVA files at ``paths``, as ppsci constraints."""
    t, mse = cfg.TRAIN, ppsci.loss.MSELoss()
    return (ppsci.constraint.SupervisedConstraint(loader_cfg(paths["labelled"], True, t.well_batch_size), mse,
                                                  name="wells"),
            ppsci.constraint.SupervisedConstraint(loader_cfg(paths["section"], False, t.batch_size,
                                                             dict(t.section_traces)), mse, name="section"))


# ------------------------------------------------------------------ train
def thread_probe(cfg):
    """One training step of MODEL.kind on a batch of TRAIN.batch_size + TRAIN.well_batch_size traces of
    DATA.synthetic.n_samples samples (num_threads=auto measures it): (name, step)."""
    t, n = cfg.TRAIN, int(cfg.DATA.synthetic.n_samples)
    op = AVAForward(ricker_wavelet_matrix(cfg.DATA.freq, cfg.DATA.dt, n), theta_groups(cfg), method=cfg.PHYSICS.method,
                    beyond_critical=cfg.PHYSICS.beyond_critical)
    model = build_model(cfg, op)
    opt = paddle.optimizer.Adam(parameters=model.parameters())
    batch = int(t.batch_size) + int(t.well_batch_size)
    rng = np.random.default_rng(0)
    m = np.asarray(cfg.MODEL.scale, dtype=np.float32)[None, :, None] * rng.uniform(0.9, 1.1, (batch, 3, n))
    m_back = paddle.to_tensor(m.astype(np.float32))
    stacks = op(m_back * paddle.to_tensor(rng.uniform(0.95, 1.05, m.shape).astype(np.float32)))

    def step():
        model({"stacks": stacks, "m_back": m_back})["m"].square().mean().backward()
        opt.step()
        opt.clear_grad()

    return f"GDRNN {cfg.MODEL.kind} {list(cfg.MODEL.dims)} x {cfg.MODEL.n_steps} steps, {batch} traces x {n}", step


@runtime.mode
def train(cfg: DictConfig):
    """Train MODEL.kind; with TRAIN.nprocs > 1 (CPU) in that many data-parallel processes of 1 thread each."""
    runtime.rank_zero_first(prepare_data, cfg, ("labelled", "section"))  # built once, before any worker starts
    return runtime.data_parallel(_train, cfg, cfg.TRAIN.nprocs)


def _train(cfg):
    paths = prepare_data(cfg, ("labelled", "section"))  # there by now: only read
    kind, t = cfg.MODEL.kind, cfg.TRAIN
    model = build_model(cfg, build_forward_op(cfg, paths["section"]))
    labelled, unlabelled = train_constraints(cfg, paths)
    redraw = runtime.drawn_each_epoch(lambda out, epoch: build_data(cfg, out, epoch), lambda out: train_constraints(
        cfg, ava_file_paths(out, cfg.DATA.format))) if cfg.DATA.source == "family" and cfg.DATA.family.redraw else None
    if kind == "original":
        stacks = labelled.data_loader.dataset.arrays()[0]
        model.set_stack_scale(float(np.sqrt(np.mean(np.square(stacks)))))
    wells_m = labelled.data_loader.dataset.arrays()[2] / np.asarray(cfg.MODEL.scale)[None, :, None]
    weights = 1.0 / wells_m.std(axis=(0, 2))  # each property counts equally
    terms = AVALossTerms(cfg.MODEL.scale, t.lambda1, t.schedule.lambda2_start, t.lambda3, weights=weights.tolist())
    iters = t.epochs * len(unlabelled.data_loader)
    lr = paddle.optimizer.lr.CosineAnnealingDecay(t.lr, iters, eta_min=t.lr_final)
    opt = paddle.optimizer.Adam(learning_rate=lr, parameters=model.parameters())
    trainer = UnrolledTrainer(model=model, labelled=labelled, unlabelled=unlabelled,
                              loss=ppsci.loss.FunctionalLoss(terms), terms=terms, optimizer=opt, lr_scheduler=lr,
                              train=t, checkpoint=SPEC.checkpoint(cfg.output_dir, kind),
                              config=runtime.run_config(cfg, SPEC.train_keys(kind)), seed=cfg.seed, redraw=redraw)
    return trainer.fit()


# -------------------------------------------------------------- inversion
def load_model(cfg, kind, forward_op, section="EVAL"):
    """The trained network of ``kind`` with the forward operator ``forward_op`` (weights from ``section``)."""
    return runtime.load_network(SPEC, cfg, kind, lambda: build_model(cfg, forward_op, kind), section)


def batches(n, batch_size, nprocs=1):
    """The trace ranges of an [N, ...] section: at most ``batch_size`` traces each, as many ranges as a multiple
    of ``nprocs`` and of about equal size, so that ``nprocs`` processes get equal shares."""
    count = -(-n // int(batch_size))
    count = max(1, min(n, -(-count // int(nprocs)) * int(nprocs)))
    edges = np.linspace(0, n, count + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def invert(model, stacks, m_back, batch_size, nprocs=1):
    """Run a trained network over [N, 3, L] arrays in batches -> (models [N, 3, L], the guard's report: how many
    traces and unrolled steps fell back to gradient descent, and with MODEL.trust_region how many traces had each
    property's change bounded; None with both off). With ``nprocs`` > 1 the batches are shared by that many forked
    single-thread processes (:func:`ppsci_ext.parallel.fork_map`): each batch is computed as here, so the same
    models."""

    def run(rows):
        with paddle.no_grad():
            m = model({k: paddle.to_tensor(np.ascontiguousarray(v[rows], dtype=np.float32))
                       for k, v in zip(IN_KEYS, (stacks, m_back))})[OUT_KEYS[0]].numpy()
        found = {"fell": getattr(model, "last_fallback", None), "trust": getattr(model, "last_trust", None)}
        return dict({k: v for k, v in found.items() if v is not None}, m=m)

    parts = fork_map(run, batches(len(stacks), batch_size, nprocs), nprocs)
    m = np.concatenate([p["m"] for p in parts])
    report = guard_report([p.get("fell") for p in parts])
    if report:
        logger.info(f"guard: {report['traces_fell_back']} of {report['traces']} traces fell back to gradient "
                    f"descent in {report['steps_fell_back']} of {report['steps']} unrolled steps")
    trust = [p["trust"] for p in parts if "trust" in p]
    if trust:
        bounded = (np.concatenate(trust) < 1).sum(0).tolist()
        report = dict(report or {}, trust_bounded=dict(zip(PROPS, bounded)))
        logger.info(f"trust region: changes bounded in {bounded} of {len(m)} traces (vp, vs, rho)")
    return m, report


@runtime.mode
def inference(cfg: DictConfig):
    runtime.required(cfg.INFER.input, "INFER.input", "<physics-driven .mat/.npz>")
    out_path = runtime.output_file(cfg, "INFER.output", FILES)
    ds = AVADataset(cfg.INFER.input, label_keys=())
    op = build_forward_op(cfg, cfg.INFER.input)
    model = load_model(cfg, cfg.MODEL.kind, op, "INFER")
    stacks, m_back, _ = ds.arrays()
    m, _ = invert(model, stacks, m_back, cfg.INFER.batch_size, runtime.inference_procs(cfg, "INFER.nprocs"))
    write_npz(out_path, **{p: m[:, i].T for i, p in enumerate(PROPS)})
    logger.info(f"inverted {len(m)} traces x {m.shape[-1]} samples -> {cfg.INFER.output}")


# ------------------------------------------------------------------- eval
def run_methods(cfg, paths, stacks, m_back, kinds):
    """Every method's inverted section [N, 3, L], for the iterative ones its misfit curve, and the guard's
    report of each network (the trained ``kinds``). Every method but damped least squares works trace by trace
    (the line searches and Adam's moments are per trace), so the section is inverted in batches of
    EVAL.batch_size traces, shared by EVAL.nprocs forked single-thread processes; a curve is the misfit of the
    whole section, summed over the batches."""
    op = build_forward_op(cfg, paths["section"])
    nprocs = runtime.inference_procs(cfg, "EVAL.nprocs")
    nets, results, guard = {kind: load_model(cfg, kind, op) for kind in kinds}, {}, {}
    for kind, net in nets.items():
        results[kind], guard[kind] = invert(net, stacks, m_back, cfg.EVAL.batch_size, nprocs)
    n_iter, n_long = cfg.MODEL.n_steps, cfg.EVAL.n_iter_long
    curve_model = nets.get("gdrnn")
    methods = (("gd", ava_inversion.gradient_descent, {"step0": cfg.EVAL.gd_step0}),
               ("adam", ava_inversion.adam_inversion, {"lr": cfg.EVAL.adam_lr}))

    def run(rows):
        d, m0 = paddle.to_tensor(stacks[rows]), paddle.to_tensor(m_back[rows])
        out = {"power": float(d.square().sum())}  # the curves below are relative to it
        for name, fn, kw in methods:
            if n_long > 0:  # the long runs and their misfit curves (0: skipped, as in the demos)
                m, out[f"{name}_curve"] = fn(op, m0, d, n_long, cfg.MODEL.scale, **kw)
                out[f"{name}_long"] = m.numpy()
            out[name] = fn(op, m0, d, n_iter, cfg.MODEL.scale, **kw)[0].numpy()
        if curve_model is not None:
            out["gdrnn_curve"] = curve_model.misfit_curve(stacks[rows], m_back[rows])
        return out

    parts = fork_map(run, batches(len(stacks), cfg.EVAL.batch_size, nprocs), nprocs)
    power = np.array([float(p["power"]) for p in parts])
    names = [k for k in parts[0] if k != "power"]
    results.update({k: np.concatenate([p[k] for p in parts]) for k in names if not k.endswith("_curve")})
    curves = {k[:-len("_curve")]: (sum(p[k] * w for p, w in zip(parts, power)) / power.sum()).tolist()
              for k in names if k.endswith("_curve")}
    vsvp = (m_back[:, 1] / m_back[:, 0]).mean(0)  # one vs/vp per sample for the whole section, as pylops
    section = read_ava_file(paths["section"])
    linear = AVAForward(section["wavemat"], section["theta"], method="aki_richards", vsvp=vsvp, dtype="float64")
    results["dls"] = ava_inversion.damped_least_squares(linear, m_back.astype(np.float64),
                                                        stacks.astype(np.float64), cfg.EVAL.dls_damping)
    return results, curves, guard


def scores(results, truth, stacks, op, scored):
    out = {}
    d = paddle.to_tensor(stacks)
    for name, m in results.items():
        out[name] = {f"{p}_{k}": v for i, p in enumerate(PROPS)
                     for k, v in metric.section_scores(m[scored, i].T, truth[scored, i].T).items()}
        out[name]["data_misfit"] = ava_inversion.relative_misfit(op, paddle.to_tensor(m, dtype="float32"), d)
    return out


@runtime.mode
def evaluate(cfg: DictConfig):
    kinds = runtime.trained_kinds(SPEC, cfg, KINDS)  # first: missing or wrong weights cost no data building
    paths = prepare_data(cfg)
    stacks, m_back, _ = AVADataset(paths["section"], label_keys=()).arrays()
    t = np.load(paths["truth"])
    truth = np.stack([t[p].T for p in PROPS], 1)  # [N, 3, L]
    wells = np.asarray(t["well_traces"])  # those the files were built with
    far = np.abs(np.arange(len(truth))[:, None] - wells[None]).min(1) > cfg.EVAL.well_margin
    results, curves, guard = run_methods(cfg, paths, stacks, m_back, kinds)
    table = scores(dict(results, background=m_back), truth, stacks, build_forward_op(cfg, paths["section"]), far)
    out = {"scored_traces": int(far.sum()), "wells": wells.tolist(), "n_steps": cfg.MODEL.n_steps,
           "n_iter_long": cfg.EVAL.n_iter_long, "methods": table, "misfit_curves": curves, "guard": guard}
    write_json(osp.join(cfg.output_dir, "eval_metrics.json"), out)
    shown = {k: results[k] for k in ("gdrnn", "original", "adam", "dls") if k in results}
    plot.ava_evaluation(truth, m_back, shown, curves, wells.tolist(), cfg.EVAL.blind_trace, PROPS, UNITS,
                        osp.join(cfg.output_dir, "figures"))
    for name, row in table.items():
        logger.info(f"{name:12s} " + " ".join(f"{p}: PCC {row[p + '_PCC']:.3f} R2 {row[p + '_R2']:.3f}"
                                              for p in PROPS) + f" misfit {row['data_misfit']:.3g}")
    return out


def run(cfg: DictConfig):
    """The mode ``cfg.mode``, after the start checks (what ``main`` runs; tests call it with a composed config)."""
    return runtime.dispatch(cfg, {"train": train, "eval": evaluate, "infer": inference}, FILES, check_settings,
                            lambda c: SPEC.checkpoint(c.output_dir, c.MODEL.kind), thread_probe)


@hydra.main(version_base=None, config_path="../../conf", config_name="gdrnn")
def main(cfg: DictConfig):
    return run(cfg)


if __name__ == "__main__":
    main()
