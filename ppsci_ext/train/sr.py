"""Training loop of MD Diffusion's networks: the conditional diffusion model and its one-pass UNet baseline.

Both train the same backbone (``MDUNet``: inputs ``(x_noisy, cond, noise_level)``,
one neutral output) on patches of a ppsci ``SupervisedConstraint``:

- ``kind="diffusion"``: a continuous noise level and Gaussian noise are drawn
  (:class:`ppsci_ext.diffusion.DiffusionScheduler`), the network's output is
  converted to the predicted noise by the scheduler (its ``prediction_type``),
  and scored against the drawn noise;
- ``kind="supervised"``: one pass with noise input 0 at noise level 1, scored
  against the high-resolution section.

The loop counts optimiser steps (``iters``), writes the run's one checkpoint
every ``save_every`` steps and at the end, and keeps a warm-up weight average
for sampling. Pass ``e`` over the patches is fixed by ``e`` alone (see
:func:`ppsci_ext.train.base.loader_pass`) and the random states are saved, so a
run resumed mid-pass continues exactly as the uninterrupted one; the noise and dropout draws between two
checkpoints are seeded by the step they start at (and the process), so a resume is exact in every process.

Data-parallel in processes started by :func:`ppsci_ext.runtime.data_parallel` (TRAIN.nprocs, CPU) or
``paddle.distributed.launch`` (gloo on CPU, NCCL on GPUs): every process trains on its
shard of the patches (paddle's ``DistributedBatchSampler``) with its own noise draws, gradients are averaged
with one all-reduce per step, and rank 0 alone writes the checkpoint and the log.
"""
import time
from typing import Dict

import numpy as np
import paddle
import ppsci

from ppsci_ext.diffusion.pipeline import KINDS
from ppsci_ext.diffusion.pipeline import network_fn
from ppsci_ext.diffusion.pipeline import one_pass
from ppsci_ext.train.base import Trainer
from ppsci_ext.train.base import all_reduce_grads
from ppsci_ext.train.base import broadcast_params
from ppsci_ext.train.base import loader_pass
from ppsci_ext.train.base import read_setting
from ppsci_ext.train.ema import WarmupEMA

__all__ = ["SRTrainer", "sr_loss", "sampling_state"]

def sr_loss(kind: str, name: str = "l1"):
    """``FunctionalLoss`` on ``{"pred"}`` vs ``{"target"}``: L1 or L2 (``name``) of the predicted vs the drawn
    noise (diffusion), L1 of the one-pass section vs the high-resolution truth (supervised)."""
    name = name if kind == "diffusion" else "l1"
    if name not in ("l1", "l2"):
        raise ValueError(f"TRAIN.loss: expected 'l1' or 'l2', found {name!r}")

    def expr(output_dict, label_dict, weight_dict=None):
        diff = output_dict["pred"] - label_dict["target"]
        return {name: diff.abs().mean() if name == "l1" else diff.square().mean()}

    return ppsci.loss.FunctionalLoss(expr)


def sampling_state(checkpoint: Dict) -> Dict:
    """From a checkpoint of this loop, the weights sampling uses: the average when one was kept, else the
    last weights."""
    if "ema" in checkpoint:
        return {k: v for k, v in checkpoint["ema"].items() if k != "n_avg"}
    return checkpoint["nets"]["model"]


