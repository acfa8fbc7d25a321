"""Prestack AVA data files (GDRNN layouts): reading, checking and writing them, and a user wavelet.

A file is a ``.mat`` (``scipy.io.savemat``/``loadmat``) or ``.npz`` holding,
with L = layers (depth/time samples), N = traces and A_g = number of angles
of group g:

=====================================  ===================  =======================
key                                    shape                units
=====================================  ===================  =======================
``vp_aug``, ``vs_aug``, ``rho_aug``    [L, N]               m/s, m/s, g/cc
``vp_back``, ``vs_back``, ``rho_back`` [L, N]               m/s, m/s, g/cc
``seis_s``, ``seis_m``, ``seis_l``     [N, L, A_0/A_1/A_2]  reflectivity * wavelet
``wavemat``                            [L, L]               wavelet matrix
``theta``                              [3, A_max] or cell   degrees
=====================================  ===================  =======================

The *labelled* (data-driven) layout has all keys; the *unlabelled*
(physics-driven) layout lacks the three ``*_aug`` keys. ``seis_s``, ``seis_m``
and ``seis_l`` are the near, mid and far per-angle gathers; the angles of
group g are ``theta[g]``.

``theta`` is stored as a 2-D float array [3, A] when the three groups have the
same number of angles. Groups of unequal length are a [3, A_max] float array
whose shorter rows are padded at the end with NaN (``.npz``; read back, the
trailing NaN are dropped: an angle itself is never NaN), or a cell array
(``.mat``, as MATLAB writes them). :func:`read_ava_file` reads every form and
returns a list of three lists of floats.

No key of a ``.npz`` is read as an object array (the 1-D object array of three
vectors that earlier versions wrote for unequal groups included): numpy
unpickles object arrays, and unpickling a crafted file runs code, so such a
key is a ValueError naming the file and the key. ``.mat`` cell arrays are
read (``scipy.io.loadmat`` decodes them without running code).

Checks on reading and writing (:func:`check_elastic`): every array is real
and finite; vp, vs and rho (backgrounds and labels) are > 0 with vs < vp at
every sample; velocities whose largest value is below 20 are taken for km/s
and densities above 100 for kg/m^3, both errors (the networks scale vp, vs,
rho by values in m/s and g/cc, so other units would be silently wrong); vp
outside 300-10000 m/s and rho outside 1-5 g/cc get a warning. Angles lie in
[0, 90) degrees; no ``seis_*`` key and not ``wavemat`` may be all zeros.
"""
import os
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence

import numpy as np
import scipy.io
from ppsci.utils import logger

from ppsci_ext.atomic import atomic_open
from ppsci_ext.data.arrays import check_file
from ppsci_ext.data.arrays import read_npy
from ppsci_ext.data.arrays import read_npz

__all__ = ["read_ava_file", "write_ava_file", "check_elastic", "read_wavelet", "LABEL_KEYS", "BACK_KEYS",
           "SEIS_KEYS"]

LABEL_KEYS = ("vp_aug", "vs_aug", "rho_aug")
BACK_KEYS = ("vp_back", "vs_back", "rho_back")
SEIS_KEYS = ("seis_s", "seis_m", "seis_l")
_COMMON_KEYS = BACK_KEYS + SEIS_KEYS + ("wavemat", "theta")
_EXTS = (".mat", ".npz")
KMS_BELOW = 20.0  # m/s: a velocity array whose largest value is below this is in km/s
KGM3_ABOVE = 100.0  # g/cc: a density above this is in kg/m^3
VP_PLAUSIBLE = (300.0, 10000.0)  # m/s, rocks and sediments; outside: a warning
RHO_PLAUSIBLE = (1.0, 5.0)  # g/cc; outside: a warning


def _ext(path):
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in _EXTS:
        raise ValueError(f"{path}: unknown extension {ext!r}, expected one of {list(_EXTS)}")
    return ext


