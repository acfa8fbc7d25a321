"""Random velocity models in the style of OpenFWI's FlatVel, CurveVel, FlatFault and CurveFault families.

Every model is a [nz, nx] array in m/s with axis 0 = depth. Layer rules
(number of layers, velocity range, minimum thickness, monotonic increase,
the share of models with velocity inversions) come from the example's YAML
(``GENERATE.models``); sample ``i`` of a run
is drawn from ``numpy.random.default_rng([seed, i])`` so any slice of a
data set can be regenerated alone, which makes generation resumable.

Families: ``flat`` and ``curved`` (the original FlatVel/CurveVel-like models), and
``flatvel-a``, ``curvevel-a``, ``flatfault-a``, ``curvefault-a``, written from OpenFWI's
published descriptions of its four "A" families (Deng et al., "OpenFWI: Large-scale
multi-structural benchmark datasets for full waveform inversion", NeurIPS 2022 Datasets
and Benchmarks). No OpenFWI code was used: the velocity-model generator was never
released (lanl/OpenFWI issue #12, 2024: "The data generation code is not released").

What OpenFWI publishes about these four families, and where:

- ``dataset_config.json`` of github.com/lanl/OpenFWI (the normalisation statistics):
  velocity ``label_min`` = 1500 m/s and ``label_max`` = 4500 m/s for all four; grid
  ``n_grid`` = 70 cells of ``dx`` = 10 m; 5 sources, 70 receivers, ``nt`` = 1000 samples of
  ``dt`` = 1 ms, a 15 Hz source. Seismic ``data_min`` / ``data_max``: FlatVel-A -26.95 / 52.77,
  CurveVel-A -27.11 / 55.10, FlatFault-A -26.10 / 50.86, CurveFault-A -26.48 / 52.32.
- openfwi-lanl.github.io/docs/data.html (the data page): model shape (1, 70, 70) and data
  shape (5, 1000, 70); FlatVel-A "simple situation with flat layers", CurveVel-A "simple
  situation with curved layers" (24K train / 6K test each), FlatFault-A "flat layers with
  one fault", CurveFault-A "curve layers with one fault" (48K / 6K each); the B sets are
  the "difficult version" of each.

Velocity increases with depth in these A families, a choice of this module: none of the
OpenFWI text read for it (the two sources above, the lanl/OpenFWI README and issues) says
so, nor gives the number of layers, layer thicknesses, how curvature is made, or a fault's
dip and throw. For those the rules below are this module's own
choices, and ``GENERATE.models`` keys are used wherever nothing is published:

- layers: ``min_layers`` .. ``max_layers`` (uniform), each at least ``min_thickness`` cells
  thick in every column, velocities uniform in [``vmin``, ``vmax``] with adjacent layers
  ``min_contrast`` apart (as in ``flat``). ``vmin`` / ``vmax`` must lie inside the published
  1500-4500 m/s, so OpenFWI's normalisation constants still map models into [-1, 1].
- velocity increases with depth in every column:
  ``increasing`` must be true and ``p_inversion`` 0 (otherwise a ValueError).
- curvature (``curvevel-a``, ``curvefault-a``): every interface is moved down by one shared
  sinusoid of 2-8 cells amplitude and 0.5-1.5 periods across the model, random phase
  (parallel folds: each layer keeps its thickness in every column).
- faults (``flatfault-a``, ``curvefault-a``): exactly one fault, as published. It is a
  straight normal fault dipping 60-80 degrees toward a random side and cutting the model
  from top to bottom with its trace off the two edge columns; the hanging wall moves down
  by a throw of 5-15 cells. A normal fault keeps velocity non-decreasing down every column
  (a reverse fault would repeat, and so invert, the section).
- room is kept so that folding and faulting never push a layer out of the model: columns
  away from the fault show all the layers, each at least ``min_thickness`` cells thick.
  A column the fault crosses can lose the layers inside the fault's throw window.

The published grid is 70 x 70; these functions take ``nz`` and ``nx`` from the YAML.
"""
from typing import Sequence, Tuple

