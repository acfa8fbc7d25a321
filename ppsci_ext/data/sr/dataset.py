"""The SR dataset ppsci builds by name (``SeismicSRDataset``), and the grid and amplitude conventions of MD Diffusion.

Grid convention: LR sample ``[i, j]`` sits on HR sample ``[2i, 2j]`` (the LR is an anti-aliased decimation keeping
even samples), so an HR patch at ``(2a, 2b)`` of size ``p`` pairs with the LR patch at ``(a, b)`` of size ``p/2``,
and HR ``(i, j)`` lies in the cell of LR ``(i // 2, j // 2)``. :func:`upsample2` follows the same convention: every
mode reproduces the LR values exactly on the even HR samples.

Normalisation: each pair is divided by ``scale = max |LR|`` (the LR section is what is known at inference time;
the max keeps the condition in [-1, 1]). Outputs are brought back with ``x * scale``
(:meth:`SeismicSRDataset.denormalise`).
"""
import os
from typing import Dict
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np
from paddle import io

from ppsci_ext.data.sr import degradations
from ppsci_ext.data.sr.reader import check_finite
from ppsci_ext.data.sr.reader import check_varies
from ppsci_ext.data.sr.reader import pair_files
from ppsci_ext.data.sr.reader import read_dat

__all__ = ["SeismicSRDataset", "upsample2", "normalise", "denormalise", "warn_amplitude_ratios", "UPSAMPLE_MODES",
           "PAIR_RMS_RATIO"]


UPSAMPLE_MODES = ("nearest", "bilinear", "bicubic")


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
    check_finite(lr, f"normalise: {name}")
    check_varies(lr, f"normalise: {name}")
    scale = float(np.abs(lr).max())
    return (lr / scale).astype(np.float32), scale


def denormalise(x, scale):
    """Undo :func:`normalise`: ``x * scale`` (numpy or paddle; ``scale`` a number or per-item [B, 1...])."""
    return x * scale


DEGRADE_KEYS = {"operators", "max_phase", "blur", "noise", "coloured"}  # SeismicSRDataset's degrade= keys

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
        degrade: None (the LR files are the inputs), or a dict of
            :func:`ppsci_ext.data.sr.degradations.degrade_with`'s keyword arguments: every item then draws its LR
            afresh from its HR section (operator, sub-pixel phase, blur, white or coloured noise), its condition
            the LR placed on the operator's grid (``degradations.upsample``; ``interp`` is then unused), and the LR
            files are only checked. 2-D sections only.
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
                 scale_key: Optional[str] = "scale", weight: Optional[Dict[str, float]] = None,
                 degrade: Optional[Dict] = None):
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
        self.degrade = None if degrade is None else dict(degrade)
        if self.degrade is not None:
            if set(self.degrade) - DEGRADE_KEYS:
                raise ValueError(f"degrade: keys must be among {sorted(DEGRADE_KEYS)}, found keys {sorted(self.degrade)}")
            if self.ndim != 2:
                raise ValueError(f"DATA.degrade draws 2-D sections' inputs; for volumes (lr_shape {list(self.lr_shape)}) "
                                 f"set DATA.degrade=null (the LR files are then the inputs)")
            unknown = [o for o in self.degrade.get("operators", ()) if o not in degradations.OPERATORS]
            if unknown:
                raise ValueError(f"degrade.operators: expected names among {list(degradations.OPERATORS)}, "
                                 f"found {unknown}")
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
        check_finite(hr, f"{hp} divided by the scale {scale:g} (max |LR| of {lp})")
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
        if self.degrade is None:
            lr, hr, scale = self.lr_hr(idx % len(self.files))
            mode = self.interp if self.interp != "random" else ("nearest", "bilinear")[rng.integers(2)]
            cond = upsample2(lr, mode, self.ndim)
        else:  # a fresh LR from the HR section, conditioned on the grid of the operator drawn
            path, drawn = self.files[idx % len(self.files)][1], {}
            hr = read_dat(path, self.hr_shape)
            lr, scale = normalise(degradations.degrade_with(hr, rng, **self.degrade, info=drawn), path)
            hr = (hr / np.float32(scale)).astype(np.float32)
            cond = degradations.upsample(lr, degradations.grid_offset(drawn["operator"]))
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
