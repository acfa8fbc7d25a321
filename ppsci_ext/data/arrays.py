"""numpy files (``.npy``, ``.npz``) read with errors that say what is wrong with the file.

numpy's own errors for a bad file come from deep inside its reader (``EOFError``, ``BadZipFile``,
"cannot reshape array of size ..."). Here every failure is one error naming the file, the config key or
role that set it, and what was found: a missing path or a folder, an empty (0-byte) file, a file that is not
in the format (its first bytes), a truncated one (bytes found against those its header promises), or
Python objects (object dtype: never loaded, since unpickling them could run code).
"""
import os
import pickle
import zipfile
from typing import Dict
from typing import Optional

import numpy as np

__all__ = ["read_npy", "read_npz", "check_file"]

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def check_file(path: str, what: str) -> str:
    """``path`` if it is an existing, non-empty file; otherwise an error naming ``what`` (the key or role)."""
    path = str(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what}: {path} is a folder, expected a file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what}: file not found: {path}")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{what}: {path} is empty (0 bytes)")
    return path


def _head(path: str, n: int = 8) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _npy_expected_bytes(path: str) -> Optional[int]:
    """The size a .npy file must have by its header (None if the header itself cannot be read)."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            shape, fortran, dtype = np.lib.format._read_array_header(f, version)  # noqa: SLF001 - numpy's reader
            if dtype.hasobject:
                return None
            return f.tell() + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    except Exception:  # a header numpy cannot parse: reported as "not a .npy file" by the caller
        return None


def read_npy(path: str, what: str, mmap_mode: Optional[str] = None) -> np.ndarray:
    """The array in the ``.npy`` file ``path`` (memory-mapped with ``mmap_mode``, e.g. ``"r"``); ``what`` names
    the config key or role in messages. Object arrays are refused, never unpickled."""
    path = check_file(path, what)
    if _head(path, 4) == _ZIP_MAGIC:
        raise ValueError(f"{what}: {path} is a .npz archive, expected a .npy holding one array (numpy.save)")
    if _head(path, 6) != _NPY_MAGIC:
        raise ValueError(f"{what}: {path} is not a .npy file (it starts with {_head(path)!r}, a .npy file with "
                         f"{_NPY_MAGIC!r}); save arrays with numpy.save")
    try:
        arr = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            raise ValueError(f"{what}: {path} holds Python objects (an object array), which are not loaded because "
                             f"unpickling them could run code; save a numeric array (e.g. float32)") from None
        raise ValueError(_damaged(path, what, e)) from None
    except (OSError, EOFError, pickle.UnpicklingError) as e:
        raise ValueError(_damaged(path, what, e)) from None
    if arr.dtype.hasobject:
        raise ValueError(f"{what}: {path} holds Python objects (dtype {arr.dtype}); save a numeric array")
    return arr


def _damaged(path: str, what: str, e: BaseException) -> str:
    size, expected = os.path.getsize(path), _npy_expected_bytes(path)
    if expected is not None and size < expected:
        return f"{what}: {path} is truncated: {size} bytes, its header promises {expected}; write it again"
    return f"{what}: {path} cannot be read as a .npy array ({type(e).__name__}: {e})"


def read_npz(path: str, what: str, hints: Optional[Dict[str, str]] = None) -> Dict[str, np.ndarray]:
    """Every array of the ``.npz`` file ``path``, loaded, as a dict; a damaged archive or a key holding Python
    objects is an error naming the file (and key) and ``what``; ``hints[key]`` says how to store that key
    instead (default: "as a numeric array")."""
    path = check_file(path, what)
    if _head(path, 4) != _ZIP_MAGIC:
        raise ValueError(f"{what}: {path} is not a .npz archive (it starts with {_head(path)!r}); save arrays "
                         f"with numpy.savez")
    out = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                try:
                    out[key] = archive[key]
                except ValueError as e:
                    if "allow_pickle" in str(e) or "Object arrays" in str(e):
                        how = (hints or {}).get(key, "as a numeric array")
                        raise ValueError(f"{what}: {path}: key {key!r} is an object array; object arrays are not read "
                                         f"because loading them could run code (numpy unpickles them). Store "
                                         f"{key!r} {how}") from None
                    raise ValueError(f"{what}: {path}: key {key!r} cannot be read as a numpy array ({e})") from None
    except (zipfile.BadZipFile, EOFError, OSError, pickle.UnpicklingError) as e:
        raise ValueError(f"{what}: {path} is a damaged or truncated .npz archive ({type(e).__name__}: {e}); "
                         f"write it again") from None
    except ValueError as e:
        if str(e).startswith(what):
            raise
        raise ValueError(f"{what}: {path} cannot be read as a .npz archive ({e})") from None
    return out
