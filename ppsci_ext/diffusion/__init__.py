"""Diffusion numerics for MD Diffusion: noise schedule and DDIM sampler, network-free."""
from ppsci_ext.diffusion.scheduler import DiffusionScheduler

__all__ = ["DiffusionScheduler"]
