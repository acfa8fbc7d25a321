"""Elastic test sections from real well logs, written apart from the training family's generator.

Two kinds, both [n_samples, n_traces] in m/s, m/s, g/cc on a two-way-time grid:

- :func:`section_between_wells`: the wells' own time logs placed at trace positions and interpolated between
  them (linearly in log-properties) along horizons that dip, undulate and thicken across the section: trace x
  reads each well at relative time ``u = (i - shift(x)) * stretch(x)``. One well alone gives a section whose
  layers are that log's, moved and thinned laterally.
- :func:`facies_section`: a column of beds drawn by a Markov chain of facies (sand, shale, carbonate, ...),
  bed thicknesses from a geometric law (with beds of 1-3 samples, under tuning for the wavelets used), each
  bed's (vp, vs, rho) drawn jointly from the logs' own samples of its facies (the rocks' scatter, not a law),
  sands fining or coarsening upward; beds thin or thicken linearly across the section and pinch out.

:func:`gas_case` replaces the pore fluid of a sand interval by gas with Gassmann's relation
(:mod:`ppsci_ext.physics.rockphysics`), porosity from density.
"""
from typing import Dict
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np

from ppsci_ext.data.ava import well_logs
from ppsci_ext.physics import rockphysics as rp

__all__ = ["time_log", "section_between_wells", "facies_section", "gas_case"]

PROPS = ("vp", "vs", "rho")


def time_log(path: str, dt: float, depth_curve: Optional[str] = None, max_gap: int = 20,
             keep: Sequence[str] = (), top: Optional[float] = None, base: Optional[float] = None
             ) -> Dict[str, np.ndarray]:
    """A log file's longest complete vp/vs/rho interval on a two-way-time grid of step ``dt`` (s), from its top.

    ``depth_curve``: a curve to use as depth (m) instead of the index, e.g. the TVD of a deviated well (its sign
    is taken so that depth increases downwards). ``top``, ``base``: the file's index range to look in (its units
    as read: metres of depth). ``keep``: other curves carried along (each time sample takes the first log
    sample at or below its depth, e.g. a lithology code). Adds "name", "t" (s from the interval's top), "z" (the
    depth of each time sample, m) and "z_top" (m)."""
    log = well_logs.read_well(path)
    e = well_logs.elastic_logs(log)
    extra = {k.upper(): log.curves[k.upper()] for k in keep}
    inside = np.ones(len(log.index), bool)
    if top is not None:
        inside &= log.index >= top
    if base is not None:
        inside &= log.index <= base
    if depth_curve is not None:
        e["index"] = np.abs(np.asarray(log.curves[depth_curve.upper()], np.float64))
    e = {k: v[inside] for k, v in e.items()}
    extra = {k: v[inside] for k, v in extra.items()}
    part = well_logs.complete_interval(e, max_gap)
    sl = np.searchsorted(e["index"], part["index"][[0, -1]])
    out = well_logs.to_time(part, dt, "depth" if log.index_kind == "depth" else "time")
    t_log = part["index"] if log.index_kind == "time" else well_logs.two_way_time(part["index"], part["vp"])
    z_at_t = np.interp(out["t"], t_log, part["index"])
    z = e["index"][sl[0]:sl[1] + 1]
    below = np.clip(np.searchsorted(z, z_at_t), 0, len(z) - 1)
    for k, x in extra.items():
        out[k.lower()] = x[sl[0]:sl[1] + 1][below]
    out.update(name=log.name, z=z_at_t, z_top=float(part["index"][0]))
    return out


def _smooth_curve(rng, n, amplitude, wavelength):
    x = np.arange(n)
    return amplitude * np.sin(2 * np.pi * x / wavelength + rng.uniform(0, 2 * np.pi))


