"""Well logs (LAS 1.2/2.0/3.0 or CSV) to elastic logs (vp m/s, vs m/s, rho g/cc) on a regular two-way-time grid.

Reading (:func:`read_las`, :func:`read_log_csv`) gives a :class:`WellLog`: the index (depth or time) and every
curve with its unit as the file states it; the file's NULL value (and the common -999.25, -9999) become NaN.
:func:`elastic_logs` picks vp, vs and rho by mnemonic (or by the names given) and converts them:

=============  ================================================  =====================================
property       mnemonics tried (first found)                      units understood
=============  ================================================  =====================================
vp             VP, VELP, DTC, DTCO, DT, AC, DTP                  m/s, km/s, ft/s; sonic us/ft, us/m
vs             VS, VELS, DTS, DTSM, DTSH, ACS, DT_S              as vp
rho            RHOB, RHOZ, DEN, RHO, DENS                        g/cc (g/cm3), kg/m3
=============  ================================================  =====================================

A curve whose unit is missing is read by its magnitude (a sonic of 40-240 us/ft, a velocity of 1-8 km/s or
1000-8000 m/s; a density of 1-3.5 g/cc or 1000-3500 kg/m3) with a warning that names the assumption; a unit
that is stated but does not fit the values (a "g/cc" density of 2300) is an error naming the file, curve,
unit and values. The depth index is metres or feet (converted to metres); a time index (s, ms) is two-way time.

:func:`to_time` puts the logs on a regular two-way-time grid: t(z) = t0 + 2 * integral dz / vp from the first
sample, then each time sample is the average of the log over its interval (slowness averaged for velocities,
so travel time is kept; density arithmetically). :func:`blocked` squares logs into blocks of n samples.
"""
import os
import re
from dataclasses import dataclass
from dataclasses import field
from typing import Dict
from typing import Optional
from typing import Sequence

import numpy as np
from ppsci.utils import logger

from ppsci_ext.data.arrays import check_file

__all__ = ["WellLog", "read_las", "read_log_csv", "read_well", "elastic_logs", "complete_interval", "to_time",
           "two_way_time", "blocked", "MNEMONICS"]

MNEMONICS = {"vp": ("VP", "VELP", "DTC", "DTCO", "DT", "AC", "DTP"),
             "vs": ("VS", "VELS", "DTS", "DTSM", "DTSH", "ACS", "DT_S"),
             "rho": ("RHOB", "RHOZ", "DEN", "RHO", "DENS")}
_NULLS = (-999.25, -999.0, -9999.0, -99999.0)
_FT = 0.3048  # m per foot
# unit (lower case, spaces removed) -> (kind, factor): velocity m/s = factor * value, or = factor / value for a
# sonic slowness; density g/cc = factor * value
_VELOCITY_UNITS = {"m/s": ("v", 1.0), "mps": ("v", 1.0), "km/s": ("v", 1000.0), "kmps": ("v", 1000.0),
                   "ft/s": ("v", _FT), "fps": ("v", _FT), "us/ft": ("s", 1e6 * _FT), "usec/ft": ("s", 1e6 * _FT),
                   "uspf": ("s", 1e6 * _FT), "us/f": ("s", 1e6 * _FT), "us/m": ("s", 1e6), "usec/m": ("s", 1e6)}
_DENSITY_UNITS = {"g/cc": 1.0, "g/cm3": 1.0, "gm/cc": 1.0, "g/c3": 1.0, "gcc": 1.0, "kg/m3": 1e-3, "kg/m^3": 1e-3}
_DEPTH_UNITS = {"m": 1.0, "meter": 1.0, "metre": 1.0, "meters": 1.0, "ft": _FT, "f": _FT, "feet": _FT}
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "msec": 1e-3}
# plausible magnitudes: velocity m/s, sonic us/ft, density g/cc
_VP_RANGE, _VS_RANGE, _RHO_RANGE = (1000.0, 8000.0), (200.0, 5000.0), (1.0, 3.5)


@dataclass
class WellLog:
    """A log file as read: ``index`` (metres of depth, or seconds of two-way time when ``index_kind`` is
    "time"), ``curves`` by upper-case mnemonic with their ``units`` (as the file states them, "" if none)."""
    path: str
    index: np.ndarray
    index_kind: str
    curves: Dict[str, np.ndarray]
    units: Dict[str, str] = field(default_factory=dict)
    name: str = ""


def _unit(u: str) -> str:
    return re.sub(r"\s+", "", (u or "").strip().lower()).replace("µ", "u").replace("μ", "u")


