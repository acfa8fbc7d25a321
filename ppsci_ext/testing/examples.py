"""The examples' scripts as modules, and their configs, as tests and benches load them (an example itself is run
by Hydra)."""
import importlib.util
from os import path as osp

from ppsci_ext.runtime import PROJECT_ROOT
from ppsci_ext.runtime import compose_config  # noqa: F401  (the examples' configs, as tests load them)

__all__ = ["compose_config", "load_example"]


def load_example(folder: str, script: str):
    """``examples/<folder>/<script>.py`` as a module (its functions: train, evaluate, run, ...)."""
    spec = importlib.util.spec_from_file_location(script, osp.join(PROJECT_ROOT, "examples", folder, f"{script}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
