"""What is written once about each example: how it trains, where its checkpoints live, what a checkpoint must
match and which weights inference loads.

The example scripts (their error messages and weight loading), :mod:`ppsci_ext.pretrained` (what the shipped
files are cut from, and README's weights table with each file's training command) and the docs read these
objects; no other code writes the same facts again (the docs show the commands to readers).

One rule for every example: a run trains one *kind* of network (VelocityGAN: ``velocitygan`` with its critic or
``inversionnet`` without, by ``MODEL.gan``; GDRNN and MD Diffusion: ``MODEL.kind``), and its one checkpoint is
``<output_dir>/<kind>/checkpoint.pdparams`` (the finished run's ``history.json`` beside it). ``eval`` and
``infer`` load the weights of a kind from ``<section>.pretrained_model_path`` when it is a folder of
``<kind>.pdparams`` (as ``pretrained/`` ships them) or a file and the kind is the config's own, and from that
kind's checkpoint otherwise (:meth:`ExampleSpec.weights_path`).
"""
from dataclasses import dataclass
from os import path as osp
from typing import Callable
from typing import Dict
from typing import Optional
from typing import Tuple

from ppsci_ext.train.sr import sampling_state

__all__ = ["ExampleSpec", "VELOCITYGAN", "GDRNN", "MD_DIFFUSION", "SPECS", "CHECKPOINT"]

CHECKPOINT = "checkpoint.pdparams"  # a run's one checkpoint, in <output_dir>/<kind>/


def _nets(*names):
    """Inference's weights: the checkpoint's networks ``names`` as they were trained."""
    return lambda state: {n: state["nets"][n] for n in names}


def _average(state):
    """Inference's weights: the weight average sampling uses (the last weights when training kept none)."""
    return {"model": sampling_state(state)}


@dataclass(frozen=True)
class ExampleSpec:
    """One example's facts.

    Attributes:
        name: its folder under ``examples/`` and its default config ``conf/<name>.yaml``.
        script: the script's file name without ``.py``.
        kinds: the kinds of network it trains, one checkpoint each; ``kind_args[kind]`` selects one on the
            command line (empty for the config's default).
        kind_of: the kind a config trains.
        network_keys: per kind, the config keys (dotted; sections or single keys) whose values the weights
            inference loads depend on: they are loaded only where these are unchanged.
        trained_beside: the keys of what a training run holds beside those weights (VelocityGAN's critic), which
            a training checkpoint must match too (:meth:`train_keys`).
        nets: per kind, the networks inference loads, and ``weights[kind]`` picks them from a checkpoint
            (``{network name: state_dict}``, what a shipped weights file holds).
        shipped: the trained weights ``pretrained/`` holds for it (a file, or a folder of ``<kind>.pdparams``).
    """
    name: str
    script: str
    kinds: Tuple[str, ...]
    kind_args: Dict[str, str]
    kind_of: Callable
    network_keys: Dict[str, Tuple[str, ...]]
    trained_beside: Tuple[str, ...]
    nets: Dict[str, Tuple[str, ...]]
    weights: Dict[str, Callable]
    shipped: str

    @property
    def script_path(self) -> str:
        return f"examples/{self.name}/{self.script}.py"

    def train_command(self, kind: str, *overrides: str, config_name: Optional[str] = None) -> str:
        """The command that trains ``kind``, run from the project root (``overrides``: more of its arguments)."""
        parts = ["python", self.script_path, *(("--config-name", config_name) if config_name else ()), "mode=train",
                 self.kind_args[kind], *overrides]
        return " ".join(p for p in parts if p)

    def train_keys(self, kind: str) -> Tuple[str, ...]:
        """The settings a training checkpoint of ``kind`` depends on (it resumes only where they are unchanged):
        the network's, and those of what trains beside it (VelocityGAN's critic)."""
        return self.network_keys[kind] + self.trained_beside

    @staticmethod
    def checkpoint(output_dir: str, kind: str) -> str:
        """The one checkpoint of a run of ``kind`` writing into ``output_dir``."""
        return osp.join(output_dir, kind, CHECKPOINT)

    def weights_path(self, cfg, kind: str, section: str = "EVAL") -> str:
        """Where ``eval``/``infer`` (``section``) take the weights of ``kind``: ``<section>.pretrained_model_path`` when
        it is a folder (``<folder>/<kind>.pdparams``, as ``pretrained/`` ships them), or a file and ``kind`` is the
        config's own; otherwise the run's checkpoint."""
        given: Optional[str] = cfg[section].get("pretrained_model_path")
        if given:
            if osp.isdir(given):
                return osp.join(given, f"{kind}.pdparams")
            if kind == self.kind_of(cfg):
                return given
        return self.checkpoint(cfg.output_dir, kind)


_GENERATOR_KEYS = ("MODEL.generator", "MODELLING.convention",
                   *(f"DATA.{k}" for k in ("data_min", "data_max", "label_min", "label_max", "sample_ratio", "log_k")))
VELOCITYGAN = ExampleSpec(
    name="velocitygan", script="VelocityGAN", kinds=("velocitygan", "inversionnet"),
    kind_args={"velocitygan": "", "inversionnet": "MODEL.gan=false"},
    kind_of=lambda cfg: "velocitygan" if cfg.MODEL.gan else "inversionnet",
    network_keys={"velocitygan": _GENERATOR_KEYS, "inversionnet": _GENERATOR_KEYS},
    trained_beside=("MODEL.gan", "MODEL.critic"),
    nets={"velocitygan": ("generator",), "inversionnet": ("generator",)},
    weights={"velocitygan": _nets("generator"), "inversionnet": _nets("generator")},
    shipped="pretrained/velocitygan.pdparams",
)
GDRNN = ExampleSpec(
    name="gdrnn", script="GDRNN", kinds=("gdrnn", "original"),
    kind_args={"gdrnn": "", "original": "MODEL.kind=original"},
    kind_of=lambda cfg: cfg.MODEL.kind,
    network_keys={"gdrnn": ("MODEL.scale", "MODEL.dims", "MODEL.n_steps", "MODEL.adaptive_step", "PHYSICS.method"),
                  "original": ("MODEL.scale", "MODEL.dims", "MODEL.lam", "PHYSICS.method")},
    trained_beside=(),
    nets={"gdrnn": ("model",), "original": ("model",)},
    weights={"gdrnn": _nets("model"), "original": _nets("model")},
    shipped="pretrained/gdrnn_family",
)
_BACKBONE_KEYS = tuple(f"MODEL.{k}" for k in ("spatial_dims", "base_channels", "channel_mults", "num_res_blocks",
                                               "norm"))
MD_DIFFUSION = ExampleSpec(
    name="md_diffusion", script="MDDiffusion", kinds=("diffusion", "supervised"),
    kind_args={"diffusion": "", "supervised": "MODEL.kind=supervised"},
    kind_of=lambda cfg: cfg.MODEL.kind,
    network_keys={"supervised": _BACKBONE_KEYS, "diffusion": _BACKBONE_KEYS + tuple(
        f"DIFFUSION.{k}" for k in ("n_train_steps", "beta_start", "beta_end", "prediction_type"))},
    trained_beside=(),
    nets={"diffusion": ("model",), "supervised": ("model",)},
    weights={"diffusion": _average, "supervised": _average},
    shipped="pretrained/md_diffusion",
)
SPECS = {s.name: s for s in (VELOCITYGAN, GDRNN, MD_DIFFUSION)}
