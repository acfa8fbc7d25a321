"""Amplitude spectra and bandwidths of seismic sections (numpy only).

Sections are 2-D arrays; by default ``[traces, samples]`` with time along the last axis.
All frequencies are in Hz and sample intervals in seconds.
"""
from typing import Tuple

import numpy as np

__all__ = ["amplitude_spectrum", "bandwidth_db", "resample_dt", "spectral_fidelity", "trace_averaged_spectrum"]


def _check_dt(dt) -> float:
    dt = float(dt)
    if not np.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be a positive, finite sample interval in seconds, got {dt}")
    return dt


def amplitude_spectrum(section: np.ndarray, dt: float, axis: int = -1) -> Tuple[np.ndarray, np.ndarray]:
    """Mean amplitude spectrum over the traces of a 2-D section.

    Each trace (the 1-D slices along ``axis``, the time axis) is tapered with a Hann window,
    transformed with ``rfft``, and the absolute values are averaged over traces. The result
    is normalised so that its maximum is 1 (an all-zero section gives zeros).

    Args:
        section: 2-D array, e.g. ``[traces, samples]`` with ``axis=-1``.
        dt: sample interval along ``axis`` in seconds (> 0).
        axis: the time (samples) axis, 0 or 1 (or -1 / -2).

    Returns:
        ``(freqs_hz, amp)``: ``freqs_hz`` from 0 to the Nyquist ``1 / (2 dt)``, ``amp`` in [0, 1].
    """
    dt = _check_dt(dt)
    a = np.asarray(section, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"section must be a 2-D array [traces, samples], got shape {a.shape}")
    if axis not in (0, 1, -1, -2):
        raise ValueError(f"axis must be 0, 1, -1 or -2 for a 2-D section, got {axis}")
    a = np.moveaxis(a, axis, -1)
    n = a.shape[-1]
    if n < 2:
        raise ValueError(f"need at least 2 samples along the time axis, got {n}")
    if a.shape[0] < 1:
        raise ValueError("section has no traces")
    if not np.all(np.isfinite(a)):
        raise ValueError("section contains NaN or inf")
    spec = np.abs(np.fft.rfft(a * np.hanning(n), axis=-1)).mean(axis=0)
    peak = spec.max()
    amp = spec / peak if peak > 0 else spec
    return np.fft.rfftfreq(n, d=dt), amp


def bandwidth_db(freqs: np.ndarray, amp: np.ndarray, level_db: float = -6.0) -> Tuple[float, float, float]:
    """Frequency band where ``amp >= max(amp) * 10**(level_db / 20)``, around the peak.

    Only the contiguous band that contains the (first) maximum is used. The edges are found
    by linear interpolation between the last sample inside and the first sample outside the
    band; where the band reaches the end of the spectrum, that end frequency is the edge.
    For a box spectrum of ``n`` in-band samples at spacing ``df`` the width is ``n * df``.

    Returns:
        ``(f_low, f_high, width)`` in Hz, ``width = f_high - f_low``.
    """
    f = np.asarray(freqs, dtype=np.float64)
    a = np.asarray(amp, dtype=np.float64)
    if f.ndim != 1 or a.ndim != 1:
        raise ValueError(f"freqs and amp must be 1-D, got shapes {f.shape} and {a.shape}")
    if f.shape != a.shape:
        raise ValueError(f"freqs and amp must have the same length, got {f.size} and {a.size}")
    if f.size < 2:
        raise ValueError("need at least 2 frequency samples")
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(a))):
        raise ValueError("freqs and amp must be finite")
    if np.any(np.diff(f) <= 0):
        raise ValueError("freqs must be strictly increasing")
    if not level_db < 0:
        raise ValueError(f"level_db must be negative (e.g. -6.0), got {level_db}")
    ip = int(np.argmax(a))
    peak = a[ip]
    if peak <= 0:
        raise ValueError("amp has no positive maximum; the bandwidth is undefined")
    thr = peak * 10.0 ** (level_db / 20.0)

    def edge(i_in, i_out):
        # linear interpolation of amp = thr between an inside and an outside sample
        t = (a[i_in] - thr) / (a[i_in] - a[i_out])
        return f[i_in] + t * (f[i_out] - f[i_in])

    lo = ip
    while lo > 0 and a[lo - 1] >= thr:
        lo -= 1
    f_low = f[0] if lo == 0 else edge(lo, lo - 1)
    hi = ip
    while hi < a.size - 1 and a[hi + 1] >= thr:
        hi += 1
    f_high = f[-1] if hi == a.size - 1 else edge(hi, hi + 1)
    return float(f_low), float(f_high), float(f_high - f_low)


