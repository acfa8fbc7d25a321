"""Paired low/high-resolution seismic sections for joint denoising + 2x super-resolution.

Layout (that of Li, Wu & Hu, 2022): ``root/nx2/<stem>.dat`` noisy low-resolution
sections [128, 128] and ``root/sx/<stem>.dat`` clean high-resolution sections
[256, 256], raw little-endian float32, no header. Axis 0 = trace, axis 1 = time
sample (as the field files, e.g. ``kumano2_608x400.dat`` = 608 traces x 400 samples).

Grid convention: LR sample ``[i, j]`` sits on HR sample ``[2i, 2j]`` (the LR is an
anti-aliased decimation keeping even samples), so an HR patch at ``(2a, 2b)`` of size
``p`` pairs with the LR patch at ``(a, b)`` of size ``p/2``, and HR ``(i, j)`` lies in
the cell of LR ``(i // 2, j // 2)``. :func:`upsample2` follows the same convention:
every mode reproduces the LR values exactly on the even HR samples.

Normalisation: each pair is divided by ``scale = max |LR|`` (the LR section is what
is known at inference time; the max keeps the condition in [-1, 1]). Outputs are
brought back with ``x * scale`` (:meth:`SeismicSRDataset.denormalise`).

Bad inputs fail when they are read, naming the file: NaN/Inf values (:func:`read_dat`,
:func:`read_section`), constant sections (nothing to super-resolve, and no scale),
complex arrays, and a split file (:func:`split_once`) drawn for another data folder.
"""
import json
import os
import re
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np
from paddle import io

from ppsci_ext.atomic import atomic_open
from ppsci_ext.data.arrays import read_npy

__all__ = ["read_dat", "write_dat", "read_section", "pair_files", "split_files", "write_split", "read_split",
           "split_once", "check_varies", "upsample2", "normalise", "denormalise", "SeismicSRDataset",
           "UPSAMPLE_MODES"]

_SHAPE_RE = re.compile(r"_(\d+)x(\d+)\.dat$", re.IGNORECASE)
UPSAMPLE_MODES = ("nearest", "bilinear", "bicubic")


def shape_from_name(path: str) -> Optional[Tuple[int, int]]:
    m = _SHAPE_RE.search(os.path.basename(str(path)))
    return (int(m.group(1)), int(m.group(2))) if m else None


