"""Atomic checkpoints: a training run can be killed at any moment and resumed.

A checkpoint is one file holding every state a run needs (networks,
optimisers, epoch, history). It is written to a temporary file in the same
folder, flushed to disk, then moved over the old one with ``os.replace``,
which is atomic on POSIX: a reader sees the old file or the new one, never a
half-written one.
"""
import os
import tempfile
from typing import Any
from typing import Dict
from typing import Optional

import paddle

__all__ = ["save_atomic", "load_checkpoint", "optimizer_state", "load_optimizer_state"]


def save_atomic(state: Dict[str, Any], path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pdparams", dir=folder)
    os.close(fd)
    try:
        paddle.save(state, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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
