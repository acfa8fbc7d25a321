"""Load an example script as a module and compose its config, for the script tests."""
import importlib.util
import os

from hydra import compose
from hydra import initialize_config_dir

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_example(folder: str, script: str):
    """``examples/<folder>/<script>.py`` as a module (its functions: train, evaluate, ...)."""
    spec = importlib.util.spec_from_file_location(script, os.path.join(ROOT, "examples", folder, f"{script}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def compose_config(name: str, overrides):
    """``conf/<name>.yaml`` with Hydra overrides applied."""
    with initialize_config_dir(version_base=None, config_dir=os.path.join(ROOT, "conf")):
        return compose(name, overrides=list(overrides))