import numpy as np

__all__ = ["flat_layer_model", "curved_layer_model", "openfwi_a_model", "flatvel_a_model", "curvevel_a_model",
           "flatfault_a_model", "curvefault_a_model", "make_velocity_models"]

OPENFWI_VELOCITY_RANGE = (1500.0, 4500.0)  # m/s, label_min / label_max of OpenFWI's dataset_config.json


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


def _check_openfwi_rules(vmin, vmax, increasing):
    lo, hi = OPENFWI_VELOCITY_RANGE
    if not lo <= vmin < vmax <= hi:
        raise ValueError(f"GENERATE.models: the OpenFWI A families need {lo} <= vmin < vmax <= {hi} m/s "
                         f"(OpenFWI's published velocity range), found vmin={vmin}, vmax={vmax}")
    if not increasing:
        raise ValueError("GENERATE.models.increasing: the OpenFWI A families have velocity increasing "
                         "with depth, found increasing=False")


def _fold_and_throw(rng, nz, n_layers, min_thickness, fold_amplitude, fault_throw):
    """Fold amplitude (cells, float) and fault throw (cells, int) that leave room for every layer."""
    slack = nz - min_thickness * n_layers
    amp_lo, amp_hi = fold_amplitude
    throw_lo, throw_hi = fault_throw
    if slack < 2 * int(np.ceil(amp_lo)) + throw_lo:
        raise ValueError(
            f"GENERATE.models: {n_layers} layers of min_thickness={min_thickness} cells, a fold of "
            f"{amp_lo} cells each way and a fault throw of {throw_lo} cells do not fit in nz={nz}")
    amp = rng.uniform(amp_lo, min(amp_hi, (slack - throw_lo) // 2)) if amp_hi > 0 else 0.0
    throw = int(rng.integers(throw_lo, min(throw_hi, slack - 2 * int(np.ceil(amp))) + 1)) if throw_hi > 0 else 0
    return amp, throw


def _fold_shift(rng, nx, amplitude, periods):
    """Downward shift (whole cells) of every interface in each column: one sinusoid across the model."""
    if amplitude == 0:
        return np.zeros(nx, dtype=int)
    k = rng.uniform(*periods)
    shift = amplitude * np.sin(2 * np.pi * k * np.arange(nx) / nx + rng.uniform(0, 2 * np.pi))
    # ceil keeps every layer's thickness: a cell lies below z0 + s exactly when it lies below z0 + ceil(s)
    return np.ceil(shift).astype(int)


def _hanging_wall(rng, nz, nx, dip):
    """Mask [nz, nx] of the hanging wall of one straight fault cutting the model from top to bottom."""
    if nz / np.tan(np.deg2rad(dip[0])) > nx - 3:
        raise ValueError(f"GENERATE.models: a fault dipping {dip[0]} degrees across nz={nz} cells crosses "
                         f"{nz / np.tan(np.deg2rad(dip[0])):.0f} columns, more than nx={nx} leaves inside the edge columns")
    tan_dip = np.tan(np.deg2rad(rng.uniform(*dip)))
    span = nz / tan_dip  # columns the fault trace crosses
    side = 1 if rng.random() < 0.5 else -1  # the fault dips toward +x (hanging wall right) or -x
    x_top = rng.uniform(1, nx - 2 - span) + (span if side < 0 else 0.0)  # where the trace meets z = 0
    fault_depth = side * (np.arange(nx) - x_top) * tan_dip  # depth of the fault in each column
    return np.arange(nz)[:, None] < fault_depth[None, :]


def openfwi_a_model(rng, nz, nx, n_layers, vmin, vmax, min_thickness=3, increasing=True, min_contrast=0.0,
                    curved=False, faulted=False, fold_amplitude: Tuple[float, float] = (2.0, 8.0),
                    fold_periods: Tuple[float, float] = (0.5, 1.5), fault_dip: Tuple[float, float] = (60.0, 80.0),
                    fault_throw: Tuple[int, int] = (5, 15)):
    """Layered model [nz, nx] (m/s) of one of OpenFWI's A families, velocity increasing with depth.

    ``curved``: interfaces follow one shared sinusoid of ``fold_amplitude`` cells (min, max) and
    ``fold_periods`` periods across the model. ``faulted``: one straight normal fault dipping
    ``fault_dip`` degrees from horizontal; its hanging wall moves down ``fault_throw`` cells.
    The module docstring says which of these rules OpenFWI publishes and which are chosen here.
    """
    _check_openfwi_rules(vmin, vmax, increasing)
    v = _layer_velocities(rng, n_layers, vmin, vmax, True, min_contrast)
    amp, throw = _fold_and_throw(rng, nz, n_layers, min_thickness, fold_amplitude if curved else (0.0, 0.0),
                                 fault_throw if faulted else (0, 0))
    margin = int(np.ceil(amp))
    depths = margin + _interface_depths(rng, n_layers, nz - 2 * margin - throw, min_thickness)
    z = np.arange(nz)[:, None] - _fold_shift(rng, nx, amp, fold_periods)[None, :]  # depth before folding
    if faulted:
        z = z - throw * _hanging_wall(rng, nz, nx, fault_dip)  # ... and before faulting
    layer = np.searchsorted(depths, z.ravel(), side="right").reshape(nz, nx)
    return v[layer]


def flatvel_a_model(rng, nz, nx, n_layers, **rules):
    """FlatVel-A-like model [nz, nx] (m/s): flat layers, velocity increasing with depth."""
    return openfwi_a_model(rng, nz, nx, n_layers, **rules)


def curvevel_a_model(rng, nz, nx, n_layers, **rules):
    """CurveVel-A-like model [nz, nx] (m/s): curved (folded) layers, velocity increasing with depth."""
    return openfwi_a_model(rng, nz, nx, n_layers, curved=True, **rules)


def flatfault_a_model(rng, nz, nx, n_layers, **rules):
    """FlatFault-A-like model [nz, nx] (m/s): flat layers cut by one fault."""
    return openfwi_a_model(rng, nz, nx, n_layers, faulted=True, **rules)


def curvefault_a_model(rng, nz, nx, n_layers, **rules):
    """CurveFault-A-like model [nz, nx] (m/s): curved layers cut by one fault."""
    return openfwi_a_model(rng, nz, nx, n_layers, curved=True, faulted=True, **rules)


_OPENFWI_A_FAMILIES = {"flatvel-a": flatvel_a_model, "curvevel-a": curvevel_a_model,
                       "flatfault-a": flatfault_a_model, "curvefault-a": curvefault_a_model}
_FAMILIES = {"flat": flat_layer_model, "curved": curved_layer_model, **_OPENFWI_A_FAMILIES}


def make_velocity_models(indices: Sequence[int], seed: int, family: str, nz: int, nx: int,
                         min_layers: int, max_layers: int, p_inversion: float = 0.0, **rules) -> np.ndarray:
    """Models for the given sample indices, float32 [len(indices), 1, nz, nx] (m/s).

    ``family`` is ``"flat"`` (FlatVel-like), ``"curved"`` (CurveVel-like) or one of OpenFWI's A
    families ``"flatvel-a"``, ``"curvevel-a"``, ``"flatfault-a"``, ``"curvefault-a"`` (see the
    module docstring); ``rules`` go to the family function (vmin, vmax, min_thickness, increasing, ...).
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
    if family in _OPENFWI_A_FAMILIES and p_inversion > 0:
        raise ValueError(f"GENERATE.models.p_inversion: family {family!r} has velocity increasing with depth, "
                         f"expected 0, found {p_inversion}")
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
