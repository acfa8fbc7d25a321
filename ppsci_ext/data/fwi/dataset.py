"""OpenFWI-format data set for full-waveform inversion: the dataset ppsci builds by name (``ExtFWIDataset``).

Files follow OpenFWI (:mod:`ppsci_ext.data.fwi.reader`): ``data*.npy`` float32 [N, n_src, nt, n_rec] (shot
gathers) and ``model*.npy`` float32 [N, 1, nz, nx] (velocity, m/s), listed in an annotation file. Arrays are
memory-mapped, never copied whole into memory. Every file is checked when the data set is built, so that reading an
item never raises: paddle's DataLoader waits forever on an exception raised inside its worker. Items are normalised
by :class:`ppsci_ext.data.fwi.normalisation.FWINormalisation`.
"""
from typing import Dict
from typing import Optional
from typing import Sequence
from typing import Tuple

from paddle import io

from ppsci_ext.data.fwi.normalisation import FWINormalisation
from ppsci_ext.data.fwi.reader import data_range
from ppsci_ext.data.fwi.reader import label_range
from ppsci_ext.data.fwi.reader import open_samples
from ppsci_ext.data.fwi.reader import read_annotation

__all__ = ["FWIDataset"]


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
            [data_min, data_max] (:meth:`FWINormalisation.check_amplitudes`).
        conversion: the files' modelling convention and the network's (:class:`FWINormalisation`), or None.
    """

    def __init__(self, input_keys: Tuple[str, ...], label_keys: Tuple[str, ...], anno: str,
                 data_min: float, data_max: float, label_min: float, label_max: float,
                 sample_ratio: int = 1, log_k: float = 1.0,
                 data_shape: Optional[Sequence[int]] = None,
                 label_shape: Optional[Sequence[int]] = None,
                 weight: Optional[Dict[str, float]] = None, amplitude_check: str = "warn",
                 conversion: Optional[Dict] = None):
        super().__init__()
        self.input_keys, self.label_keys = tuple(input_keys), tuple(label_keys)
        self.weight = {} if weight is None else dict(weight)
        self.norm = FWINormalisation(data_min, data_max, label_min, label_max, log_k, sample_ratio, amplitude_check,
                                     conversion)
        pairs = read_annotation(anno)
        self.labelled = pairs[0][1] is not None
        if any((m is not None) != self.labelled for _, m in pairs):
            raise ValueError(f"{anno}: some lines have a model file and some do not")
        if len(self.input_keys) != 1 or (self.labelled and len(self.label_keys) != 1):
            raise ValueError(f"{anno}: FWIDataset takes one input key and one label key for labelled data, found "
                             f"input_keys={self.input_keys}, label_keys={self.label_keys}")
        self.data, self.labels, self.index = [], [], []
        for data_path, label_path in pairs:  # shapes and counts first: they fail fast
            d = open_samples(data_path, 4, data_shape, "data")
            data_shape = d.shape[1:]
            if label_path is not None:
                m = open_samples(label_path, 4, label_shape, "model")
                label_shape = m.shape[1:]
                if len(m) != len(d):
                    raise ValueError(f"{label_path}: {len(m)} models but {data_path} has {len(d)} samples")
                self.labels.append(m)
            self.index.extend((len(self.data), i) for i in range(len(d)))
            self.data.append(d)
        for (data_path, _), d in zip(pairs, self.data):
            found = data_range(d, data_path)
            if not self.norm.check_amplitudes(found, data_path):
                self.norm.warn_outside(found, data_path)
        for (_, label_path), m in zip(pairs, self.labels):
            self.norm.warn_outside(label_range(m, label_path), label_path, velocity=True)

    def __len__(self):
        return len(self.index)

    def __getitem__(self, idx):
        f, i = self.index[idx]
        inp = {self.input_keys[0]: self.norm.data(self.data[f][i])}
        lab = {self.label_keys[0]: self.norm.velocity(self.labels[f][i])} if self.labelled else {}
        return inp, lab, self.weight
