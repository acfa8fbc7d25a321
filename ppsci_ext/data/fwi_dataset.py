"""OpenFWI-format data set for full-waveform inversion.

Files follow OpenFWI: ``data*.npy`` float32 [N, n_src, nt, n_rec] (shot
gathers) and ``model*.npy`` float32 [N, 1, nz, nx] (velocity, m/s), listed in
an annotation file with one ``data_path<TAB>model_path`` line per file pair
(the model path is optional for unlabelled data). Relative paths are resolved
against the annotation file's folder. Arrays are memory-mapped, never copied
whole into memory.

Every file is checked when the data set is built (dtype, shape, finite
values, velocity units, value ranges), so that reading an item never raises:
paddle's DataLoader waits forever on an exception raised inside its worker.
Error and warning messages name the settings by their keys in
``conf/velocitygan.yaml`` (``DATA.data_min`` ...).
"""
import os
from typing import Dict
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np
from paddle import io
from ppsci.utils import logger

from ppsci_ext.data.arrays import read_npy

__all__ = ["FWIDataset", "read_annotation", "SeismicTransform", "VelocityTransform", "check_velocity",
           "velocity_models", "check_amplitudes", "openfwi_statistics", "statistics_overrides", "depth_profile"]

KMS_LIMIT = 20.0  # a model whose fastest velocity is below this many m/s is taken to be in km/s
FAR_FACTOR = 3.0  # amplitudes whose peak is this many times larger or smaller than the statistics' are "far"
AMPLITUDE_CHECKS = ("warn", "error", "off")
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


STAT_KEYS = ("data_min", "data_max", "label_min", "label_max")


def openfwi_statistics(path: str, name: str) -> Dict[str, float]:
    """``data_min``, ``data_max``, ``label_min``, ``label_max`` of the data set ``name`` (e.g. ``flatvel-a``) in
    OpenFWI's own ``dataset_config.json`` at ``path`` (a JSON object of data sets, each holding those keys).
    Errors name the file, and an unknown name lists the ones the file has."""
    import json

    if not os.path.isfile(path):
        raise FileNotFoundError(f"DATA.openfwi_stats: OpenFWI dataset config not found: {path}")
    try:
        with open(path) as f:
            config = json.load(f)
    except ValueError as e:
        raise ValueError(f"DATA.openfwi_stats: {path} is not JSON ({e})") from None
    if not isinstance(config, dict) or name not in config:
        found = sorted(config) if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"DATA.openfwi_stats: {path} has no data set {name!r}; found {found}")
    missing = [k for k in STAT_KEYS if k not in config[name]]
    if missing:
        raise ValueError(f"DATA.openfwi_stats: {path}, data set {name!r}: missing {missing}")
    return {k: float(config[name][k]) for k in STAT_KEYS}


def statistics_overrides(data_cfg) -> Dict[str, float]:
    """The DATA keys to replace: those of :func:`openfwi_statistics` when ``data_cfg.openfwi_stats`` is
    ``[path, name]``, else none."""
    spec = data_cfg.get("openfwi_stats")
    if not spec:
        return {}
    if len(spec) != 2:
        raise ValueError(f"DATA.openfwi_stats: expected [<dataset_config.json>, <data set name>], found {list(spec)}")
    stats = openfwi_statistics(str(spec[0]), str(spec[1]))
    logger.message(f"statistics of {spec[1]} from {spec[0]}: " + ", ".join(f"DATA.{k}={v:g}" for k, v in stats.items()))
    return stats


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