def _theta_groups(theta, where) -> List[List[float]]:
    """Any stored form of ``theta`` -> three lists of angles (degrees)."""
    if isinstance(theta, (list, tuple)):  # in-memory groups, possibly ragged
        arr = np.empty(len(theta), dtype=object)
        for i, g in enumerate(theta):
            arr[i] = np.asarray(g)
    else:
        arr = np.asarray(theta)
    if arr.dtype == object:
        cells = [np.asarray(c) for c in arr.ravel()]
        if len(cells) == 1 and cells[0].dtype == object:  # a cell nested once more
            return _theta_groups(cells[0], where)
        groups = []
        for c in cells:
            if c.dtype == object or not np.issubdtype(c.dtype, np.number) or np.iscomplexobj(c):
                raise ValueError(f"{where}: key 'theta' holds a cell of type {c.dtype}, expected real numbers "
                                 "(degrees)")
            groups.append([float(a) for a in c.astype(np.float64).ravel()])
    elif np.iscomplexobj(arr):
        raise ValueError(f"{where}: key 'theta' has dtype {arr.dtype}, expected real numbers (degrees)")
    elif np.issubdtype(arr.dtype, np.number) and arr.ndim == 2:
        groups = [_unpadded(row, g, where) for g, row in enumerate(arr.astype(np.float64))]
    else:
        raise ValueError(
            f"{where}: key 'theta' has shape {arr.shape} and dtype {arr.dtype}, expected 3 groups of angles "
            "(a [3, n_angles] float array, NaN-padded at the end for groups of unequal length, or a .mat cell "
            "array of 3 vectors)"
        )
    if len(groups) != 3:
        raise ValueError(f"{where}: key 'theta' holds {len(groups)} angle groups, expected 3 (near, mid, far)")
    for g, angles in enumerate(groups):
        if not angles:
            raise ValueError(f"{where}: key 'theta' group {g} is empty")
        if not np.isfinite(angles).all():
            raise ValueError(f"{where}: key 'theta' group {g} contains NaN or Inf")
        outside = [a for a in angles if not 0.0 <= a < 90.0]
        if outside:
            raise ValueError(f"{where}: key 'theta' group {g} holds angle(s) {outside} outside [0, 90) degrees "
                             "(incidence angles in degrees)")
    if max(max(angles) for angles in groups) <= 0.5 * np.pi:
        logger.warning(f"{where}: key 'theta' holds no angle above {0.5 * np.pi:.4g}: it looks like radians; "
                       "the angles must be in degrees (multiply by 180 / pi)")
    return groups


def _unpadded(row: np.ndarray, g: int, where: str) -> List[float]:
    """Row ``g`` of a [3, A_max] ``theta`` without the NaN that pad a shorter group at its end."""
    nan = np.isnan(row)
    n = int(np.argmax(nan)) if nan.any() else len(row)
    if not nan[n:].all():
        raise ValueError(f"{where}: key 'theta' group {g} has NaN at angle {n} followed by angles {row[n:].tolist()}: "
                         "NaN may only pad the end of a group shorter than the longest")
    return [float(a) for a in row[:n]]


def _theta_for_file(groups: Sequence[Sequence[float]], ext: str) -> np.ndarray:
    """``theta`` as stored: [3, A] floats; unequal groups NaN-padded to [3, A_max] (``.npz``) or a 1x3 cell
    (``.mat``, an object array that scipy writes as a MATLAB cell; it is never pickled)."""
    groups = [np.asarray(g, dtype=np.float64).ravel() for g in groups]
    if len({len(g) for g in groups}) == 1:
        return np.stack(groups)  # [3, A]
    if ext == ".mat":
        out = np.empty(len(groups), dtype=object)
        for i, g in enumerate(groups):
            out[i] = g
        return out
    out = np.full((len(groups), max(len(g) for g in groups)), np.nan)
    for i, g in enumerate(groups):
        out[i, :len(g)] = g
    return out


def _as_float(x, key, where):
    arr = np.asarray(x)
    if np.iscomplexobj(arr) or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{where}: key '{key}' has dtype {arr.dtype}, expected real numbers")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def _first(mask):
    """(sample, trace) of the first True of a [L, N] mask, sample-major."""
    i, j = np.unravel_index(int(np.argmax(mask)), mask.shape)
    return int(i), int(j)


def _at(x, mask):
    """'<value> at trace j, sample i' for the first True of ``mask`` in a [L, N] array."""
    i, j = _first(mask)
    return f"{x[i, j]:g} at trace {j}, sample {i}"


