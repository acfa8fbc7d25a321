"""Random velocity models in the style of OpenFWI's FlatVel and CurveVel families.

Every model is a [nz, nx] array in m/s with axis 0 = depth. Layer rules
(number of layers, velocity range, minimum thickness, monotonic increase,
the share of models with velocity inversions) come from the example's YAML
(``GENERATE.models``); sample ``i`` of a run
is drawn from ``numpy.random.default_rng([seed, i])`` so any slice of a
data set can be regenerated alone, which makes generation resumable.
"""
from typing import Sequence

import numpy as np

__all__ = ["flat_layer_model", "curved_layer_model", "make_velocity_models"]


def _layer_velocities(rng, n_layers, vmin, vmax, increasing, min_contrast):
    """Layer velocities (m/s), top to bottom; successive layers differ by at least ``min_contrast``."""
    for _ in range(100):
        v = rng.uniform(vmin, vmax, n_layers)
        if increasing:
            v = np.sort(v)
        if n_layers == 1 or np.all(np.abs(np.diff(v)) >= min_contrast):
            return v
    return np.linspace(vmin, vmax, n_layers) if increasing else v


def _interface_depths(rng, n_layers, nz, min_thickness):
    """Depth indices (cells) of the ``n_layers - 1`` interfaces, sorted, >= min_thickness apart."""
    n_int = n_layers - 1
    slack = nz - min_thickness * n_layers
    if slack < 0:
        raise ValueError(
            f"GENERATE.models: {n_layers} layers of min_thickness={min_thickness} cells "
            f"do not fit in nz={nz}"
        )
    cuts = np.sort(rng.integers(0, slack + 1, n_int))
    return cuts + min_thickness * np.arange(1, n_int + 1)


def flat_layer_model(rng, nz, nx, n_layers, vmin, vmax, min_thickness=3,
                     increasing=True, min_contrast=0.0):
    """Horizontally layered model [nz, nx] (m/s)."""
    v = _layer_velocities(rng, n_layers, vmin, vmax, increasing, min_contrast)
    depths = _interface_depths(rng, n_layers, nz, min_thickness)
    layer_of_row = np.searchsorted(depths, np.arange(nz), side="right")
    return np.repeat(v[layer_of_row][:, None], nx, axis=1)


def curved_layer_model(rng, nz, nx, n_layers, vmin, vmax, min_thickness=3,
                       increasing=True, min_contrast=0.0, max_amplitude=8.0,
                       max_wavenumber=2.0):
    """Layered model [nz, nx] (m/s) whose interfaces are shifted by one random sinusoid.

    All interfaces share the same lateral shape (as in OpenFWI CurveVel), of
    amplitude up to ``max_amplitude`` cells and up to ``max_wavenumber``
    periods across the model.
    """
    v = _layer_velocities(rng, n_layers, vmin, vmax, increasing, min_contrast)
    depths = _interface_depths(rng, n_layers, nz, min_thickness)
    x = np.arange(nx) / nx
    amp = rng.uniform(0, max_amplitude)
    k = rng.uniform(0.5, max_wavenumber)
    shift = amp * np.sin(2 * np.pi * k * x + rng.uniform(0, 2 * np.pi))
    z = np.arange(nz)[:, None] - shift[None, :]  # depth in the curved frame
    layer = np.searchsorted(depths, z.ravel(), side="right").reshape(nz, nx)
    return v[layer]


_FAMILIES = {"flat": flat_layer_model, "curved": curved_layer_model}


def make_velocity_models(indices: Sequence[int], seed: int, family: str, nz: int, nx: int,
                         min_layers: int, max_layers: int, p_inversion: float = 0.0, **rules) -> np.ndarray:
    """Models for the given sample indices, float32 [len(indices), 1, nz, nx] (m/s).

    ``family`` is ``"flat"`` (FlatVel-like) or ``"curved"`` (CurveVel-like);
    ``rules`` go to the family function (vmin, vmax, min_thickness, increasing, ...).
    ``p_inversion``: with ``increasing``, the probability that a model's layer velocities are left in
    random order (velocity inversions, as real sections have); 0 draws nothing more, so the models of
    a seed are unchanged.
    """
    if family not in _FAMILIES:
        raise ValueError(f"GENERATE.models.family: expected one of {sorted(_FAMILIES)}, found {family!r}")
    if not 1 <= min_layers <= max_layers:
        raise ValueError(f"GENERATE.models: need 1 <= min_layers <= max_layers, found {min_layers}, {max_layers}")
    if not 0.0 <= p_inversion <= 1.0:
        raise ValueError(f"GENERATE.models.p_inversion: expected a probability in [0, 1], found {p_inversion}")
    fn = _FAMILIES[family]
    out = np.empty((len(indices), 1, nz, nx), dtype=np.float32)
    for j, i in enumerate(indices):
        rng = np.random.default_rng([seed, int(i)])
        n_layers = int(rng.integers(min_layers, max_layers + 1))
        own = dict(rules)
        if p_inversion > 0 and rng.random() < p_inversion:
            own["increasing"] = False
        out[j, 0] = fn(rng, nz, nx, n_layers, **own)
    return out
