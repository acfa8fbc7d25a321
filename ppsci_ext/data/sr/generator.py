"""Synthetic high-resolution seismic sections and their degradation to noisy low resolution.

The built-in data source for MD Diffusion (joint denoising + 2x super-resolution),
since the training pairs of Li, Wu & Hu (2022) cannot be downloaded.

Axis convention (as the field ``.dat`` files): a section is [n_traces, n_samples],
axis 0 = trace (lateral position), axis 1 = time sample (``dt`` seconds apart).

* :func:`synthetic_section` - sparse layered reflectivity, bent by smooth folds and
  offset by planar faults, convolved along time with a Ricker wavelet; max |value| = 1.
* :func:`degrade` - the degradation operator: Gaussian anti-alias low-pass, 2x decimation
  keeping even samples (LR sample ``i`` sits on HR sample ``2 i``), plus white or
  band-limited Gaussian noise whose std is given relative to the RMS of the clean LR section.
* :func:`generate_pairs` - writes ``nx2/NNNN.dat`` (LR) and ``sx/NNNN.dat`` (HR), raw float32.
* :func:`prepare_pairs` - the pairs a run uses: synthetic ones written first where allowed.

Folders of data are never written into unless they are the generator's own
(:func:`ppsci_ext.outputs.claimed`): it writes only into a folder that is new or empty, and marks
it with a ``.ppsci_ext_synthetic`` file (JSON of the generator settings); a marked folder resumes,
if its settings are those asked for. A folder holding anything else (a user's own pairs, or empty
``nx2/`` and ``sx/`` made for them) is only ever read.
"""
import inspect
import json
import os
from typing import Callable
from typing import List
from typing import Optional
from typing import Sequence
from typing import Tuple
from typing import Union

import numpy as np
from scipy import ndimage
from scipy import signal

from ppsci_ext.data.sr.reader import pair_files
from ppsci_ext.data.sr.reader import write_dat
from ppsci_ext.outputs import MARKER
from ppsci_ext.outputs import claimed
from ppsci_ext.outputs import folder_state
from ppsci_ext.outputs import mark_folder
from ppsci_ext.physics.wavelets import ricker
from ppsci_ext.physics.wavelets import ricker_length

__all__ = ["synthetic_section", "degrade", "generate_pairs", "prepare_pairs"]

Range = Union[float, Tuple[float, float]]
WRITER = "ppsci_ext.data.sr.generator.generate_pairs"  # recorded in the MARKER of the folders it fills


def _draw(rng, r: Range) -> float:
    """A fixed value or a uniform draw from (lo, hi)."""
    if np.isscalar(r):
        return float(r)
    lo, hi = r
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


def _draw_int(rng, r) -> int:
    if np.isscalar(r):
        return int(r)
    lo, hi = r
    return int(rng.integers(int(lo), int(hi) + 1))


def _zero_phase_ricker(freq: float, dt: float) -> np.ndarray:
    """Zero-phase Ricker of peak frequency ``freq`` (Hz) every ``dt`` s, +-1.5 / freq s long, float64, max 1."""
    return ricker(freq, ricker_length(freq, dt), dt, centred=True, dtype=np.float64)


