"""Independent pieces of inference work spread over forked CPU processes of one thread each.

:func:`fork_map` runs ``fn`` on each item of a list and returns the results in order, as a plain loop would;
with ``nprocs > 1`` (Linux) the items are dealt round-robin to ``nprocs`` forked children of one thread each,
while this process waits (its own thread count is left as it is). A child starts as a copy of this process,
with the network already loaded, so nothing is pickled or rebuilt: its results (an array, or a dict of arrays)
come back as ``.npy`` / ``.npz`` files in a temporary folder this function creates and removes (read without
pickle). A child ends with its parent
(``PR_SET_PDEATHSIG``); an error in a child is raised here with its message.

Why processes: independent items scale over processes as far as the cores go, while a second Paddle thread
gains little or loses on some CPUs (README, "CPU threads, processes and GPUs": two single-thread processes ran
1.95-2.5x the steps of one on 2 AMD EPYC cores, a second thread 1.03-1.25x). Items must not depend on one another
or on shared random state (each piece seeds its own draws, as :meth:`ppsci_ext.diffusion.SRPipeline.predict`
does), so the result equals the one-process loop.
"""
import ctypes
import os
import shutil
import signal
import sys
import tempfile
import traceback
from typing import Callable
from typing import Dict
from typing import List
from typing import Sequence
from typing import Union

import numpy as np

__all__ = ["fork_map"]

Result = Union[np.ndarray, Dict[str, np.ndarray]]


def _plain(result: Result) -> Result:
    """What a result is after the trip through a file: arrays (a dict's values too)."""
    if isinstance(result, dict):
        return {k: np.asarray(v) for k, v in result.items()}
    return np.asarray(result)


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _save(path: str, result: Result) -> None:
    """``result`` to ``<path>.npz`` (a dict of arrays) or ``<path>.npy``, whole or not at all."""
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        if isinstance(result, dict):
            np.savez(f, **{k: np.asarray(v) for k, v in result.items()})
        else:
            np.save(f, np.asarray(result))
    os.replace(tmp, path + (".npz" if isinstance(result, dict) else ".npy"))


def _load(folder: str, i: int) -> Result:
    path = os.path.join(folder, f"{i}.npz")
    if os.path.exists(path):
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    return np.load(os.path.join(folder, f"{i}.npy"), allow_pickle=False)


def _child(fn: Callable, items: Sequence, share: List[int], folder: str) -> None:
    """In a forked child: ``fn`` on ``items[i]`` for ``i`` in ``share``, each result to ``<folder>/<i>.np[yz]``."""
    code = 0
    try:
        _die_with_parent()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to report
        import paddle

        paddle.base.core.set_num_threads(1)
        for i in share:
            _save(os.path.join(folder, str(i)), fn(items[i]))
    except BaseException as e:  # noqa: BLE001  (reported to the parent, which raises it)
        with open(os.path.join(folder, f"error{os.getpid()}.txt"), "w") as f:
            f.write(f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def fork_map(fn: Callable[[object], Result], items: Sequence, nprocs: int = 1) -> List[Result]:
    """``[fn(item) for item in items]`` (each a numpy array or a dict of them), over ``nprocs`` single-thread
    processes (module docstring); ``nprocs <= 1``, one item, or no ``os.fork``: the plain loop here."""
    nprocs = min(int(nprocs), len(items))
    if nprocs <= 1 or not hasattr(os, "fork"):
        return [_plain(fn(item)) for item in items]
    folder = tempfile.mkdtemp(prefix="ppsci_ext_fork_")
    children = []
    try:
        for rank in range(nprocs):
            pid = os.fork()
            if pid == 0:
                _child(fn, items, list(range(rank, len(items), nprocs)), folder)
            children.append(pid)
        failed = [pid for pid in children if os.waitpid(pid, 0)[1] != 0]
        children = []
        errors = [open(os.path.join(folder, f)).read() for f in sorted(os.listdir(folder)) if f.startswith("error")]
        if failed or errors:
            raise RuntimeError("a worker process stopped: " + (errors[0].splitlines()[0] if errors else
                                                                f"exit status of {failed}"))
        return [_load(folder, i) for i in range(len(items))]
    finally:
        for pid in children:  # this process was interrupted: its children end with it
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        shutil.rmtree(folder, ignore_errors=True)
