"""The examples' configs and scripts, as tests and benches load them (an example itself is run by Hydra)."""
import importlib.util
from os import path as osp

from ppsci_ext.runtime import PROJECT_ROOT

__all__ = ["compose_config", "load_example"]


def compose_config(name: str, overrides=()):
    """``conf/<name>.yaml`` with Hydra overrides applied (as the example script would see it)."""
    from hydra import compose
    from hydra import initialize_config_dir

    with initialize_config_dir(version_base=None, config_dir=osp.join(PROJECT_ROOT, "conf")):
        return compose(name, overrides=list(overrides))


def load_example(folder: str, script: str):
    """``examples/<folder>/<script>.py`` as a module (its functions: train, evaluate, run, ...)."""
    spec = importlib.util.spec_from_file_location(script, osp.join(PROJECT_ROOT, "examples", folder, f"{script}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
