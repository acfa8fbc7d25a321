"""Every training loop of the package, on one base (:mod:`ppsci_ext.train.base`) and one checkpoint schema.

- :class:`WGANGPTrainer` (``gan``): VelocityGAN's generator + WGAN-GP critic.
- :class:`UnrolledTrainer` (``unrolled``): GDRNN's semi-supervised unrolled AVA inversion.
- :class:`SRTrainer` (``sr``): MD Diffusion's diffusion model and its one-pass UNet baseline.

Each has ``fit()``: resume from its checkpoint if there is one, train until done, return the history.
"""
from ppsci_ext.train.base import Trainer
from ppsci_ext.train.base import loader_config
from ppsci_ext.train.base import loader_pass
from ppsci_ext.train.ema import WarmupEMA
from ppsci_ext.train.gan import WGANGPTrainer
from ppsci_ext.train.sr import SRTrainer
from ppsci_ext.train.unrolled import UnrolledTrainer

__all__ = ["Trainer", "loader_config", "loader_pass", "WarmupEMA", "WGANGPTrainer", "SRTrainer", "UnrolledTrainer"]