def read_dat(path: str, shape: Optional[Sequence[int]] = None) -> np.ndarray:
    """Raw little-endian float32 file -> float32 array of ``shape``.

    Without ``shape`` it comes from a name ending ``_<n1>x<n2>.dat``. A file holding NaN
    or Inf is a ValueError naming it and the first bad sample.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"seismic .dat file not found: {path}")
    if shape is None:
        shape = shape_from_name(path)
        if shape is None:
            raise ValueError(f"{path}: no shape given and none in the file name "
                             "(expected a name ending '_<n1>x<n2>.dat', e.g. 'kumano2_608x400.dat')")
    shape = tuple(int(s) for s in shape)
    expected = int(np.prod(shape)) * 4
    found = os.path.getsize(path)
    if found != expected:
        raise ValueError(f"{path}: expected shape {shape} = {expected} bytes of float32, found {found} bytes")
    x = np.fromfile(path, dtype="<f4").reshape(shape).astype(np.float32, copy=False)
    _check_finite(x, path)
    return x


def _check_finite(x: np.ndarray, where: str) -> None:
    """ValueError naming ``where``, the count of NaN/Inf values and the index of the first."""
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{where}: {int(bad.sum())} of {x.size} values are NaN or Inf "
                         f"(first at index {first}: {x[first]})")


def check_varies(x: np.ndarray, where: str) -> None:
    """ValueError naming ``where`` when the section is empty or constant (e.g. all zero): it holds no
    reflections, and its scale ``max |x|`` would divide by zero or invent amplitudes."""
    if x.size == 0:
        raise ValueError(f"{where}: empty section, shape {list(x.shape)}")
    lo, hi = float(np.min(x)), float(np.max(x))
    if lo == hi:
        raise ValueError(f"{where}: constant section (every value is {lo:g}): it holds no reflections to "
                         f"super-resolve, and no amplitude scale")


def write_dat(path: str, array: np.ndarray) -> str:
    """Write ``array`` as raw little-endian float32, atomically (temporary file + rename)."""
    path = str(path)
    with atomic_open(path) as f:
        np.ascontiguousarray(array, dtype="<f4").tofile(f)
    return path


def read_section(path: str) -> np.ndarray:
    """A 2-D section [traces, samples] float32 from ``.dat`` (shape in the name), ``.npy`` or SEG-Y (segyio);
    a ``.npy`` may also hold a 3-D volume [inline, crossline, samples].

    Integer arrays are cast to float32. A ValueError names the file for: a complex or non-numeric
    dtype, NaN/Inf values, a wrong number of axes, and a constant section (e.g. all zero).
    """
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"section file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".dat":
        x = read_dat(path)
        check_varies(x, path)
        return x
    if ext == ".npy":
        x = read_npy(path, "section")
        if np.iscomplexobj(x):
            raise ValueError(f"{path}: the array is complex (dtype {x.dtype}); a section is real: save "
                             f"np.real(x) or the amplitude np.abs(x) instead")
        if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
            raise ValueError(f"{path}: expected a real numeric array (float or integer), found dtype {x.dtype}")
    elif ext in (".sgy", ".segy"):
        try:
            import segyio
        except ImportError as e:
            raise ImportError(f"{path}: reading SEG-Y needs segyio (pip install segyio)") from e
        with segyio.open(path, ignore_geometry=True) as f:
            x = segyio.tools.collect(f.trace[:])
    else:
        raise ValueError(f"{path}: unknown section format {ext!r}, expected .dat (shape in the name), .npy, .sgy/.segy")
    if x.ndim not in ((2, 3) if ext == ".npy" else (2,)):
        raise ValueError(f"{path}: expected a 2-D section [traces, samples] (or a 3-D .npy volume), "
                         f"found shape {x.shape}")
    x = np.asarray(x, dtype=np.float32)
    _check_finite(x, path)
    check_varies(x, path)
    return x


def _list_dat(folder):
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"folder of .dat files not found: {folder}")
    return {os.path.splitext(f)[0]: os.path.join(folder, f) for f in os.listdir(folder)
            if f.lower().endswith(".dat") and not f.startswith(".")}


def _few(items, k=10):
    items = sorted(items)
    return ", ".join(items[:k]) + (f" ... ({len(items)} in all)" if len(items) > k else "")


def pair_files(root: str, lr_dir: str = "nx2", hr_dir: str = "sx", lr_shape=(128, 128),
               hr_shape=(256, 256)) -> List[Tuple[str, str, str]]:
    """Match ``root/lr_dir/*.dat`` with ``root/hr_dir/*.dat`` by stem -> sorted [(stem, lr_path, hr_path)].

    Raises ValueError naming files present in one folder only, and files whose size
    is not that of ``lr_shape`` / ``hr_shape`` float32 (expected and found bytes).
    """
    lo, hi = os.path.join(root, lr_dir), os.path.join(root, hr_dir)
    lr, hr = _list_dat(lo), _list_dat(hi)
    only_lr, only_hr = set(lr) - set(hr), set(hr) - set(lr)
    if only_lr or only_hr:
        msg = []
        if only_lr:
            msg.append(f"in {lo} only: {_few(os.path.basename(lr[s]) for s in only_lr)}")
        if only_hr:
            msg.append(f"in {hi} only: {_few(os.path.basename(hr[s]) for s in only_hr)}")
        raise ValueError("unpaired seismic SR files: " + "; ".join(msg))
    if not lr:
        raise ValueError(f"no .dat files in {lo} and {hi}")
    bad = []
    for files, shape in ((lr, lr_shape), (hr, hr_shape)):
        exp = int(np.prod(shape)) * 4
        for s in sorted(files):
            got = os.path.getsize(files[s])
            if got != exp:
                bad.append(f"{files[s]} (expected {tuple(shape)} = {exp} bytes, found {got})")
    if bad:
        raise ValueError(f"mis-sized seismic SR files: {_few(bad, 5)}")
    return [(s, lr[s], hr[s]) for s in sorted(lr)]


def split_files(stems: Sequence[str], fractions=(0.8, 0.1, 0.1), seed: int = 0) -> Dict[str, List[str]]:
    """Random disjoint train/val/test split of ``stems``, deterministic by ``seed``.

    Independent of the input order; sizes round(f_train n), round(f_val n) and the rest.
    Each list is sorted.
    """
    stems = sorted(str(s) for s in stems)
    if len(set(stems)) != len(stems):
        raise ValueError("split_files: duplicate stems")
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,) or (f < 0).any() or abs(f.sum() - 1) > 1e-6:
        raise ValueError(f"split_files: fractions must be 3 non-negative numbers summing to 1, found {fractions}")
    n = len(stems)
    perm = np.random.default_rng(seed).permutation(n)
    n_tr = int(round(f[0] * n))
    n_va = min(int(round(f[1] * n)), n - n_tr)
    parts = np.split(perm, [n_tr, n_tr + n_va])
    return {k: sorted(stems[i] for i in p) for k, p in zip(("train", "val", "test"), parts)}


_SPLIT_KEYS = ("train", "val", "test")


def write_split(path: str, split: Dict[str, List[str]], root: Optional[str] = None) -> str:
    """Write a split as JSON (atomic); with ``root`` the file also records the data folder (absolute)
    and its number of files, which :func:`split_once` checks on reading."""
    _check_split(split, path)
    path = str(path)
    rec = {k: list(split[k]) for k in _SPLIT_KEYS}
    if root is not None:
        rec.update(root=os.path.abspath(str(root)), n_files=sum(len(v) for v in split.values()))
    with atomic_open(path, "w") as fh:
        json.dump(rec, fh, indent=1)
    return path


def _load_split(path: str) -> Tuple[Dict[str, List[str]], Dict]:
    """(the three lists, the record's other fields: ``root``, ``n_files``; empty in files written without
    a root)."""
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"split file not found: {path}")
    with open(path) as fh:
        try:
            rec = json.load(fh)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not a JSON split file ({e}); delete it to draw the split again") from e
    if not isinstance(rec, dict):
        raise ValueError(f"{path}: a split file holds a JSON object, found {type(rec).__name__}")
    meta = {k: rec.pop(k) for k in ("root", "n_files") if k in rec}
    _check_split(rec, path)
    return {k: list(map(str, rec[k])) for k in _SPLIT_KEYS}, meta


def read_split(path: str) -> Dict[str, List[str]]:
    """The ``{"train", "val", "test"}`` stem lists of a split file (its recorded root, if any, is not returned)."""
    return _load_split(path)[0]


def split_once(path: str, stems: Sequence[str], fractions=(0.8, 0.1, 0.1), seed: int = 0,
               root: Optional[str] = None) -> Dict[str, List[str]]:
    """The split stored at ``path``; the first call draws it (:func:`split_files`) and writes it there, so a
    run and every later mode score the same files.

    ``root`` is the folder the ``stems`` come from; it is recorded with the split. A stored split
    that names another root, or whose stems differ from ``stems`` (some missing, or files it never
    saw), is a ValueError naming the split file and both roots: the split is stale. Split files
    without a recorded root (older ones) are checked on their stems only.
    """
    path = str(path)
    if not os.path.isfile(path):
        split = split_files(stems, fractions, seed)
        write_split(path, split, root)
        return split
    split, meta = _load_split(path)
    recorded = meta.get("root")
    fix = f"delete {path} to draw a new split, or use another output_dir"
    if root is not None and recorded is not None and not _same_path(recorded, root):
        raise ValueError(f"{path}: this split was drawn for the data in {recorded} "
                         f"({meta.get('n_files', '?')} files), the current data root is "
                         f"{os.path.abspath(str(root))}; {fix}")
    listed = {s for v in split.values() for s in v}
    current = {str(s) for s in stems}
    missing, extra = listed - current, current - listed
    if missing or extra:
        what = []
        if missing:
            what.append(f"{len(missing)} stems of the split are not in the data ({_few(missing, 5)})")
        if extra:
            what.append(f"{len(extra)} files of the data are in no part of the split ({_few(extra, 5)})")
        here = "" if root is None else f" in {os.path.abspath(str(root))}"
        drawn = f"drawn for {recorded}" if recorded is not None else "drawn for a data root it does not record"
        raise ValueError(f"{path}: the split ({drawn}) does not match the {len(current)} pairs{here}: "
                         f"{'; '.join(what)}; {fix}")
    return split


def _same_path(a: str, b: str) -> bool:
    return os.path.realpath(os.path.abspath(str(a))) == os.path.realpath(os.path.abspath(str(b)))


def _check_split(split, where):
    if not isinstance(split, dict) or set(split) != set(_SPLIT_KEYS):
        found = sorted(split) if isinstance(split, dict) else type(split).__name__
        raise ValueError(f"{where}: a split has keys ['test', 'train', 'val'], found {found}")
    seen = {}
    for k, v in split.items():
        for s in v:
            if s in seen:
                raise ValueError(f"{where}: stem {s!r} is in both {seen[s]!r} and {k!r}")
            seen[s] = k


def upsample2(lr: np.ndarray, mode: str = "bilinear", ndim: int = 2) -> np.ndarray:
    """2x upsampling over the last ``ndim`` (2 or 3) axes of a numpy array (paddle tensors are converted).

    Grid: LR ``[i, j]`` -> HR ``[2i, 2j]``; odd HR samples are interpolated between their
    LR neighbours, the last odd sample copies the edge (clamped). ``"nearest"`` repeats
    each sample twice, ``"bilinear"`` is separable linear interpolation (bilinear in 2-D,
    trilinear with ``ndim=3``), ``"bicubic"`` is separable Keys cubic convolution (a = -0.5,
    the kernel of image ``bicubic`` resizing; odd sample = (9 (x[i] + x[i+1]) - x[i-1] - x[i+2]) / 16,
    edges clamped) - the bicubic baseline. All three keep the LR values
    on the even samples. Returns float32 [..., 2 n1, 2 n2(, 2 n3)].
    """
    if hasattr(lr, "numpy"):
        lr = lr.numpy()
    x = np.asarray(lr, dtype=np.float32)
    if ndim not in (2, 3):
        raise ValueError(f"upsample2: ndim must be 2 or 3, found {ndim}")
    if x.ndim < ndim:
        raise ValueError(f"upsample2: expected at least {ndim} axes, found shape {x.shape}")
    axes = range(-ndim, 0)
    if mode == "nearest":
        for ax in axes:
            x = np.repeat(x, 2, axis=ax)
        return x
    if mode in ("bilinear", "bicubic"):
        for ax in axes:
            y = np.moveaxis(x, ax, 0)
            n = y.shape[0]
            idx = np.arange(n)
            nxt = y[np.minimum(idx + 1, n - 1)]
            if mode == "bilinear":
                mid = 0.5 * (y + nxt)
            else:  # Keys cubic convolution (a = -0.5) at half-way points
                prev, nxt2 = y[np.maximum(idx - 1, 0)], y[np.minimum(idx + 2, n - 1)]
                mid = (9.0 * (y + nxt) - prev - nxt2) / 16.0
            out = np.empty((2 * n,) + y.shape[1:], dtype=np.float32)
            out[0::2] = y
            out[1::2] = mid
            x = np.moveaxis(out, 0, ax)
        return np.ascontiguousarray(x)
    raise ValueError(f"upsample2: unknown mode {mode!r}, expected one of {list(UPSAMPLE_MODES)}")


def normalise(lr: np.ndarray, name: str = "the input section") -> Tuple[np.ndarray, float]:
    """LR section -> (lr / scale, scale) with ``scale = max |lr|``.

    ``name`` (the file or input the section came from) is named by the ValueError raised for
    NaN/Inf values and for an empty or constant section (e.g. all zero), which has nothing to
    super-resolve: its normalised values would be meaningless.
    """
    lr = np.asarray(lr, dtype=np.float32)
    _check_finite(lr, f"normalise: {name}")
    check_varies(lr, f"normalise: {name}")
    scale = float(np.abs(lr).max())
    return (lr / scale).astype(np.float32), scale


def denormalise(x, scale):
    """Undo :func:`normalise`: ``x * scale`` (numpy or paddle; ``scale`` a number or per-item [B, 1...])."""
    return x * scale


PAIR_RMS_RATIO = 10.0  # an HR section this many times louder or quieter (RMS) than its LR is not one pair's scale


def warn_amplitude_ratios(ratios: Sequence[float], files: Sequence[Tuple[str, str]]) -> List[int]:
    """Warn (and return the indices) where a pair's HR section is over :data:`PAIR_RMS_RATIO` times louder or
    quieter (RMS) than its LR: the two are then not at one amplitude scale (e.g. one of them rescaled), and a
    network trained on them learns to change the input's amplitude by that factor."""
    bad = [i for i, r in enumerate(ratios) if not 1 / PAIR_RMS_RATIO <= r <= PAIR_RMS_RATIO]
    if bad:
        from ppsci.utils import logger

        shown = "; ".join(f"{files[i][1]}: {ratios[i]:.3g}x {files[i][0]}" for i in bad[:5])
        logger.warning(f"{len(bad)} of {len(ratios)} pairs have a high-resolution section whose RMS amplitude is over "
                       f"{PAIR_RMS_RATIO:g} times above or below its low-resolution one's ({shown}{' ...' if len(bad) > 5 else ''}): "
                       f"a pair must share one amplitude scale, else the network learns to rescale its input; "
                       f"bring each HR and LR section to the same units and gain")
    return bad


class SeismicSRDataset(io.Dataset):
    """Pairs of ``root/lr_dir/<stem>.dat`` and ``root/hr_dir/<stem>.dat`` ->
    ``({"cond": [1, p, p]}, {"hr": [1, p, p]}, {})`` (plus ``"scale": [1]`` in the input dict);
    3-D volumes (``lr_shape`` of three sizes, time last) give ``[1, p, p, p]``.

    ``cond`` is the normalised LR section brought to the HR grid by ``interp`` and cropped
    to the HR patch (the whole LR is upsampled first, so bilinear/bicubic have no patch-edge
    effects); ``hr`` the normalised HR patch; both divided by ``scale = max |LR section|``.

    Args:
        root: folder holding ``lr_dir`` and ``hr_dir``.
        stems: file stems to use (e.g. ``read_split(...)["train"]``); None = all paired files.
        lr_shape, hr_shape: section shapes on disk (hr = 2 x lr); two sizes (traces x samples) or
            three (inline x crossline x samples) for volumes.
        patch: HR patch size (even); 0/None = whole section. Patch corners are even HR samples.
        augment: random flips of every axis and 90-degree rotations, the same for cond and hr.
            Rotations need square patches (skipped otherwise); in 2-D they swap traces and
            time, in 3-D they turn the inline-crossline plane (time stays the last axis).
        interp: "nearest", "bilinear", "bicubic", or "random" (nearest or bilinear per item).
        input_keys: (condition key,) or (condition key, scale key); default adds "scale".
        label_keys: (HR key,).
        seed: seed of the random patches, augmentation and interp. Item ``idx`` of pass ``epoch``
            (:meth:`set_epoch`) draws from ``default_rng([seed, epoch, idx])``, so the draws do not
            depend on the order, the thread or the worker that fetches them. None: unseeded.
        samples_per_epoch: length of the dataset; item ``k`` uses file ``k % n_files``.

    Every file is read once when the dataset is built (nothing is kept): a wrong size, NaN/Inf
    values or a constant (e.g. all-zero) LR or HR section is a ValueError naming the file then,
    so that fetching an item in a loader thread never fails on bad data.
    """

    def __init__(self, root: str, stems: Optional[Sequence[str]] = None, lr_dir: str = "nx2",
                 hr_dir: str = "sx", lr_shape=(128, 128), hr_shape=(256, 256), patch: Optional[int] = 64,
                 augment: bool = True, interp: str = "random", input_keys=("cond",), label_keys=("hr",),
                 seed: Optional[int] = None, samples_per_epoch: Optional[int] = None,
                 scale_key: Optional[str] = "scale", weight: Optional[Dict[str, float]] = None):
        super().__init__()
        self.lr_shape, self.hr_shape = tuple(int(s) for s in lr_shape), tuple(int(s) for s in hr_shape)
        if self.hr_shape != tuple(2 * s for s in self.lr_shape) or len(self.lr_shape) not in (2, 3):
            raise ValueError(f"hr_shape must be 2 x lr_shape, with 2 or 3 axes, found lr_shape {self.lr_shape}, "
                             f"hr_shape {self.hr_shape}")
        self.ndim = len(self.lr_shape)
        self.input_keys, self.label_keys = tuple(input_keys), tuple(label_keys)
        if len(self.input_keys) not in (1, 2) or len(self.label_keys) != 1:
            raise ValueError(f"input_keys: (cond[, scale]) and label_keys: (hr,), found {self.input_keys}, "
                             f"{self.label_keys}")
        self.scale_key = self.input_keys[1] if len(self.input_keys) == 2 else scale_key
        if interp not in UPSAMPLE_MODES + ("random",):
            raise ValueError(f"interp: expected one of {list(UPSAMPLE_MODES) + ['random']}, found {interp!r}")
        self.interp, self.augment = interp, bool(augment)
        self.patch = int(patch) if patch else None
        if self.patch is not None and (self.patch % 2 or self.patch <= 0
                                       or self.patch > min(self.hr_shape)):
            raise ValueError(f"patch must be even and at most {min(self.hr_shape)}, found {patch}")
        self.weight = {} if weight is None else dict(weight)
        if stems is None:
            triples = pair_files(root, lr_dir, hr_dir, self.lr_shape, self.hr_shape)
        else:
            triples = []
            for s in stems:
                lp, hp = os.path.join(root, lr_dir, f"{s}.dat"), os.path.join(root, hr_dir, f"{s}.dat")
                for p, shp in ((lp, self.lr_shape), (hp, self.hr_shape)):
                    if not os.path.isfile(p):
                        raise FileNotFoundError(f"seismic SR file for stem {s!r} not found: {p}")
                    exp, got = int(np.prod(shp)) * 4, os.path.getsize(p)
                    if got != exp:
                        raise ValueError(f"{p}: expected shape {shp} = {exp} bytes of float32, found {got} bytes")
                triples.append((str(s), lp, hp))
        if not triples:
            raise ValueError(f"no seismic SR files selected under {root}")
        self.stems = [t[0] for t in triples]
        self.files = [(t[1], t[2]) for t in triples]
        self.samples_per_epoch = int(samples_per_epoch) if samples_per_epoch else len(self.files)
        self.seed, self.epoch = seed, 0
        ratios = []
        for i in range(len(self.files)):
            lr, hr, _ = self.lr_hr(i)  # the reading __getitem__ does, once per file: bad data fails here, naming it
            ratios.append(float(np.sqrt(np.mean(np.square(hr)) / np.mean(np.square(lr)))))
        warn_amplitude_ratios(ratios, self.files)

    def __len__(self):
        return self.samples_per_epoch

    normalise = staticmethod(normalise)
    denormalise = staticmethod(denormalise)

    def lr_hr(self, i: int) -> Tuple[np.ndarray, np.ndarray, float]:
        """Whole normalised LR [n1, n2(, n3)], HR [2 n1, 2 n2(, 2 n3)] of file ``i`` and its scale."""
        lp, hp = self.files[i]
        lr, scale = normalise(read_dat(lp, self.lr_shape), lp)
        hr = read_dat(hp, self.hr_shape)
        check_varies(hr, hp)
        hr = hr / np.float32(scale)
        _check_finite(hr, f"{hp} divided by the scale {scale:g} (max |LR| of {lp})")
        return lr, hr.astype(np.float32), scale

    def set_epoch(self, epoch: int) -> None:
        """The pass over the data whose random patches and transforms ``__getitem__`` draws."""
        self.epoch = int(epoch)

    def item_rng(self, idx: int) -> np.random.Generator:
        """Item ``idx``'s generator: a function of (seed, epoch, idx) alone, so a loader thread that
        fetches ahead, or a resumed run, draws exactly what an uninterrupted run draws."""
        if self.seed is None:
            return np.random.default_rng()
        return np.random.default_rng([int(self.seed), self.epoch, int(idx)])

    def __getitem__(self, idx):
        rng = self.item_rng(idx)
        lr, hr, scale = self.lr_hr(idx % len(self.files))
        mode = self.interp if self.interp != "random" else ("nearest", "bilinear")[rng.integers(2)]
        cond = upsample2(lr, mode, self.ndim)
        if self.patch is not None:
            p = self.patch
            box = tuple(slice(a, a + p) for a in (2 * rng.integers(0, (n - p) // 2 + 1) for n in self.hr_shape))
            cond, hr = cond[box], hr[box]
        if self.augment:
            cond, hr = self.transform(cond, hr, self.random_transform(cond.shape, rng))
        inp = {self.input_keys[0]: np.ascontiguousarray(cond[None], dtype=np.float32)}
        if self.scale_key:
            inp[self.scale_key] = np.asarray([scale], dtype=np.float32)
        return inp, {self.label_keys[0]: np.ascontiguousarray(hr[None], dtype=np.float32)}, self.weight

    @staticmethod
    def random_transform(shape, rng: np.random.Generator) -> Tuple:
        """(number of 90-degree rotations, flip of each axis...): (k, f0, f1) for sections,
        (k, f0, f1, f2) for volumes; no rotation when the rotated plane is not square."""
        nd = len(shape)
        k = int(rng.integers(4)) if shape[-nd] == shape[-nd + 1] else 0
        return (k,) + tuple(bool(rng.integers(2)) for _ in range(nd))

    @staticmethod
    def transform(cond, hr, t=(0, False, False)):
        """Apply the same (k rotations by 90 degrees, flip of each of the last len(t) - 1 axes) to both.

        The rotation turns the plane of the first two of those axes: (traces, samples) of a
        section, (inline, crossline) of a volume.
        """
        k, flips = t[0], t[1:]
        nd = len(flips)
        out = []
        for x in (cond, hr):
            for ax, f in zip(range(-nd, 0), flips):
                if f:
                    x = np.flip(x, axis=ax)
            out.append(np.rot90(x, k, axes=(-nd, -nd + 1)))
        return out[0], out[1]
