"""Where a run may write, so that a user's files are read and never changed.

Three rules, one home:

- **Data folders the project fills** with synthetic data (VelocityGAN's ``GENERATE.out_dir``, GDRNN's
  ``DATA.out_dir``, MD Diffusion's ``DATA.root``) are claimed before anything is written in them
  (:func:`claim_folder`): a folder that does not exist or is empty (no entry at all, not even an empty
  subfolder) is created and marked with :data:`MARKER`, a JSON file naming the writer and its settings,
  *before* the first data file, so a run stopped half-way leaves a folder known to be the project's. A
  marked folder is written into again only with the settings it records. Any other folder (it holds
  something and no marker: someone's own data) is refused, naming what it holds; it is only ever read.
- **Output paths** (:func:`check_output_file`, :func:`check_output_folder`) are never an input of the run
  (the same file by path, symbolic link or hard link), never inside a data folder the run reads, and must
  be writable; an existing output file is replaced only when the config says so.
- **Interrupted writes**: every write goes through :mod:`ppsci_ext.atomic` (temporary file, then rename);
  the temporary files a killed run leaves behind are removed by :func:`remove_orphans` when the next run
  holds the folder's lock (:func:`folder_lock`), so no live writer's file is ever removed.
"""
import contextlib
import fcntl
import json
import os
import re
import time
from typing import Dict
from typing import Iterable
from typing import Optional
from typing import Sequence
from typing import Tuple

from ppsci_ext.atomic import write_json

__all__ = ["MARKER", "folder_state", "claim_folder", "claimed", "mark_folder", "differences", "check_output_file", "check_output_folder", "same_file",
           "inside", "remove_orphans", "lock_folder", "folder_lock"]

MARKER = ".ppsci_ext_synthetic"  # in a folder of data the project wrote: JSON {"generator": ..., "settings": ...}
# names of ppsci_ext.atomic's temporary files: "." + target name + "." + mkstemp's 8 random characters + ".tmp"
_TMP_RE = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def _few(names: Sequence[str], k: int = 6) -> str:
    names = sorted(names)
    return ", ".join(names[:k]) + (f" ... ({len(names)} in all)" if len(names) > k else "")


def folder_state(folder: str) -> str:
    """``"new"`` (missing, or an empty folder), ``"ours"`` (carries :data:`MARKER`) or ``"user"`` (holds
    anything else, e.g. someone's files or empty subfolders made for them: only ever read). A path that
    is a file is a NotADirectoryError."""
    folder = str(folder)
    if not os.path.exists(folder):
        return "new"
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"{folder}: expected a folder, found a file")
    if os.path.isfile(os.path.join(folder, MARKER)):
        return "ours"
    return "user" if os.listdir(folder) else "new"


def _recorded(folder: str, fix: str) -> Dict:
    path = os.path.join(folder, MARKER)
    try:
        with open(path) as fh:
            rec = json.load(fh)
        if not isinstance(rec, dict) or not isinstance(rec.get("settings", {}), dict):
            raise TypeError(f"expected a JSON object with an object 'settings', found {type(rec).__name__}")
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"{path}: unreadable record of the generated data's settings ({e}); {fix}") from None
    return rec


