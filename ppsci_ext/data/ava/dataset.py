"""The AVA dataset ppsci builds by name (``AVADataset``): one trace per item from an AVA file
(:mod:`ppsci_ext.data.ava.reader` reads and checks it), its partial-angle stacks, background and label."""
from typing import Dict
from typing import Optional
from typing import Sequence

import numpy as np
from paddle import io

from ppsci_ext.data.ava.reader import BACK_KEYS
from ppsci_ext.data.ava.reader import LABEL_KEYS
from ppsci_ext.data.ava.reader import SEIS_KEYS
from ppsci_ext.data.ava.reader import read_ava_file

__all__ = ["AVADataset"]


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
        try:
            dt = np.dtype(dtype)
        except TypeError as e:
            raise ValueError(f"AVADataset({self.file_path}): dtype {dtype!r} is not a numpy dtype ({e})") from e
        if not np.issubdtype(dt, np.floating):
            raise ValueError(f"AVADataset({self.file_path}): dtype must be a float type, found {dtype!r}")
        data = read_ava_file(self.file_path, labelled)
        self.labelled = "vp_aug" in data
        if "m" in self.input_keys + self.label_keys and not self.labelled:
            raise ValueError(f"AVADataset({self.file_path}): key 'm' (labels) asked for, but the file is unlabelled "
                             f"(no 'vp_aug'/'vs_aug'/'rho_aug'); pass label_keys=() for physics-driven data")
        self.theta = data["theta"]
        self.wavemat = np.asarray(data["wavemat"], dtype=np.float64)
        self.n_layers, self.n_traces = data["vp_back"].shape
        self.trace_indices = _trace_indices(traces, self.n_traces, f"AVADataset({self.file_path})")
        idx = self.trace_indices
        # [N, 3, L]; the stacks are summed in the stored precision then cast (an overflow is reported below)
        with np.errstate(over="ignore"):
            self._stacks = np.stack([data[k][idx].sum(-1) for k in SEIS_KEYS], 1).astype(dt)
            self._m_back = np.stack([data[k][:, idx].T for k in BACK_KEYS], 1).astype(dt)
            self._m = np.stack([data[k][:, idx].T for k in LABEL_KEYS], 1).astype(dt) if self.labelled else None
        self._fields = {"stacks": self._stacks, "m_back": self._m_back, "m": self._m}
        self._check_fields(dt)

    def _check_fields(self, dt):
        """Everything an item can hold is checked here, once: ``__getitem__`` only indexes these arrays, so it
        cannot fail inside a data loader's worker (where an exception can hang the loader)."""
        where = f"AVADataset({self.file_path})"
        for name, arr in self._fields.items():
            if arr is not None and not np.isfinite(arr).all():
                raise ValueError(f"{where}: field '{name}' does not fit in {dt} (values beyond its range); "
                                 "use dtype='float64' or rescale the file")
        if not self._stacks.any():
            raise ValueError(f"{where}: the stacks of the {len(self._stacks)} selected trace(s) are all zero; "
                             "nothing to invert (select other traces)")

    def __len__(self):
        return len(self.trace_indices)

    def __getitem__(self, idx):
        """Item ``idx`` (0 <= idx < len): views into the arrays checked at construction."""
        inp = {k: self._fields[k][idx] for k in self.input_keys}
        lab = {k: self._fields[k][idx] for k in self.label_keys}
        return inp, lab, self.weight

    def arrays(self):
        """Whole selected arrays for batch inference: ``(stacks, m_back, m)``.

        Each is [N, 3, L] in the data set's dtype, N = ``len(self)`` in item
        order; ``m`` is ``None`` for unlabelled files.
        """
        return self._stacks, self._m_back, self._m
