"""Readers and writers of seismic sections for MD Diffusion: raw ``.dat`` files, ``.npy`` and SEG-Y sections, and the
pairs of low/high-resolution sections a run trains on.

Layout of the pairs (that of Li, Wu & Hu, 2022): ``root/nx2/<stem>.dat`` noisy low-resolution sections [128, 128]
and ``root/sx/<stem>.dat`` clean high-resolution sections [256, 256], raw little-endian float32, no header. Axis 0
= trace, axis 1 = time sample (as the field files, e.g. ``kumano2_608x400.dat`` = 608 traces x 400 samples).

Bad inputs fail when they are read, naming the file: a wrong size, NaN/Inf values, constant sections (nothing to
super-resolve, and no scale), complex arrays.
"""
import os
import re
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np

from ppsci_ext.atomic import atomic_open
from ppsci_ext.data.arrays import read_npy

__all__ = ["shape_from_name", "read_dat", "write_dat", "read_section", "pair_files", "check_varies", "check_finite", "few"]


_SHAPE_RE = re.compile(r"_(\d+)x(\d+)\.dat$", re.IGNORECASE)


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
    check_finite(x, path)
    return x


def check_finite(x: np.ndarray, where: str) -> None:
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
    check_finite(x, path)
    check_varies(x, path)
    return x


def _list_dat(folder):
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"folder of .dat files not found: {folder}")
    return {os.path.splitext(f)[0]: os.path.join(folder, f) for f in os.listdir(folder)
            if f.lower().endswith(".dat") and not f.startswith(".")}


def few(items, k=10):
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
            msg.append(f"in {lo} only: {few(os.path.basename(lr[s]) for s in only_lr)}")
        if only_hr:
            msg.append(f"in {hi} only: {few(os.path.basename(hr[s]) for s in only_hr)}")
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
        raise ValueError(f"mis-sized seismic SR files: {few(bad, 5)}")
    return [(s, lr[s], hr[s]) for s in sorted(lr)]
