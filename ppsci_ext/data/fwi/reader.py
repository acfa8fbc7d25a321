"""Readers of OpenFWI-format files and of a user's velocity models, with their checks.

Files follow OpenFWI: ``data*.npy`` float32 [N, n_src, nt, n_rec] (shot gathers) and ``model*.npy`` float32
[N, 1, nz, nx] (velocity, m/s), listed in an annotation file with one ``data_path<TAB>model_path`` line per file
pair (the model path is optional for unlabelled data). Relative paths are resolved against the annotation file's
folder. Large arrays are memory-mapped and checked in chunks of samples. Error messages name the file, the sample
or line, and the key to change.
"""
import os
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np

from ppsci_ext.data.arrays import read_npy

__all__ = ["KMS_LIMIT", "CHUNK_BYTES", "read_annotation", "depth_profile", "check_velocity", "velocity_models",
           "open_samples", "data_range", "label_range"]

KMS_LIMIT = 20.0  # a model whose fastest velocity is below this many m/s is taken to be in km/s
CHUNK_BYTES = 64 << 20  # memory-mapped files are checked this many bytes of samples at a time


def read_annotation(anno: str) -> Sequence[Tuple[str, Optional[str]]]:
    """Parse an annotation file into (data_path, model_path or None) pairs.

    Accepts a UTF-8 byte-order mark, CRLF line ends, blank lines and a missing
    final newline. Columns are separated by one TAB; a single column (unlabelled
    data) may hold a path with spaces. Every listed file must exist.
    """
    if os.path.isdir(anno):
        raise IsADirectoryError(f"annotation file {anno} is a folder; expected a text file listing "
                                f"'data.npy<TAB>model.npy' per line (e.g. {os.path.join(anno, 'test.txt')})")
    if not os.path.isfile(anno):
        raise FileNotFoundError(f"annotation file not found: {anno}")
    base = os.path.dirname(os.path.abspath(anno))
    pairs = []
    try:
        with open(anno, "r", encoding="utf-8-sig", newline=None) as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as e:
        raise ValueError(f"annotation file {anno} is not UTF-8 text ({e.reason} at byte {e.start}): expected "
                         f"'data.npy<TAB>model.npy' per line") from None
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        cols = [c.strip() for c in line.split("\t")]
        if len(cols) > 2 or not all(cols):
            raise ValueError(f"{anno}, line {lineno}: expected 'data<TAB>model' or 'data', found {len(cols)} "
                             f"TAB-separated columns in {line!r}: separate the data and model paths with one TAB")
        paths = [p if os.path.isabs(p) else os.path.join(base, p) for p in cols]
        for what, col, path in zip(("data", "model"), cols, paths):
            if os.path.isfile(path):
                continue
            sep = next((s for s in (",", ";", " ") if s in col), None)
            if len(cols) == 1 and sep is not None:
                raise ValueError(f"{anno}, line {lineno}: {col!r} is not a file and looks like columns separated "
                                 f"by {sep!r}: separate the data and model paths with one TAB")
            raise FileNotFoundError(f"{anno}, line {lineno}: {what} file not found: {path}")
        pairs.append((paths[0], paths[1] if len(paths) == 2 else None))
    if not pairs:
        raise ValueError(f"annotation file {anno} lists no files")
    return pairs


def depth_profile(anno: str) -> Optional[np.ndarray]:
    """The mean velocity at each depth, float64 [nz] (m/s), over every model file listed in the annotation file
    ``anno`` (memory-mapped, [N, 1, nz, nx] each); None for unlabelled data."""
    total, count = 0.0, 0
    for _, model_path in read_annotation(anno):
        if model_path is None:
            return None
        m = read_npy(model_path, "model file", mmap_mode="r")
        total = total + np.asarray(m, dtype=np.float64).sum(axis=(0, 1, 3))
        count += m.shape[0] * m.shape[1] * m.shape[3]
    return total / count


