"""Helpers shared by the bench scripts (run as `python bench/<script>.py`, so this folder is on sys.path)."""
import importlib.util
import os
import statistics
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_time(fn, repeats, warm_up=True):
    """Median seconds of ``repeats`` calls of ``fn``, after one untimed warm-up call unless ``warm_up`` is False."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load_example(folder: str, script: str):
    """``examples/<folder>/<script>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(script, os.path.join(ROOT, "examples", folder, f"{script}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def compose_config(name: str, overrides):
    """``conf/<name>.yaml`` with Hydra overrides applied."""
    from hydra import compose
    from hydra import initialize_config_dir

    with initialize_config_dir(version_base=None, config_dir=os.path.join(ROOT, "conf")):
        return compose(name, overrides=list(overrides))
