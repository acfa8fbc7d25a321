"""Helpers shared by the bench scripts (run as `python bench/<script>.py`, so this folder is on sys.path).

``load_example`` and ``compose_config`` are the script tests' own (tests/examples/example_scripts.py).
"""
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.examples.example_scripts import compose_config  # noqa: E402,F401
from tests.examples.example_scripts import load_example  # noqa: E402,F401


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