def claim_folder(folder: str, writer: str, settings: Optional[Dict], key: str,
                 ignore: Iterable[str] = ()) -> Dict:
    """Make ``folder`` the project's before ``writer`` (a name, e.g. the generating function) writes into it.

    A new or empty folder is created and marked (:data:`MARKER`, JSON of ``writer`` and ``settings``). A
    marked folder is taken again if its recorded settings equal ``settings`` except the keys in ``ignore``
    (``settings=None``: not compared). Otherwise a ValueError names the folder, the config ``key`` that set
    it, and what it holds or which settings differ, and nothing is written. Returns the settings recorded
    before this call (``{}`` for a new folder), for checks of the caller's own (e.g. a count that may grow).
    """
    folder = str(folder)
    fix = f"delete {folder} (it is the project's own) to generate it again, or choose another {key}"
    state = folder_state(folder)
    if state == "user":
        raise ValueError(f"{key}={folder} holds files the project did not write ({_few(os.listdir(folder))}; no "
                         f"{MARKER} file): nothing is generated into a folder of your own. Choose a new or empty "
                         f"{key}, or point the run at your files to read them")
    recorded = {}
    if state == "ours":
        recorded = dict(_recorded(folder, fix).get("settings") or {})
        diff = differences(folder, settings, ignore) if settings is not None and recorded else []
        if diff:
            raise ValueError(f"{key}={folder} holds data generated with other settings (recorded in "
                             f"{os.path.join(folder, MARKER)}): {'; '.join(diff)}; {fix}")
    if state == "new" or (settings is not None and not recorded):
        mark_folder(folder, writer, settings or {})
    return recorded


def differences(folder: str, settings: Dict, ignore: Iterable[str] = ()) -> list:
    """``"KEY: A there, B now"`` for every setting (but those in ``ignore``) that the marker of the project's
    folder ``folder`` records with another value than ``settings``; [] for a folder without a marker."""
    if not os.path.isfile(os.path.join(folder, MARKER)):
        return []
    recorded = dict(_recorded(folder, f"delete {folder} to generate it again").get("settings") or {})
    skip = set(ignore)
    return [f"{k}: {recorded.get(k)!r} there, {settings.get(k)!r} now" for k in sorted(set(recorded) | set(settings))
            if k not in skip and _plain(recorded.get(k)) != _plain(settings.get(k))]


def mark_folder(folder: str, writer: str, settings: Dict) -> None:
    """Write (or replace) the :data:`MARKER` of ``folder`` (created if missing): ``writer`` and ``settings``."""
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, MARKER), {"generator": writer, "settings": _plain(settings)})


@contextlib.contextmanager
def claimed(folder: str, writer: str, settings: Optional[Dict], key: str, ignore: Iterable[str] = ()):
    """``with claimed(folder, ...) as recorded:`` write data into ``folder``: it is claimed
    (:func:`claim_folder`, same arguments and result) while this process holds its lock, and the
    temporary files of an interrupted earlier write are removed first (:func:`remove_orphans`)."""
    if folder_state(folder) == "user":
        claim_folder(folder, writer, settings, key, ignore)  # raises, naming what the folder holds
    busy = f"another run is writing data into {folder} ({key}); wait for it to end, or choose another {key}"
    with folder_lock(folder, busy):
        recorded = claim_folder(folder, writer, settings, key, ignore)
        remove_orphans(folder)
        yield recorded


