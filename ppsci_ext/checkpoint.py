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

__all__ = ["save_atomic", "load_checkpoint"]


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