def section_between_wells(wells: Sequence[Dict[str, np.ndarray]], positions: Sequence[int], n_traces: int,
                          n_samples: Optional[int] = None, offsets: Optional[Sequence[float]] = None,
                          dip: float = 0.0, undulation: float = 0.0, wavelength: float = 80.0, stretch: float = 0.0,
                          seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vp, vs, rho) [n_samples, n_traces] interpolated between ``wells`` (time logs of one dt) at trace
    ``positions`` along horizons.

    ``offsets``: each well's relative time of its first sample, in samples (aligns the wells' horizons;
    default 0). Trace x reads the wells at relative time ``u = top + i / scale(x) + shift.max() - shift(x)``:
    ``dip`` is the horizons' shift across the section (samples, first to last trace), ``undulation``,
    ``wavelength`` a sinusoidal shift (samples, traces), ``stretch`` the relative thickening from the first trace
    to the last (0.2: layers 20% thicker on the right). Between positions, properties are interpolated linearly in
    their logarithm; outside them, the nearest well's. ``n_samples`` None: the most the wells cover at every
    trace; more is an error."""
    rng = np.random.default_rng(seed)
    order = np.argsort(positions)
    pos = np.asarray(positions, np.float64)[order]
    wells = [wells[k] for k in order]
    offs = np.zeros(len(wells)) if offsets is None else np.asarray(offsets, np.float64)[order]
    lo = max(offs)
    hi = min(o + len(w["vp"]) - 1 for o, w in zip(offs, wells))
    x = np.arange(n_traces, dtype=np.float64)
    shift = dip * x / max(n_traces - 1, 1) + _smooth_curve(rng, n_traces, undulation, wavelength)
    shift -= shift.min()
    scale = 1.0 + stretch * (x / max(n_traces - 1, 1) - 0.5)
    fits = int(np.floor(((hi - lo - shift.max() + shift) * scale).min())) + 1
    if n_samples is None:
        n_samples = fits
    if n_samples > fits or fits < 2:
        raise ValueError(f"section_between_wells: the wells cover {fits} samples of every trace with this dip, "
                         f"undulation and stretch; {n_samples} asked: use fewer samples, less dip or stretch")
    u = lo + np.arange(n_samples)[:, None] / scale[None] + (shift.max() - shift)[None]  # relative time, samples
    out = {}
    for p in PROPS:
        logs = np.stack([np.interp(u, o + np.arange(len(w[p])), np.log(w[p])) for w, o in zip(wells, offs)])
        if len(wells) == 1:
            out[p] = np.exp(logs[0])
            continue
        k = np.clip(np.searchsorted(pos, x, side="right") - 1, 0, len(pos) - 2)
        a = np.clip((x - pos[k]) / (pos[k + 1] - pos[k]), 0.0, 1.0)
        cols = np.arange(n_traces)
        out[p] = np.exp((1 - a) * logs[k, :, cols].T + a * logs[k + 1, :, cols].T)
    return out["vp"], out["vs"], out["rho"]


def facies_section(clouds: Dict[str, np.ndarray], transitions: Dict[str, Dict[str, float]], n_samples: int,
                   n_traces: int, mean_thickness: Dict[str, float], seed: int, thin_bed_p: float = 0.2,
                   grading: float = 0.06, lateral: float = 0.4) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vp, vs, rho) [n_samples, n_traces] of a bed column drawn by a Markov chain of facies.

    ``clouds``: facies -> [n, 3] samples of (vp, vs, rho) from logs; each bed takes one row (jointly), so the
    section's rocks scatter as the logs' do. ``transitions``: facies -> {next facies: probability}.
    ``mean_thickness``: facies -> mean bed thickness (samples, geometric law); with probability ``thin_bed_p``
    a bed is 1-3 samples thick. ``grading``: sands change vp and vs linearly within the bed by up to this
    fraction (fining or coarsening upward, drawn per bed). ``lateral``: each bed's thickness changes by a
    factor drawn in [1 - lateral, 1 + lateral] from the first trace to the last (beds thin out and pinch)."""
    rng = np.random.default_rng(seed)
    names = sorted(clouds)
    beds, total, facies = [], 0.0, names[rng.integers(len(names))]
    while total < 3 * n_samples:  # enough beds for the thickest trace
        thick = rng.integers(1, 4) if rng.random() < thin_bed_p else 1 + rng.geometric(1.0 / mean_thickness[facies])
        row = clouds[facies][rng.integers(len(clouds[facies]))]
        grade = rng.uniform(-grading, grading) if facies == "sand" else 0.0
        beds.append((facies, float(thick), row, grade, rng.uniform(1 - lateral, 1 + lateral)))
        total += thick
        nxt = transitions[facies]
        facies = rng.choice(list(nxt), p=np.asarray(list(nxt.values())) / sum(nxt.values()))
    out = np.empty((3, n_samples, n_traces))
    for j in range(n_traces):
        a = j / max(n_traces - 1, 1)
        tops = np.cumsum([0.0] + [b[1] * (1 + a * (b[4] - 1)) for b in beds])
        centre = np.arange(n_samples) + 0.5
        k = np.clip(np.searchsorted(tops, centre, side="right") - 1, 0, len(beds) - 1)
        frac = (centre - tops[k]) / np.maximum(tops[k + 1] - tops[k], 1e-9)  # 0 at a bed's top, 1 at its base
        rows = np.stack([beds[i][2] for i in k])  # [n_samples, 3]
        grade = np.array([beds[i][3] for i in k])
        g = 1.0 + grade * (frac - 0.5)
        out[0, :, j], out[1, :, j], out[2, :, j] = rows[:, 0] * g, rows[:, 1] * g, rows[:, 2]
    return out[0], out[1], out[2]


def gas_case(log: Dict[str, np.ndarray], interval: Tuple[int, int], sw_old: float = 0.2, sw_new: float = 0.2,
             hydrocarbon_old: Tuple[float, float] = rp.OIL, k_min: float = 37.0, rho_min: float = 2.65,
             min_porosity: float = 0.12) -> Tuple[Dict[str, np.ndarray], int]:
    """A copy of a time log whose samples in ``interval`` (first, last + 1) with density porosity >=
    ``min_porosity`` hold gas instead of ``hydrocarbon_old`` (water saturation ``sw_old`` -> ``sw_new``),
    by Gassmann with a quartz mineral (``k_min`` GPa, ``rho_min`` g/cc); and the number of samples changed."""
    kw, rw = rp.BRINE
    fluid = lambda sw, hc: (rp.wood(sw, kw, hc[0]), sw * rw + (1 - sw) * hc[1])  # noqa: E731
    old, new = fluid(sw_old, hydrocarbon_old), fluid(sw_new, rp.GAS)
    sl = slice(*interval)
    phi = rp.density_porosity(log["rho"][sl], rho_min, old[1])
    vp, vs, rho, ok = rp.fluid_substitution(log["vp"][sl], log["vs"][sl], log["rho"][sl], phi, k_min, old, new,
                                            where=phi >= min_porosity)
    out = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in log.items()}
    out["vp"][sl], out["vs"][sl], out["rho"][sl] = vp, vs, rho
    return out, int(ok.sum())