def check_velocity(v, where: str, first: int = 0) -> Tuple[float, float]:
    """Check velocity models ``v`` [N, ...] (m/s, one model per entry of the first axis).

    Raises ValueError naming ``where`` (the file and the key that set it) and the
    model index (``first`` + position in ``v``) for a non-numeric dtype, NaN or
    Inf, a non-positive velocity, or a model whose fastest velocity is below
    ``KMS_LIMIT`` (km/s instead of m/s). Returns the (min, max) velocity of ``v``.
    """
    v = np.asarray(v)
    _check_dtype(v.dtype, where, "velocity")
    if v.size == 0:
        raise ValueError(f"{where}: holds no velocity models (shape {v.shape})")
    mins, maxs = _sample_range(v)
    bad = _first(~(np.isfinite(mins) & np.isfinite(maxs)))
    if bad is not None:
        raise ValueError(f"{where}: model {first + bad} contains NaN or Inf")
    bad = _first(mins <= 0)
    if bad is not None:
        raise ValueError(f"{where}: model {first + bad} has a non-positive velocity {mins[bad]:.4g} (m/s expected)")
    bad = _first(maxs < KMS_LIMIT)
    if bad is not None:
        raise ValueError(f"{where}: model {first + bad} has velocities of at most {maxs[bad]:.4g}, which look like "
                         f"km/s: multiply the models by 1000 to give m/s")
    return float(mins.min()), float(maxs.max())


def velocity_models(v, where: str) -> np.ndarray:
    """Velocity models [N, 1, nz, nx] or [N, nz, nx] (m/s) -> float32 [N, nz, nx], checked by
    :func:`check_velocity`; ``where`` names the file and the key that set it in error messages."""
    v = np.asarray(v)
    if v.ndim == 4 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 3:
        raise ValueError(f"{where}: expected velocity models [N, 1, nz, nx] or [N, nz, nx] (m/s), "
                         f"found shape {v.shape}")
    check_velocity(v, where)
    return v.astype(np.float32)


def open_samples(path, ndim, sample_shape, what):
    """The ``ndim``-D array [N, ...] of ``path``, memory-mapped, checked: real dtype, N > 0, and samples of
    ``sample_shape`` (None: any); ``what`` ("data" or "model") names it in errors."""
    arr = read_npy(path, f"{what} file", mmap_mode="r")
    _check_dtype(arr.dtype, path, what)
    if arr.ndim != ndim:
        raise ValueError(f"{path}: expected a {ndim}-D {what} array [N, ...], found shape {arr.shape}")
    if sample_shape is not None and tuple(arr.shape[1:]) != tuple(sample_shape):
        raise ValueError(
            f"{path}: expected {what} samples of shape {tuple(sample_shape)}, found {tuple(arr.shape[1:])}"
        )
    if len(arr) == 0:
        raise ValueError(f"{path}: holds no samples (shape {arr.shape})")
    return arr


def _check_dtype(dtype, where, what):
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise ValueError(f"{where}: {what} has dtype {dtype}; expected real numbers (float32 in OpenFWI)")


def _chunks(arr):
    """(index of the first sample, samples) over ``arr`` [N, ...], about CHUNK_BYTES at a time."""
    step = max(1, CHUNK_BYTES // max(1, arr[:1].nbytes))
    for start in range(0, len(arr), step):
        yield start, arr[start:start + step]


def _sample_range(x):
    """Per-sample (min, max) of ``x`` [N, ...]; NaN propagates, so a non-finite sample has a non-finite one."""
    flat = x.reshape(len(x), -1)
    return flat.min(axis=1), flat.max(axis=1)


def _first(mask):
    return int(np.argmax(mask)) if mask.any() else None


def data_range(arr, path):
    """(min, max) of the gathers ``arr`` [N, ...], chunk by chunk; NaN or Inf is an error naming the sample."""
    lo, hi = np.inf, -np.inf
    for start, x in _chunks(arr):
        mins, maxs = _sample_range(x)
        bad = _first(~(np.isfinite(mins) & np.isfinite(maxs)))
        if bad is not None:
            raise ValueError(f"{path}: sample {start + bad} contains NaN or Inf")
        lo, hi = min(lo, float(mins.min())), max(hi, float(maxs.max()))
    return lo, hi


def label_range(arr, path):
    """(min, max) of the velocity models ``arr`` [N, ...] (m/s), chunk by chunk, checked by :func:`check_velocity`."""
    lo, hi = np.inf, -np.inf
    for start, x in _chunks(arr):
        a, b = check_velocity(x, path, start)
        lo, hi = min(lo, a), max(hi, b)
    return lo, hi