def synthetic_section(rng: np.random.Generator, size: int = 256, freq_range: Range = (20, 45),
                      dt: float = 0.002, n_layers_range=(30, 80), fold_amp: Range = (0.0, 15.0),
                      n_folds_range=(1, 4), n_faults_range=(0, 3), throw_range: Range = (3.0, 20.0),
                      dip_range: Range = (50.0, 80.0), n_traces: Optional[int] = None, ndim: int = 2) -> np.ndarray:
    """One high-resolution section float32 [n_traces, size] (traces x time samples), max |value| 1;
    with ``ndim=3`` a volume [n_traces, n_traces, size] (inline x crossline x time).

    Args:
        rng: numpy Generator (all randomness comes from it).
        size: number of time samples (and of traces unless ``n_traces`` is given).
        freq_range: Ricker peak frequency (Hz), drawn uniformly; a number fixes it.
        dt: time sample interval (s).
        n_layers_range: number of reflecting boundaries (inclusive range).
        fold_amp: largest time shift of the folding (samples), drawn per section.
        n_folds_range: number of Gaussian bumps + one sinusoid building the folding.
        n_faults_range: number of planar faults (inclusive range).
        throw_range: fault throw (samples, sign random).
        dip_range: fault dip from horizontal (degrees) in the trace-sample plane.
        ndim: 2 (section) or 3 (volume). In 3-D the bumps have 2-D centres and the sinusoid
            and each fault get a random strike in the inline-crossline plane; the 2-D draws
            are unchanged by this option.
    """
    if ndim not in (2, 3):
        raise ValueError(f"synthetic_section: ndim must be 2 or 3, found {ndim}")
    nx = size if n_traces is None else int(n_traces)
    nt = int(size)
    lateral = (nx,) * (ndim - 1)
    # lateral coordinates, each [*lateral, 1] (2-D: one axis [nx, 1])
    coords = [c[..., None] for c in np.meshgrid(*[np.arange(nx, dtype=np.float64)] * (ndim - 1), indexing="ij")]

    def along(theta):  # lateral coordinate along a strike-normal direction (2-D: the trace axis)
        return coords[0] if ndim == 2 else coords[0] * np.cos(theta) + coords[1] * np.sin(theta)

    margin = 0.25 * nt
    n_layers = _draw_int(rng, n_layers_range)
    t0 = np.sort(rng.uniform(-margin, nt + margin, n_layers)).reshape((1,) * (ndim - 1) + (-1,))  # [1.., L]
    amp = rng.uniform(0.2, 1.0, n_layers) * rng.choice([-1.0, 1.0], n_layers)

    # folding: smooth shift in time, growing with depth so shallow layers stay flatter
    famp = _draw(rng, fold_amp)
    shift = np.zeros(lateral + (1,))
    for _ in range(_draw_int(rng, n_folds_range)):
        c = rng.uniform(0, nx, ndim - 1)
        w = rng.uniform(0.1, 0.4) * nx
        r2 = sum(np.square(x - ci) for x, ci in zip(coords, c))
        shift += rng.uniform(-1, 1) * np.exp(-0.5 * r2 / w ** 2)
    a_sin = rng.uniform(-0.5, 0.5)
    period, phase = rng.uniform(0.5, 2.0), rng.uniform(0, 2 * np.pi)
    u = along(rng.uniform(0, 2 * np.pi) if ndim == 3 else 0.0)
    shift += a_sin * np.sin(2 * np.pi * u / period / nx + phase)
    peak = np.abs(shift).max()
    if peak > 0:
        shift *= famp / peak
    depth_gain = 0.5 + (t0 + margin) / (nt + 2 * margin)  # 0.5 .. 1.5
    tk = t0 + shift * depth_gain  # [*lateral, L]

    # faults: points on one side of a plane (through (xc, tc), slope from the dip) move by the throw
    for _ in range(_draw_int(rng, n_faults_range)):
        xc, tc = rng.uniform(0.2, 0.8) * nx, rng.uniform(0.2, 0.8) * nt
        dip = np.deg2rad(_draw(rng, dip_range)) * rng.choice([-1.0, 1.0])
        throw = _draw(rng, throw_range) * rng.choice([-1.0, 1.0])
        if ndim == 2:
            x = coords[0]
        else:  # distance along a random strike-normal, measured from the centre (xc, yc)
            yc, theta = rng.uniform(0.2, 0.8) * nx, rng.uniform(0, 2 * np.pi)
            x = xc + (coords[0] - xc) * np.cos(theta) + (coords[1] - yc) * np.sin(theta)
        fault_x = xc + (tk - tc) / np.tan(dip)  # the fault's lateral position at each boundary time
        tk = tk + throw * (x > fault_x)

    # render boundaries as sub-sample spikes (linear split between neighbouring samples)
    tk = tk.reshape(-1, n_layers)
    refl = np.zeros((tk.shape[0], nt))
    i0 = np.floor(tk).astype(int)
    frac = tk - i0
    rows = np.broadcast_to(np.arange(tk.shape[0])[:, None], tk.shape)
    a = np.broadcast_to(amp[None, :], tk.shape)
    for idx, wgt in ((i0, 1 - frac), (i0 + 1, frac)):
        ok = (idx >= 0) & (idx < nt)
        np.add.at(refl, (rows[ok], idx[ok]), (a * wgt)[ok])

    w = _zero_phase_ricker(_draw(rng, freq_range), dt)
    sec = signal.fftconvolve(refl, w[None, :], mode="same", axes=1).reshape(lateral + (nt,))
    peak = np.abs(sec).max()
    return (sec / peak if peak > 0 else sec).astype(np.float32)


