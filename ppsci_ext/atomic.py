"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every writer in the package (data sets, splits, predictions, metrics,
checkpoints) goes through ``atomic_open``: it writes a temporary file in the
target's folder, then moves it over the target with ``os.replace`` (atomic on
POSIX); on any error the temporary file is removed and the target is untouched.
"""
import contextlib
import json
import os
import tempfile

import numpy as np

__all__ = ["atomic_open", "write_json", "write_text", "write_npy", "write_npz"]


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb"):
    """``with atomic_open(path) as f: ...`` — ``f`` is a file object open in ``mode`` ("wb" or "w")."""
    path = str(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path, obj) -> None:
    """``obj`` as indented JSON (numpy scalars written as numbers)."""
    with atomic_open(path, "w") as f:
        json.dump(obj, f, indent=1, default=_json_number)


def write_text(path, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def write_npy(path, array) -> None:
    with atomic_open(path) as f:
        np.save(f, np.asarray(array))


def write_npz(path, **arrays) -> None:
    with atomic_open(path) as f:
        np.savez(f, **arrays)


def _json_number(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")
