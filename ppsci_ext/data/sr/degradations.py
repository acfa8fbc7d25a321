"""The 2x degradations a user's low-resolution section may have been made by, as linear operators.

Every operator maps an HR axis of ``n = 2 m`` samples to ``m`` LR samples by a matrix ``D`` (``m x n``) and a
section by ``A x = D1 x D2^T`` (the same kind on both axes, traces and time). Conventions (HR samples ``j``):

- ``decimate``: LR ``i`` = HR ``2i`` (the project's aligned grid); ``decimate_odd``: LR ``i`` = HR ``2i + 1``.
- ``area``, ``bilinear``, ``bicubic``, ``lanczos``: LR ``i`` is centred at HR ``2i + 0.5`` (image libraries' grid)
  and is a weighted sum of HR samples with the weights PIL's ``Image.resize`` uses when it shrinks: the box,
  triangle, Keys cubic (a = -0.5, Catmull-Rom) or Lanczos-3 kernel stretched by 2 (anti-aliased), cut at the
  edges and renormalised. ``area`` is the 2-sample mean (OpenCV ``INTER_AREA``, skimage ``downscale_local_mean``).
- ``skimage``: ``skimage.transform.rescale(x, 0.5, anti_aliasing=True)`` with its default order 1: a Gaussian of
  std 0.5 samples (mirrored edges) then linear interpolation at ``2i + 0.5``.

Training draws, besides the operator, a sub-pixel phase (the HR section shifted by a fraction of a sample before
it is degraded) and a mild Gaussian blur; the operators themselves are what inference can undo. The three grids
(LR sample ``i`` at HR ``2i``, ``2i + 1`` or ``2i + 0.5``) cannot be told apart from a section alone: the network's
condition is the input placed on the grid of the operator named (:func:`upsample`), the aligned grid when none is.

:func:`project` makes a section consistent with its input: ``x + lam * A^+ (y - A x)`` with
``A^+ = D1^+ . D2^+`` (``D^+ = D^T (D D^T)^{-1}``), ``lam = 1`` for an exact projection (then ``A x = y``) or the
smallest step that brings the residual's RMS down to a noise level (the input's noise is not put back).
"""
import functools
from typing import Callable
from typing import Dict
from typing import Optional
from typing import Sequence
from typing import Tuple

import numpy as np
from scipy import ndimage

__all__ = ["OPERATORS", "matrix", "pinv", "apply", "project", "noise_level", "consistency_residual",
           "best_operator", "degrade_with", "TRAIN_OPERATORS", "grid_offset", "upsample", "recover"]


def _box(x):
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


def _triangle(x):
    return np.clip(1.0 - np.abs(x), 0.0, None)