def degrade(hr: np.ndarray, rng: np.random.Generator, noise_std: Range = (0.05, 0.3),
            band_limited: Union[bool, str] = False, sigma: float = 1.0, dt: float = 0.002,
            noise_freq_range: Range = (10.0, 60.0), noise_lateral_sigma: float = 1.0,
            return_info: bool = False, grid: str = "aligned"):
    """HR section [n1, n2] (or volume [n1, n2, n3], time last) -> noisy LR [ceil(n1/2), ...] float32.

    Gaussian low-pass (``sigma`` HR samples on both axes, mirrored edges; 1.0 leaves < 1% at the HR
    Nyquist) then, with ``grid="aligned"`` (the project's convention, that of
    :func:`ppsci_ext.data.sr.dataset.upsample2`), keep even samples, so LR ``[i, j]`` = smoothed HR
    ``[2i, 2j]``; with ``grid="centred"`` (image libraries' resizing) LR ``[i, j]`` is the mean of the
    smoothed HR block ``[2i:2i+2, 2j:2j+2]``, centred half an HR sample later on each axis. Noise
    is Gaussian with std ``noise_std`` x RMS(clean LR) (``noise_std`` a number or a
    (lo, hi) range drawn uniformly). With ``band_limited`` the noise is coloured:
    white noise filtered along time with a Ricker of peak frequency drawn from
    ``noise_freq_range`` (Hz, LR interval ``2 dt``) and across traces (every lateral axis) with a
    Gaussian of ``noise_lateral_sigma`` LR traces, then rescaled to the requested std.
    ``band_limited="mixed"`` and ``grid="mixed"`` draw one of the two (even odds) from ``rng``, per call, so
    that a set of pairs holds both. ``return_info`` also returns ``{"noise_std": relative std, "noise": the
    noise array, "band_limited": bool, "grid": str}``.
    """
    hr = np.asarray(hr, dtype=np.float64)
    if hr.ndim not in (2, 3):
        raise ValueError(f"degrade: expected a 2-D section [traces, samples] or a 3-D volume "
                         f"[inline, crossline, samples], found shape {hr.shape}")
    if grid not in ("aligned", "centred", "mixed"):
        raise ValueError(f"degrade: grid must be 'aligned', 'centred' or 'mixed', found {grid!r}")
    if band_limited not in (True, False, "mixed"):
        raise ValueError(f"degrade: band_limited must be true, false or 'mixed', found {band_limited!r}")
    if grid == "mixed":
        grid = ("aligned", "centred")[int(rng.integers(2))]
    if band_limited == "mixed":
        band_limited = bool(rng.integers(2))
    smooth = ndimage.gaussian_filter(hr, sigma, mode="mirror") if sigma > 0 else hr
    if grid == "aligned":
        clean = smooth[(slice(None, None, 2),) * hr.ndim]
    else:  # mean of each 2 x 2 (x 2) block; an odd last sample is its own block
        clean = smooth
        for ax in range(hr.ndim):
            y = np.moveaxis(clean, ax, 0)
            if y.shape[0] % 2:
                y = np.concatenate([y, y[-1:]])
            clean = np.moveaxis(0.5 * (y[0::2] + y[1::2]), 0, ax)
    rel = _draw(rng, noise_std)
    rms = float(np.sqrt(np.mean(clean ** 2)))
    noise = rng.standard_normal(clean.shape)
    if band_limited:
        w = _zero_phase_ricker(_draw(rng, noise_freq_range), 2 * dt)
        noise = signal.fftconvolve(noise, w.reshape((1,) * (hr.ndim - 1) + (-1,)), mode="same", axes=-1)
        if noise_lateral_sigma > 0:
            for ax in range(hr.ndim - 1):
                noise = ndimage.gaussian_filter1d(noise, noise_lateral_sigma, axis=ax, mode="mirror")
        noise /= max(noise.std(), 1e-30)
    noise *= rel * rms
    lr = (clean + noise).astype(np.float32)
    if return_info:
        return lr, {"noise_std": rel, "noise": noise.astype(np.float32), "band_limited": band_limited, "grid": grid}
    return lr


