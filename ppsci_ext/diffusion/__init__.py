"""Diffusion numerics for MD Diffusion: noise schedule and DDIM sampler, network-free."""
from ppsci_ext.diffusion.scheduler import DiffusionScheduler
from ppsci_ext.diffusion.scheduler import gaussian_lowpass
from ppsci_ext.diffusion.scheduler import lowpass_consistency

__all__ = ["DiffusionScheduler", "gaussian_lowpass", "lowpass_consistency"]
