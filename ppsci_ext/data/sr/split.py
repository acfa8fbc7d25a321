"""The by-file train/val/test split of MD Diffusion's pairs, drawn once and stored as JSON with the data folder it
was drawn for: a split file drawn for another data folder, or whose stems differ from the data's, is an error."""
import json
import os
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np

from ppsci_ext.atomic import atomic_open
from ppsci_ext.data.sr.reader import few

__all__ = ["split_files", "write_split", "read_split", "split_once"]


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
            what.append(f"{len(missing)} stems of the split are not in the data ({few(missing, 5)})")
        if extra:
            what.append(f"{len(extra)} files of the data are in no part of the split ({few(extra, 5)})")
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
