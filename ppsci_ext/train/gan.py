"""WGAN-GP training loop for a generator (supervised + adversarial) and a critic.

One data loader feeds both networks, in one of two schedules (TRAIN.gan_schedule,
see :meth:`WGANGPTrainer.train_epoch`): OpenFWI's own ("openfwi": a critic step on
every batch, a generator step on every ``n_critic``-th), or "same_batch": ``n_critic``
critic steps then one generator step on every batch (at ``n_critic: 1`` the same
updates as OpenFWI's, one generator forward less). With ``critic=None`` it trains
the generator alone (plain supervised InversionNet).

- The critic steps see the generator's output detached, and the critic's
  parameters are frozen during the generator step, so no gradient leaks from
  one optimiser to the other.
- Losses are ppsci ``FunctionalLoss`` objects; the generator's loss is the
  loss of the ``SupervisedConstraint`` that owns the data loader.
- After every epoch the run's one checkpoint (:mod:`ppsci_ext.train.checkpoint`)
  is written atomically; a new run with the same checkpoint path resumes after
  the last finished epoch, random states included.
- Data-parallel: run in processes started by ``paddle.distributed.launch`` or
  by :func:`ppsci_ext.runtime.data_parallel` (TRAIN.nprocs); each process sees
  its shard (ppsci builds a DistributedBatchSampler), gradients are averaged
  with one all-reduce per network per step, rank 0 writes.
"""
import math
import time
from typing import Callable
from typing import Dict
from typing import Optional

import paddle
import paddle.distributed as dist
from ppsci.utils import logger

from ppsci_ext.train.base import Trainer
from ppsci_ext.train.base import all_reduce_grads
from ppsci_ext.train.base import broadcast_params
from ppsci_ext.train.base import loader_pass

__all__ = ["WGANGPTrainer", "gradient_penalty", "cosine_lr"]


def gradient_penalty(critic, real, fake, key):
    """Gulrajani et al. (2017): E[(||grad_x D(x_hat)||_2 - 1)^2] at random interpolates."""
    eps = paddle.rand([real.shape[0]] + [1] * (real.ndim - 1), dtype=real.dtype)
    x_hat = eps * real + (1 - eps) * fake
    x_hat.stop_gradient = False
    score = critic({key: x_hat})
    score = next(iter(score.values()))
    (grad,) = paddle.grad(score.sum(), x_hat, create_graph=True)
    # the 1e-24 only keeps sqrt's derivative finite at an exact zero; a critic whose input gradient is small
    # (BatchNorm critics at initialisation: ||grad|| ~ 1e-4) would feel a larger one
    norm = (grad.reshape([grad.shape[0], -1]).square().sum(1) + 1e-24).sqrt()
    return (norm - 1).square().mean()


