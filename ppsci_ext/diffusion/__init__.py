"""Diffusion for MD Diffusion, kept in two parts as diffusers keeps them: the noise schedule and one DDIM step
(:mod:`.scheduler`, network-free) and the pipeline that runs a trained backbone over sections (:mod:`.pipeline`:
the sampling loop, low-pass consistency, ensembles, tiling)."""
from ppsci_ext.diffusion.pipeline import SRPipeline
from ppsci_ext.diffusion.pipeline import gaussian_lowpass
from ppsci_ext.diffusion.pipeline import lowpass_consistency
from ppsci_ext.diffusion.scheduler import DiffusionScheduler

__all__ = ["DiffusionScheduler", "SRPipeline", "gaussian_lowpass", "lowpass_consistency"]