_DEGRADE_KW = set(inspect.signature(degrade).parameters) - {"hr", "rng", "return_info"}


def _complete(path, nbytes):
    return os.path.isfile(path) and os.path.getsize(path) == nbytes


def _plain(x):
    """JSON form of numpy values (and the text of anything else) in the generator settings."""
    return x.tolist() if hasattr(x, "tolist") else str(x)


def _settings(n, seed, size, ndim, lr_dir, hr_dir, kw) -> dict:
    """Every setting that decides the pairs (defaults filled in), as JSON reads it back."""
    settings = {"n_pairs": n, "seed": seed, "size": size, "ndim": ndim, "lr_dir": lr_dir, "hr_dir": hr_dir}
    for fn, own in ((synthetic_section, {"rng", "size", "ndim"}), (degrade, {"hr", "rng", "return_info"})):
        settings.update({k: p.default for k, p in inspect.signature(fn).parameters.items() if k not in own})
    settings.update(kw)
    return json.loads(json.dumps(settings, default=_plain))


def generate_pairs(out_dir: str, n: int, seed: int, size: int = 256, progress: bool = True,
                   lr_dir: str = "nx2", hr_dir: str = "sx", ndim: int = 2, root_key: str = "out_dir",
                   **kw) -> List[str]:
    """Write ``n`` synthetic pairs: ``out_dir/sx/NNNN.dat`` [size, size] and ``out_dir/nx2/NNNN.dat``
    [size/2, size/2], raw little-endian float32 (traces x samples); with ``ndim=3`` volumes
    [size, size, size] and [size/2, size/2, size/2] (inline x crossline x samples). Returns the stems.

    Pair ``i`` comes from ``np.random.default_rng([seed, i])`` (section, then degradation),
    so any pair can be regenerated alone. ``kw`` goes to :func:`degrade` for its argument
    names (``noise_std``, ``band_limited``, ``sigma``, ...) and to
    :func:`synthetic_section` for the rest (``freq_range``, ``dt`` goes to both).

    ``out_dir`` must be new or empty (it is then created and marked with :data:`MARKER`,
    JSON of every setting), or carry that marker: there files already present with the right
    size are kept (an interrupted run resumes, a larger ``n`` adds pairs). Any other folder
    (files without the marker: someone's own data), or a marked one whose recorded settings
    differ, is a ValueError naming the folder (and the settings that differ; ``root_key`` is
    the name of the folder's setting, for the message) and nothing is written.
    """
    if size % 2:
        raise ValueError(f"generate_pairs: size must be even, found {size}")
    deg_kw = {k: v for k, v in kw.items() if k in _DEGRADE_KW}
    sec_kw = {k: v for k, v in kw.items() if k not in _DEGRADE_KW or k == "dt"}
    unknown = set(sec_kw) - set(inspect.signature(synthetic_section).parameters)
    if unknown:
        raise TypeError(f"generate_pairs: unknown arguments {sorted(unknown)}")
    out_dir = str(out_dir)
    settings = _settings(n, seed, size, ndim, lr_dir, hr_dir, kw)
    # pair i depends on (seed, i) only, so a marked folder may grow (a larger n), never shrink
    with claimed(out_dir, WRITER, settings, root_key,
                 ignore=("n_pairs",)) as recorded:
        if n < recorded.get("n_pairs", 0):
            raise ValueError(f"{root_key}={out_dir} holds synthetic pairs generated with other settings (recorded "
                             f"in {os.path.join(out_dir, MARKER)}): n_pairs: {recorded['n_pairs']} there, {n} now "
                             f"(the folder holds more pairs than asked for, and every file in it would be used); "
                             f"delete {out_dir} to generate the pairs again, or choose another {root_key}")
        if recorded and recorded.get("n_pairs", 0) < n:
            mark_folder(out_dir, WRITER, settings)  # the folder grows: it records the new count
        return _write_pairs(out_dir, n, seed, size, ndim, lr_dir, hr_dir, progress, sec_kw, deg_kw)