def cosine_lr(base_lr, step, total_steps, warmup_steps=0, final_ratio=0.0):
    """Learning rate at ``step``: linear warm-up, then cosine decay to ``final_ratio * base_lr``."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return base_lr * (final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def _set_trainable(net, flag):
    for p in net.parameters():
        p.stop_gradient = not flag


class WGANGPTrainer(Trainer):
    """Alternating critic/generator training driven by a ppsci SupervisedConstraint.

    Keyword-only (:class:`ppsci_ext.train.base.Trainer`'s contract). Args:
        generator: ``Arch`` mapping the constraint's inputs to ``label_key``.
        critic: ``Arch`` mapping ``{label_key: map}`` to one score per sample, or None.
        constraint: ``ppsci.constraint.SupervisedConstraint``; its loss is the
            generator loss (receives the prediction and, with a critic,
            ``"score_fake"``); its loader is shared by both networks.
        critic_loss: ``ppsci.loss.FunctionalLoss`` on ``{"score_real", "score_fake", "gp"}``.
        opt_g, opt_d: optimisers of the generator and critic.
        train: TRAIN section; read: epochs, n_critic, gan_schedule, lr_g, lr_d, warmup_steps, final_lr_ratio,
            log_freq, init_from.
        checkpoint, config: the run's one checkpoint and what it records of the config.
        validate: ``fn(generator) -> dict of floats`` run after each epoch, or None.
    """

    def __init__(self, *, generator, critic, constraint, critic_loss, opt_g, opt_d, train, checkpoint: str,
                 config: Dict, validate: Optional[Callable[..., Dict[str, float]]]):
        nets, opts = {"generator": generator}, {"generator": opt_g}
        if critic is not None:
            nets["critic"], opts["critic"] = critic, opt_d
        super().__init__(nets, opts, train=train, checkpoint=checkpoint, config=config)
        self.g, self.d = generator, critic
        self.constraint, self.critic_loss = constraint, critic_loss
        self.opt_g, self.opt_d = opt_g, opt_d
        self.validate = validate
        self.label_key = constraint.output_keys[0]
        self.steps_per_epoch = len(constraint.data_loader)
        if self.world > 1:  # same initial weights everywhere
            for net in self.nets.values():
                broadcast_params(net)

    # ---------------------------------------------------------------- steps
    def _lr(self, base):
        total = self.setting("epochs") * self.steps_per_epoch
        return cosine_lr(base, self.step, total, self.setting("warmup_steps"), self.setting("final_lr_ratio"))

    def critic_step(self, fake, real):
        _set_trainable(self.d, True)
        self.opt_d.set_lr(self._lr(self.setting("lr_d")))
        k = self.label_key
        score_real = self.d({k: real})
        score_fake = self.d({k: fake})
        gp = gradient_penalty(self.d, real, fake, k)
        out = {"score_real": next(iter(score_real.values())), "score_fake": next(iter(score_fake.values())), "gp": gp}
        return self._update(self.critic_loss(out), self.d, self.opt_d)

    def generator_step(self, inputs, labels, weights, out=None):
        """One generator update; ``out`` is its forward pass on ``inputs`` if already computed."""
        self.opt_g.set_lr(self._lr(self.setting("lr_g")))
        if out is None:
            out = self.g(inputs)
        if self.d is not None:
            _set_trainable(self.d, False)  # the critic only passes gradient through
            out["score_fake"] = next(iter(self.d({self.label_key: out[self.label_key]}).values()))
        return self._update(self.constraint.loss(out, labels, weights), self.g, self.opt_g)

    def _update(self, losses, net, opt):
        """Back-propagate the summed losses, average gradients over processes, step ``opt``."""
        sum(losses.values()).backward()
        if self.world > 1:
            all_reduce_grads(net.parameters())
        opt.step()
        opt.clear_grad()
        return {name: float(v) for name, v in losses.items()}

    # ---------------------------------------------------------------- loop
    def train_epoch(self) -> Dict[str, float]:
        """One pass over the loader; returns the epoch's mean losses (each over the batches that computed it).

        ``TRAIN.gan_schedule`` "same_batch" (the CPU default): on every batch ``n_critic`` critic steps, then one generator
        step, one generator forward serving both (its weights do not change in between, so this equals
        recomputing it, at one forward less). "openfwi", OpenFWI's own loop: one critic step on every batch
        (the generator's output computed without gradient), and a generator step, with its own forward, on
        every ``n_critic``-th batch and the epoch's last: 1/n_critic as many generator steps.
        """
        for net in self.nets.values():
            net.train()
        schedule, n_critic = self.setting("gan_schedule"), self.setting("n_critic")
        if schedule not in ("same_batch", "openfwi"):
            raise ValueError(f"TRAIN.gan_schedule: expected 'same_batch' or 'openfwi', found {schedule!r}")
        sums, counts = {}, {}
        for it, (inputs, labels, weights) in enumerate(loader_pass(self.constraint.data_loader, self.epoch)):
            logs, real = {}, labels[self.label_key]
            if self.d is None:
                logs.update(self.generator_step(inputs, labels, weights))
            elif schedule == "openfwi":
                with paddle.no_grad():
                    fake = self.g(inputs)[self.label_key]
                logs.update(self.critic_step(fake, real))
                if (it + 1) % n_critic == 0 or it == self.steps_per_epoch - 1:
                    logs.update(self.generator_step(inputs, labels, weights))
            else:
                out = self.g(inputs)
                fake = out[self.label_key].detach()
                for _ in range(n_critic):
                    logs.update(self.critic_step(fake, real))
                logs.update(self.generator_step(inputs, labels, weights, out))
            self.step += 1
            for name, v in logs.items():
                sums[name], counts[name] = sums.get(name, 0.0) + v, counts.get(name, 0) + 1
            if self.rank == 0 and (it + 1) % self.setting("log_freq") == 0:
                msg = ", ".join(f"{n}={v:.4f}" for n, v in logs.items())
                logger.message(f"epoch {self.epoch + 1}/{self.setting('epochs')} iter {it + 1}/{self.steps_per_epoch} {msg}")
        return {n: v / counts[n] for n, v in sums.items()}

    def fit(self) -> list:
        self.resume()
        while self.epoch < self.setting("epochs"):
            t0 = time.time()
            losses = self.train_epoch()
            record = {"epoch": self.epoch + 1, "seconds": time.time() - t0, **losses}
            if self.validate is not None and self.rank == 0:
                record.update(self.validate(self.g))
            self.history.append(record)
            self.epoch += 1
            self.save()
            self.log_record(record, self.setting("epochs"))
            if self.world > 1:
                dist.barrier()
        return self.finish()
