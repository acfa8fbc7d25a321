"""Write an OpenFWI-format data set by acoustic modelling of random velocity models.

Layout of ``out_dir`` (OpenFWI's): ``data{k}.npy`` float32 [file_size, n_src,
nt, n_rec], ``model{k}.npy`` float32 [file_size, 1, nz, nx] (m/s), and the
annotation files ``train.txt`` / ``test.txt`` (``data<TAB>model`` per line,
paths relative to ``out_dir``). Files ``0 .. n_train_files-1`` are training,
the rest test; sample ``i`` comes from ``default_rng([seed, i])``, so the two
splits are disjoint by construction and any file can be regenerated alone.

``out_dir`` is claimed first (:func:`ppsci_ext.outputs.claimed`): it must be new,
empty, or marked by an earlier run with the same generator settings (the counts
``n_train``/``n_test`` may change, since file ``k`` depends on ``k`` alone); any
other folder is refused and nothing is written. Each file is written atomically;
files already present with the right shape are kept, so an interrupted run
resumes where it stopped.
"""
import os
from typing import Dict
from typing import Sequence

import numpy as np
from tqdm import tqdm

from ppsci_ext.atomic import atomic_open
from ppsci_ext.atomic import write_npy
from ppsci_ext.data.fwi.velocity_models import make_velocity_models
from ppsci_ext.outputs import claimed
from ppsci_ext.physics import forward_model

__all__ = ["generate_openfwi", "generate_section", "prepare_openfwi", "generator_settings", "amplitude_range", "SPLITS",
           "COUNTS"]

SPLITS = ("train", "test")
WRITER = "ppsci_ext.data.fwi.generator.generate_openfwi"  # recorded in the marker of the folders it fills


COUNTS = ("n_train", "n_test")  # may change between runs on one folder: file k depends on k alone


def generator_settings(n_train: int, n_test: int, file_size: int, seed: int, models: Dict, modelling: Dict) -> Dict:
    """What decides the files of :func:`generate_openfwi` (recorded in the folder's marker)."""
    return {"seed": seed, "file_size": file_size, "models": dict(models), "modelling": dict(modelling),
            "n_train": n_train, "n_test": n_test}


def _complete(path, shape):
    try:
        return np.load(path, mmap_mode="r").shape == shape
    except (OSError, ValueError):
        return False


def generate_openfwi(out_dir: str, n_train: int, n_test: int, file_size: int, seed: int,
                     models: Dict, modelling: Dict, num_threads=None, progress=True,
                     splits: Sequence[str] = SPLITS, key: str = "GENERATE.out_dir") -> Dict[str, str]:
    """Generate the files of ``splits`` (both by default; ``("test",)`` for an evaluation that reads no
    training data) and their annotation files; returns {split: anno_path}.

    ``models`` holds the model-family rules (see ``make_velocity_models``), ``modelling`` the
    ``forward_model`` keyword arguments; ``key`` names ``out_dir``'s setting in messages.
    """
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n <= 0 or n % file_size:
            raise ValueError(f"GENERATE.{name}: expected a positive multiple of file_size={file_size}, found {n}")
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"generate_openfwi: splits must be among {list(SPLITS)}, found {sorted(unknown)}")
    settings = generator_settings(n_train, n_test, file_size, seed, models, modelling)
    n_files_train, n_files = n_train // file_size, (n_train + n_test) // file_size
    files = {"train": range(n_files_train), "test": range(n_files_train, n_files)}
    with claimed(out_dir, WRITER, settings, key, ignore=COUNTS):
        _write_files([k for split in SPLITS if split in splits for k in files[split]], out_dir, file_size, seed,
                     models, modelling, num_threads, progress)
        annos = {}
        for split in splits:
            annos[split] = os.path.join(out_dir, f"{split}.txt")
            with atomic_open(annos[split], "w") as f:
                f.write("\n".join(f"data{k}.npy\tmodel{k}.npy" for k in files[split]) + "\n")
    return annos


