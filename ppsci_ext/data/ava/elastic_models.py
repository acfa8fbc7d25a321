"""Elastic (vp, vs, rho) models for AVA work.

Rock-physics relations used throughout (both empirical, for brine-saturated
clastic rocks):

- Castagna's mudrock line (Castagna, Batzle & Eastwood, 1985):
  ``vp = 1.16 vs + 1.36`` with velocities in km/s, hence
  ``vs = (vp - 1.36) / 1.16``. It gives ``vs <= 0`` for ``vp <= 1.36 km/s``.
- Gardner's relation (Gardner, Gardner & Gregory, 1974):
  ``rho = 0.31 vp^0.25`` with vp in m/s and rho in g/cc.

Every section is [L, ntraces] (axis 0 = depth or time sample) in m/s, m/s, g/cc.
"""
import os
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import fftconvolve

from ppsci_ext.data.arrays import read_npz
from ppsci_ext.physics.wavelets import ricker
from ppsci_ext.physics.wavelets import ricker_length

__all__ = ["castagna_vs", "gardner_rho", "layered_elastic_section", "family_elastic_sections", "load_marmousi_elastic",
           "marmousi_section", "rock_cloud"]

MUDROCK_A, MUDROCK_B_KMS = 1.16, 1.36  # vp = A vs + B (km/s)
GARDNER_A, GARDNER_B = 0.31, 0.25  # rho = a vp^b (vp m/s, rho g/cc)


def castagna_vs(vp, min_vs: Optional[float] = None):
    """S-wave velocity (m/s) from P-wave velocity (m/s) by Castagna's mudrock line.

    ``vs = (vp - 1360 m/s) / 1.16`` (the km/s relation vp = 1.16 vs + 1.36
    written in m/s). Example: vp 3000 m/s -> vs 1413.8 m/s.

    Args:
        vp: P-wave velocity, m/s (array or scalar).
        min_vs: ``None`` raises ``ValueError`` where the line gives vs <= 0
            (vp <= 1360 m/s); a number clips vs to at least that many m/s.
    """
    vp = np.asarray(vp, dtype=np.float64)
    vs = (vp - MUDROCK_B_KMS * 1000.0) / MUDROCK_A
    if min_vs is not None:
        return np.maximum(vs, float(min_vs))
    bad = ~(vs > 0)
    if bad.any():
        raise ValueError(
            f"castagna_vs: the mudrock line gives vs <= 0 (or NaN) for {int(bad.sum())} value(s) with "
            f"vp <= 1360 m/s (min vp {np.nanmin(vp):.1f} m/s); is vp in m/s? pass min_vs to clip instead"
        )
    return vs


def gardner_rho(vp):
    """Density (g/cc) from P-wave velocity (m/s) by Gardner's relation ``rho = 0.31 vp^0.25``.

    Example: vp 3000 m/s -> rho 2.294 g/cc.
    """
    vp = np.asarray(vp, dtype=np.float64)
    if (vp <= 0).any() or not np.isfinite(vp).all():
        raise ValueError("gardner_rho: vp must be finite and > 0 m/s")
    return GARDNER_A * vp ** GARDNER_B


def _smooth_lateral(rng, n, corr, size=1):
    """Stationary random curves along x, Gaussian-correlated over ``corr`` traces, unit marginal std; [size, n]."""
    pad = int(4 * corr) + 1
    w = rng.standard_normal((size, n + 2 * pad))
    s = gaussian_filter1d(w, corr, axis=1, mode="constant")[:, pad:pad + n]
    delta = np.zeros(2 * pad + 1)
    delta[pad] = 1.0
    return s / np.sqrt((gaussian_filter1d(delta, corr, mode="constant") ** 2).sum())


