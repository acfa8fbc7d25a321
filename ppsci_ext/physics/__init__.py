"""Forward operators: pure numerics, no networks, no config."""

from .acoustic import CFL_LIMIT, CONVENTIONS, DEFAULT_PAD, cfl_number, convention_delay, convert_convention, forward_model
from .ava import (
    AVAForward,
    aki_richards_rpp,
    critical_angle_deg,
    default_theta_groups,
    reflectivity,
    zoeppritz_rpp,
)
from .wavelets import openfwi_ricker, ricker, ricker_length, ricker_wavelet_matrix, wavelet_matrix

__all__ = [
    "CFL_LIMIT",
    "DEFAULT_PAD",
    "cfl_number",
    "convention_delay",
    "convert_convention",
    "forward_model",
    "CONVENTIONS",
    "openfwi_ricker",
    "ricker",
    "ricker_length",
    "AVAForward",
    "aki_richards_rpp",
    "critical_angle_deg",
    "default_theta_groups",
    "reflectivity",
    "ricker_wavelet_matrix",
    "wavelet_matrix",
    "zoeppritz_rpp",
]
