"""Semi-supervised training of AVA inversion networks (GDRNN and the original joint network).

Every batch pairs labelled well traces (augmented copies, with the true model)
with unlabelled traces of the section (data only), as the original GDRNN code
does. The loss, summed over the unrolled steps t = 1..T, is

    lambda_1 * mean w_k |x_t - x_true|         labelled traces only (x = m / scale)
  + lambda_2 * mean (F(m_t) - d_obs)^2 / mean d_obs^2     all traces
  + lambda_3 * mean w_k |x_t[i+1] - x_t[i]|    total variation over depth, all traces

w_k (k = vp, vs, rho) is 1 / the standard deviation of x_k over the labelled
traces, so the three properties count equally although density varies about
a quarter as much as vp (Gardner: d ln rho = d ln vp / 4).

The data term is divided by the batch's data power so that lambda_2 does not
depend on the wavelet's or the reflectivity's amplitude.

Curriculum, all from the YAML: the number of unrolled steps grows from
``start_steps`` to the network's full count over ``grow_epochs``; noise is
injected into the observed stacks with an SNR falling linearly from
``snr_start`` to ``snr_end`` dB; lambda_2 moves linearly from ``lambda2_start``
to ``lambda2_end``. With a ``redraw`` hook, every epoch after the first trains on
the data it returns for that epoch (a family's new sections, wells and noise),
drawn from the epoch number alone, so a resumed run sees the same. The run's one checkpoint (:mod:`ppsci_ext.train.checkpoint`)
is written after every epoch; re-running resumes from it.

Data-parallel in processes started by :func:`ppsci_ext.runtime.data_parallel` (TRAIN.nprocs) or
``paddle.distributed.launch``: every process trains on its shard of the wells and of the section's traces
(paddle's ``DistributedBatchSampler``), with noise of its own, gradients are averaged with one all-reduce per
step, and rank 0 alone writes the checkpoint and the log (its shard's mean losses).
"""
import math
import time
from typing import Callable
from typing import Dict
from typing import Optional

import paddle

from ppsci_ext.train.base import Trainer
from ppsci_ext.train.base import all_reduce_grads
from ppsci_ext.train.base import broadcast_params
from ppsci_ext.train.base import loader_pass

__all__ = ["AVALossTerms", "UnrolledTrainer", "noise_at_snr", "linear_schedule"]


def linear_schedule(start: float, end: float, epoch: int, n_epochs: int) -> float:
    """Linear from ``start`` at epoch 0 to ``end`` at epoch ``n_epochs - 1`` (constant after)."""
    if n_epochs <= 1:
        return end
    frac = min(max(epoch / (n_epochs - 1), 0.0), 1.0)
    return start + (end - start) * frac


def noise_at_snr(d: paddle.Tensor, snr_db: Optional[float]) -> paddle.Tensor:
    """White Gaussian noise at ``snr_db`` = 10 log10(P_signal / P_noise), P per trace over (stacks, samples)."""
    if snr_db is None or math.isinf(snr_db):
        return d
    power = d.square().mean(axis=[1, 2], keepdim=True)
    return d + paddle.randn(d.shape, dtype=d.dtype) * (power / 10.0 ** (snr_db / 10.0)).sqrt()


class AVALossTerms:
    """The loss above as a ppsci ``FunctionalLoss`` expression; ``lambda2`` is set per epoch by the trainer."""

    def __init__(self, scale, lambda1: float, lambda2: float, lambda3: float,
                 keys=("m", "m_steps", "d_steps"), weights=(1.0, 1.0, 1.0)):
        self.scale = paddle.to_tensor(list(scale), dtype="float32").reshape([1, 1, 3, 1])
        self.weights = paddle.to_tensor(list(weights), dtype="float32").reshape([1, 1, 3, 1])
        self.lambda1, self.lambda2, self.lambda3 = lambda1, lambda2, lambda3
        self.m_key, self.steps_key, self.data_key = keys

    def __call__(self, output_dict, label_dict, weight_dict=None) -> Dict[str, paddle.Tensor]:
        """Labels: ``d_obs`` [B, G, L] for every trace; ``m`` [B_l, 3, L] for the first B_l traces (wells)."""
        x_steps = output_dict[self.steps_key] / self.scale              # [B, T, 3, L]
        d_steps, d_obs = output_dict[self.data_key], label_dict["d_obs"].unsqueeze(1)
        terms = {"data": self.lambda2 * ((d_steps - d_obs).square().mean(axis=[0, 2, 3]).sum()
                                         / d_obs.square().mean()),
                 "tv": self.lambda3 * (self.weights * (x_steps[..., 1:] - x_steps[..., :-1]).abs())
                 .mean(axis=[0, 2, 3]).sum()}
        if self.m_key in label_dict:
            x_true = label_dict[self.m_key].unsqueeze(1) / self.scale
            x_wells = x_steps[:x_true.shape[0]]
            terms["model"] = self.lambda1 * (self.weights * (x_wells - x_true).abs()).mean(axis=[0, 2, 3]).sum()
        return terms