def _cloud_rocks(rng, rocks, vp, layer, n_layers, share: float = 0.02):
    """(vs, rho) of every sample: per layer one rock of ``rocks`` (vp-sorted [n, 3]) drawn among the ``share`` of
    them nearest the layer's median vp; vs = vp * its vs/vp, rho = its rho * (vp / its vp)^0.25."""
    k = max(int(share * len(rocks)), 1)
    med = np.array([np.median(vp[layer == i]) if (layer == i).any() else vp.mean() for i in range(n_layers)])
    centre = np.searchsorted(rocks[:, 0], med)
    pick = np.clip(centre - k // 2 + rng.integers(0, k, n_layers), 0, len(rocks) - 1)
    r = rocks[pick][layer]  # [L, N, 3]
    return vp * r[..., 1] / r[..., 0], r[..., 2] * (vp / r[..., 0]) ** GARDNER_B


def rock_cloud(paths: Sequence[str]) -> np.ndarray:
    """The (vp m/s, vs m/s, rho g/cc) samples of well logs (LAS or CSV, every sample where all three are present),
    sorted by vp: [n, 3]."""
    from ppsci_ext.data.ava import well_logs

    rows = []
    for path in paths:
        e = well_logs.elastic_logs(well_logs.read_well(path))
        a = np.stack([e["vp"], e["vs"], e["rho"]], 1)
        rows.append(a[np.isfinite(a).all(1)])
    cloud = np.concatenate(rows)
    return cloud[np.argsort(cloud[:, 0], kind="stable")]


def layered_elastic_section(n_layers_range: Sequence[int] = (30, 60), n_samples: int = 256,
                            n_traces: int = 200, seed: int = 0,
                            vp_range: Sequence[float] = (2000.0, 4500.0),
                            layer_contrast: float = 0.06, thin_bed_fraction: float = 0.3,
                            max_dip: float = 0.1, undulation: float = 6.0,
                            lateral_corr: float = 0.25, lateral_variation: float = 0.02,
                            vs_perturbation: float = 0.04, rho_perturbation: float = 0.02,
                            rocks: Optional[np.ndarray] = None, grading: float = 0.0,
                            ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic laterally continuous layered elastic section.

    vp = smooth depth trend * (1 + layer perturbation). The trend rises
    monotonically through ``vp_range`` with a random curvature and a weak
    lateral change. Layers (their number drawn from ``n_layers_range``,
    ``thin_bed_fraction`` of them 1-3 samples thick, the rest of random
    thickness) each carry a relative perturbation of std ``layer_contrast``,
    which also drifts slowly along x (std ``lateral_variation``). The layer
    interfaces are conformable: they follow one depth warp made of a dip
    (see ``max_dip``), increasing with depth, and smooth lateral undulations of
    about ``undulation`` samples whose shape changes with depth, so interfaces
    bend differently at different depths but never cross.

    vs and rho follow Castagna's mudrock line and Gardner's relation (module
    docstring) times ``(1 + e)``, with ``e`` an independent per-layer relative
    perturbation of std ``vs_perturbation`` / ``rho_perturbation`` (clipped at
    3 std) - so that vs and rho are not functions of vp. With ``rocks`` (an [n, 3]
    cloud of log samples (vp, vs, rho), sorted by vp) each layer instead takes
    one log sample among the 2% of the cloud nearest its median vp and keeps
    that rock's vs / vp and its density scaled as vp^0.25 (:func:`_cloud_rocks`):
    the logs' own scatter, sands, shales and carbonates alike, not two laws.
    vs is finally capped at vp / 1.45 (Poisson's ratio above ~0.05).

    Args:
        n_layers_range: (min, max) number of layers, inclusive.
        n_samples, n_traces: section size L x ntraces.
        seed: everything is drawn from ``numpy.random.default_rng(seed)``.
        vp_range: (min, max) vp in m/s of the trend; the result is clipped to
            [0.9 min, 1.1 max] and min must exceed 1360 m/s / 0.9.
        layer_contrast: relative std of the per-layer vp perturbation.
        thin_bed_fraction: fraction of layers that are thin beds (1-3 samples).
        max_dip: largest total depth change of the interfaces from the first
            to the last trace, as a fraction of ``n_samples``.
        undulation: amplitude (samples) of the interfaces' lateral undulation.
        lateral_corr: lateral correlation length of the undulations and of
            the lateral drift, as a fraction of ``n_traces``.
        lateral_variation: relative std of each layer's lateral vp drift.
        vs_perturbation, rho_perturbation: relative std of the per-layer
            departures of vs and rho from the rock-physics relations.
        rocks: a vp-sorted [n, 3] cloud of log samples, or None (the relations).
        grading: non-thin layers change vp linearly from top to base by a
            relative amount drawn in [-grading, grading] (gradual layering).

    Returns:
        (vp m/s, vs m/s, rho g/cc), each float64 [n_samples, n_traces].
    """
    lo_n, hi_n = int(n_layers_range[0]), int(n_layers_range[1])
    if not 1 <= lo_n <= hi_n:
        raise ValueError(f"n_layers_range must be (min, max) with 1 <= min <= max, found {n_layers_range}")
    vmin, vmax = float(vp_range[0]), float(vp_range[1])
    if not (0.9 * vmin > MUDROCK_B_KMS * 1000.0 and vmax > vmin):
        raise ValueError(f"vp_range must be (min, max) m/s with 0.9*min > 1360 m/s (Castagna vs > 0), found {vp_range}")
    rng = np.random.default_rng(seed)
    L, N = int(n_samples), int(n_traces)
    z = np.arange(L, dtype=np.float64)[:, None]
    xf = np.linspace(0.0, 1.0, N)[None, :]
    corr = max(lateral_corr * N, 1.0)

    # conformable depth warp: z' = z - shift(z, x), with |d shift / dz| < 1 so layers never cross
    dip = rng.uniform(-max_dip, max_dip) * L
    und = _smooth_lateral(rng, N, corr, 3)
    top_amp, bot_amp = undulation * rng.uniform(0.3, 1.0, 2)
    zf = z / max(L - 1, 1)
    shift = (dip * (xf - 0.5) * (0.5 + zf)
             + (1 - zf) * top_amp * und[0][None] + zf * bot_amp * und[1][None]
             + 0.5 * undulation * np.sin(np.pi * zf) * und[2][None])
    zw = z - shift

    # layers in the warped frame, spanning its whole range
    n_layers = int(rng.integers(lo_n, hi_n + 1))
    z0, z1 = float(zw.min()), float(zw.max()) + 1.0
    thin = rng.random(n_layers) < thin_bed_fraction
    thick = np.where(thin, rng.uniform(1.0, 3.0, n_layers), rng.exponential(1.0, n_layers) + 0.3)
    n_thick = max(int((~thin).sum()), 1)
    scale = max((z1 - z0) - thick[thin].sum(), n_thick) / max(thick[~thin].sum(), 1e-9)
    thick = np.where(thin, thick, thick * scale)
    tops = z0 + np.concatenate([[0.0], np.cumsum(thick)[:-1]])
    layer = np.clip(np.searchsorted(tops, zw, side="right") - 1, 0, n_layers - 1)

    # vp: monotonic trend with random curvature and a weak lateral change
    p = rng.uniform(0.6, 1.6)
    trend_frac = 0.1 + 0.8 * np.clip(zw / max(L - 1, 1), 0, 1) ** p
    lat = _smooth_lateral(rng, N, corr)[0][None]
    trend = vmin + (vmax - vmin) * np.clip(trend_frac + 0.05 * lat, 0, 1)
    contrast = np.clip(rng.standard_normal(n_layers), -3, 3) * layer_contrast
    drift = _smooth_lateral(rng, N, corr, n_layers) * lateral_variation  # [n_layers, N]
    cols = np.broadcast_to(np.arange(N), (L, N))
    vp = trend * (1.0 + contrast[layer] + drift[layer, cols])
    if grading > 0:  # fining / coarsening upward: a linear ramp within each non-thin layer
        ramp = np.where(thin, 0.0, rng.uniform(-grading, grading, n_layers))
        bases = np.concatenate([tops[1:], [z1]])
        frac = np.clip((zw - tops[layer]) / np.maximum(bases[layer] - tops[layer], 1e-9), 0, 1)
        vp = vp * (1.0 + ramp[layer] * (frac - 0.5))
    vp = np.clip(vp, 0.9 * vmin, 1.1 * vmax)
    if rocks is not None:
        vs, rho = _cloud_rocks(rng, rocks, vp, layer, n_layers)
        return vp, np.minimum(vs, vp / 1.45), rho

    e_vs = np.clip(rng.standard_normal(n_layers), -3, 3) * vs_perturbation
    e_rho = np.clip(rng.standard_normal(n_layers), -3, 3) * rho_perturbation
    vs = np.minimum(castagna_vs(vp) * (1.0 + e_vs[layer]), vp / 1.45)
    rho = gardner_rho(vp) * (1.0 + e_rho[layer])
    return vp, vs, rho


def load_marmousi_elastic(path: str, decimate_x: int = 1, decimate_z: int = 1
                          ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Marmousi window (``poststack_model.npz``) -> elastic section.

    The file holds ``model`` [550 depths, 800 offsets], P-wave velocity in
    km/s (1.73-5.5), axis 0 = depth. vs and rho come from Castagna's mudrock
    line and Gardner's relation (module docstring); Castagna needs vp > 1.36
    km/s everywhere, else ``ValueError``.

    Args:
        path: the ``.npz`` file, normally ``../shared/data/marmousi/poststack_model.npz``
            from the repository root (shared data, not shipped with the project).
        decimate_x, decimate_z: keep every n-th offset / depth sample.

    Returns:
        (vp m/s, vs m/s, rho g/cc), float64 [L, ntraces].
    """
    model = _read_marmousi_kms(path)
    vp = model[:: int(decimate_z), :: int(decimate_x)] * 1000.0
    if vp.min() <= MUDROCK_B_KMS * 1000.0:
        raise ValueError(f"{path}: vp min {vp.min():.0f} m/s <= 1360 m/s, where Castagna's mudrock line gives "
                         "vs <= 0; clip vp or use castagna_vs(vp, min_vs=...) yourself")
    return vp, castagna_vs(vp), gardner_rho(vp)


def marmousi_section(path: str, freq: float, dt: float) -> np.ndarray:
    """Post-stack section of the Marmousi window: acoustic-impedance reflectivity convolved with a Ricker.

    vp (m/s) from ``poststack_model.npz`` (as :func:`load_marmousi_elastic`), density by Gardner's
    relation, impedance ``z = vp * gardner_rho(vp)``, normal-incidence reflectivity of the interface
    below each sample ``r[k] = (z[k+1] - z[k]) / (z[k+1] + z[k])`` (``r[-1] = 0``), convolved along
    depth with the zero-phase Ricker ``ricker(freq, ricker_length(freq, dt), dt, centred=True)``
    and cropped to the section (``np.convolve(r_trace, w)[c:c + L]``, c = len(w) // 2, so the wavelet
    may be longer than a trace). Each depth sample counts as one time sample of ``dt`` s.

    Args:
        path: the ``.npz`` file, normally ``../shared/data/marmousi/poststack_model.npz``
            from the repository root (shared data, not shipped with the project).
        freq: Ricker peak frequency, Hz.
        dt: time per depth sample, s.

    Returns:
        float32 [L depths, ntraces] (axis 0 = depth, down), dimensionless amplitude.
    """
    vp = _read_marmousi_kms(path) * 1000.0
    z = vp * gardner_rho(vp)
    r = np.zeros_like(z)
    r[:-1] = (z[1:] - z[:-1]) / (z[1:] + z[:-1])
    w = ricker(freq, ricker_length(freq, dt), dt, centred=True, dtype=np.float64)
    c, n = len(w) // 2, r.shape[0]
    # all traces in one FFT convolution; agrees with np.convolve per trace to ~1e-15 of the peak
    return fftconvolve(r, w[:, None], mode="full", axes=0)[c:c + n].astype(np.float32)


def _read_marmousi_kms(path) -> np.ndarray:
    """``model`` of a Marmousi ``.npz``: float64 [depth, offset] P-wave velocity in km/s, validated."""
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Marmousi model not found: {path}. It lives in the shared data folder ../shared/data "
            "(marmousi/poststack_model.npz, relative to the repository root), which is not shipped with the "
            "project; point the path at your copy"
        )
    arrays = read_npz(path, "Marmousi model")
    if "model" not in arrays:
        raise KeyError(f"{path}: no key 'model' (found {sorted(arrays)})")
    if not np.issubdtype(arrays["model"].dtype, np.number) or np.iscomplexobj(arrays["model"]):
        raise ValueError(f"{path}: 'model' has dtype {arrays['model'].dtype}, expected real velocities (km/s)")
    model = np.asarray(arrays["model"], dtype=np.float64)
    if model.ndim != 2:
        raise ValueError(f"{path}: 'model' has shape {model.shape}, expected 2-D [depth, offset]")
    if not np.isfinite(model).all():
        raise ValueError(f"{path}: 'model' contains NaN or Inf")
    if model.max() > 20.0:
        raise ValueError(f"{path}: 'model' max {model.max():.1f} looks like m/s; expected km/s")
    return model


def _uniform(rng, bounds):
    lo, hi = (float(b) for b in bounds)
    return float(rng.uniform(lo, hi)) if hi > lo else lo


def _fault(rng, arrays, throw_range):
    """Displace the rock on one side of a random fault plane down by a random throw (samples)."""
    L, N = arrays[0].shape
    x0, slope = rng.uniform(0.15 * N, 0.85 * N), rng.uniform(-0.5, 0.5)  # traces; traces per sample
    throw = int(round(_uniform(rng, throw_range)))
    z = np.arange(L)[:, None]
    hanging = np.arange(N)[None, :] > x0 + slope * (z - L / 2)
    src = np.clip(z - throw, 0, L - 1) * np.ones((1, N), dtype=np.int64)
    rows = np.where(hanging, src, z * np.ones((1, N), dtype=np.int64))
    cols = np.broadcast_to(np.arange(N), (L, N))
    return [a[rows, cols] for a in arrays]


def _gas_wedge(rng, vp, vs, rho, thickness_range, p_class3):
    """A gas sand: a wedge of lowered vp and rho (vs a little higher) over part of the section.

    Class III (its impedance well below the surrounding rock) with probability ``p_class3``, else class II
    (a small impedance drop): vp falls by 10-22% (3-8%), rho by 6-12% (2-5%), vs rises by 0-3%.
    """
    L, N = vp.shape
    xa = int(rng.integers(0, int(0.6 * N)))
    xb = int(rng.integers(xa + max(int(0.2 * N), 2), N + 1))
    t0, t1 = (_uniform(rng, thickness_range) for _ in range(2))
    t0 = 0.0 if rng.random() < 0.5 else t0  # half are wedges pinching out to nothing
    top = rng.uniform(0.2 * L, 0.8 * L)
    x = np.arange(N)[None, :]
    thick = t0 + (t1 - t0) * np.clip((x - xa) / max(xb - xa - 1, 1), 0, 1)
    z = np.arange(L)[:, None]
    inside = (z >= top) & (z < top + thick) & (x >= xa) & (x < xb)
    cls3 = rng.random() < p_class3
    dvp = rng.uniform(0.10, 0.22) if cls3 else rng.uniform(0.03, 0.08)
    drho = rng.uniform(0.06, 0.12) if cls3 else rng.uniform(0.02, 0.05)
    vp = np.where(inside, vp * (1 - dvp), vp)
    rho = np.where(inside, rho * (1 - drho), rho)
    vs = np.where(inside, vs * (1 + rng.uniform(0.0, 0.03)), vs)
    return vp, vs, rho


def family_elastic_sections(n_sections: int, n_samples: int, n_traces: int, seed: int, mix: dict,
                            wells_per_section: int = 2, draw: int = 0, rocks: Optional[np.ndarray] = None
                            ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A family of random elastic sections of varied geology, side by side, and random wells in each.

    Section ``k`` of draw 0 is drawn from ``default_rng([seed, k])``, of draw ``j > 0`` (a training epoch's
    new sections) from ``default_rng([seed, k, j])``: a :func:`layered_elastic_section` whose
    settings are themselves drawn per section from the ranges in ``mix`` (layer count, thin-bed
    fraction, flat or dipping layers, contrast, depth trend), then, each with its probability, up to
    ``max_faults`` faults (the rock beyond a random, possibly inclined plane displaced down by a random
    throw) and a gas sand (:func:`_gas_wedge`, class II or III). vs and rho follow the rock-physics
    relations with a per-section factor (lognormal, std ``vs_scatter`` / ``rho_scatter``) and a smooth
    depth-varying one of the same size, on top of the per-layer scatter; vs is kept below vp / 1.45. With
    ``rocks`` (:func:`rock_cloud` of well logs), a section takes its vs and rho from that cloud instead, with
    probability ``mix["p_rocks"]``; its non-thin layers are graded by up to ``mix["grading"]`` (a [min, max]
    range drawn per section).

    Args:
        n_sections, n_samples, n_traces: the family is [n_samples, n_sections * n_traces].
        seed: base seed.
        mix: ranges ``[min, max]`` (drawn uniformly per section) for ``n_layers``, ``thin_bed_fraction``,
            ``max_dip``, ``layer_contrast``, ``vp_min``, ``vp_max``, ``fault_throw``, ``gas_thickness``;
            probabilities ``p_flat``, ``p_fault``, ``p_gas``, ``p_class3``; ``max_faults``; ``vs_scatter``,
            ``rho_scatter``.
        wells_per_section: labelled traces drawn in each section (at least 5 traces from its edges).
        draw: which family of the same settings (0 for the files a run builds, the epoch when training redraws).
        rocks: a vp-sorted [n, 3] cloud of log samples (:func:`rock_cloud`), or None.

    Returns:
        (vp m/s, vs m/s, rho g/cc) float64 [n_samples, n_sections * n_traces], and the well trace indices.
    """
    if n_traces < 12 or wells_per_section < 1 or wells_per_section > n_traces - 10:
        raise ValueError(f"family sections: need n_traces >= 12 and 1 <= wells_per_section <= n_traces - 10, "
                         f"found n_traces={n_traces}, wells_per_section={wells_per_section}")
    parts, wells = [], []
    for k in range(int(n_sections)):
        rng = np.random.default_rng([int(seed), k] + ([int(draw)] if draw else []))
        n_lo, n_hi = sorted(int(round(_uniform(rng, mix["n_layers"]))) for _ in range(2))
        vmin = _uniform(rng, mix["vp_min"])
        vmax = max(_uniform(rng, mix["vp_max"]), vmin + 500.0)
        flat = rng.random() < mix["p_flat"]
        cloud = rocks if rocks is not None and mix["p_rocks"] > 0 and rng.random() < mix["p_rocks"] else None
        vp, vs, rho = layered_elastic_section(
            n_layers_range=(n_lo, n_hi), n_samples=n_samples, n_traces=n_traces, seed=int(rng.integers(2 ** 31)),
            vp_range=(vmin, vmax), layer_contrast=_uniform(rng, mix["layer_contrast"]),
            thin_bed_fraction=_uniform(rng, mix["thin_bed_fraction"]),
            max_dip=0.0 if flat else _uniform(rng, mix["max_dip"]), undulation=0.0 if flat else rng.uniform(0, 8),
            rocks=cloud, grading=_uniform(rng, mix["grading"]))
        z = np.linspace(0, 1, n_samples)[:, None]
        for name, scatter in (("vs", mix["vs_scatter"]), ("rho", mix["rho_scatter"])) if cloud is None else ():
            factor = np.exp(scatter * (rng.standard_normal() + rng.standard_normal() * np.sin(
                np.pi * (rng.uniform(0.5, 2.0) * z + rng.uniform(0, 1)))))
            if name == "vs":
                vs = vs * factor
            else:
                rho = rho * factor
        arrays = [vp, vs, rho]
        if rng.random() < mix["p_fault"]:
            for _ in range(int(rng.integers(1, int(mix["max_faults"]) + 1))):
                arrays = _fault(rng, arrays, mix["fault_throw"])
        vp, vs, rho = arrays
        if rng.random() < mix["p_gas"]:
            vp, vs, rho = _gas_wedge(rng, vp, vs, rho, mix["gas_thickness"], mix["p_class3"])
        parts.append((vp, np.minimum(vs, vp / 1.45), rho))
        wells.extend(k * n_traces + rng.choice(np.arange(5, n_traces - 5), wells_per_section, replace=False))
    vp, vs, rho = (np.concatenate([p[i] for p in parts], axis=1) for i in range(3))
    return vp, vs, rho, np.sort(np.asarray(wells, dtype=np.int64))


def elastic_section_of(data, draw: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(vp m/s, vs m/s, rho g/cc) [L, ntraces] and the well traces of a GDRNN config's ``DATA`` block:
    ``DATA.source`` synthetic (one layered section, wells ``DATA.wells``), family (wells drawn per section;
    ``draw`` as :func:`family_elastic_sections`) or marmousi."""
    s = data.synthetic
    if data.source == "synthetic":
        return (*layered_elastic_section(n_layers_range=tuple(s.n_layers_range), n_samples=s.n_samples,
                                         n_traces=s.n_traces, seed=s.seed, vp_range=tuple(s.vp_range)), data.wells)
    if data.source == "family":
        f = data.family
        rocks = rock_cloud(list(f.rock_logs)) if f.rock_logs else None
        return family_elastic_sections(f.n_sections, s.n_samples, s.n_traces, f.seed, f.mix, f.wells_per_section,
                                       draw, rocks)
    if data.source == "marmousi":
        return (*load_marmousi_elastic(data.marmousi.path, data.marmousi.decimate_x, data.marmousi.decimate_z),
                data.wells)
    raise ValueError(f"DATA.source: expected 'synthetic', 'family' or 'marmousi', found {data.source!r}")
