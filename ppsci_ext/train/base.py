"""What every training loop shares: its state, its one checkpoint, and reproducible passes over a loader.

A loop subclasses :class:`Trainer` and implements :meth:`Trainer.fit` ("train
until done"). Everything the run needs to go on after a kill is in
:meth:`Trainer.state_dict` (schema in :mod:`ppsci_ext.train.checkpoint`),
random states included, so a resumed run continues the uninterrupted one.
"""
import copy
from os import path as osp
from typing import Dict
from typing import Iterator
from typing import Optional

import numpy as np
import paddle
import paddle.distributed as dist
from paddle.io.dataloader.collate import default_collate_fn
from ppsci.utils import logger

from ppsci_ext.atomic import write_json
from ppsci_ext.train.checkpoint import check_config
from ppsci_ext.train.checkpoint import config_differences
from ppsci_ext.train.checkpoint import load_checkpoint
from ppsci_ext.train.checkpoint import load_optimizer_state
from ppsci_ext.train.checkpoint import optimizer_state
from ppsci_ext.train.checkpoint import rng_state
from ppsci_ext.train.checkpoint import run_lock
from ppsci_ext.train.checkpoint import save_checkpoint
from ppsci_ext.train.checkpoint import set_rng_state
from ppsci_ext.train.checkpoint import set_state_strict

__all__ = ["Trainer", "read_setting", "loader_pass", "loader_config", "HISTORY"]

HISTORY = "history.json"  # a finished run's records, beside its checkpoint


def loader_config(dataset: Dict, batch_size: int, shuffle: bool, num_workers: int = 0) -> Dict:
    """ppsci's dataloader config for a training or evaluation loader of ``dataset`` (a by-name config).

    The sampler is paddle's ``DistributedBatchSampler`` in every loop, one process or many: it shuffles by
    the pass number (see :func:`loader_pass`), where ``BatchSampler`` draws from numpy's global generator,
    which ppsci's own prefetching iterator shares with ours. Training drops the last incomplete batch.
    """
    return {"dataset": dict(dataset), "batch_size": int(batch_size), "num_workers": int(num_workers),
            "sampler": {"name": "DistributedBatchSampler", "shuffle": bool(shuffle), "drop_last": bool(shuffle)}}


def all_reduce_grads(params) -> None:
    """Average the gradients of ``params`` over the data-parallel processes with one flat all-reduce."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = paddle.concat([g.reshape([-1]) for g in grads])
    dist.all_reduce(flat)
    flat = flat / dist.get_world_size()
    offset = 0
    for g in grads:
        n = g.size
        paddle.assign(flat[offset:offset + n].reshape(g.shape), g)
        offset += n


def broadcast_params(net) -> None:
    """Every process takes rank 0's weights of ``net`` (BatchNorm statistics included)."""
    for p in net.parameters():
        dist.broadcast(p, src=0)


def loader_pass(loader, epoch: int) -> Iterator:
    """The batches of pass ``epoch`` over ``loader``, the same in every run and after a resume.

    The shuffle is seeded by the pass (``set_epoch`` of paddle's ``DistributedBatchSampler``) and so is the
    dataset's own randomness where it has any (``set_epoch`` of e.g. ``SeismicSRDataset``). The pass runs
    on a copy of the sampler: ppsci's constraints start a prefetching iterator over their loader when
    built, and ``DistributedBatchSampler`` moves its epoch on each time it is iterated, so sharing it would
    make the order depend on which thread got there first.

    Without worker processes the items are read here, in the calling thread, so an exception raised by
    the dataset ends the run with its own message: paddle's single-process ``DataLoader`` reads them in
    a thread that dies on an exception and leaves the training loop waiting for ever. With
    ``num_workers > 0`` paddle's worker processes pass a dataset's exception on to the loop themselves.
    """
    sampler = copy.copy(loader.batch_sampler)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    if hasattr(loader.dataset, "set_epoch"):
        loader.dataset.set_epoch(epoch)
    if loader.num_workers > 0:
        return iter(paddle.io.DataLoader(loader.dataset, batch_sampler=sampler, collate_fn=loader.collate_fn,
                                         num_workers=loader.num_workers, use_shared_memory=False,
                                         worker_init_fn=loader.worker_init_fn))
    return _batches_here(loader.dataset, sampler, loader.collate_fn or default_collate_fn)


def _batches_here(dataset, sampler, collate) -> Iterator:
    for indices in sampler:
        yield _to_tensors(collate([dataset[i] for i in indices]))


