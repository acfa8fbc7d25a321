"""The one checkpoint schema of every training loop, written atomically.

A checkpoint is one file holding everything a run needs to go on as if it had
never stopped::

    {"nets":       {name: network state_dict},
     "optimizers": {name: optimiser state, keyed by parameter position},
     "lr":         {name: lr-scheduler state_dict},          # loops with a paddle scheduler
     "ema":        weight-average state,                     # loops that keep one
     "epoch": int, "step": int,                              # finished passes / optimiser steps
     "history": [record, ...],                               # one dict of floats per epoch or step
     "rng": {"paddle": ..., "numpy": ..., "python": ...}}    # random states at the save

It is written through :func:`ppsci_ext.atomic.atomic_open` (temporary file in
the same folder, fsync, ``os.replace``): a reader sees the old file or the new
one, never a half-written one, so a run can be killed at any moment.
"""
import io
import os
import random
from typing import Any
from typing import Dict
from typing import Optional

import numpy as np
import paddle

from ppsci_ext.atomic import atomic_open

__all__ = ["save_checkpoint", "load_checkpoint", "optimizer_state", "load_optimizer_state", "rng_state",
           "set_rng_state"]


def save_checkpoint(state: Dict[str, Any], path: str) -> None:
    """Write ``state`` to ``path`` atomically (folders created)."""
    buf = io.BytesIO()  # paddle.save takes a path or a BytesIO, not an open file
    paddle.save(state, buf)
    with atomic_open(path) as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())


def load_checkpoint(path: str, required=()) -> Optional[Dict[str, Any]]:
    """Load ``path``; ``None`` if it does not exist. Raises if a required key is missing."""
    if not os.path.isfile(path):
        return None
    state = paddle.load(path)
    missing = [k for k in required if k not in state]
    if missing:
        raise KeyError(f"checkpoint {path}: missing keys {missing}; found {sorted(state)}")
    return state


def _rename(state, old_names, new_names):
    out = {}
    for key, value in state.items():
        for old, new in zip(old_names, new_names):
            if key.startswith(old + "_"):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def optimizer_state(opt, params) -> Dict[str, Any]:
    """``opt.state_dict()`` keyed by parameter position instead of paddle's global names.

    Paddle names accumulators after parameters (``conv2d_149.w_0_moment1_0``),
    and those names depend on how many layers the process built before; keyed
    by position, a checkpoint loads into any freshly built copy of the network.
    """
    names = [p.name for p in params]
    return _rename(opt.state_dict(), names, [f"param{i}" for i in range(len(names))])


def load_optimizer_state(opt, params, state: Dict[str, Any]) -> None:
    names = [p.name for p in params]
    opt.set_state_dict(_rename(state, [f"param{i}" for i in range(len(names))], names))


def rng_state() -> Dict[str, Any]:
    """The random states a training step may draw from: paddle's, numpy's global and Python's."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    # numpy's key array as a list: paddle.load turns arrays into tensors, which have no uint32
    return {"paddle": paddle.get_rng_state(), "numpy": [name, keys.tolist(), pos, has_gauss, gauss],
            "python": random.getstate()}


def set_rng_state(state: Dict[str, Any]) -> None:
    paddle.set_rng_state(state["paddle"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(gauss)))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