def _plain(x):
    """``x`` as JSON reads it back (tuples -> lists, numpy scalars -> numbers), for comparisons."""
    return json.loads(json.dumps(x, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


# ------------------------------------------------------------ output paths
def same_file(a: str, b: str) -> bool:
    """True when the paths ``a`` and ``b`` name one file: equal after resolving links, or the same inode."""
    if os.path.realpath(os.path.abspath(a)) == os.path.realpath(os.path.abspath(b)):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def inside(path: str, folder: str) -> bool:
    """True when ``path`` is ``folder`` or lies under it (links resolved)."""
    p, f = os.path.realpath(os.path.abspath(path)), os.path.realpath(os.path.abspath(folder))
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)


def _nearest_existing(path: str) -> str:
    p = os.path.abspath(path)
    while not os.path.exists(p):
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    return p


def _check_writable(folder: str, key: str, value: str) -> None:
    """PermissionError / NotADirectoryError unless ``folder`` (or the folder it would be made in) takes files."""
    base = _nearest_existing(folder)
    if not os.path.isdir(base):
        raise NotADirectoryError(f"{key}={value}: {base} is a file, so no folder can be made there; choose "
                                 f"another {key}")
    if not os.access(base, os.W_OK | os.X_OK):
        raise PermissionError(f"{key}={value}: {base} is not writable by this user; choose a writable {key}")


def _refuse_inputs_and_data(path: str, key: str, inputs: Sequence[Tuple[str, Optional[str]]],
                            data_folders: Sequence[Tuple[str, Optional[str]]]) -> None:
    for in_key, in_path in inputs:
        if in_path and same_file(path, in_path):
            raise ValueError(f"{key}={path} is the same file as {in_key}={in_path}: the run would replace its own "
                             f"input. Give {key} another path")
    for data_key, folder in data_folders:
        if folder and inside(path, folder):
            raise ValueError(f"{key}={path} lies inside the data folder {data_key}={folder}, which the run only "
                             f"reads: give {key} a path outside it")


def check_output_file(path: str, key: str, inputs: Sequence[Tuple[str, Optional[str]]] = (),
                      data_folders: Sequence[Tuple[str, Optional[str]]] = (), overwrite: bool = False,
                      overwrite_key: str = "INFER.overwrite") -> str:
    """Check the output file ``path`` set by the config ``key`` before any work: not one of ``inputs``
    (``[(key, path)]``), not inside one of ``data_folders`` (``[(key, folder)]``), not a folder, in a
    writable place, and not an existing file unless ``overwrite`` (the key ``overwrite_key``). Returns
    ``path``; otherwise an error naming the keys, the paths and what to change."""
    path = str(path)
    _refuse_inputs_and_data(path, key, inputs, data_folders)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{key}={path} is a folder; give a file name")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{key}={path} exists and is not replaced: give a new file name, remove it, or "
                              f"set {overwrite_key}=true to replace it")
    _check_writable(os.path.dirname(os.path.abspath(path)), key, path)
    return path


def check_output_folder(folder: str, key: str, inputs: Sequence[Tuple[str, Optional[str]]] = (),
                        data_folders: Sequence[Tuple[str, Optional[str]]] = ()) -> str:
    """Check the output folder ``folder`` (config ``key``): not an input file, not inside a data folder,
    not a file, and writable (or creatable). Returns ``folder``."""
    folder = str(folder)
    _refuse_inputs_and_data(folder, key, inputs, data_folders)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f"{key}={folder} is a file; give a folder")
    _check_writable(folder, key, folder)
    return folder


# ---------------------------------------------------- interrupted writes
def remove_orphans(folder: str) -> list:
    """Remove the temporary files of :mod:`ppsci_ext.atomic` that an interrupted write left in ``folder``
    (only names of its pattern, ``.<name>.<8 characters>.tmp``). Call it while holding the folder's
    :func:`folder_lock`, so that no live writer's file is removed. Returns the removed paths."""
    if not os.path.isdir(folder):
        return []
    removed = []
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if _TMP_RE.match(name) and os.path.isfile(path):
            try:
                os.remove(path)
                removed.append(path)
            except FileNotFoundError:
                pass
    return removed


def lock_folder(folder: str, busy: str, wait: float = 5.0) -> int:
    """An exclusive lock on ``folder`` (created if missing): the open descriptor that holds it (release with
    ``os.close``). If another live process holds it after ``wait`` seconds, a RuntimeError says ``busy``
    (what the other process is doing there, and what to do).

    The lock is the kernel's (``flock`` on the folder, no lock file): it goes with its process, also one
    killed with ``kill -9``, so nothing stale is left to block a later run; ``wait`` lets the workers of a
    just-killed run exit."""
    os.makedirs(folder, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise RuntimeError(busy) from None
            time.sleep(0.2)


@contextlib.contextmanager
def folder_lock(folder: str, busy: str, wait: float = 5.0):
    """``with folder_lock(folder, busy):`` holds :func:`lock_folder` for the block."""
    fd = lock_folder(folder, busy, wait)
    try:
        yield fd
    finally:
        os.close(fd)