class SeismicTransform:
    """Shot gathers -> network input: time decimation, signed log, min-max to [-1, 1].

    ``data_min``/``data_max`` are the raw amplitude range of the training set
    (before the log), as in OpenFWI's dataset statistics; ``data_min`` must be
    below ``data_max``, ``k`` positive and ``sample_ratio`` a whole number >= 1.
    """

    def __init__(self, data_min: float, data_max: float, k: float = 1.0, sample_ratio: int = 1):
        _check_range(float(data_min), float(data_max), "DATA.data_min", "DATA.data_max")
        if not (np.isfinite(float(k)) and float(k) > 0):
            raise ValueError(f"DATA.log_k must be a positive number, found {k}")
        try:
            whole = float(sample_ratio) == int(sample_ratio) >= 1
        except (TypeError, ValueError, OverflowError):
            whole = False
        if not whole:
            raise ValueError(f"DATA.sample_ratio must be a whole number >= 1, found {sample_ratio}")
        self.k, self.sample_ratio = float(k), int(sample_ratio)
        self.lo, self.hi = self.log(data_min), self.log(data_max)

    def log(self, x):
        return np.sign(x) * np.log1p(self.k * np.abs(x))

    def __call__(self, data: np.ndarray) -> np.ndarray:
        x = self.log(np.asarray(data[..., :: self.sample_ratio, :], dtype=np.float32))
        return ((x - self.lo) / (self.hi - self.lo) * 2 - 1).astype(np.float32)


class VelocityTransform:
    """Velocity (m/s) <-> normalised [-1, 1] by min-max with ``label_min`` < ``label_max``."""

    def __init__(self, label_min: float, label_max: float):
        self.lo, self.hi = float(label_min), float(label_max)
        _check_range(self.lo, self.hi, "DATA.label_min", "DATA.label_max")

    def __call__(self, v):
        return ((np.asarray(v, dtype=np.float32) - self.lo) / (self.hi - self.lo) * 2 - 1).astype(np.float32)

    def inverse(self, x):
        return (x + 1) / 2 * (self.hi - self.lo) + self.lo


class FWIDataset(io.Dataset):
    """OpenFWI files -> ``({input_key: data}, {label_key: velocity}, {})``.

    Every file is checked when the data set is built, in chunks of samples:
    real dtype, finite values (the error names the file and the first bad
    sample), velocities in m/s and positive (see :func:`check_velocity`). Data
    amplitudes outside [data_min, data_max] and velocities outside
    [label_min, label_max] give one warning per file. Items are then read
    without further checks.

    Args:
        input_keys: one key, the normalised shot gathers [n_src, nt/sample_ratio, n_rec].
        label_keys: one key, the normalised velocity [1, nz, nx] (empty if unlabelled).
        anno: annotation file (see module docstring).
        data_min, data_max: raw amplitude range for the log + min-max transform.
        label_min, label_max: velocity range (m/s) mapped to [-1, 1].
        sample_ratio: keep every ``sample_ratio``-th time sample.
        log_k: scale inside the signed log, log(1 + k|x|).
        data_shape, label_shape: expected per-sample shapes on disk (checked);
            ``None`` accepts what the first file holds.
        amplitude_check: "warn", "error" or "off" for data files whose amplitudes are far from
            [data_min, data_max] (:func:`check_amplitudes`).
    """

    def __init__(self, input_keys: Tuple[str, ...], label_keys: Tuple[str, ...], anno: str,
                 data_min: float, data_max: float, label_min: float, label_max: float,
                 sample_ratio: int = 1, log_k: float = 1.0,
                 data_shape: Optional[Sequence[int]] = None,
                 label_shape: Optional[Sequence[int]] = None,
                 weight: Optional[Dict[str, float]] = None, amplitude_check: str = "warn"):
        super().__init__()
        self.input_keys, self.label_keys = tuple(input_keys), tuple(label_keys)
        self.weight = {} if weight is None else dict(weight)
        self.transform_data = SeismicTransform(data_min, data_max, log_k, sample_ratio)
        self.transform_label = VelocityTransform(label_min, label_max)
        pairs = read_annotation(anno)
        self.labelled = pairs[0][1] is not None
        if any((m is not None) != self.labelled for _, m in pairs):
            raise ValueError(f"{anno}: some lines have a model file and some do not")
        if len(self.input_keys) != 1 or (self.labelled and len(self.label_keys) != 1):
            raise ValueError(f"{anno}: FWIDataset takes one input key and one label key for labelled data, found "
                             f"input_keys={self.input_keys}, label_keys={self.label_keys}")
        self.data, self.labels, self.index = [], [], []
        for data_path, label_path in pairs:  # shapes and counts first: they fail fast
            d = _open_npy(data_path, 4, data_shape, "data")
            data_shape = d.shape[1:]
            if label_path is not None:
                m = _open_npy(label_path, 4, label_shape, "model")
                label_shape = m.shape[1:]
                if len(m) != len(d):
                    raise ValueError(f"{label_path}: {len(m)} models but {data_path} has {len(d)} samples")
                self.labels.append(m)
            self.index.extend((len(self.data), i) for i in range(len(d)))
            self.data.append(d)
        for (data_path, _), d in zip(pairs, self.data):
            found = _data_range(d, data_path)
            if not check_amplitudes(found, data_min, data_max, data_path, amplitude_check):
                _warn_outside(found, data_min, data_max, data_path, "data amplitudes", "DATA.data_min/DATA.data_max")
        for (_, label_path), m in zip(pairs, self.labels):
            _warn_outside(_label_range(m, label_path), label_min, label_max, label_path, "velocities (m/s)",
                          "DATA.label_min/DATA.label_max")

    def __len__(self):
        return len(self.index)

    def __getitem__(self, idx):
        f, i = self.index[idx]
        inp = {self.input_keys[0]: self.transform_data(self.data[f][i])}
        lab = {self.label_keys[0]: self.transform_label(self.labels[f][i])} if self.labelled else {}
        return inp, lab, self.weight