def _index(path, name, unit, values):
    u = _unit(unit)
    if u in _DEPTH_UNITS:
        return values * _DEPTH_UNITS[u], "depth"
    if u in _TIME_UNITS:
        return values * _TIME_UNITS[u], "time"
    if name.upper() in ("TIME", "TWT", "TWTT") and not u:
        raise ValueError(f"{path}: index curve {name} has no unit: expected s or ms")
    if not u and name.upper() in ("DEPT", "DEPTH", "MD", "TVD", "TVDSS"):
        raise ValueError(f"{path}: index curve {name} has no unit: expected m or ft")
    raise ValueError(f"{path}: index curve {name} in unit {unit!r}: expected a depth (m, ft) or time (s, ms)")


def _nan_nulls(a, null):
    a = np.asarray(a, np.float64).copy()
    for v in tuple(_NULLS) + ((null,) if null is not None else ()):
        a[np.isclose(a, v)] = np.nan
    return a


def read_las(path: str, what: str = "well log") -> WellLog:
    """A LAS 1.2/2.0 file (one line per depth step) or LAS 3.0 log section (``~Log_Definition``/``~Log_Data``)."""
    path = check_file(path, what)
    section, curves, units, well, version, rows = None, [], [], {}, {}, []
    with open(path, "r", errors="replace") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("~"):
                head = line[1:].strip().lower()
                section = ("a" if head.startswith(("a", "log_data")) else "c" if head.startswith(("c", "log_def"))
                           else head[:1])
                continue
            if section == "a":
                rows.append(line.replace(",", " ").split())  # space, tab or comma delimited
            elif section in ("v", "w", "c", "p"):
                m = re.match(r"^([^.]*)\.(\S*)\s*(.*?):", line + (":" if ":" not in line else ""))
                if not m:
                    continue
                mnem, unit, value = m.group(1).strip(), m.group(2), m.group(3).strip()
                if section == "c":
                    curves.append(mnem.upper())
                    units.append(unit)
                elif section == "v":
                    version[mnem.upper()] = value
                elif section == "w":
                    well[mnem.upper()] = (unit, value)
    if version.get("WRAP", "NO").upper().startswith("Y"):
        raise ValueError(f"{path}: wrapped LAS (WRAP. YES) is not read: unwrap it (one line per depth step)")
    if not curves or not rows:
        raise ValueError(f"{path}: not a LAS file with curves and data (found {len(curves)} curve definitions "
                         f"and {len(rows)} data lines): expected ~C (or ~Log_Definition) and ~A sections")
    try:
        null = float(well["NULL"][1].split()[0]) if "NULL" in well else None
    except (ValueError, IndexError):
        null = None
    bad = [i for i, r in enumerate(rows) if len(r) != len(curves)]
    if bad:
        raise ValueError(f"{path}: data line {bad[0] + 1} of ~A has {len(rows[bad[0]])} values, expected "
                         f"{len(curves)} (one per curve: {curves[:6]}{'...' if len(curves) > 6 else ''})")
    try:
        data = np.array(rows, dtype=np.float64)
    except ValueError as e:
        raise ValueError(f"{path}: non-numeric value in ~A: {e}") from None
    index, kind = _index(path, curves[0], units[0], data[:, 0])
    logs = {c: _nan_nulls(data[:, k], null) for k, c in enumerate(curves) if k}
    name = well.get("WELL", ("", ""))[1] or os.path.basename(path)
    return WellLog(path, index, kind, logs, dict(zip(curves[1:], units[1:])), name)


def _csv_header(name):
    m = re.match(r"^\s*([^\[(]+?)\s*[\[(]\s*([^\])]*)\s*[\])]\s*$", name)
    return (m.group(1).strip().upper(), m.group(2)) if m else (name.strip().upper(), "")


def read_log_csv(path: str, units: Optional[Dict[str, str]] = None, what: str = "well log") -> WellLog:
    """A CSV log: a header of curve names, the first column the index. Units come from the names
    (``DEPTH (m)``, ``DT[us/ft]``), from a second header row of units, or from ``units`` (name -> unit)."""
    path = check_file(path, what)
    with open(path, "r", errors="replace") as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    if len(lines) < 2:
        raise ValueError(f"{path}: expected a header of curve names and data rows, found {len(lines)} line(s)")
    sep = ";" if lines[0].count(";") > lines[0].count(",") else ","
    names, found_units = zip(*(_csv_header(h) for h in lines[0].split(sep)))
    body = lines[1:]
    try:
        float(body[0].split(sep)[0])
    except (ValueError, IndexError):  # a row of units
        found_units, body = tuple(u.strip() for u in body[0].split(sep)), body[1:]
        if not body:
            raise ValueError(f"{path}: a header and a row of units, but no data rows")
    found = dict(zip(names, found_units))
    found.update({k.upper(): v for k, v in (units or {}).items()})
    try:
        data = np.array([[float(v) if v.strip() else np.nan for v in ln.split(sep)] for ln in body])
    except ValueError as e:
        raise ValueError(f"{path}: non-numeric value in the data rows: {e}") from None
    if data.ndim != 2 or data.shape[1] != len(names):
        raise ValueError(f"{path}: expected {len(names)} values per row (the header's {list(names)})")
    index, kind = _index(path, names[0], found[names[0]], data[:, 0])
    logs = {n: _nan_nulls(data[:, k], None) for k, n in enumerate(names) if k}
    return WellLog(path, index, kind, logs, {n: found[n] for n in names[1:]}, os.path.basename(path))