def _to_tensors(batch):
    """numpy leaves of a collated batch -> paddle tensors (what paddle's DataLoader hands out)."""
    if isinstance(batch, np.ndarray):
        return paddle.to_tensor(batch)
    if isinstance(batch, dict):
        return {k: _to_tensors(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_tensors(v) for v in batch)
    return batch


def read_setting(train, key: str, who: str):
    """``train[key]`` (dotted for a nested key), or a KeyError naming ``TRAIN.<key>`` and ``who`` reads it: a loop
    takes every setting from the YAML, none has a default in code."""
    value = train
    try:
        for part in key.split("."):
            value = value[part]
    except (KeyError, TypeError):
        raise KeyError(f"TRAIN.{key} is not set: {who} reads it from the config's TRAIN section (every key is in "
                       f"the example's YAML)") from None
    return value


class Trainer:
    """Networks, optimisers, lr schedulers, an optional weight average, counters, history, one checkpoint.

    Every loop is built the same way, keyword-only, from its config section: ``train`` is the config's TRAIN
    section, whose keys the loop reads by name through :meth:`setting` with no defaults in code (the YAML is the
    one source), ``init_from`` among them; ``checkpoint`` is the run's one checkpoint file, by the one rule of
    :meth:`ppsci_ext.specs.ExampleSpec.checkpoint`.

    Args:
        nets: ``{name: network}``.
        optimizers: ``{name: optimiser}``, named as the network whose parameters it steps.
        train: the TRAIN section (a mapping). ``train.init_from``: a checkpoint whose networks start a run that
            has no checkpoint of its own yet (fine-tuning; its network settings must equal ``config["network"]``);
            optimiser, counters and history start afresh. None: a random start.
        checkpoint: the run's one checkpoint file (resumed from if present).
        config: what the checkpoint records of the run's config, ``{"network": {key: value}, "settings":
            {key: value}}`` (flat dotted keys, :func:`ppsci_ext.runtime.run_config`). Resuming stops if a
            network setting changed and lists the other settings that did.
        lr_schedulers: ``{name: paddle lr scheduler}`` whose state is saved, or None.
        ema: a :class:`ppsci_ext.train.ema.WarmupEMA` of one network, or None.
    """

    def __init__(self, nets: Dict[str, paddle.nn.Layer], optimizers: Dict, *, train, checkpoint: str,
                 config: Dict, lr_schedulers: Optional[Dict] = None, ema=None):
        self.nets, self.optimizers = dict(nets), dict(optimizers)
        self.lr_schedulers = dict(lr_schedulers or {})
        self.train_cfg, self.ema, self.path = train, ema, checkpoint
        self.config = {"network": {}, "settings": {}, **config}
        self._lock, self.init_from = None, self.setting("init_from")
        self.epoch, self.step, self.history = 0, 0, []
        self.world, self.rank = dist.get_world_size(), dist.get_rank()

    def setting(self, key: str):
        """``train[key]`` of this loop's TRAIN section (:func:`read_setting`)."""
        return read_setting(self.train_cfg, key, type(self).__name__)

    # --------------------------------------------------------------- state
    def state_dict(self) -> Dict:
        state = {"nets": {k: n.state_dict() for k, n in self.nets.items()},
                 "optimizers": {k: optimizer_state(o, self.nets[k].parameters()) for k, o in self.optimizers.items()},
                 "lr": {k: s.state_dict() for k, s in self.lr_schedulers.items()},
                 "epoch": self.epoch, "step": self.step, "history": list(self.history), "rng": rng_state(),
                 "config": self.config}
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state: Dict) -> None:
        for k, net in self.nets.items():
            if k not in state["nets"]:
                raise ValueError(f"checkpoint {self.path} holds no network {k!r}, found {sorted(state['nets'])}")
            set_state_strict(net, state["nets"][k], f"checkpoint {self.path} (network {k!r})")
        for k, opt in self.optimizers.items():
            load_optimizer_state(opt, self.nets[k].parameters(), state["optimizers"][k])
        for k, sched in self.lr_schedulers.items():
            sched.set_state_dict(state["lr"][k])
        if self.ema is not None and "ema" in state:
            self.ema.set_state_dict(dict(state["ema"]))
        self.epoch, self.step, self.history = int(state["epoch"]), int(state["step"]), list(state["history"])
        set_rng_state(state["rng"])

    def save(self) -> None:
        """Write the checkpoint (rank 0 only; every rank holds the same state)."""
        if self.rank == 0:
            save_checkpoint(self.state_dict(), self.path)

    def resume(self) -> bool:
        """Take the run's lock (rank 0), then load the checkpoint if there is one; True if the run goes on
        from it. A checkpoint of another network config stops the run, naming the keys that differ; other
        changed settings (e.g. more epochs) are listed in the log."""
        if self.rank == 0 and self._lock is None:
            self._lock = run_lock(self.path)
        state = load_checkpoint(self.path, required=("nets", "optimizers", "epoch", "step", "history", "rng"))
        if state is None:
            if self.init_from:
                self._start_from(self.init_from)
            return False
        check_config(state, self.config["network"], self.path)
        recorded = (state.get("config") or {}).get("settings")
        changed = config_differences(dict(recorded), self.config["settings"]) if recorded else []
        if changed and self.rank == 0:
            logger.warning(f"resuming {self.path} with changed settings: " + "; ".join(changed))
        self.load_state_dict(state)
        logger.message(f"resumed from {self.path}: epoch {self.epoch}, step {self.step}")
        return True

    def _start_from(self, path: str) -> None:
        state = load_checkpoint(path, required=("nets",))
        if state is None:
            raise FileNotFoundError(f"TRAIN.init_from: checkpoint not found: {path}")
        check_config(state, self.config["network"], path)
        for k, net in self.nets.items():
            set_state_strict(net, state["nets"].get(k, {}), f"checkpoint {path} (network {k!r})")
        logger.message(f"starting from the networks of {path} (fine-tuning)")

    def finish(self) -> list:
        """End of training: the history (a list of records), also written beside the checkpoint as
        ``history.json`` (rank 0), so everything a run of one kind writes is in ``<output_dir>/<kind>/``."""
        if self.rank == 0:
            write_json(osp.join(osp.dirname(self.path), HISTORY), self.history)
        return self.history

    # ---------------------------------------------------------------- loop
    def fit(self) -> list:
        """Train until done (resuming first); returns :meth:`finish`'s history."""
        raise NotImplementedError

    def log_record(self, record: Dict, total: int, unit: str = "epoch") -> None:
        if self.rank == 0:
            logger.message(f"{unit} {record[unit]}/{total} " + " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items() if k != unit))

