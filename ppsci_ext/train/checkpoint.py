"""The one checkpoint schema of every training loop, written atomically.

A checkpoint is one file holding everything a run needs to go on as if it had
never stopped::

    {"nets":       {name: network state_dict},
     "optimizers": {name: optimiser state, keyed by parameter position},
     "lr":         {name: lr-scheduler state_dict},          # loops with a paddle scheduler
     "ema":        weight-average state,                     # loops that keep one
     "epoch": int, "step": int,                              # finished passes / optimiser steps
     "history": [record, ...],                               # one dict of floats per epoch or step
     "rng": {"paddle": ..., "numpy": ..., "python": ...},    # random states at the save
     "config": {"network": {key: value}, "settings": {key: value}}}  # the run's config, flat dotted keys

It is written through :func:`ppsci_ext.atomic.atomic_open` (temporary file in
the same folder, fsync, ``os.replace``): a reader sees the old file or the new
one, never a half-written one, so a run can be killed at any moment.

Loading is strict. ``config["network"]`` holds the settings the weights depend
on (sizes, kinds, normalisation); a network is loaded only where they equal the
current ones (:func:`check_config`), and every parameter's name and shape must
match (:func:`set_state_strict`), where paddle's ``set_state_dict`` only logs
"Skip loading" and goes on with an untrained layer. An empty or truncated file
is an error naming it. :func:`run_lock` keeps a second run from training into
the same checkpoint while the first is alive.

A *weights file* (what ``pretrained/`` ships, :func:`export_weights`) is a checkpoint cut down to what
inference loads: ``{"nets": {name: state_dict}, "config": ..., "exported": {...}}``, optionally in float16
(cast back to the network's dtype on loading).
"""
import io
import os
import random
from typing import Any
from typing import Dict
from typing import List
from typing import Optional

import numpy as np
import paddle
from ppsci.utils import logger

from ppsci_ext.atomic import atomic_open
from ppsci_ext.outputs import lock_folder
from ppsci_ext.outputs import remove_orphans
from ppsci_ext.train.safe_load import UntrustedPickleError
from ppsci_ext.train.safe_load import safe_load

__all__ = ["save_checkpoint", "load_checkpoint", "export_weights", "check_config", "config_differences", "set_state_strict",
           "run_lock", "optimizer_state", "load_optimizer_state", "rng_state", "set_rng_state"]


def save_checkpoint(state: Dict[str, Any], path: str) -> None:
    """Write ``state`` to ``path`` atomically (folders created)."""
    buf = io.BytesIO()  # paddle.save takes a path or a BytesIO, not an open file
    paddle.save(state, buf)
    with atomic_open(path) as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())


def load_checkpoint(path: str, required=()) -> Optional[Dict[str, Any]]:
    """Load ``path`` without running code from it (:func:`ppsci_ext.train.safe_load.safe_load`: the objects
    ``paddle.load`` would return); ``None`` if it does not exist. A file that names anything a checkpoint does
    not hold is an :class:`~ppsci_ext.train.safe_load.UntrustedPickleError` (a ValueError) naming the path and
    what it tried to build; an empty, truncated or foreign file is a ValueError naming the path, one without
    a ``required`` key a KeyError."""
    if not os.path.isfile(path):
        return None
    size = os.path.getsize(path)
    what = "delete it to train from the start, or put back a good copy"
    if size == 0:
        raise ValueError(f"checkpoint {path} is empty (0 bytes): {what}")
    try:
        state = safe_load(path)
    except UntrustedPickleError:
        raise  # its message names the file and what was refused; "truncated" would mislead
    except Exception as e:  # the unpickler raises whatever it meets: EOFError, UnpicklingError, ...
        raise ValueError(f"checkpoint {path} ({size} bytes) cannot be read, it is truncated or not a "
                         f"checkpoint ({type(e).__name__}: {e}): {what}") from None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path}: expected a dict of the checkpoint schema, found {type(state).__name__}")
    missing = [k for k in required if k not in state]
    if missing:
        raise KeyError(f"checkpoint {path}: missing keys {missing}; found {sorted(state)}")
    return state


def export_weights(path: str, out: str, pick, half: bool = False) -> Dict[str, Any]:
    """Write the weights file ``out`` from the checkpoint at ``path``: ``{"nets": pick(checkpoint)}`` (a dict
    of network name -> state_dict, e.g. the generator alone, or the weight average as ``model``), the
    checkpoint's recorded config, and ``exported`` (source, step, epoch, dtype); ``half`` stores float16.
    Returns what was written."""
    state = load_checkpoint(path, required=("nets",))
    if state is None:
        raise FileNotFoundError(f"checkpoint not found: {path}")
    as_tensor = lambda v: v if isinstance(v, paddle.Tensor) else paddle.to_tensor(v)  # noqa: E731
    nets = {name: {k: as_tensor(v).astype("float16") if half else as_tensor(v) for k, v in sd.items()}
            for name, sd in pick(state).items()}
    weights = {"nets": nets, "config": state.get("config", {}),
               "exported": {"from": path, "step": state.get("step"), "epoch": state.get("epoch"),
                            "dtype": "float16" if half else "float32"}}
    save_checkpoint(weights, out)
    return weights


