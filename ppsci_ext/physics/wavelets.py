"""Source wavelets for seismic modelling."""

import numpy as np


def ricker(freq, nt, dt, t0=None):
    """Ricker (Mexican-hat) wavelet sampled at times ``k * dt``, k = 0..nt-1.

    w(t) = (1 - 2 (pi f (t - t0))^2) exp(-(pi f (t - t0))^2), peak value 1 at t = t0.

    Args:
        freq: peak (dominant) frequency f in Hz, > 0.
        nt: number of time samples.
        dt: sample interval in s, > 0.
        t0: time of the peak in s; default ``1 / freq``, which leaves the wavelet's
            onset (|w| < 1e-3 of the peak for t < 0) inside the trace.

    Returns:
        float32 array [nt], dimensionless (peak 1).
    """
    if not freq > 0:
        raise ValueError(f"ricker: freq must be > 0 Hz, found {freq}")
    if not dt > 0:
        raise ValueError(f"ricker: dt must be > 0 s, found {dt}")
    if int(nt) != nt or nt < 0:
        raise ValueError(f"ricker: nt must be a non-negative integer, found {nt}")
    if t0 is None:
        t0 = 1.0 / freq
    arg = (np.pi * freq * (np.arange(int(nt)) * dt - t0)) ** 2
    return ((1.0 - 2.0 * arg) * np.exp(-arg)).astype(np.float32)