def read_well(path: str, units: Optional[Dict[str, str]] = None) -> WellLog:
    """:func:`read_las` for ``.las``, :func:`read_log_csv` otherwise."""
    return read_las(path) if str(path).lower().endswith(".las") else read_log_csv(path, units)


def _median(x):
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else float("nan")


def _velocity(log, curve, prop):
    x, unit = log.curves[curve], _unit(log.units.get(curve, ""))
    lo, hi = _VP_RANGE if prop == "vp" else _VS_RANGE
    med = _median(x)
    if unit:
        if unit not in _VELOCITY_UNITS:
            raise ValueError(f"{log.path}: curve {curve} ({prop}) in unit {log.units[curve]!r}: expected one of "
                             f"{sorted(_VELOCITY_UNITS)}")
        kind, k = _VELOCITY_UNITS[unit]
    else:  # by magnitude
        if 40.0 <= med <= 700.0:
            kind, k, said = "s", 1e6 * _FT, "a sonic in us/ft"
        elif 0.2 <= med <= 8.0:
            kind, k, said = "v", 1000.0, "a velocity in km/s"
        else:
            kind, k, said = "v", 1.0, "a velocity in m/s"
        logger.warning(f"{log.path}: curve {curve} ({prop}) has no unit; its median {med:.4g} reads as {said}. "
                       f"State the unit in the file (or `units=`) if that is wrong")
    v = k / x if kind == "s" else k * x
    vm = _median(v)
    if not lo / 2 <= vm <= hi * 2:
        raise ValueError(f"{log.path}: curve {curve} ({prop}) in {log.units.get(curve) or 'no unit'}: median "
                         f"{med:.4g} gives {prop} {vm:.4g} m/s, expected {lo:g}-{hi:g} m/s: check the unit")
    return v


def _density(log, curve):
    x, unit = log.curves[curve], _unit(log.units.get(curve, ""))
    med = _median(x)
    if unit:
        if unit not in _DENSITY_UNITS:
            raise ValueError(f"{log.path}: curve {curve} (rho) in unit {log.units[curve]!r}: expected one of "
                             f"{sorted(_DENSITY_UNITS)}")
        k = _DENSITY_UNITS[unit]
    else:
        k = 1e-3 if med > 100.0 else 1.0
        logger.warning(f"{log.path}: curve {curve} (rho) has no unit; its median {med:.4g} reads as "
                       f"{'kg/m3' if k < 1 else 'g/cc'}. State the unit in the file (or `units=`) if that is wrong")
    r = k * x
    if not _RHO_RANGE[0] <= _median(r) <= _RHO_RANGE[1]:
        raise ValueError(f"{log.path}: curve {curve} (rho) in {log.units.get(curve) or 'no unit'}: median {med:.4g} "
                         f"gives {_median(r):.4g} g/cc, expected {_RHO_RANGE[0]:g}-{_RHO_RANGE[1]:g}: check the unit")
    return r


def elastic_logs(log: WellLog, names: Optional[Dict[str, str]] = None) -> Dict[str, np.ndarray]:
    """{"index", "vp" (m/s), "vs" (m/s), "rho" (g/cc)} of a log; ``names`` picks curves by property
    (e.g. {"vp": "DTCO_1"}), otherwise the first of :data:`MNEMONICS` present. Nulls stay NaN."""
    names = dict(names or {})
    for prop, options in MNEMONICS.items():
        if prop not in names:
            hit = [c for c in options if c in log.curves]
            if not hit:
                raise KeyError(f"{log.path}: no {prop} curve: tried {list(options)}, the file has "
                               f"{sorted(log.curves)}; name one with names={{'{prop}': <curve>}}")
            names[prop] = hit[0]
        elif names[prop].upper() not in log.curves:
            raise KeyError(f"{log.path}: curve {names[prop]} ({prop}) not in the file, which has {sorted(log.curves)}")
        names[prop] = names[prop].upper()
    out = {"index": log.index, "vp": _velocity(log, names["vp"], "vp"), "vs": _velocity(log, names["vs"], "vs"),
           "rho": _density(log, names["rho"])}
    ok = np.isfinite(out["vp"]) & np.isfinite(out["vs"])
    if (out["vs"][ok] >= out["vp"][ok]).any():
        n = int((out["vs"][ok] >= out["vp"][ok]).sum())
        raise ValueError(f"{log.path}: vs >= vp at {n} samples (curves {names['vs']}, {names['vp']}): swapped curves "
                         f"or units?")
    return out


