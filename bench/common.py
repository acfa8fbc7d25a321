"""Helpers shared by the bench scripts (run as `python bench/<script>.py`, so this folder is on sys.path).

``load_example`` and ``compose_config`` come from the package's example harness (:mod:`ppsci_ext.runtime`),
as in the tests.
"""
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from ppsci_ext.runtime import compose_config  # noqa: E402,F401
from ppsci_ext.runtime import load_example  # noqa: E402,F401


def timings(fn, repeats, warm_up=True):
    """Seconds of each of ``repeats`` calls of ``fn``, after one untimed warm-up call unless ``warm_up`` is False."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_time(fn, repeats, warm_up=True):
    """Median of :func:`timings`."""
    return statistics.median(timings(fn, repeats, warm_up))