class UnrolledTrainer(Trainer):
    """One optimiser, one loss, two loaders: each step's batch is a labelled batch (cycled) followed by an
    unlabelled one (their pass sets the epoch), run through the network together.

    Keyword-only (:class:`ppsci_ext.train.base.Trainer`'s contract). Args:
        model: GDRNN or AVAUNet (dict in -> dict out; has ``n_steps``/``max_steps`` when unrolled).
        labelled: ``SupervisedConstraint`` over the well traces (label ``m``), or None.
        unlabelled: ``SupervisedConstraint`` over the section's traces (no labels).
        loss: ``FunctionalLoss`` wrapping ``terms``.
        terms: the ``AVALossTerms`` inside ``loss`` (its lambda2 follows the schedule).
        optimizer, lr_scheduler: paddle optimiser and its per-iteration scheduler (or None).
        train: TRAIN section; read: epochs, schedule.{start_steps, grow_epochs, snr_start, snr_end,
            lambda2_start, lambda2_end}, init_from.
        checkpoint, config: the run's one checkpoint and what it records of the config.
        seed: the noise of epoch ``e`` is drawn after ``paddle.seed(seed + e)`` (``+ 1_000_003 rank`` in
            data-parallel process ``rank``).
        redraw: ``redraw(epoch)`` -> new ``(labelled, unlabelled)`` for each epoch > 0, or None: the same data
            every epoch.
    """

    def __init__(self, *, model, labelled, unlabelled, loss, terms, optimizer, lr_scheduler, train, checkpoint: str,
                 config: Dict, seed: int, redraw: Optional[Callable[[int], tuple]]):
        super().__init__({"model": model}, {"model": optimizer}, train=train, checkpoint=checkpoint, config=config,
                         lr_schedulers=None if lr_scheduler is None else {"model": lr_scheduler})
        self.model, self.labelled, self.unlabelled = model, labelled, unlabelled
        self.loss, self.terms, self.opt, self.lr = loss, terms, optimizer, lr_scheduler
        self.seed, self.redraw = seed, redraw
        if self.world > 1:  # rank 0's initial weights everywhere
            broadcast_params(model)

    # ------------------------------------------------------------ schedule
    def n_steps(self, epoch: int) -> int:
        full = getattr(self.model, "max_steps", 1)
        grow = self.setting("schedule.grow_epochs")
        return int(round(linear_schedule(min(self.setting("schedule.start_steps"), full), full, epoch, grow)))

    def apply_schedule(self, epoch: int):
        if hasattr(self.model, "max_steps"):
            self.model.n_steps = self.n_steps(epoch)
        n, s = self.setting("epochs"), self.setting("schedule")
        self.terms.lambda2 = linear_schedule(s["lambda2_start"], s["lambda2_end"], epoch, n)
        return linear_schedule(s["snr_start"], s["snr_end"], epoch, n)

    # -------------------------------------------------------------- train
    def _labelled_batches(self, epoch: int):
        """The well batches, cycled; their k-th pass in ``epoch`` is shuffled by ``1000 epoch + k``, so a resumed
        run sees the same ones (see ``loader_pass``)."""
        k = 0
        while True:
            n = 0
            for n, batch in enumerate(loader_pass(self.labelled.data_loader, 1000 * epoch + k), 1):
                yield batch
            if n == 0:
                raise ValueError(f"the wells' loader yields no batch: {len(self.labelled.data_loader.dataset)} "
                                 f"labelled traces for {self.world} process(es) of TRAIN.well_batch_size="
                                 f"{self.setting('well_batch_size')}; lower TRAIN.well_batch_size or TRAIN.nprocs")
            k += 1

    def _step(self, inputs, labels, snr_db):
        """One optimiser step on a batch whose first rows are the wells (one forward pass for both)."""
        inputs = dict(inputs, stacks=noise_at_snr(inputs["stacks"], snr_db))
        terms = self.loss(self.model(inputs), dict(labels, d_obs=inputs["stacks"]))
        total = paddle.add_n(list(terms.values()))
        self.opt.clear_grad()
        total.backward()
        if self.world > 1:
            all_reduce_grads(self.model.parameters())
        self.opt.step()
        if self.lr is not None:
            self.lr.step()
        self.step += 1
        return terms

    def train_epoch(self, epoch: int) -> Dict[str, float]:
        if self.redraw is not None and epoch > 0:
            self.labelled, self.unlabelled = self.redraw(epoch)
        paddle.seed(self.seed + epoch + 1_000_003 * self.rank)  # reproducible after a resume, different per process
        snr = self.apply_schedule(epoch)
        self.model.train()
        wells = self._labelled_batches(epoch) if self.labelled is not None else None
        sums, n = {}, 0
        for inputs, _, _ in loader_pass(self.unlabelled.data_loader, epoch):
            labels = {}
            if wells is not None:
                inp_l, labels, _ = next(wells)
                inputs = {k: paddle.concat([inp_l[k], inputs[k]]) for k in inputs}
            for k, v in self._step(inputs, labels, snr).items():
                sums[k] = sums.get(k, 0.0) + float(v)
            n += 1
        out = {k: v / max(n, 1) for k, v in sums.items()}
        out.update(epoch=epoch + 1, n_steps=getattr(self.model, "n_steps", 1), snr_db=snr, lambda2=self.terms.lambda2)
        return out

    def fit(self) -> list:
        self.resume()
        while self.epoch < self.setting("epochs"):
            t0 = time.perf_counter()
            record = self.train_epoch(self.epoch)
            record["seconds"] = time.perf_counter() - t0
            self.history.append(record)
            self.epoch += 1
            self.save()
            self.log_record(record, self.setting("epochs"))
        return self.finish()