def _keys(x, a=-0.5):
    x = np.abs(x)
    return np.where(x < 1, (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1,
                    np.where(x < 2, a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a, 0.0))


def _lanczos(x, a=3):
    return np.where(np.abs(x) < a, np.sinc(x) * np.sinc(x / a), 0.0)


_KERNELS: Dict[str, Tuple[Callable, float]] = {  # name -> (kernel, support in LR samples)
    "area": (_box, 0.5), "bilinear": (_triangle, 1.0), "bicubic": (_keys, 2.0), "lanczos": (_lanczos, 3.0)}

OPERATORS = ("decimate", "decimate_odd", "area", "bilinear", "bicubic", "lanczos", "skimage")
TRAIN_OPERATORS = OPERATORS  # every one of them is drawn in training (equal odds)
_OFFSETS = {"decimate": 0.0, "decimate_odd": 1.0}  # where LR sample i sits: HR 2i + offset (0.5 for the others)


def grid_offset(name: str) -> float:
    """Where operator ``name`` puts LR sample ``i`` on the HR axis: at ``2 i + grid_offset(name)``."""
    if name not in OPERATORS:
        raise ValueError(f"degradation: expected one of {list(OPERATORS)}, found {name!r}")
    return _OFFSETS.get(name, 0.5)


@functools.lru_cache(maxsize=64)
def _upsample_matrix(m: int, offset: float, cubic: bool = False) -> np.ndarray:
    u = np.clip((np.arange(2 * m) - offset) / 2.0, 0.0, m - 1)  # HR sample j in LR samples, edges held
    i0 = np.minimum(np.floor(u).astype(int), m - 1)
    t = u - i0
    rows = np.arange(2 * m)
    mat = np.zeros((2 * m, m))
    taps = ((0, 1.0 - t), (1, t)) if not cubic else tuple((k, _keys(t - k)) for k in (-1, 0, 1, 2))
    for k, w in taps:
        np.add.at(mat, (rows, np.clip(i0 + k, 0, m - 1)), w)
    mat.setflags(write=False)
    return mat


def upsample(y: np.ndarray, offset: float, cubic: bool = False) -> np.ndarray:
    """LR section [m1, m2] -> [2 m1, 2 m2] by linear (or Keys cubic, a = -0.5) interpolation from LR samples placed
    at HR ``2 i + offset`` (edges held): the network's condition on the grid of an operator (offset 0: ``upsample2``'s
    bilinear), and bicubic interpolation on that grid."""
    y = np.asarray(y, dtype=np.float64)
    u1, u2 = _upsample_matrix(y.shape[0], float(offset), cubic), _upsample_matrix(y.shape[1], float(offset), cubic)
    return (u1 @ y @ u2.T).astype(np.float32)


@functools.lru_cache(maxsize=64)
def _recover_matrix(name: str, n: int) -> np.ndarray:
    d = matrix(name, n)
    r = np.linalg.solve(d @ _upsample_matrix(n // 2, grid_offset(name)), d)
    r.setflags(write=False)
    return r


def recover(name: str, n: int) -> np.ndarray:
    """``R = (D U)^{-1} D`` (``n / 2 x n``): the LR axis back from its condition ``U y`` made by :func:`upsample`
    on the grid of ``name`` (``R U y = y``)."""
    return _recover_matrix(name, int(n))


def _resample_matrix(n: int, kernel: Callable, support: float) -> np.ndarray:
    """PIL's shrinking weights for ``n -> n / 2``: output ``i`` centred at input ``2 (i + 0.5)`` in pixel-edge
    coordinates, weights ``kernel((j + 0.5 - centre) / 2)`` over the inputs within ``2 * support``, cut at the
    edges and normalised to sum 1."""
    m = n // 2
    d = np.zeros((m, n))
    for i in range(m):
        centre = 2.0 * (i + 0.5)
        lo = max(int(centre - 2 * support + 0.5), 0)
        hi = min(int(centre + 2 * support + 0.5), n)
        j = np.arange(lo, hi)
        w = kernel((j + 0.5 - centre) / 2.0)
        d[i, lo:hi] = w / w.sum()
    return d


@functools.lru_cache(maxsize=64)
def _matrix(name: str, n: int) -> np.ndarray:
    m = n // 2
    if name == "decimate":
        d = np.zeros((m, n))
        d[np.arange(m), 2 * np.arange(m)] = 1.0
    elif name == "decimate_odd":
        d = np.zeros((m, n))
        d[np.arange(m), 2 * np.arange(m) + 1] = 1.0
    elif name == "skimage":
        g = ndimage.gaussian_filter1d(np.eye(n), 0.5, axis=0, mode="mirror")
        d = 0.5 * (g[0::2] + g[1::2])
    else:
        d = _resample_matrix(n, *_KERNELS[name])
    d.setflags(write=False)
    return d


def matrix(name: str, n: int) -> np.ndarray:
    """The ``(n / 2) x n`` float64 matrix of operator ``name`` on an axis of ``n`` (even) HR samples."""
    if name not in OPERATORS:
        raise ValueError(f"degradation: expected one of {list(OPERATORS)}, found {name!r}")
    if n < 2 or n % 2:
        raise ValueError(f"degradation {name}: an HR axis must have an even number >= 2 of samples, found {n}")
    return _matrix(name, int(n))


@functools.lru_cache(maxsize=64)
def _pinv(name: str, n: int) -> np.ndarray:
    d = matrix(name, n)
    p = np.linalg.solve(d @ d.T, d).T  # D^T (D D^T)^-1: D has full row rank for every operator
    p.setflags(write=False)
    return p


def pinv(name: str, n: int) -> np.ndarray:
    """``D^+ = D^T (D D^T)^{-1}`` (``n x n / 2``), so that ``D D^+ = I``."""
    matrix(name, n)
    return _pinv(name, int(n))


def apply(x: np.ndarray, name: str) -> np.ndarray:
    """``A x``: HR section ``[n1, n2]`` (both even) -> LR ``[n1 / 2, n2 / 2]``, float64."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"degradation {name}: expected a section [traces, samples], found shape {x.shape}")
    return matrix(name, x.shape[0]) @ x @ matrix(name, x.shape[1]).T


def consistency_residual(x: np.ndarray, y: np.ndarray, name: str) -> float:
    """RMS of ``A x - y``: how far the output ``x`` degraded by ``name`` is from the input ``y``."""
    return float(np.sqrt(np.mean(np.square(apply(x, name) - np.asarray(y, dtype=np.float64)))))


def noise_level(y: np.ndarray) -> float:
    """Std of the white noise in a section, estimated from its diagonal second differences: the median absolute
    value of ``(y[i, j] - y[i+1, j] - y[i, j+1] + y[i+1, j+1]) / 2`` divided by 0.6745 (the MAD of a Gaussian),
    robust to events, which are smooth along one of the axes or the diagonal. An overestimate when the section
    has strong energy at its Nyquist frequencies."""
    y = np.asarray(y, dtype=np.float64)
    diag = 0.5 * (y[:-1, :-1] - y[1:, :-1] - y[:-1, 1:] + y[1:, 1:])
    return float(np.median(np.abs(diag)) / 0.6745)


def project(x: np.ndarray, y: np.ndarray, name: str, noise: float = 0.0) -> np.ndarray:
    """The section ``x`` [2 m1, 2 m2] moved the least (in the least-squares sense along ``A^+``) so that the RMS of
    ``A x - y`` is at most ``noise`` (0: exactly ``A x = y``); returned unchanged when it already is."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if tuple(2 * s for s in y.shape) != x.shape:
        raise ValueError(f"project: the output must be twice the input's shape, found {x.shape} and {y.shape}")
    r = y - apply(x, name)
    rms = float(np.sqrt(np.mean(np.square(r))))
    if rms <= noise:
        return x
    lam = 1.0 - noise / rms
    return x + lam * (pinv(name, x.shape[0]) @ r @ pinv(name, x.shape[1]).T)


def best_operator(x: np.ndarray, y: np.ndarray, names: Sequence[str] = OPERATORS) -> str:
    """The operator that the output ``x`` degraded by explains the input ``y`` best (least residual): what
    ``degradation: auto`` takes the input to have been made by."""
    return min(names, key=lambda k: consistency_residual(x, y, k))


def _shift(x: np.ndarray, shift: Sequence[float]) -> np.ndarray:
    """``x`` shifted by a fraction of a sample on each axis (cubic spline, mirrored edges)."""
    return ndimage.shift(x, shift, order=3, mode="mirror")


def degrade_with(hr: np.ndarray, rng: np.random.Generator, operators: Sequence[str] = TRAIN_OPERATORS,
                 max_phase: float = 0.25, blur: Tuple[float, float] = (0.0, 0.6), noise: Tuple[float, float] = (0.0, 0.3),
                 coloured: float = 0.5, info: Optional[dict] = None) -> np.ndarray:
    """A training LR for the HR section ``hr`` [2 m1, 2 m2]: an operator drawn from ``operators``, the HR shifted by
    a phase drawn in ``[-max_phase, max_phase)`` samples per axis (a grid known to within that), a Gaussian blur of std drawn from ``blur`` (HR samples;
    under 0.05: none), then noise of std drawn from ``noise`` times the clean LR's std, coloured (smoothed along
    both axes by a Gaussian of std 0.5-1.5 LR samples, then rescaled) with probability ``coloured``.
    ``info``, if given, receives what was drawn. Returns float32 [m1, m2]."""
    hr = np.asarray(hr, dtype=np.float64)
    name = operators[int(rng.integers(len(operators)))]
    phase = rng.uniform(-max_phase, max_phase, size=2) if max_phase > 0 else np.zeros(2)
    sigma = rng.uniform(*blur)
    x = _shift(hr, phase) if np.any(np.abs(phase) > 1e-3) else hr
    if sigma >= 0.05:
        x = ndimage.gaussian_filter(x, sigma, mode="mirror")
    clean = apply(x, name)
    rel = rng.uniform(*noise)
    z = rng.standard_normal(clean.shape)
    colour = bool(rng.random() < coloured)
    if colour:
        z = ndimage.gaussian_filter(z, rng.uniform(0.5, 1.5), mode="mirror")
        z /= max(z.std(), 1e-30)
    lr = clean + rel * clean.std() * z
    if info is not None:
        info.update(operator=name, phase=phase.tolist(), blur=float(sigma), noise=float(rel), coloured=colour)
    return lr.astype(np.float32)