def check_elastic(vp: np.ndarray, vs: np.ndarray, rho: np.ndarray, where: str,
                  names: Sequence[str] = ("vp", "vs", "rho")) -> None:
    """Check an elastic model: finite [L, N] arrays (sample, trace) in m/s, m/s, g/cc.

    Errors (``ValueError`` naming ``where``, the key from ``names``, the trace
    and sample index and the value): a value <= 0 (vs = 0, a fluid, is not
    supported by the AVA physics); velocities whose largest value is below
    ``KMS_BELOW`` (km/s: multiply by 1000); a density above ``KGM3_ABOVE``
    (kg/m^3: divide by 1000); vs >= vp at a sample. Warnings (ppsci logger):
    vp outside ``VP_PLAUSIBLE`` m/s, rho outside ``RHO_PLAUSIBLE`` g/cc.
    """
    notes = ("", " (vs = 0, a fluid, is not supported by the AVA physics)", "")
    for name, x, unit, note in zip(names, (vp, vs, rho), ("m/s", "m/s", "g/cc"), notes):
        bad = ~(x > 0)
        if bad.any():
            raise ValueError(f"{where}: key '{name}' must be > 0 {unit} everywhere{note}, found "
                             f"{_at(x, bad)} ({int(bad.sum())} value(s) <= 0 in all)")
    for name, x in zip(names[:2], (vp, vs)):
        if x.max() < KMS_BELOW:
            raise ValueError(f"{where}: key '{name}' has largest value {x.max():g}, which looks like km/s; "
                             "give velocities in m/s (multiply by 1000)")
    dense = rho > KGM3_ABOVE
    if dense.any():
        raise ValueError(f"{where}: key '{names[2]}' is {_at(rho, dense)} ({int(dense.sum())} value(s) above "
                         f"{KGM3_ABOVE:g} in all), which looks like kg/m^3; give density in g/cc (divide by 1000)")
    fast = ~(vs < vp)
    if fast.any():
        i, j = _first(fast)
        raise ValueError(f"{where}: key '{names[1]}' must be below '{names[0]}' (vs < vp) at every sample, found "
                         f"vs {vs[i, j]:g} >= vp {vp[i, j]:g} m/s at trace {j}, sample {i} "
                         f"({int(fast.sum())} sample(s) in all)")
    for name, x, (lo, hi), unit in ((names[0], vp, VP_PLAUSIBLE, "m/s"), (names[2], rho, RHO_PLAUSIBLE, "g/cc")):
        odd = (x < lo) | (x > hi)
        if odd.any():
            logger.warning(f"{where}: key '{name}' is {_at(x, odd)} ({int(odd.sum())} value(s) outside the "
                           f"plausible {lo:g}-{hi:g} {unit} in all); check its values and units")


def _validate(raw: Dict, where: str, labelled: Optional[bool]) -> Dict:
    """Check keys, shapes and values of an AVA dict; return the cleaned dict."""
    if labelled is None:
        labelled = "vp_aug" in raw
        how = "presence" if labelled else "absence"
        layout = f"{'labelled' if labelled else 'unlabelled'} layout (detected from the {how} of 'vp_aug')"
    else:
        layout = f"{'labelled' if labelled else 'unlabelled'} layout (asked for)"
    required = (LABEL_KEYS if labelled else ()) + _COMMON_KEYS
    missing = [k for k in required if k not in raw]
    if missing:
        raise KeyError(f"{where}: missing key(s) {missing} for the {layout}")
    theta = _theta_groups(raw["theta"], where)
    out = {"theta": theta}
    for k in required:
        if k != "theta":
            out[k] = _as_float(raw[k], k, where)
    ref = out["vp_back"]
    if ref.ndim != 2:
        raise ValueError(f"{where}: key 'vp_back' has shape {ref.shape}, expected 2-D (layers, ntraces)")
    n_layers, n_traces = ref.shape
    for k in (LABEL_KEYS if labelled else ()) + BACK_KEYS:
        if out[k].shape != (n_layers, n_traces):
            raise ValueError(f"{where}: key '{k}' has shape {out[k].shape}, expected "
                             f"(layers={n_layers}, ntraces={n_traces}) as 'vp_back'")
    for g, k in enumerate(SEIS_KEYS):
        want = (n_traces, n_layers, len(theta[g]))
        if out[k].ndim == 2 and want[2] == 1 and out[k].shape == want[:2]:
            out[k] = out[k][:, :, None]  # a trailing singleton angle axis dropped by MATLAB
        if out[k].shape != want:
            raise ValueError(f"{where}: key '{k}' has shape {out[k].shape}, expected "
                             f"(ntraces={n_traces}, layers={n_layers}, n_angles={want[2]} from theta[{g}])")
    if out["wavemat"].shape != (n_layers, n_layers):
        raise ValueError(f"{where}: key 'wavemat' has shape {out['wavemat'].shape}, expected "
                         f"(layers={n_layers}, layers={n_layers})")
    for k in required:
        if k != "theta":
            bad = int(np.size(out[k]) - np.count_nonzero(np.isfinite(out[k])))
            if bad:
                raise ValueError(f"{where}: key '{k}' contains {bad} NaN or Inf value(s)")
    for k in SEIS_KEYS:
        if not np.any(out[k]):
            raise ValueError(f"{where}: key '{k}' is all zeros, expected the observed gathers of "
                             f"{len(theta[SEIS_KEYS.index(k)])} angle(s) (an inversion of zero data is meaningless)")
    if not np.any(out["wavemat"]):
        raise ValueError(f"{where}: key 'wavemat' is all zeros, expected the wavelet matrix (the forward "
                         "operator would predict zero data)")
    for keys in (BACK_KEYS,) + ((LABEL_KEYS,) if labelled else ()):
        check_elastic(*(out[k] for k in keys), where, keys)
    return out