def _write_pairs(out_dir, n, seed, size, ndim, lr_dir, hr_dir, progress, sec_kw, deg_kw) -> List[str]:
    """The pairs of :func:`generate_pairs` not yet complete in ``out_dir`` (claimed by it); returns all stems."""
    from tqdm import tqdm

    lo, hi = os.path.join(out_dir, lr_dir), os.path.join(out_dir, hr_dir)
    os.makedirs(lo, exist_ok=True)
    os.makedirs(hi, exist_ok=True)
    stems = [f"{i:04d}" for i in range(n)]
    done = [_complete(os.path.join(lo, st + ".dat"), (size // 2) ** ndim * 4)
            and _complete(os.path.join(hi, st + ".dat"), size ** ndim * 4) for st in stems]
    # the bar only when something is written: a complete folder is checked silently
    for i in tqdm(range(n), desc="seismic SR pairs", disable=not progress or all(done)):
        if done[i]:
            continue
        rng = np.random.default_rng([seed, i])
        hr = synthetic_section(rng, size=size, ndim=ndim, **sec_kw)
        lr = degrade(hr, rng, **deg_kw)
        write_dat(os.path.join(hi, stems[i] + ".dat"), hr)
        write_dat(os.path.join(lo, stems[i] + ".dat"), lr)
    return stems


def prepare_pairs(root: str, generate: bool, n: int, seed: int, lr_shape: Sequence[int], hr_shape: Sequence[int],
                  log: Callable[[str], None] = print, lr_dir: str = "nx2", hr_dir: str = "sx",
                  prefix: str = "DATA", **kw) -> List[Tuple[str, str, str]]:
    """The pairs ``[(stem, lr_path, hr_path)]`` under ``root`` that a run uses (as ``reader.pair_files``).

    With ``generate``, a new or empty ``root``, or one marked by :func:`generate_pairs`, first gets
    ``n`` synthetic pairs (``seed``, ``kw`` as :func:`generate_pairs`; square sections of ``hr_shape``).
    A ``root`` holding other files is the user's own data: ``log`` says so and nothing is written.
    Files present in one folder only, or of the wrong size, are then a ValueError naming them.
    Messages name the settings as ``<prefix>.root``, ``<prefix>.hr_shape``, ...
    """
    lr_shape, hr_shape = tuple(int(v) for v in lr_shape), tuple(int(v) for v in hr_shape)
    if generate and folder_state(root) == "user":
        log(f"{prefix}.root {root} holds your own pairs (it has no {MARKER} file of generated data): nothing is "
            f"generated and the folder is only read")
    elif generate:
        if len(set(hr_shape)) != 1 or lr_shape != tuple(v // 2 for v in hr_shape):
            raise ValueError(f"{prefix}.hr_shape, {prefix}.lr_shape: the synthetic generator writes square sections "
                             f"/ cubic volumes and low-res ones of half the size, found hr_shape {list(hr_shape)}, "
                             f"lr_shape {list(lr_shape)} (set {prefix}.generate=false to use your own pairs)")
        generate_pairs(root, n, seed, size=hr_shape[0], ndim=len(hr_shape), lr_dir=lr_dir, hr_dir=hr_dir,
                       root_key=f"{prefix}.root", **kw)
    return pair_files(root, lr_dir, hr_dir, lr_shape, hr_shape)
