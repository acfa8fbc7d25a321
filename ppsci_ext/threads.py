"""CPU threads chosen by measurement (``num_threads: auto``).

On some CPUs a second Paddle thread makes training slower, not faster (a 2-core AMD EPYC: 2.2-2.5x slower), on
others it helps; which one holds depends on the CPU, the BLAS and OpenMP runtime in Paddle's wheel and the
network. So ``auto`` times one step of the example's own network (forward + backward) at each candidate count
(1 and the cores this process may use), after one untimed warm-up, and keeps the faster; a count must be over 10%
faster than a smaller one to be chosen. The answer is cached per machine in the user's cache folder
(``$PPSCI_EXT_CACHE``, else ``$XDG_CACHE_HOME/ppsci_ext``, else ``~/.cache/ppsci_ext``), keyed by the CPU model,
the usable cores, the Paddle and numpy versions, MKL's CPU type (``MKL_DEBUG_CPU_TYPE``, see :mod:`ppsci_ext`) and
the probe's name, so another machine, library or network
probes again.
"""
import hashlib
import json
import os
import platform
import statistics
import time
from typing import Callable, Dict, Sequence, Tuple

__all__ = ["cache_file", "machine", "choose_threads", "GAIN"]

GAIN = 1.10  # a larger thread count is chosen only where it is at least this many times faster


def cache_file() -> str:
    """Where the measured choices are kept (module docstring)."""
    root = os.environ.get("PPSCI_EXT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "ppsci_ext")
    return os.path.join(root, "threads.json")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def machine() -> Dict:
    """What a measured choice depends on besides the network: CPU model, usable cores, library versions."""
    import numpy
    import paddle

    return {"cpu": _cpu_model(), "cores": _cores(), "paddle": paddle.__version__, "numpy": numpy.__version__,
            "mkl_cpu_type": os.environ.get("MKL_DEBUG_CPU_TYPE")}


def _key(name: str, facts: Dict) -> str:
    return hashlib.sha256(json.dumps({"probe": name, **facts}, sort_keys=True).encode()).hexdigest()[:16]


def _read(path: str) -> Dict:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def choose_threads(name: str, step: Callable[[], None], set_threads: Callable[[int], None],
                   candidates: Sequence[int] = None, repeats: int = 3, facts: Dict = None,
                   path: str = None) -> Tuple[int, str]:
    """The thread count for ``name`` (the probe: an example's network), and a sentence saying why.

    ``step()`` runs one training step; ``set_threads(n)`` sets the library's threads. Each of ``candidates``
    (default: 1 and the usable cores) is set, ``step`` run once untimed and ``repeats`` times timed (median); the
    smallest count within :data:`GAIN` of the fastest wins. The result is cached in ``path`` (default
    :func:`cache_file`) under ``facts`` (default :func:`machine`) and the name; a cached answer is used without
    measuring. The cache is only a speed-up: one that cannot be read or written is ignored (said in the
    sentence)."""
    facts = machine() if facts is None else facts
    path = cache_file() if path is None else path
    candidates = sorted(set(candidates or (1, _cores())))
    key = _key(name, facts)
    cached = _read(path).get(key)
    if cached and cached.get("threads") in candidates:
        return cached["threads"], (f"{cached['threads']} thread(s), measured on this machine on {cached['when']} "
                                   f"({cached['why']}; cached in {path})")
    seconds = {}
    for n in candidates:
        set_threads(n)
        step()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        seconds[n] = statistics.median(times)
    best = min(seconds.values())
    chosen = min(n for n in candidates if seconds[n] <= best * GAIN)
    why = (f"{name} step: " + ", ".join(f"{n} thread(s) {seconds[n]:.3g} s" for n in candidates)
           + f" on {facts.get('cpu', 'this CPU')}")
    entry = {"threads": chosen, "why": why, "when": time.strftime("%Y-%m-%d %H:%M"), "facts": facts}
    note = f"cached in {path}"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = _read(path)
        data[key] = entry
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except OSError as e:
        note = f"not cached: {e}"
    set_threads(chosen)
    return chosen, f"{chosen} thread(s), measured now ({why}; {note})"