def read_ava_file(path: str, labelled: Optional[bool] = None) -> Dict:
    """Read and check an AVA file (see module docstring).

    Args:
        path: ``.mat`` or ``.npz`` file.
        labelled: ``True`` requires the ``*_aug`` keys, ``False`` ignores them,
            ``None`` detects the layout from the presence of ``vp_aug``.

    Returns:
        dict of the layout's keys: float numpy arrays (their stored float
        precision, integers become float64) and ``theta`` as three lists of
        angles in degrees.

    Raises:
        FileNotFoundError, ValueError (extension, shapes, NaN/Inf, complex
        values, all-zero gathers or wavelet matrix, theta, the elastic checks
        of :func:`check_elastic`), KeyError (missing keys) - each message
        names the file.
    """
    path = str(path)
    ext = _ext(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"AVA file not found: {path}")
    if ext == ".mat":
        raw = _read_mat(path)
    else:
        raw = read_npz(path, "AVA file", hints={"theta": THETA_HINT})
    out = _validate(raw, path, labelled)
    warn_beyond_critical(out, path)
    warn_implausible_amplitude(out, path)
    return out


THETA_HINT = ("as a float array [3, n_angles] in degrees, NaN-padded at the end for groups of unequal length "
              "(write_ava_file does this)")


def _read_mat(path: str) -> Dict[str, np.ndarray]:
    """The variables of a MATLAB file (scipy's reader runs no code); an empty, damaged or HDF5 (v7.3) file is a
    ValueError naming it."""
    check_file(path, "AVA file")
    try:
        loaded = scipy.io.loadmat(path)
    except NotImplementedError as e:  # MATLAB v7.3 files are HDF5
        raise ValueError(f"{path}: cannot read this .mat version ({e}); save it as v7 or older "
                         "(MATLAB: save(..., '-v7'))") from None
    except Exception as e:  # whatever scipy's reader meets in a damaged file (MatReadError, IndexError, zlib ...)
        raise ValueError(f"AVA file: {path} is not a readable .mat file, it is damaged or truncated "
                         f"({type(e).__name__}: {e}); write it again (scipy.io.savemat, or MATLAB save -v7)") from None
    return {k: v for k, v in loaded.items() if not k.startswith("__")}


REFLECTIVITY_RMS = (1e-3, 0.3)  # plausible RMS reflection coefficient implied by gathers and wavelet (rocks: ~0.005-0.1)


