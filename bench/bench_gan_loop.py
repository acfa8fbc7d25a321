"""Benchmark of the VelocityGAN training loop: ppsci_ext.train.WGANGPTrainer vs PaddleScience 1.4.0's example loop.

Prints a markdown table: seconds per iteration, iterations/s and peak memory of each loop, and the ratio.
One iteration is n_critic critic steps + 1 generator step.

- ours: ``WGANGPTrainer.critic_step`` / ``generator_step`` called directly, one batch from the
  SupervisedConstraint's loader per iteration (the body of ``WGANGPTrainer.train_epoch``), critic without
  normalisation layers.
- ppsci: the loop of PaddleScience's examples/velocityGAN/velocityGAN.py (+ functions.py), reproduced:
  ``ppsci.arch.VelocityGenerator`` / ``VelocityDiscriminator`` (BatchNorm everywhere), two
  SupervisedConstraints over two data loaders, two ``ppsci.solver.Solver`` (critic: epochs=1,
  iters_per_epoch=n_critic; generator: epochs=1, iters_per_epoch=1), and per iteration
  ``solver_dis.train(); solver_gen.train()``. The critic Solver is built with the *generator* as its
  model, as in the example; every ``train()`` call writes the "latest" checkpoint (to a temp dir here).

- torch: OpenFWI's InversionNet and critic layouts in PyTorch on CPU (ppsci_ext/testing/openfwi_nets.py,
  BatchNorm everywhere as OpenFWI), the same sizes, batch, losses, AdamW and thread count: the framework a
  user would otherwise pick. Skipped (said so) without torch; ``--no-torch`` leaves it out.
- ours, THREADS processes x 1 thread: how ``mode=train`` runs on CPU (TRAIN.nprocs), each process on its shard
  of the same global batch, gradients all-reduced (gloo) every step.
- ... and with the same-batch schedule, the CPU default (``TRAIN.gan_schedule: same_batch``): the
  generator's forward for the critic steps is the one its own step back-propagates (the same updates: its
  weights do not change in between), where the other rows, like PyTorch's, compute it twice.
- InversionNet rows (``--no-inversionnet`` leaves them out): the baseline without a critic, one supervised
  generator step per iteration, ours and (with torch) PyTorch's.

Each loop runs in its own subprocess so that ``ru_maxrss`` is the peak of that loop alone.
Random OpenFWI-format data ([N, 5, 1000, 70] gathers, [N, 1, 70, 70] models) go to a temp dir.
Usage: python bench/bench_gan_loop.py [--batch B] [--iters N] [--n-critic K]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from common import timings

os.environ.setdefault("GLOG_minloglevel", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_MIN, DATA_MAX = -30.0, 60.0  # raw amplitude range used for normalisation
LABEL_MIN, LABEL_MAX = 1500.0, 4500.0  # m/s
LAMBDA_L1, LAMBDA_L2, LAMBDA_ADV, LAMBDA_GP = 100.0, 0.0, 1.0, 10.0  # OpenFWI / ppsci example weights
LR, WEIGHT_DECAY = 1e-4, 1e-4  # AdamW, both networks, both loops (ppsci example's values)
THREADS = 2
# OpenFWI's full sizes: gathers 5 x 1000 x 70 -> velocity 70 x 70.
FULL = {"generator": dict(n_sources=5, time_samples=1000, sample_ratio=1, n_receivers=70, out_shape=(70, 70),
                          dims=(32, 64, 128, 256, 512)),
        "critic": dict(in_shape=(70, 70), dims=(32, 64, 128, 256))}


# ------------------------------------------------------------------ data set
def write_fwi_files(folder, n_files, n, seed=0):
    """OpenFWI-format files; absolute paths in the annotation (ppsci's FWIDataset does not resolve relative ones)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    lines = []
    for k in range(n_files):
        data, model = os.path.join(folder, f"data{k}.npy"), os.path.join(folder, f"model{k}.npy")
        np.save(data, (10.0 * rng.standard_normal((n, 5, 1000, 70))).clip(DATA_MIN, DATA_MAX).astype(np.float32))
        np.save(model, rng.uniform(LABEL_MIN, LABEL_MAX, (n, 1, 70, 70)).astype(np.float32))
        lines.append(f"{data}\t{model}\n")  # ppsci's reader strips the last character of the label path
    anno = os.path.join(folder, "train.txt")
    with open(anno, "w") as f:
        f.writelines(lines)
    return anno


def cpu_sizes():
    """Our default CPU sizes, read from conf/velocitygan.yaml so they stay in sync with the example."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(os.path.join(ROOT, "conf", "velocitygan.yaml"))
    model = OmegaConf.to_container(cfg.MODEL, resolve=True)
    drop = ("input_keys", "output_keys")
    return {"generator": {k: v for k, v in model["generator"].items() if k not in drop},
            "critic": {k: v for k, v in model["critic"].items() if k not in drop}}


def describe(sizes):
    g, c = sizes["generator"], sizes["critic"]
    nt = -(-g["time_samples"] // g["sample_ratio"])
    return (f"{g['n_sources']}x{nt}x{g['n_receivers']} -> {'x'.join(map(str, g['out_shape']))}, "
            f"G {'-'.join(map(str, g['dims']))}, D {'-'.join(map(str, c['dims']))}")


# ------------------------------------------------------------------ timing
def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def grad_abs_sum(net):
    return float(sum(float(p.grad.abs().sum()) for p in net.parameters() if p.grad is not None))


def cycle(loader):
    while True:
        yield from loader


# ------------------------------------------------------------------ ours
def build_ours(args, sizes, gan=True):
    import paddle
    import ppsci
    from omegaconf import OmegaConf

    import ppsci_ext  # noqa: F401  (registers ExtFWIDataset)
    from ppsci_ext.arch import VelocityDiscriminator
    from ppsci_ext.arch import VelocityGenerator
    from ppsci_ext.train import WGANGPTrainer

    g_kw = sizes["generator"]
    loader = {"dataset": {"name": "ExtFWIDataset", "input_keys": ("data",), "label_keys": ("velocity",),
                          "anno": args.anno, "data_min": DATA_MIN, "data_max": DATA_MAX, "label_min": LABEL_MIN,
                          "label_max": LABEL_MAX, "sample_ratio": g_kw["sample_ratio"], "log_k": 1.0},
              "batch_size": args.batch, "num_workers": 0,
              "sampler": {"name": "DistributedBatchSampler", "shuffle": True, "drop_last": True}}

    def gen_loss(out, lab, weight=None):
        diff = out["velocity"] - lab["velocity"]
        losses = {"l1": LAMBDA_L1 * diff.abs().mean(), "l2": LAMBDA_L2 * diff.square().mean()}
        if "score_fake" in out:
            losses["adv"] = -LAMBDA_ADV * out["score_fake"].mean()
        return losses

    def crit_loss(out, lab=None, weight=None):
        return {"critic": out["score_fake"].mean() - out["score_real"].mean(), "gp": LAMBDA_GP * out["gp"]}

    constraint = ppsci.constraint.SupervisedConstraint(loader, ppsci.loss.FunctionalLoss(gen_loss), name="fwi")
    g = VelocityGenerator(("data",), ("velocity",), **g_kw)
    d = VelocityDiscriminator(("velocity",), ("score",), **sizes["critic"]) if gan else None
    opt_g = paddle.optimizer.AdamW(LR, parameters=g.parameters(), weight_decay=WEIGHT_DECAY)
    opt_d = paddle.optimizer.AdamW(LR, parameters=d.parameters(), weight_decay=WEIGHT_DECAY) if gan else None
    cfg = OmegaConf.create(dict(epochs=1, n_critic=args.n_critic, gan_schedule="openfwi", lr_g=LR, lr_d=LR,
                                warmup_steps=0, final_lr_ratio=0.0, log_freq=20, init_from=None))
    trainer = WGANGPTrainer(generator=g, critic=d, constraint=constraint,
                            critic_loss=ppsci.loss.FunctionalLoss(crit_loss), opt_g=opt_g, opt_d=opt_d, train=cfg,
                            checkpoint=os.path.join(args.workdir, "ours.pdparams"), config={}, validate=None)
    trainer.steps_per_epoch = len(constraint.data_loader)
    return trainer


def run_ours(args, sizes, gan=True, threads=THREADS, same_batch=False):
    import paddle

    paddle.base.core.set_num_threads(threads)
    paddle.seed(0)
    t = build_ours(args, sizes, gan)
    batches = cycle(t.constraint.data_loader)
    leaks = {}

    def iteration():
        inputs, labels, weights = next(batches)
        if not gan:  # the InversionNet baseline: one supervised generator step
            t.generator_step(inputs, labels, weights)
            return
        out = None
        if same_batch:  # the CPU default schedule (TRAIN.gan_schedule: same_batch): one generator forward serves both steps
            out = t.g(inputs)
            fake = out[t.label_key].detach()
        else:
            with paddle.no_grad():
                fake = t.g(inputs)[t.label_key]
        for _ in range(args.n_critic):
            t.critic_step(fake, labels[t.label_key])
        leaks.setdefault("G grad after critic steps", grad_abs_sum(t.g))
        t.generator_step(inputs, labels, weights, out)
        leaks.setdefault("D grad after generator step", grad_abs_sum(t.d))
        t.step += 1

    times = timings(iteration, args.iters)
    return {"times": times, "peak_rss_mib": peak_rss_mib(), "leaks": leaks, "sizes": describe(sizes)}


def run_torch(args, gan=True):
    """One WGAN-GP iteration of OpenFWI's layout in PyTorch: n_critic critic steps + 1 generator step
    (``gan=False``: InversionNet's supervised step alone)."""
    import numpy as np
    import torch

    from ppsci_ext.testing.openfwi_nets import discriminator
    from ppsci_ext.testing.openfwi_nets import inversion_net

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    g, d = inversion_net(FULL["generator"]["dims"]), discriminator(FULL["critic"]["dims"])
    opt_g = torch.optim.AdamW(g.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    opt_d = torch.optim.AdamW(d.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.uniform(-1, 1, (args.batch, 5, 1000, 70)).astype(np.float32))
    y = torch.from_numpy(rng.uniform(-1, 1, (args.batch, 1, 70, 70)).astype(np.float32))

    def iteration():
        if not gan:
            diff = g(x) - y
            loss_g = LAMBDA_L1 * diff.abs().mean() + LAMBDA_L2 * diff.square().mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            return
        with torch.no_grad():
            fake = g(x)
        for _ in range(args.n_critic):
            alpha = torch.rand(args.batch, 1, 1, 1)
            mixed = (alpha * y + (1 - alpha) * fake).requires_grad_(True)
            grad, = torch.autograd.grad(d(mixed).sum(), mixed, create_graph=True)
            gp = (grad.flatten(1).norm(dim=1) - 1).square().mean()
            loss_d = d(fake).mean() - d(y).mean() + LAMBDA_GP * gp
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        pred = g(x)
        diff = pred - y
        loss_g = LAMBDA_L1 * diff.abs().mean() + LAMBDA_L2 * diff.square().mean() - LAMBDA_ADV * d(pred).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    times = timings(iteration, args.iters)
    return {"times": times, "peak_rss_mib": peak_rss_mib(), "leaks": {}, "sizes": describe(FULL)}


def _dp_worker(args, gan):
    import paddle.distributed as dist

    dist.init_parallel_env()
    args.batch //= THREADS  # per process: the same global batch
    result = run_ours(args, FULL, gan=gan, threads=1, same_batch=args.side == "ours_dp_same_batch")
    if dist.get_rank() == 0:
        with open(os.path.join(args.workdir, f"{args.side}.json"), "w") as f:
            json.dump(result, f)


def run_ours_dp(args, gan=True):
    """Our loop as ``mode=train`` runs it on CPU (TRAIN.nprocs: 2): THREADS single-thread data-parallel
    processes (gloo), each on its shard of the batch, gradients all-reduced every step; rank 0's times."""
    import paddle.distributed as dist

    dist.spawn(_dp_worker, args=(args, gan), nprocs=THREADS, backend="gloo")
    with open(os.path.join(args.workdir, f"{args.side}.json")) as f:
        return json.load(f)


# ------------------------------------------------------------------ PaddleScience 1.4.0's example loop
def ppsci_losses(critic):
    """The example's generator and critic losses (functions.py GenFuncs / DisFuncs), rewritten."""
    import paddle
    import paddle.nn.functional as F

    def gen_loss(output_dict, label_dict, *args):
        pred, real = output_dict["fake_image"], label_dict["real_image"]
        loss = LAMBDA_L1 * F.l1_loss(pred, real) + LAMBDA_L2 * F.mse_loss(pred, real)
        return {"loss_g": loss - LAMBDA_ADV * critic({"image": pred})["score"].mean()}

    def critic_loss(output_dict, label_dict, *args):
        fake, real = output_dict["fake_image"], label_dict["real_image"]
        fake.stop_gradient = True  # as in the example: no gradient back into the generator
        alpha = paddle.rand([real.shape[0], 1, 1, 1], dtype=real.dtype)
        x_hat = alpha * real + (1 - alpha) * fake
        x_hat.stop_gradient = False
        (grad,) = paddle.grad(critic({"image": x_hat})["score"], x_hat, create_graph=True, retain_graph=True)
        gp = (paddle.norm(grad.reshape([grad.shape[0], -1]), p=2, axis=1) - 1).square().mean()
        loss = -critic({"image": real})["score"].mean() + critic({"image": fake})["score"].mean()
        return {"loss_d": loss + LAMBDA_GP * gp}

    return gen_loss, critic_loss


def build_ppsci(args):
    """Two Solvers exactly as the example builds them; returns (solver_dis, solver_gen, generator, critic)."""
    import ppsci

    from ppsci_ext.data.fwi import FWINormalisation

    g = ppsci.arch.VelocityGenerator(("data",), ("fake_image",), 32, 64, 128, 256, 512, sample_spatial=1.0)
    d = ppsci.arch.VelocityDiscriminator(("image",), ("score",), 32, 64, 128, 256)
    gen_loss, critic_loss = ppsci_losses(d)
    # log + min-max to [-1, 1] (the example's LogTransform + MinMaxNormalize), without its in-place edits
    norm = FWINormalisation(DATA_MIN, DATA_MAX, LABEL_MIN, LABEL_MAX, log_k=1.0, sample_ratio=1)
    loader = {"dataset": {"name": "FWIDataset", "input_keys": ("data",), "label_keys": ("real_image",),
                          "anno": args.anno, "preload": True, "sample_ratio": 1, "file_size": args.file_size,
                          "transform_data": norm.data, "transform_label": norm.velocity},
              "sampler": {"name": "BatchSampler", "shuffle": False, "drop_last": True},
              "batch_size": args.batch, "num_workers": 0}
    identity = {"fake_image": lambda out: out["fake_image"]}
    cst_gen = ppsci.constraint.SupervisedConstraint(loader, ppsci.loss.FunctionalLoss(gen_loss), identity, "cst_gen")
    cst_dis = ppsci.constraint.SupervisedConstraint(loader, ppsci.loss.FunctionalLoss(critic_loss), identity, "cst_dis")
    optimizer = ppsci.optimizer.AdamW(learning_rate=LR, weight_decay=WEIGHT_DECAY)
    out_dir = os.path.join(args.workdir, "ppsci_output")
    solver_gen = ppsci.solver.Solver(model=g, constraint={cst_gen.name: cst_gen}, output_dir=out_dir,
                                     optimizer=optimizer(g), epochs=1, iters_per_epoch=1)
    # the example passes model=model_gen to the critic's Solver too (its optimizer holds the critic's parameters)
    solver_dis = ppsci.solver.Solver(model=g, constraint={cst_dis.name: cst_dis}, output_dir=out_dir,
                                     optimizer=optimizer(d), epochs=1, iters_per_epoch=args.n_critic)
    return solver_dis, solver_gen, g, d, out_dir


def count_checkpoint_writes(out_dir):
    """Wrap ppsci's save_checkpoint (behaviour unchanged) to count its calls and the bytes they write."""
    from ppsci.utils import save_load

    counts = {"calls": 0, "bytes": 0, "seconds": 0.0}
    original = save_load.save_checkpoint

    def counted(*a, **k):
        start = time.perf_counter()
        original(*a, **k)
        counts["seconds"] += time.perf_counter() - start
        counts["calls"] += 1
        folder = os.path.join(out_dir, "checkpoints")
        counts["bytes"] += sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))

    save_load.save_checkpoint = counted
    return counts


def probe_cpu_sizes():
    """Can ppsci's generator take our default CPU sizes? Returns None if it can, else the error."""
    import paddle
    import ppsci

    g = cpu_sizes()["generator"]
    nt = -(-g["time_samples"] // g["sample_ratio"])
    net = ppsci.arch.VelocityGenerator(("data",), ("fake_image",), *g["dims"])
    try:
        with paddle.no_grad():
            out = net({"data": paddle.zeros([1, g["n_sources"], nt, g["n_receivers"]])})["fake_image"]
    except Exception as exc:  # noqa: BLE001  (any failure means "cannot")
        first_line = str(exc).splitlines()[0][:160]
        return f"input [1, {g['n_sources']}, {nt}, {g['n_receivers']}]: {type(exc).__name__}: {first_line}"
    if list(out.shape[2:]) != list(g["out_shape"]):
        return f"input [1, {g['n_sources']}, {nt}, {g['n_receivers']}] gives output {list(out.shape)}"
    return None


def run_ppsci(args):
    import paddle

    paddle.base.core.set_num_threads(THREADS)
    paddle.seed(0)
    solver_dis, solver_gen, g, d, out_dir = build_ppsci(args)
    counts = count_checkpoint_writes(out_dir)
    leaks = {}

    def iteration():
        solver_dis.train()
        leaks.setdefault("G grad after critic steps", grad_abs_sum(g))
        solver_gen.train()
        leaks.setdefault("D grad after generator step", grad_abs_sum(d))

    times = timings(iteration, args.iters)
    peak = peak_rss_mib()
    files = sorted(os.path.relpath(os.path.join(top, f), out_dir) for top, _, names in os.walk(out_dir) for f in names)
    return {"times": times, "peak_rss_mib": peak, "leaks": leaks, "sizes": describe(FULL),
            "checkpoint_calls": counts["calls"], "checkpoint_mib": counts["bytes"] / 2**20, "output_files": files,
            "checkpoint_seconds": counts["seconds"],
            "two_preloaded_datasets": solver_dis.constraint["cst_dis"].data_loader.dataset
            is not solver_gen.constraint["cst_gen"].data_loader.dataset,
            "critic_solver_model_is_generator": solver_dis.model is g, "cpu_sizes_error": probe_cpu_sizes()}


# ------------------------------------------------------------------ driver
def child(args):
    if args.side == "ppsci":
        result = run_ppsci(args)
    elif args.side in ("ours_dp", "ours_dp_same_batch", "ours_inv_dp"):
        result = run_ours_dp(args, gan=args.side != "ours_inv_dp")
    elif args.side in ("torch", "torch_inv"):
        result = run_torch(args, gan=args.side == "torch")
    else:
        result = run_ours(args, cpu_sizes() if args.side == "ours_cpu" else FULL, gan=args.side != "ours_inv")
    with open(os.path.join(args.workdir, f"{args.side}.json"), "w") as f:
        json.dump(result, f)


def spawn(args, side, workdir, anno, file_size):
    cmd = [sys.executable, os.path.abspath(__file__), "--side", side, "--workdir", workdir, "--anno", anno,
           "--file-size", str(file_size), "--batch", str(args.batch), "--iters", str(args.iters),
           "--n-critic", str(args.n_critic)]
    log = os.path.join(workdir, f"{side}.log")
    start = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    if proc.returncode != 0:
        with open(log) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f"--side {side} exited with {proc.returncode}; end of {log}:\n{tail}")
    with open(os.path.join(workdir, f"{side}.json")) as f:
        result = json.load(f)
    print(f"  {side}: done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return result


def row(name, r, args):
    sec = statistics.median(r["times"])
    return (f"| {name} | {r['sizes']} | {args.batch} | {args.n_critic} | {sec:.2f} "
            f"({min(r['times']):.2f}-{max(r['times']):.2f}) | {1 / sec:.3f} | {r['peak_rss_mib']:.0f} |")


def report(args, ours, theirs, ours_cpu, torch_row=None, inv=None, ours_dp=None, ours_sb=None):
    it_ours, it_theirs = 1 / statistics.median(ours["times"]), 1 / statistics.median(theirs["times"])
    print(f"\n### VelocityGAN training loop, {THREADS} threads, batch {args.batch}, n_critic {args.n_critic}, "
          f"median of {args.iters} iterations after 1 warm-up\n")
    print("| loop | sizes | B | n_critic | s / iteration (min-max) | iterations / s | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|---|")
    print(row(f"ppsci_ext WGANGPTrainer, 1 process x {THREADS} threads", ours, args))
    if ours_dp is not None:
        print(row(f"ppsci_ext WGANGPTrainer, {THREADS} processes x 1 thread (mode=train on CPU), RSS per process",
                  ours_dp, args))
    if ours_sb is not None:
        print(row(f"... and the same-batch schedule (the CPU default: one generator forward serves the critic "
                  f"and generator steps, same updates)", ours_sb, args))
    print(row("PaddleScience 1.4.0 example (2 Solvers)", theirs, args))
    print(f"| **ratio ours / ppsci** (1 process) | same | | | | **{it_ours / it_theirs:.2f}x** | "
          f"**{ours['peak_rss_mib'] / theirs['peak_rss_mib']:.2f}x** |")

    def vs_torch(name, mine, other):
        return (f"| **ratio ours / PyTorch**, {name} | same | | | | "
                f"**{statistics.median(other['times']) / statistics.median(mine['times']):.2f}x** | |")

    if torch_row is not None:
        print(row(f"OpenFWI's layout in PyTorch, {THREADS} threads (BatchNorm critic)", torch_row, args))
        print(vs_torch(f"1 process x {THREADS} threads", ours, torch_row))
        if ours_dp is not None:
            print(vs_torch(f"{THREADS} processes x 1 thread", ours_dp, torch_row))
        if ours_sb is not None:
            print(vs_torch(f"{THREADS} processes x 1 thread, same-batch schedule", ours_sb, torch_row))
    if inv is not None:  # the InversionNet baseline: one supervised step per iteration, no critic
        ours_inv, inv_dp, torch_inv = inv
        no_critic = f"| {args.batch} | {args.n_critic} |", f"| {args.batch} | - |"
        print(row(f"InversionNet baseline, ours, 1 process x {THREADS} threads", ours_inv, args).replace(*no_critic))
        print(row(f"InversionNet baseline, ours, {THREADS} processes x 1 thread", inv_dp, args).replace(*no_critic))
        if torch_inv is not None:
            print(row(f"InversionNet, OpenFWI's layout in PyTorch, {THREADS} threads", torch_inv, args).replace(
                *no_critic))
            print(vs_torch(f"InversionNet, 1 process x {THREADS} threads", ours_inv, torch_inv))
            print(vs_torch(f"InversionNet, {THREADS} processes x 1 thread", inv_dp, torch_inv))
    if ours_cpu is not None:
        print(row("ppsci_ext WGANGPTrainer, default CPU sizes", ours_cpu, args))
        print("| PaddleScience 1.4.0 example, same CPU sizes | cannot run | | | - | - | - |")
    print("\nNotes:")
    if theirs["cpu_sizes_error"]:
        print(f"- ppsci's VelocityGenerator cannot take our CPU sizes: it needs 1000 x 70 input (its last encoder "
              f"kernel is hard-coded to (8, ceil(70 * sample_spatial / 8))); {theirs['cpu_sizes_error']}")
    n = args.iters + 1
    print(f"- ppsci loop: save_checkpoint called {theirs['checkpoint_calls']} times in {n} iterations "
          f"({theirs['checkpoint_calls'] / n:g} per iteration: every Solver.train() ends with a 'latest' checkpoint), "
          f"{theirs['checkpoint_mib'] / n:.0f} MiB and {theirs['checkpoint_seconds'] / n:.2f} s per iteration "
          f"(included in its time; ours writes one checkpoint per epoch, not timed here); "
          f"files left in its output_dir: {', '.join(theirs['output_files'])}")
    print(f"- ppsci loop: critic Solver's model is the generator: {theirs['critic_solver_model_is_generator']} "
          f"(both Solvers write the same 'latest' files; the critic's weights are never saved, and each critic "
          f"step also runs the generator forward in train mode)")
    print(f"- ppsci loop: each Solver has its own loader and preloaded copy of the data set: "
          f"{theirs['two_preloaded_datasets']} (critic and generator steps see different batches)")
    for name, r in (("ours", ours), ("ppsci", theirs)):
        leak = ", ".join(f"{k}: {v:.3g}" for k, v in r["leaks"].items())
        print(f"- gradient left over, {name} (0 = no leak): {leak}")
    print("- Data: random OpenFWI-format files, num_workers=0 for both (the example uses 16 workers); "
          "timings share 2 CPU cores with other work, so compare the two rows of one run only.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4, help="samples per batch, both loops")
    parser.add_argument("--iters", type=int, default=3, help="timed iterations after 1 warm-up")
    parser.add_argument("--n-critic", type=int, default=3,
                        help="critic steps per generator step, both loops (3: the ppsci example's iters_per_epoch_dis)")
    parser.add_argument("--no-cpu-row", action="store_true", help="skip our loop at the default CPU sizes")
    parser.add_argument("--no-torch", action="store_true", help="skip OpenFWI's layout in PyTorch")
    parser.add_argument("--no-inversionnet", action="store_true", help="skip the InversionNet (no critic) rows")
    parser.add_argument("--side", choices=("ours", "ours_dp", "ours_dp_same_batch", "ours_cpu", "ours_inv",
                                            "ours_inv_dp", "ppsci", "torch", "torch_inv"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--anno", help=argparse.SUPPRESS)
    parser.add_argument("--file-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        return child(args)
    with tempfile.TemporaryDirectory(prefix="bench_gan_loop_") as workdir:
        file_size = args.batch
        anno = write_fwi_files(workdir, n_files=2, n=file_size)
        print(f"running the loops one after the other in {workdir} ...", file=sys.stderr)
        ours = spawn(args, "ours", workdir, anno, file_size)
        ours_dp = spawn(args, "ours_dp", workdir, anno, file_size)
        ours_sb = spawn(args, "ours_dp_same_batch", workdir, anno, file_size)
        theirs = spawn(args, "ppsci", workdir, anno, file_size)
        ours_cpu = None if args.no_cpu_row else spawn(args, "ours_cpu", workdir, anno, file_size)
        torch_row = torch_inv = None
        if not args.no_torch:
            try:
                import torch  # noqa: F401
                torch_row = spawn(args, "torch", workdir, anno, file_size)
            except ImportError:
                print("(PyTorch row skipped: torch is not installed)", file=sys.stderr)
        inv = None
        if not args.no_inversionnet:
            if torch_row is not None:
                torch_inv = spawn(args, "torch_inv", workdir, anno, file_size)
            inv = (spawn(args, "ours_inv", workdir, anno, file_size),
                   spawn(args, "ours_inv_dp", workdir, anno, file_size), torch_inv)
        report(args, ours, theirs, ours_cpu, torch_row, inv, ours_dp, ours_sb)


if __name__ == "__main__":
    main()
