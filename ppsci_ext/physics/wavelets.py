"""Source wavelets for seismic modelling, and their convolution matrices (the AVA operator's ``wavemat``)."""
import math

import numpy as np


def ricker_length(freq, dt, half_length=None):
    """Odd number of samples 2 n + 1 of a zero-phase Ricker covering +-``half_length`` s around its peak.

    n = ceil(half_length / dt); pass the result as ``nt`` to ``ricker(..., centred=True)``.

    Args:
        freq: peak frequency in Hz, > 0.
        dt: sample interval in s, > 0.
        half_length: time in s from the peak to either end; default ``1.5 / freq``
            (amplitude there ~1e-8 of the peak).

    Returns:
        int, 2 n + 1.
    """
    if not freq > 0:
        raise ValueError(f"ricker_length: freq must be > 0 Hz, found {freq}")
    if not dt > 0:
        raise ValueError(f"ricker_length: dt must be > 0 s, found {dt}")
    if half_length is None:
        half_length = 1.5 / freq
    if not half_length >= 0:
        raise ValueError(f"ricker_length: half_length must be >= 0 s, found {half_length}")
    # no tolerance on the ceil: lengths must match those of the wavelets already used to make data
    return 2 * int(np.ceil(half_length / dt)) + 1


def ricker(freq, nt, dt, t0=None, centred=False, dtype=np.float32):
    """Ricker (Mexican-hat) wavelet of ``nt`` samples ``dt`` s apart.

    w(t) = (1 - 2 (pi f (t - t0))^2) exp(-(pi f (t - t0))^2), peak value 1 at t = t0.

    Sample k sits at time ``k * dt - t0`` from the peak (causal, default), or at
    ``(k - nt // 2) * dt`` with ``centred=True`` (zero phase: the peak is sample ``nt // 2``,
    the middle one for odd ``nt``, e.g. ``nt = ricker_length(freq, dt)``). The two agree
    mathematically for ``t0 = (nt // 2) * dt`` but may differ in the last bit, since the
    times are rounded differently.

    Args:
        freq: peak (dominant) frequency f in Hz, > 0.
        nt: number of time samples.
        dt: sample interval in s, > 0.
        t0: time of the peak in s; default ``1 / freq``, which leaves the wavelet's
            onset (|w| < 1e-3 of the peak for t < 0) inside the trace. Not allowed
            together with ``centred``.
        centred: put the peak on sample ``nt // 2`` (zero-phase wavelet for convolution).
        dtype: numpy dtype of the result; the values are computed in float64.

    Returns:
        array [nt] of ``dtype`` (float32 by default), dimensionless (peak 1).
    """
    if not freq > 0:
        raise ValueError(f"ricker: freq must be > 0 Hz, found {freq}")
    if not dt > 0:
        raise ValueError(f"ricker: dt must be > 0 s, found {dt}")
    if int(nt) != nt or nt < 0:
        raise ValueError(f"ricker: nt must be a non-negative integer, found {nt}")
    nt = int(nt)
    if centred:
        if t0 is not None:
            raise ValueError(f"ricker: give either t0 ({t0} s) or centred=True, not both")
        t = (np.arange(nt) - nt // 2) * dt
    else:
        if t0 is None:
            t0 = 1.0 / freq
        t = np.arange(nt) * dt - t0
    arg = (np.pi * freq * t) ** 2
    return ((1.0 - 2.0 * arg) * np.exp(-arg)).astype(dtype)


def openfwi_ricker(freq, nt, dt, dtype=np.float32):
    """The Ricker of OpenFWI's published modelling settings: 2 n + 1 = 2 floor(1.1 / (freq dt)) + 1 samples
    of :func:`ricker` peaking at sample n (t0 = n dt), at the start of an ``nt``-sample trace, zero after
    (for 15 Hz at 1 ms: 147 samples, peak at 73 ms; the cut-off ends are ~1.6e-4 of the peak)."""
    if not (freq > 0 and dt > 0):
        raise ValueError(f"openfwi_ricker: freq and dt must be > 0, found freq={freq}, dt={dt}")
    half = int(np.floor(2.2 / freq / dt / 2))
    w = ricker(freq, nt, dt, t0=half * dt, dtype=np.float64)
    w[2 * half + 1:] = 0.0
    return w.astype(dtype)


# ------------------------------------------------- wavelet (convolution) matrices
def _wavelet_centre(w):
    symmetric = np.allclose(w, w[::-1], rtol=1e-6, atol=1e-6 * np.abs(w).max())
    if w.size % 2 == 1 and symmetric:
        return w.size // 2
    return int(np.argmax(np.abs(w)))


def wavelet_matrix(wavelet, n_layers):
    """Convolution matrix W [L, L] (numpy float64) with the wavelet centred on the diagonal.

    The centre sample c is the middle one (n // 2) for an odd-length symmetric wavelet, otherwise the peak
    sample argmax |w| (first one if tied). W[i, j] = w[i - j + c] where 0 <= i - j + c < n, else 0: column j
    is the wavelet centred at sample j, truncated at the trace ends. Hence W @ r == np.convolve(r, w, 'same')
    for odd-length wavelets whose centre is the middle sample (every zero-phase wavelet); for an even-length
    wavelet the same holds when its peak is sample (n - 1) // 2 (numpy's 'same' alignment), e.g. an even
    symmetric wavelet (two equal middle samples: the first counts). In general (also for wavelets longer
    than the trace, where 'same' returns the wavelet's length) W @ r == np.convolve(r, w)[c:c + L].

    Args:
        wavelet: 1-D array [n] (dimensionless amplitude).
        n_layers: L, number of time samples of the traces.
    """
    w = np.asarray(wavelet, dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or not np.isfinite(w).all() or not np.abs(w).max() > 0:
        raise ValueError(f"wavelet_matrix: wavelet must be a finite non-zero 1-D array, found shape {w.shape}")
    if int(n_layers) != n_layers or n_layers < 1:
        raise ValueError(f"wavelet_matrix: n_layers must be a positive integer, found {n_layers}")
    n_layers = int(n_layers)
    lag = np.arange(n_layers)[:, None] - np.arange(n_layers)[None, :] + _wavelet_centre(w)
    inside = (lag >= 0) & (lag < w.size)
    return np.where(inside, w[np.clip(lag, 0, w.size - 1)], 0.0)


def ricker_wavelet_matrix(freq, dt, n_layers, n_wavelet=None):
    """Convolution matrix [L, L] (numpy float64) of a zero-phase Ricker wavelet centred on the diagonal.

    Args:
        freq: peak frequency (Hz). dt: sample interval (s). n_layers: L, samples per trace.
        n_wavelet: odd wavelet length in samples; default 2 * ceil(1.5 / (freq dt)) + 1, covering
            +-1.5 / freq s around the peak (amplitude there ~1e-8 of the peak).
    """
    if not (freq > 0 and dt > 0):
        raise ValueError(f"ricker_wavelet_matrix: freq and dt must be > 0, found {freq} Hz, {dt} s")
    if n_wavelet is None:
        n_wavelet = 2 * int(math.ceil(1.5 / (freq * dt) - 1e-9)) + 1
    if int(n_wavelet) != n_wavelet or n_wavelet < 1 or n_wavelet % 2 == 0:
        raise ValueError(f"ricker_wavelet_matrix: n_wavelet must be a positive odd integer, found {n_wavelet}")
    n_wavelet = int(n_wavelet)
    return wavelet_matrix(ricker(freq, n_wavelet, dt, t0=(n_wavelet // 2) * dt), n_layers)