def complete_interval(logs: Dict[str, np.ndarray], max_gap: int = 5) -> Dict[str, np.ndarray]:
    """The longest run of samples where vp, vs and rho are all present, gaps of up to ``max_gap`` samples inside
    it filled by linear interpolation."""
    ok = np.isfinite(logs["vp"]) & np.isfinite(logs["vs"]) & np.isfinite(logs["rho"])
    idx = np.flatnonzero(ok)
    if idx.size < 2:
        raise ValueError("no interval where vp, vs and rho are all present")
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    starts, ends = np.r_[idx[0], idx[breaks + 1]], np.r_[idx[breaks], idx[-1]]
    k = int(np.argmax(ends - starts))
    sl = slice(starts[k], ends[k] + 1)
    out = {"index": logs["index"][sl]}
    for p in ("vp", "vs", "rho"):
        x = logs[p][sl]
        good = np.isfinite(x)
        out[p] = np.interp(out["index"], out["index"][good], x[good])
    return out


def two_way_time(depth: np.ndarray, vp: np.ndarray) -> np.ndarray:
    """Two-way time (s) at each depth sample from the first: 2 * cumulative integral dz / vp (trapezoids)."""
    z, v = np.asarray(depth, np.float64), np.asarray(vp, np.float64)
    return np.r_[0.0, np.cumsum(np.diff(z) * (1 / v[1:] + 1 / v[:-1]))]


def to_time(logs: Dict[str, np.ndarray], dt: float, kind: str = "depth", t0: Optional[float] = None,
            oversample: int = 8) -> Dict[str, np.ndarray]:
    """Logs on a regular two-way-time grid of step ``dt`` (s): {"t", "vp", "vs", "rho"}.

    ``kind`` "depth": the index is depth (m) and t(z) = t0 + 2 * cumulative integral dz / vp (t0 default 0);
    "time": the index is two-way time already. Each output sample averages the log over [t - dt/2, t + dt/2)
    (velocities through slowness)."""
    z, vp = np.asarray(logs["index"], np.float64), np.asarray(logs["vp"], np.float64)
    if np.any(np.diff(z) <= 0):
        raise ValueError("to_time: the index must increase strictly (sort the log; remove repeated samples)")
    if kind == "depth":
        t = two_way_time(z, vp) + (t0 or 0.0)
    elif kind == "time":
        t = z
    else:
        raise ValueError(f"to_time: kind must be 'depth' or 'time', found {kind!r}")
    fine = t[0] + (np.arange(int(np.floor((t[-1] - t[0]) / dt * oversample + 1e-6))) + 0.5) * (dt / oversample)
    n = len(fine) // oversample
    if n < 2:
        raise ValueError(f"to_time: the log spans {t[-1] - t[0]:.4g} s of two-way time, less than two samples "
                         f"of dt={dt}")
    out = {"t": fine[:n * oversample].reshape(n, oversample).mean(1)}
    for p in ("vp", "vs", "rho"):
        x = np.interp(fine[:n * oversample], t, np.asarray(logs[p], np.float64))
        if p == "rho":
            out[p] = x.reshape(n, oversample).mean(1)
        else:
            out[p] = 1.0 / (1.0 / x).reshape(n, oversample).mean(1)
    return out


def blocked(logs: Dict[str, np.ndarray], n: int, keys: Sequence[str] = ("vp", "vs", "rho")) -> Dict[str, np.ndarray]:
    """The logs squared into blocks of ``n`` samples (velocities averaged through slowness), same length."""
    out = dict(logs)
    m = len(logs[keys[0]])
    for p in keys:
        x = np.asarray(logs[p], np.float64)
        pieces = [x[i:i + n] for i in range(0, m, n)]
        if p == "rho":
            out[p] = np.concatenate([np.full(len(b), b.mean()) for b in pieces])
        else:
            out[p] = np.concatenate([np.full(len(b), 1.0 / (1.0 / b).mean()) for b in pieces])
    return out
