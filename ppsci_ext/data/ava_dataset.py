"""Prestack AVA data files (GDRNN layouts) and a paddle data set over them.

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
``theta``                              3 groups of angles   degrees
=====================================  ===================  =======================

The *labelled* (data-driven) layout has all keys; the *unlabelled*
(physics-driven) layout lacks the three ``*_aug`` keys. ``seis_s``, ``seis_m``
and ``seis_l`` are the near, mid and far per-angle gathers; the angles of
group g are ``theta[g]``.

``theta`` is stored as a 2-D float array [3, A] when the three groups have the
same number of angles, otherwise as a cell array (``.mat``) or a 1-D object
array of three float arrays (``.npz``); :func:`read_ava_file` reads both and
returns a list of three lists of floats. Object arrays in ``.npz`` files are
unpickled for the ``theta`` key only.
"""
import os
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence

import numpy as np
import scipy.io
from paddle import io

from ppsci_ext.atomic import atomic_open

__all__ = ["AVADataset", "read_ava_file", "write_ava_file", "LABEL_KEYS", "BACK_KEYS", "SEIS_KEYS"]

LABEL_KEYS = ("vp_aug", "vs_aug", "rho_aug")
BACK_KEYS = ("vp_back", "vs_back", "rho_back")
SEIS_KEYS = ("seis_s", "seis_m", "seis_l")
_COMMON_KEYS = BACK_KEYS + SEIS_KEYS + ("wavemat", "theta")
_EXTS = (".mat", ".npz")


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
            if c.dtype == object or not np.issubdtype(c.dtype, np.number):
                raise ValueError(f"{where}: key 'theta' holds a cell of type {c.dtype}, expected numbers (degrees)")
            groups.append([float(a) for a in c.astype(np.float64).ravel()])
    elif np.issubdtype(arr.dtype, np.number) and arr.ndim == 2:
        groups = [[float(a) for a in row] for row in arr.astype(np.float64)]
    else:
        raise ValueError(
            f"{where}: key 'theta' has shape {arr.shape} and dtype {arr.dtype}, expected 3 groups of angles "
            "(a [3, n_angles] array, or a cell/object array of 3 vectors)"
        )
    if len(groups) != 3:
        raise ValueError(f"{where}: key 'theta' holds {len(groups)} angle groups, expected 3 (near, mid, far)")
    for g, angles in enumerate(groups):
        if not angles:
            raise ValueError(f"{where}: key 'theta' group {g} is empty")
        if not np.isfinite(angles).all():
            raise ValueError(f"{where}: key 'theta' group {g} contains NaN or Inf")
    return groups


def _theta_for_file(groups: Sequence[Sequence[float]]):
    groups = [np.asarray(g, dtype=np.float64).ravel() for g in groups]
    if len({len(g) for g in groups}) == 1:
        return np.stack(groups)  # [3, A]
    out = np.empty(len(groups), dtype=object)
    for i, g in enumerate(groups):
        out[i] = g
    return out