class SRTrainer(Trainer):
    """Keyword-only (:class:`ppsci_ext.train.base.Trainer`'s contract). Args:
        model: the backbone (``MDUNet``).
        kind: ``"diffusion"`` or ``"supervised"``.
        scheduler: the :class:`DiffusionScheduler` (diffusion only; None for supervised).
        constraint: ``SupervisedConstraint`` whose items are ``({"cond"}, {"hr"})`` patches and whose loss
            is a ``FunctionalLoss`` on ``{"pred"}`` vs ``{"target"}``.
        optimizer: paddle optimiser of ``model``.
        train: TRAIN section; read: iters (optimiser steps in all), save_every (steps between checkpoints),
            ema_decay (decay of the weight average; None: none), init_from.
        checkpoint, config: the run's one checkpoint and what it records of the config.
        seed: paddle is seeded with ``seed + step (+ 1_000_003 rank)`` at every ``save_every``-th step.
        log: ``fn(message)`` for the progress lines, or None.
    """

    def __init__(self, *, model, kind: str, scheduler, constraint, optimizer, train, checkpoint: str, config: Dict,
                 seed: int, log):
        if kind not in KINDS:
            raise ValueError(f"MODEL.kind: expected one of {list(KINDS)}, found {kind!r}")
        if kind == "diffusion" and scheduler is None:
            raise ValueError("the diffusion kind needs a DiffusionScheduler")
        if paddle.distributed.get_world_size() > 1:  # rank 0's initial weights everywhere (before the average
            broadcast_params(model)                     # copies them)
        ema_decay = read_setting(train, "ema_decay", type(self).__name__)
        super().__init__({"model": model}, {"model": optimizer}, train=train, checkpoint=checkpoint, config=config,
                         ema=WarmupEMA(model, ema_decay) if ema_decay else None)
        self.model, self.kind, self.scheduler = model, kind, scheduler
        self.constraint, self.opt = constraint, optimizer
        self.iters, self.save_every, self.seed = int(self.setting("iters")), int(self.setting("save_every")), int(seed)
        self.per_pass = len(constraint.data_loader)
        if self.per_pass == 0:
            raise ValueError(f"the training loader yields no batch: {len(constraint.data_loader.dataset)} training "
                             f"items for {self.world} process(es) of TRAIN.batch_size={self.setting('batch_size')}")
        self.log = log

    def batch_loss(self, cond: paddle.Tensor, hr: paddle.Tensor) -> paddle.Tensor:
        if self.kind == "supervised":
            pred, target = one_pass(self.model, cond), hr
        else:
            gamma = self.scheduler.sample_noise_level(hr.shape[0])
            target = paddle.randn(hr.shape, dtype=hr.dtype)
            x_t = self.scheduler.add_noise(hr, target, gamma)
            pred = self.scheduler.predicted_noise(network_fn(self.model)(x_t, gamma, cond), x_t, gamma)
        return sum(self.constraint.loss({"pred": pred}, {"target": target}).values())

    def train_step(self, cond, hr) -> float:
        loss = self.batch_loss(cond, hr)
        self.opt.clear_grad()
        loss.backward()
        if self.world > 1:
            all_reduce_grads(self.model.parameters())
        self.opt.step()
        self.step += 1
        if self.ema is not None:
            self.ema.update()
        return float(loss)

    def fit(self) -> list:
        self.resume()
        self.model.train()
        t0 = time.perf_counter()
        while self.step < self.iters:
            self.epoch, done = divmod(self.step, self.per_pass)
            for i, (inputs, labels, _) in enumerate(loader_pass(self.constraint.data_loader, self.epoch)):
                if i < done:  # resumed mid-pass: these batches were trained on before the stop
                    continue
                if self.step % self.save_every == 0:  # the draws up to the next checkpoint fixed by where they
                    paddle.seed(self.seed + self.step + 1_000_003 * self.rank)  # start, and different per process
                self.history.append({"step": self.step + 1, "loss": self.train_step(inputs["cond"], labels["hr"])})
                if self.step % self.save_every == 0 or self.step == self.iters:
                    self.epoch = self.step // self.per_pass
                    self.save()
                    self._report(time.perf_counter() - t0)
                if self.step >= self.iters:
                    break
        return self.finish()

    def _report(self, seconds: float) -> None:
        if self.log is not None and self.rank == 0:
            recent = np.mean([h["loss"] for h in self.history[-self.save_every:]])
            self.log(f"step {self.step}/{self.iters} loss {recent:.4f} ({seconds:.0f} s)")