def warn_implausible_amplitude(data: Dict, where: str) -> Optional[float]:
    """Warn (and return the ratio) when the gathers and the file's wavelet disagree in scale.

    Convolving a white reflectivity of RMS ``r`` with the wavelet gives gathers of RMS ``r * ||w||_2`` (``w``: a
    column of ``wavemat``), so ``r = RMS(gathers) / ||w||_2`` is the reflectivity the data imply. Outside
    :data:`REFLECTIVITY_RMS` no rock could have made them with that wavelet: the data and the wavelet are in
    different units or scales, and since the inversion fits amplitudes, that scale error would become an error
    in every contrast. Returns ``r``."""
    w = np.asarray(data["wavemat"], dtype=np.float64)
    norm = float(np.linalg.norm(w[:, w.shape[1] // 2]))
    gathers = [np.asarray(data[k], dtype=np.float64) for k in SEIS_KEYS]
    rms = float(np.sqrt(sum(np.square(g).sum() for g in gathers) / sum(g.size for g in gathers)))
    r = rms / norm if norm > 0 else float("inf")
    lo, hi = REFLECTIVITY_RMS
    if not lo <= r <= hi:
        logger.warning(f"{where}: the gathers' RMS amplitude {rms:.3g} with this file's wavelet (wavemat, L2 norm "
                       f"{norm:.3g}) implies an RMS reflection coefficient of {r:.3g}, where rocks give {lo:g}-{hi:g} "
                       f"(about 0.02 in this project's data): the gathers and the wavelet are in different units or "
                       f"scales. Scale seis_s/seis_m/seis_l (or wavemat) so that they agree, e.g. by a well tie; "
                       f"the inversion fits amplitudes, so a scale error becomes an error in every contrast")
    return r


def warn_beyond_critical(data: Dict, where: str) -> int:
    """Warn (and return how many) where the background vp's interfaces have a P critical angle below the
    file's largest angle: exact Zoeppritz has no real coefficient there, so the forward operator zeroes
    those (interface, angle) pairs (PHYSICS.beyond_critical=mask) or stops (error)."""
    from ppsci_ext.physics.ava import critical_angle_deg

    vp = np.asarray(data["vp_back"], dtype=np.float64)  # [layers, ntraces]
    largest = max(max(g) for g in data["theta"])
    crit = critical_angle_deg(vp[:-1], vp[1:])
    n = int((crit <= largest).sum())
    if n:
        t, i = np.unravel_index(int(np.argmin(crit.T)), crit.T.shape)
        logger.warning(f"{where}: {n} of {crit.size} interfaces of vp_back have a P critical angle below the "
                       f"largest angle {largest:g} deg (smallest {crit.min():.1f} deg, trace {t}, interface {i}): "
                       f"their coefficients past it are set to 0 with PHYSICS.beyond_critical=mask (an error with "
                       f"'error'); drop the far angles or check vp_back")
    return n


def write_ava_file(path: str, data: Dict) -> str:
    """Check ``data`` (layout detected from ``vp_aug``) and write it atomically.

    The format follows the extension (``.mat`` or ``.npz``); the file is
    written to a temporary name in the same folder and renamed into place.
    ``theta`` is written as [3, A] when the groups have equal lengths, else as
    a cell (``.mat``) or a NaN-padded [3, A_max] float array (``.npz``).
    Returns ``path``.
    """
    path = str(path)
    ext = _ext(path)
    clean = _validate(dict(data), path, None)
    out = {k: np.ascontiguousarray(v) for k, v in clean.items() if k != "theta"}
    out["theta"] = _theta_for_file(clean["theta"], ext)
    with atomic_open(path) as f:
        if ext == ".mat":
            scipy.io.savemat(f, out)
        else:
            np.savez(f, **out)
    return path


def read_wavelet(path: Optional[str], key: str = "DATA.wavelet_file") -> Optional[np.ndarray]:
    """A user wavelet: a 1-D ``.npy`` of real, finite, not all zero amplitudes sampled at the data's dt.

    Returns it as float64 [n], or None when ``path`` is empty. Errors
    (``FileNotFoundError``, ``ValueError``) name the config ``key``, the path
    and what was found (shape, dtype, the first NaN/Inf).
    """
    if not path:
        return None
    if not os.path.isfile(path) and not os.path.isdir(path):
        raise FileNotFoundError(f"{key}: {path} does not exist")
    w = read_npy(path, key)  # a .npz, a text file, an object array or a damaged file: an error naming it
    if np.iscomplexobj(w) or not np.issubdtype(w.dtype, np.number):
        raise ValueError(f"{key} {path}: expected a 1-D wavelet of real amplitudes, found dtype {w.dtype}")
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"{key} {path}: expected a finite 1-D wavelet, found shape {w.shape}")
    bad = ~np.isfinite(w)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{key} {path}: expected a finite 1-D wavelet, found {int(bad.sum())} NaN or Inf "
                         f"value(s), the first {w[i]} at sample {i}")
    if not np.any(w):
        raise ValueError(f"{key} {path}: the wavelet is all zeros ({w.size} samples), expected a source "
                         "wavelet (it would predict zero data)")
    return w.astype(np.float64)