def _as_float(x, key, where):
    arr = np.asarray(x)
    if np.iscomplexobj(arr) or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{where}: key '{key}' has dtype {arr.dtype}, expected real numbers")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


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
        FileNotFoundError, ValueError (extension, shapes, NaN/Inf, theta),
        KeyError (missing keys) - each message names the file.
    """
    path = str(path)
    ext = _ext(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"AVA file not found: {path}")
    if ext == ".mat":
        try:
            loaded = scipy.io.loadmat(path)
        except NotImplementedError as e:  # MATLAB v7.3 files are HDF5
            raise ValueError(f"{path}: cannot read this .mat version ({e}); save it as v7 or older "
                             "(MATLAB: save(..., '-v7'))") from e
        raw = {k: v for k, v in loaded.items() if not k.startswith("__")}
    else:
        raw = {}
        with np.load(path, allow_pickle=False) as f:
            for k in f.files:
                if k == "theta":
                    continue
                raw[k] = f[k]
            has_theta = "theta" in f.files
        if has_theta:
            with np.load(path, allow_pickle=True) as f:  # theta may be an object array
                raw["theta"] = f["theta"]
    return _validate(raw, path, labelled)


def write_ava_file(path: str, data: Dict) -> str:
    """Check ``data`` (layout detected from ``vp_aug``) and write it atomically.

    The format follows the extension (``.mat`` or ``.npz``); the file is
    written to a temporary name in the same folder and renamed into place.
    ``theta`` is written as [3, A] when the groups have equal lengths, else as
    a cell (``.mat``) / object array (``.npz``). Returns ``path``.
    """
    path = str(path)
    ext = _ext(path)
    clean = _validate(dict(data), path, None)
    out = {k: np.ascontiguousarray(v) for k, v in clean.items() if k != "theta"}
    out["theta"] = _theta_for_file(clean["theta"])
    with atomic_open(path) as f:
        if ext == ".mat":
            scipy.io.savemat(f, out)
        else:
            np.savez(f, **out)
    return path


def _trace_indices(traces, n_traces, where):
    """None / slice / {start, stop, step} / sequence of ints -> index array."""
    if traces is None:
        return np.arange(n_traces)
    if isinstance(traces, dict) or hasattr(traces, "keys"):
        unknown = set(traces) - {"start", "stop", "step"}
        if unknown:
            raise ValueError(f"{where}: traces: unknown key(s) {sorted(unknown)}, expected start/stop/step")
        traces = slice(traces.get("start"), traces.get("stop"), traces.get("step"))
    if isinstance(traces, slice):
        idx = np.arange(n_traces)[traces]
    else:
        idx = np.asarray(traces)
        if idx.ndim != 1 or not (idx.size == 0 or np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(f"{where}: traces must be a slice, a start/stop/step dict or a list of "
                             f"trace indices, found {traces!r}")
        if idx.size and (idx.min() < -n_traces or idx.max() >= n_traces):
            raise IndexError(f"{where}: traces {idx.min()}..{idx.max()} out of range for {n_traces} traces")
        idx = np.where(idx < 0, idx + n_traces, idx)
    if idx.size == 0:
        raise ValueError(f"{where}: traces={traces!r} selects no trace of {n_traces}")
    return idx.astype(np.int64)


class AVADataset(io.Dataset):
    """One trace per item from an AVA file: ``({input_key: x}, {label_key: y}, weight)``.

    Fields available as input or label keys (per item, float, C = 3 rows):

    - ``stacks`` [3, L]: near/mid/far partial-angle stacks, i.e. ``seis_s``,
      ``seis_m``, ``seis_l`` summed over their angle axis (the forward
      operator's ``AVAForward(m)`` convention).
    - ``m_back`` [3, L]: background (vp m/s, vs m/s, rho g/cc).
    - ``m`` [3, L]: the label (``vp_aug``, ``vs_aug``, ``rho_aug``) - labelled
      files only.

    Args:
        file_path: ``.mat`` or ``.npz`` AVA file.
        input_keys, label_keys: which fields go to the input and label dicts
            (names from the list above; ``label_keys=()`` for unlabelled files).
        traces: traces to use: ``None`` (all), a ``slice``, a dict with
            ``start``/``stop``/``step`` (as the original configs) or a list of
            indices.
        labelled: layout, as in :func:`read_ava_file` (``None`` = detect).
        dtype: dtype of the item arrays.
        weight: constant weight dict returned with every item (default ``{}``).

    Attributes:
        theta (three lists of degrees), wavemat ([L, L] float64), n_layers,
        n_traces (traces in the file), trace_indices (the selected ones, the
        order of the items), labelled.
    """

    FIELDS = ("stacks", "m_back", "m")

    def __init__(self, file_path: str, input_keys: Sequence[str] = ("stacks", "m_back"),
                 label_keys: Sequence[str] = ("m",), traces=None, labelled: Optional[bool] = None,
                 dtype: str = "float32", weight: Optional[Dict[str, float]] = None):
        super().__init__()
        self.file_path = str(file_path)
        self.input_keys, self.label_keys = tuple(input_keys), tuple(label_keys)
        self.weight = {} if weight is None else dict(weight)
        for k in self.input_keys + self.label_keys:
            if k not in self.FIELDS:
                raise ValueError(f"AVADataset({self.file_path}): unknown key {k!r}, "
                                 f"expected one of {list(self.FIELDS)}")
        data = read_ava_file(self.file_path, labelled)
        self.labelled = "vp_aug" in data
        if "m" in self.input_keys + self.label_keys and not self.labelled:
            raise ValueError(f"AVADataset({self.file_path}): key 'm' (labels) asked for, but the file is unlabelled "
                             f"(no 'vp_aug'/'vs_aug'/'rho_aug'); pass label_keys=() for physics-driven data")
        self.theta = data["theta"]
        self.wavemat = np.asarray(data["wavemat"], dtype=np.float64)
        self.n_layers, self.n_traces = data["vp_back"].shape
        self.trace_indices = _trace_indices(traces, self.n_traces, f"AVADataset({self.file_path})")
        idx, dt = self.trace_indices, np.dtype(dtype)
        # [N, 3, L]; the stacks are summed in the stored precision then cast
        self._stacks = np.stack([data[k][idx].sum(-1) for k in SEIS_KEYS], 1).astype(dt)
        self._m_back = np.stack([data[k][:, idx].T for k in BACK_KEYS], 1).astype(dt)
        self._m = np.stack([data[k][:, idx].T for k in LABEL_KEYS], 1).astype(dt) if self.labelled else None
        self._fields = {"stacks": self._stacks, "m_back": self._m_back, "m": self._m}

    def __len__(self):
        return len(self.trace_indices)

    def __getitem__(self, idx):
        inp = {k: self._fields[k][idx] for k in self.input_keys}
        lab = {k: self._fields[k][idx] for k in self.label_keys}
        return inp, lab, self.weight

    def arrays(self):
        """Whole selected arrays for batch inference: ``(stacks, m_back, m)``.

        Each is [N, 3, L] in the data set's dtype, N = ``len(self)`` in item
        order; ``m`` is ``None`` for unlabelled files.
        """
        return self._stacks, self._m_back, self._m