def _open_npy(path, ndim, sample_shape, what):
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


def _check_range(lo, hi, key_lo, key_hi):
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"{key_lo} ({lo}) must be finite and below {key_hi} ({hi})")


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


def _data_range(arr, path):
    lo, hi = np.inf, -np.inf
    for start, x in _chunks(arr):
        mins, maxs = _sample_range(x)
        bad = _first(~(np.isfinite(mins) & np.isfinite(maxs)))
        if bad is not None:
            raise ValueError(f"{path}: sample {start + bad} contains NaN or Inf")
        lo, hi = min(lo, float(mins.min())), max(hi, float(maxs.max()))
    return lo, hi


def _label_range(arr, path):
    lo, hi = np.inf, -np.inf
    for start, x in _chunks(arr):
        a, b = check_velocity(x, path, start)
        lo, hi = min(lo, a), max(hi, b)
    return lo, hi


def check_amplitudes(found, data_min: float, data_max: float, where: str, action: str = "warn") -> bool:
    """Compare the amplitude range ``found`` = (min, max) of shot gathers with the normalisation statistics.

    Far outside (its peak |amplitude| over ``FAR_FACTOR`` times larger or smaller than the statistics'),
    the data are in another amplitude convention or scale than the training data (OpenFWI's own files are
    about 100 times this project's modelling): ``action`` "warn" logs it, "error" raises ValueError, both
    naming ``where``, the range found and the one expected (DATA.amplitude_check); "off" does nothing.
    Returns True when the range is far outside.
    """
    if action not in AMPLITUDE_CHECKS:
        raise ValueError(f"DATA.amplitude_check: expected one of {list(AMPLITUDE_CHECKS)}, found {action!r}")
    peak, expected = max(abs(found[0]), abs(found[1])), max(abs(data_min), abs(data_max))
    ratio = peak / expected
    if action == "off" or 1 / FAR_FACTOR <= ratio <= FAR_FACTOR:
        return False
    msg = (f"{where}: amplitudes span [{found[0]:.4g}, {found[1]:.4g}], {ratio:.3g} times the peak of the training "
           f"statistics DATA.data_min/DATA.data_max = [{data_min}, {data_max}]: these data are in another amplitude "
           f"convention or scale, and the network's input would be far from what it was trained on. Rescale the data "
           f"to the training data's convention, or train on data like them (DATA.amplitude_check=off to go on)")
    if action == "error":
        raise ValueError(msg)
    logger.warning(msg)
    return True


def _warn_outside(found, lo, hi, path, what, keys):
    if found[0] < lo or found[1] > hi:
        logger.warning(f"{path}: {what} span [{found[0]:.4g}, {found[1]:.4g}], outside {keys} = [{lo}, {hi}]: "
                       f"they leave [-1, 1] after normalisation; widen {keys} in the YAML to cover them")
