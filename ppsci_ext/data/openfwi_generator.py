"""Write an OpenFWI-format data set by acoustic modelling of random velocity models.

Layout of ``out_dir`` (OpenFWI's): ``data{k}.npy`` float32 [file_size, n_src,
nt, n_rec], ``model{k}.npy`` float32 [file_size, 1, nz, nx] (m/s), and the
annotation files ``train.txt`` / ``test.txt`` (``data<TAB>model`` per line,
paths relative to ``out_dir``). Files ``0 .. n_train_files-1`` are training,
the rest test; sample ``i`` comes from ``default_rng([seed, i])``, so the two
splits are disjoint by construction and any file can be regenerated alone.
Each file is written atomically; files already present with the right shape
are kept, so an interrupted run resumes where it stopped.
"""
import os
from typing import Dict

import numpy as np
from tqdm import tqdm

from ppsci_ext.atomic import atomic_open
from ppsci_ext.atomic import write_npy
from ppsci_ext.data.velocity_models import make_velocity_models
from ppsci_ext.physics import forward_model

__all__ = ["generate_openfwi", "amplitude_range"]


def _complete(path, shape):
    try:
        return np.load(path, mmap_mode="r").shape == shape
    except (OSError, ValueError):
        return False


def generate_openfwi(out_dir: str, n_train: int, n_test: int, file_size: int, seed: int,
                     models: Dict, modelling: Dict, num_threads=None, progress=True) -> Dict[str, str]:
    """Generate the data set; returns {"train": anno_path, "test": anno_path}.

    ``models`` holds the model-family rules (see ``make_velocity_models``),
    ``modelling`` the ``forward_model`` keyword arguments.
    """
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n <= 0 or n % file_size:
            raise ValueError(f"GENERATE.{name}: expected a positive multiple of file_size={file_size}, found {n}")
    os.makedirs(out_dir, exist_ok=True)
    n_files_train, n_files = n_train // file_size, (n_train + n_test) // file_size
    nz, nx = models["nz"], models["nx"]
    n_src = len(modelling["src_x"])
    n_rec = nx if modelling.get("rec_x") is None else len(modelling["rec_x"])
    data_shape = (file_size, n_src, modelling["nt"], n_rec)
    lines = {"train": [], "test": []}
    bar = tqdm(range(n_files), desc="modelling", unit="file", disable=not progress)
    for k in bar:
        dpath, mpath = os.path.join(out_dir, f"data{k}.npy"), os.path.join(out_dir, f"model{k}.npy")
        split = "train" if k < n_files_train else "test"
        lines[split].append(f"data{k}.npy\tmodel{k}.npy")
        if _complete(mpath, (file_size, 1, nz, nx)) and _complete(dpath, data_shape):
            continue
        vel = make_velocity_models(range(k * file_size, (k + 1) * file_size), seed, **models)
        data = forward_model(vel[:, 0], num_threads=num_threads, **modelling)
        write_npy(mpath, vel)
        write_npy(dpath, data)
    annos = {}
    for split, rows in lines.items():
        annos[split] = os.path.join(out_dir, f"{split}.txt")
        with atomic_open(annos[split], "w") as f:
            f.write("\n".join(rows) + "\n")
    return annos


def amplitude_range(out_dir: str, n_files: int):
    """(min, max) amplitude over ``data0.npy .. data{n_files - 1}.npy`` in ``out_dir`` (0 included)."""
    lo = hi = 0.0
    for k in range(n_files):
        d = np.load(os.path.join(out_dir, f"data{k}.npy"), mmap_mode="r")
        lo, hi = min(lo, float(d.min())), max(hi, float(d.max()))
    return lo, hi
