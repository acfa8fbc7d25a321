"""Forward operators: pure numerics, no networks, no config."""

from .acoustic import CFL_LIMIT, DEFAULT_PAD, cfl_number, forward_model
from .wavelets import ricker

__all__ = ["CFL_LIMIT", "DEFAULT_PAD", "cfl_number", "forward_model", "ricker"]