def resample_dt(dt: float, factor: float) -> float:
    """Sample interval after a time-axis super-resolution by ``factor``: ``dt / factor``.

    A 2x super-resolved section has half the input's sample interval, so its Nyquist
    frequency ``1 / (2 dt)`` -- and the frequency axis of its spectrum -- extends to twice
    the input's. Use this ``dt`` when calling :func:`amplitude_spectrum` on the output.
    """
    dt = _check_dt(dt)
    factor = float(factor)
    if not np.isfinite(factor) or factor <= 0:
        raise ValueError(f"factor must be positive and finite, got {factor}")
    return dt / factor


def trace_averaged_spectrum(section: np.ndarray, axis: int = -1) -> np.ndarray:
    """Trace-averaged |rfft| of a Hann-tapered 2-D section along ``axis``, not normalised."""
    a = np.moveaxis(np.asarray(section, dtype=np.float64), axis, -1)
    return np.abs(np.fft.rfft(a * np.hanning(a.shape[-1]), axis=-1)).mean(axis=0)


def spectral_fidelity(pred: np.ndarray, true: np.ndarray, n_bands: int = 4, axis: int = -1) -> dict:
    """How a prediction's amplitude spectrum compares with the truth's, along one axis of 2-D sections.

    Both spectra are trace-averaged |rfft| of Hann-tapered traces (:func:`amplitude_spectrum`, not
    normalised). The frequencies from 0 to Nyquist are cut into ``n_bands`` equal bands; in each the ratio
    of summed predicted to summed true amplitude is returned as ``spec_ratio_<lo>_<hi>`` (per cent of
    Nyquist): below 1 in the upper bands is over-smoothing, above 1 added noise or artefacts.
    Where the truth has little energy (e.g. the upper half of the Nyquist for events sampled 5 times per
    period or more) a band's ratio measures noise against almost nothing; ``spec_ratio_upper_signal`` is
    the ratio over the truth's own upper band, from its spectral peak to the last frequency within -20 dB
    of it: below 1 there is lost detail whatever the sampling. ``log_spectral_distance`` is the RMS of
    20 log10(A_pred / A_true), in dB, over the frequencies but 0 Hz where the truth is within 40 dB of its
    peak (where it is weaker than that, e.g. far above a Ricker band, the ratio compares noise with numerical
    zero and would swamp the rest).
    A 3-D volume is scored as its stack of 2-D sections along its first axis.
    """
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    if pred.shape != true.shape:
        raise ValueError(f"spectral_fidelity: prediction {pred.shape} and truth {true.shape} differ in shape")
    if true.ndim == 3:
        pred, true = np.moveaxis(pred, axis, -1), np.moveaxis(true, axis, -1)
        pred, true, axis = pred.reshape(-1, pred.shape[-1]), true.reshape(-1, true.shape[-1]), -1
    if true.ndim != 2 or not np.all(np.isfinite(pred)) or not np.all(np.isfinite(true)):
        raise ValueError(f"spectral_fidelity: expected finite 2-D or 3-D sections, found shape {true.shape}")
    a_pred, a_true = trace_averaged_spectrum(pred, axis), trace_averaged_spectrum(true, axis)
    edges = np.linspace(0, len(a_true), n_bands + 1).round().astype(int)
    out = {}
    for k in range(n_bands):
        lo, hi = edges[k], edges[k + 1]
        out[f"spec_ratio_{100 * k // n_bands}_{100 * (k + 1) // n_bands}"] = float(
            a_pred[lo:hi].sum() / max(a_true[lo:hi].sum(), 1e-300))
    peak = 1 + int(np.argmax(a_true[1:]))
    top = peak + int(np.nonzero(a_true[peak:] >= 0.1 * a_true[peak])[0].max())
    out["spec_ratio_upper_signal"] = float(a_pred[peak:top + 1].sum() / max(a_true[peak:top + 1].sum(), 1e-300))
    signal = np.nonzero(a_true[1:] >= 0.01 * a_true[1:].max())[0] + 1
    tiny = 1e-12 * max(a_true.max(), 1e-300)
    db = 20 * np.log10(np.maximum(a_pred[signal], tiny) / a_true[signal])
    out["log_spectral_distance"] = float(np.sqrt(np.mean(db ** 2)))
    return out