def _write_files(ks, out_dir, file_size, seed, models, modelling, num_threads, progress):
    """``data{k}.npy`` and ``model{k}.npy`` for every ``k`` in ``ks`` not already complete."""
    nz, nx = models["nz"], models["nx"]
    n_rec = nx if modelling.get("rec_x") is None else len(modelling["rec_x"])
    data_shape = (file_size, len(modelling["src_x"]), modelling["nt"], n_rec)
    for k in tqdm(ks, desc="modelling", unit="file", disable=not progress):
        dpath, mpath = os.path.join(out_dir, f"data{k}.npy"), os.path.join(out_dir, f"model{k}.npy")
        if _complete(mpath, (file_size, 1, nz, nx)) and _complete(dpath, data_shape):
            continue
        vel = make_velocity_models(range(k * file_size, (k + 1) * file_size), seed, **models)
        data = forward_model(vel[:, 0], num_threads=num_threads, **modelling)
        write_npy(mpath, vel)
        write_npy(dpath, data)


def generate_section(gen: Dict, modelling: Dict, num_threads=None, splits: Sequence[str] = SPLITS) -> Dict[str, str]:
    """:func:`generate_openfwi` from a config's ``GENERATE`` section ``gen`` (out_dir, n_train, n_test, file_size,
    seed, models) and its ``MODELLING`` keyword arguments."""
    return generate_openfwi(gen["out_dir"], gen["n_train"], gen["n_test"], gen["file_size"], gen["seed"],
                            gen["models"], modelling, num_threads=num_threads, splits=splits)


def prepare_openfwi(annos: Sequence[str], gen: Dict, modelling: Dict, num_threads=None) -> list:
    """Build the files behind those annotation files of ``annos`` that are the generator's own (``gen["out_dir"]``'s
    train.txt / test.txt) when they are missing (:func:`generate_section`); files present are only read, with a
    warning where the folder records other settings than ``gen``'s. Annotation files of your own are never built.
    Returns the splits built."""
    from ppsci.utils import logger

    from ppsci_ext.outputs import differences
    from ppsci_ext.outputs import same_file

    out_dir = gen["out_dir"]
    splits = [s for s in SPLITS if any(same_file(a, os.path.join(out_dir, f"{s}.txt")) for a in annos)]
    own = [os.path.join(out_dir, f"{s}.txt") for s in splits]
    if not splits:
        return []
    if all(map(os.path.isfile, own)):
        diff = differences(out_dir, generator_settings(gen["n_train"], gen["n_test"], gen["file_size"], gen["seed"],
                                                       gen["models"], modelling), COUNTS)
        if diff:
            logger.warning(f"GENERATE.out_dir={out_dir} holds data generated with other settings than the config's "
                           f"({'; '.join(diff)}): they are read as they are")
        return []
    n = sum(gen["n_train"] if s == "train" else gen["n_test"] for s in splits)
    est = f"{n / 12 / 60:.0f} min" if n / 12 >= 90 else f"{n / 12:.0f} s"  # ~12 samples/s on 2 CPU cores (README)
    logger.message(f"{own[0]} not found: building {n} samples ({'/'.join(splits)}) by acoustic FD modelling in "
                   f"{out_dir} (about {est} on 2 CPU cores; the bar shows the time left)")
    generate_section(gen, modelling, num_threads, splits)
    return splits


def amplitude_range(out_dir: str, n_files: int):
    """(min, max) amplitude over ``data0.npy .. data{n_files - 1}.npy`` in ``out_dir`` (0 included)."""
    lo = hi = 0.0
    for k in range(n_files):
        d = np.load(os.path.join(out_dir, f"data{k}.npy"), mmap_mode="r")
        lo, hi = min(lo, float(d.min())), max(hi, float(d.max()))
    return lo, hi
