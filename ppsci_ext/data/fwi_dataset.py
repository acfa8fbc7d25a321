"""OpenFWI-format data set for full-waveform inversion.

Files follow OpenFWI: ``data*.npy`` float32 [N, n_src, nt, n_rec] (shot
gathers) and ``model*.npy`` float32 [N, 1, nz, nx] (velocity, m/s), listed in
an annotation file with one ``data_path<TAB>model_path`` line per file pair
(the model path is optional for unlabelled data). Relative paths are resolved
against the annotation file's folder. Arrays are memory-mapped, never copied
whole into memory.
"""
import os
from typing import Dict
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np
from paddle import io

__all__ = ["FWIDataset", "read_annotation", "SeismicTransform", "VelocityTransform"]


def read_annotation(anno: str) -> Sequence[Tuple[str, Optional[str]]]:
    """Parse an annotation file into (data_path, model_path or None) pairs.

    Accepts CRLF line ends, blank lines and a missing final newline.
    """
    if not os.path.isfile(anno):
        raise FileNotFoundError(f"annotation file not found: {anno}")
    base = os.path.dirname(os.path.abspath(anno))
    pairs = []
    with open(anno, "r", newline=None) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            cols = line.split("\t")
            if len(cols) > 2:
                raise ValueError(f"{anno}:{lineno}: expected 'data<TAB>model', found {len(cols)} columns")
            paths = [p if os.path.isabs(p) else os.path.join(base, p) for p in cols]
            pairs.append((paths[0], paths[1] if len(paths) == 2 else None))
    if not pairs:
        raise ValueError(f"annotation file {anno} lists no files")
    return pairs


class SeismicTransform:
    """Shot gathers -> network input: time decimation, signed log, min-max to [-1, 1].

    ``data_min``/``data_max`` are the raw amplitude range of the training set
    (before the log), as in OpenFWI's dataset statistics.
    """

    def __init__(self, data_min: float, data_max: float, k: float = 1.0, sample_ratio: int = 1):
        self.k, self.sample_ratio = float(k), int(sample_ratio)
        self.lo, self.hi = self.log(data_min), self.log(data_max)

    def log(self, x):
        return np.sign(x) * np.log1p(self.k * np.abs(x))

    def __call__(self, data: np.ndarray) -> np.ndarray:
        x = self.log(np.asarray(data[..., :: self.sample_ratio, :], dtype=np.float32))
        return ((x - self.lo) / (self.hi - self.lo) * 2 - 1).astype(np.float32)


class VelocityTransform:
    """Velocity (m/s) <-> normalised [-1, 1] by min-max with ``label_min``/``label_max``."""

    def __init__(self, label_min: float, label_max: float):
        self.lo, self.hi = float(label_min), float(label_max)

    def __call__(self, v):
        return ((v - self.lo) / (self.hi - self.lo) * 2 - 1).astype(np.float32)

    def inverse(self, x):
        return (x + 1) / 2 * (self.hi - self.lo) + self.lo


class FWIDataset(io.Dataset):
    """OpenFWI files -> ``({input_key: data}, {label_key: velocity}, {})``.

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
    """

    def __init__(self, input_keys: Tuple[str, ...], label_keys: Tuple[str, ...], anno: str,
                 data_min: float, data_max: float, label_min: float, label_max: float,
                 sample_ratio: int = 1, log_k: float = 1.0,
                 data_shape: Optional[Sequence[int]] = None,
                 label_shape: Optional[Sequence[int]] = None,
                 weight: Optional[Dict[str, float]] = None):
        super().__init__()
        self.input_keys, self.label_keys = tuple(input_keys), tuple(label_keys)
        self.weight = {} if weight is None else dict(weight)
        self.transform_data = SeismicTransform(data_min, data_max, log_k, sample_ratio)
        self.transform_label = VelocityTransform(label_min, label_max)
        self.data, self.labels, self.index = [], [], []
        for data_path, label_path in read_annotation(anno):
            d = _open_npy(data_path, 4, data_shape, "data")
            data_shape = d.shape[1:]
            self.data.append(d)
            if label_path is not None:
                m = _open_npy(label_path, 4, label_shape, "model")
                label_shape = m.shape[1:]
                if len(m) != len(d):
                    raise ValueError(f"{label_path}: {len(m)} models but {data_path} has {len(d)} samples")
                self.labels.append(m)
            f = len(self.data) - 1
            self.index.extend((f, i) for i in range(len(d)))
        if self.labels and len(self.labels) != len(self.data):
            raise ValueError(f"{anno}: some lines have a model file and some do not")
        self.labelled = bool(self.labels)

    def __len__(self):
        return len(self.index)

    def __getitem__(self, idx):
        f, i = self.index[idx]
        data = _checked(self.data[f], i, self.data[f].filename)
        inp = {self.input_keys[0]: self.transform_data(data)}
        if self.labelled:
            label = _checked(self.labels[f], i, self.labels[f].filename)
            lab = {self.label_keys[0]: self.transform_label(label)}
        else:
            lab = {}
        return inp, lab, self.weight


def _open_npy(path, ndim, sample_shape, what):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} file not found: {path}")
    arr = np.load(path, mmap_mode="r")
    if arr.ndim != ndim:
        raise ValueError(f"{path}: expected a {ndim}-D {what} array [N, ...], found shape {arr.shape}")
    if sample_shape is not None and tuple(arr.shape[1:]) != tuple(sample_shape):
        raise ValueError(
            f"{path}: expected {what} samples of shape {tuple(sample_shape)}, found {tuple(arr.shape[1:])}"
        )
    return arr


def _checked(arr, i, path):
    x = np.asarray(arr[i], dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValueError(f"{path}: sample {i} contains NaN or Inf")
    return x