def config_differences(recorded: Dict[str, Any], current: Dict[str, Any]) -> List[str]:
    """``"KEY: A in the checkpoint, B now"`` for every key of ``current`` whose value differs from ``recorded``
    (flat dotted keys; a key the checkpoint does not record counts as different)."""
    out = []
    for key in sorted(current):
        was = recorded.get(key, "<not recorded>")
        if was != current[key]:
            out.append(f"{key}: {was!r} in the checkpoint, {current[key]!r} now")
    return out


# config keys renamed since checkpoints were first written: old name -> new (compared under the new)
RENAMED = {"DIFFUSION.parametrisation": "DIFFUSION.prediction_type"}


def check_config(state: Dict[str, Any], network: Dict[str, Any], path: str) -> None:
    """A ValueError naming every network setting (flat dotted key -> value) that differs from the one
    ``state``, the checkpoint at ``path``, was trained with; a checkpoint that records none is checked by
    its parameters' names and shapes alone (:func:`set_state_strict`). A setting the checkpoint does not
    record was added after it was written, with a default that keeps the earlier network: it is not compared
    (a value that changes the parameters is still caught by :func:`set_state_strict`)."""
    recorded = (state.get("config") or {}).get("network")
    if recorded is None:
        return
    recorded = {RENAMED.get(k, k): v for k, v in recorded.items()}
    diff = config_differences(recorded, {k: v for k, v in network.items() if k in recorded})
    if diff:
        raise ValueError(f"checkpoint {path} was trained with another network config:\n  " + "\n  ".join(diff)
                         + "\nset these keys back to the checkpoint's values, or give another output folder "
                           "(output_dir) to train a new network")


def set_state_strict(net: paddle.nn.Layer, state: Dict[str, Any], where: str) -> None:
    """``net.set_state_dict(state)`` after checking that the names and shapes of ``state`` are exactly the
    network's; otherwise a ValueError naming ``where``, the missing, unexpected and mis-shaped keys."""
    own = net.state_dict()
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    shapes = [f"{k} {list(state[k].shape)} in the checkpoint, {list(own[k].shape)} in the network"
              for k in own if k in state and list(state[k].shape) != list(own[k].shape)]
    if missing or extra or shapes:
        parts = [f"{name} ({len(keys)}): {', '.join(keys[:6])}{' ...' if len(keys) > 6 else ''}"
                 for name, keys in (("missing", missing), ("unexpected", extra), ("shape differs", shapes)) if keys]
        raise ValueError(f"{where} does not fit the network built from the config; " + "; ".join(parts)
                         + ". Use the config it was trained with, or train a new network in another output_dir")
    # a float16 weights file (export_weights) loads into the float32 network
    net.set_state_dict({k: _cast_like(v, own[k]) for k, v in state.items()})


def _cast_like(value, param):
    """``value`` as a tensor of ``param``'s dtype (a float16 weights file loads into a float32 network)."""
    t = value if isinstance(value, paddle.Tensor) else paddle.to_tensor(value)
    return t if t.dtype == param.dtype else t.astype(param.dtype)


_HELD = {}  # locked folder -> its open descriptor, for the life of the process


def run_lock(path: str, wait: float = 5.0) -> int:
    """Hold an exclusive lock on the folder of the checkpoint ``path`` for the rest of this process (again
    in the same process: the lock it holds), then remove the temporary files an interrupted checkpoint write
    of an earlier run left there (:func:`ppsci_ext.outputs.remove_orphans`). If another live process holds
    the lock after ``wait`` seconds, a RuntimeError names the folder.

    The lock is the kernel's (:func:`ppsci_ext.outputs.lock_folder`): it goes with its process, also one
    killed with ``kill -9``, so nothing stale is left to block a later run; ``wait`` lets the workers of a
    just-killed run exit."""
    folder = os.path.dirname(os.path.abspath(path))
    if folder in _HELD:
        return _HELD[folder]
    _HELD[folder] = lock_folder(folder, f"another run is training into {folder} (it holds the folder's lock); "
                                        f"wait for it to end or stop it, or give this run another output folder "
                                        f"(output_dir)", wait)
    for orphan in remove_orphans(folder):
        logger.info(f"removed {orphan}, left by an interrupted checkpoint write")
    return _HELD[folder]


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
