"""Build GDRNN training files from an elastic section.

From true (vp, vs, rho) sections [L, ntraces] this writes

- ``train_labelled.{mat|npz}``: the data-driven (labelled) layout for the
  well traces and their augmented copies;
- ``section.{mat|npz}``: the physics-driven (unlabelled) layout for every
  trace of the section;
- ``truth.npz``: the true ``vp``, ``vs``, ``rho`` [L, ntraces], ``well_traces``
  and the build settings, to score traces away from the wells.

Conventions
-----------
Samples: each depth sample is treated as one time sample of ``dt`` seconds
(as in the original code, layers are samples); the wavelet matrix is a
centred Ricker of peak frequency ``freq``.

Background: zero-phase Butterworth low-pass along depth of every trace
(``scipy.signal.butter(order, cutoff_hz, fs=1/dt)`` in second-order sections,
run forward and backward by ``sosfiltfilt``, odd extension at both ends).
Forward-backward filtering squares the magnitude response, so the amplitude
gain is ``1 / (1 + (f / cutoff_hz)^(2 order))``: 1/2 (-6 dB) at ``cutoff_hz``
(the one-way -3 dB point), -48 dB at twice the cutoff for order 4.
The section's backgrounds are low-passed true models (an idealised
background); the labelled file's backgrounds are low-passed copies of its
(augmented) labels.

Augmentation: well ``w`` contributes ``n_aug`` consecutive labelled traces
(well-major order: trace ``i * n_aug + k`` is copy ``k`` of
``well_traces[i]``). Copy 0 is the unperturbed well log. Copy k >= 1
multiplies each parameter (independently) by ``1 + e``, with
``e = aug_noise * (smooth + white) / sqrt(2)`` clipped to ``+-3 aug_noise``,
where ``smooth`` is white noise Gaussian-smoothed over ``aug_corr`` samples
and rescaled to unit std, and ``white`` is unit white noise (so std(e) is
about ``aug_noise``). Perturbed copies are then clipped to the section's
range of each parameter widened by 10 %, and vs to at most vp / sqrt(2).

Noise: ``snr_db`` is defined on the per-angle gathers of the whole section,
``SNR = 10 log10(P_signal / P_noise)`` with ``P_signal`` the mean square of
all noise-free gathers (all traces, samples and angles of the three groups)
and ``P_noise = sigma^2`` of white Gaussian noise added independently to every
gather sample. The same ``sigma`` is used for the labelled file. Stacking A
angles raises the SNR of a stack by up to 10 log10(A) dB.
``snr_db=None`` or ``inf`` adds no noise. All randomness comes from
``numpy.random.default_rng([seed, stream])``.
"""
import math
import os
from typing import Dict
from typing import Optional
from typing import Sequence

import numpy as np
import paddle
from scipy.ndimage import gaussian_filter1d
from scipy.signal import butter
from scipy.signal import sosfiltfilt

from ppsci_ext.atomic import write_npz
from ppsci_ext.data.ava.reader import check_elastic
from ppsci_ext.data.ava.reader import write_ava_file
from ppsci_ext.outputs import claim_folder
from ppsci_ext.outputs import claimed

__all__ = ["build_ava_files", "butterworth_background", "augment_logs", "synthesize_gathers",
           "add_white_noise", "ava_file_paths"]

_STREAM_AUG, _STREAM_SECTION_NOISE, _STREAM_LABEL_NOISE = 0, 1, 2
WRITER = "ppsci_ext.data.ava.generator.build_ava_files"  # recorded in the marker of the folders it fills


def butterworth_background(x: np.ndarray, cutoff_hz: float, dt: float, order: int = 4, axis: int = 0) -> np.ndarray:
    """Zero-phase Butterworth low-pass of ``x`` along ``axis`` (samples ``dt`` s apart).

    ``cutoff_hz`` is the -3 dB frequency of the one-way filter of order
    ``order``; run forward and backward the response is squared (-6 dB at the
    cutoff, no phase shift). Odd extension (point reflection) at both ends,
    of about two cutoff periods (at most L - 1 samples), keeps trends
    continuous and the filter's start-up transients outside the data.
    """
    x = np.asarray(x, dtype=np.float64)
    nyq = 0.5 / dt
    if not 0 < cutoff_hz < nyq:
        raise ValueError(f"cutoff_hz must be in (0, Nyquist = {nyq:g} Hz) for dt={dt:g} s, found {cutoff_hz}")
    sos = butter(int(order), cutoff_hz, btype="low", fs=1.0 / dt, output="sos")
    n = x.shape[axis]
    # pad by about two periods of the cutoff so the end transients settle outside the data
    padlen = min(n - 1, max(3 * (2 * len(sos) + 1), int(math.ceil(2.0 / (cutoff_hz * dt)))))
    return sosfiltfilt(sos, x, axis=axis, padtype="odd", padlen=padlen)


def augment_logs(m: np.ndarray, n_aug: int, aug_noise: float, rng: np.random.Generator,
                 aug_corr: float = 3.0, lo: Optional[np.ndarray] = None, hi: Optional[np.ndarray] = None
                 ) -> np.ndarray:
    """Noisy copies of well logs (see module docstring).

    Args:
        m: [W, 3, L] (vp, vs, rho) logs.
        n_aug: copies per well, the first one unperturbed.
        aug_noise: relative std of the multiplicative perturbation.
        rng: random generator.
        aug_corr: Gaussian smoothing length (samples) of the smooth part.
        lo, hi: [3] clip range of the perturbed copies (default: the logs' own
            range widened by 10 %).

    Returns:
        [W * n_aug, 3, L], copy ``k`` of well ``i`` at ``i * n_aug + k``.
    """
    m = np.asarray(m, dtype=np.float64)
    if int(n_aug) < 1:
        raise ValueError(f"n_aug must be >= 1, found {n_aug}")
    n_aug = int(n_aug)
    lo = m.min(axis=(0, 2)) * 0.9 if lo is None else np.asarray(lo, dtype=np.float64)
    hi = m.max(axis=(0, 2)) * 1.1 if hi is None else np.asarray(hi, dtype=np.float64)
    out = np.repeat(m[:, None], n_aug, axis=1)  # [W, n_aug, 3, L]
    if n_aug > 1 and aug_noise > 0:
        shape = (m.shape[0], n_aug - 1) + m.shape[1:]
        smooth = gaussian_filter1d(rng.standard_normal(shape), aug_corr, axis=-1, mode="reflect")
        smooth /= smooth.std(axis=-1, keepdims=True).clip(1e-12)
        e = aug_noise * (smooth + rng.standard_normal(shape)) / np.sqrt(2.0)
        e = np.clip(e, -3 * aug_noise, 3 * aug_noise)
        pert = out[:, 1:] * (1.0 + e)
        pert = np.clip(pert, lo[:, None], hi[:, None])
        pert[:, :, 1] = np.minimum(pert[:, :, 1], pert[:, :, 0] / np.sqrt(2.0))
        out[:, 1:] = pert
    return out.reshape(-1, *m.shape[1:])


def synthesize_gathers(m: np.ndarray, op, chunk: int = 256) -> list:
    """Noise-free per-angle gathers of models ``m`` [N, 3, L] by ``op.gathers``, in chunks of traces.

    Returns a list (one per angle group) of float64 [N, L, A_g].
    """
    outs = []
    with paddle.no_grad():
        for s in range(0, len(m), int(chunk)):
            g = op.gathers(paddle.to_tensor(np.ascontiguousarray(m[s:s + chunk]), dtype="float64"))
            outs.append([np.asarray(x.numpy(), dtype=np.float64) for x in g])
    return [np.concatenate([o[i] for o in outs], 0) for i in range(len(outs[0]))]


def add_white_noise(gathers: Sequence[np.ndarray], sigma: float, rng: np.random.Generator) -> list:
    """Gathers plus white Gaussian noise of absolute std ``sigma`` (the gathers' units; new arrays).

    One ``rng.standard_normal`` draw per gather, in order; ``sigma == 0`` draws nothing.
    """
    if sigma == 0:
        return [g.copy() for g in gathers]
    return [g + sigma * rng.standard_normal(g.shape) for g in gathers]


def ava_file_paths(out_dir: str, fmt: str = "mat") -> Dict[str, str]:
    """Paths of the files :func:`build_ava_files` writes into ``out_dir`` (nothing is created).

    Args:
        out_dir: the output folder.
        fmt: ``"mat"`` or ``"npz"``, the format of the labelled and section files
            (the truth file is always ``.npz``).

    Returns:
        ``{"labelled": out_dir/train_labelled.<fmt>, "section": out_dir/section.<fmt>,
        "truth": out_dir/truth.npz}``.
    """
    if fmt not in ("mat", "npz"):
        raise ValueError(f"fmt must be 'mat' or 'npz', found {fmt!r}")
    return {"labelled": os.path.join(out_dir, f"train_labelled.{fmt}"),
            "section": os.path.join(out_dir, f"section.{fmt}"),
            "truth": os.path.join(out_dir, "truth.npz")}


def _layer_slice(layers, n):
    if layers is None:
        return slice(0, n)
    if isinstance(layers, (int, np.integer)):
        return slice(0, int(layers))
    if isinstance(layers, slice):
        s = layers
    else:
        s = slice(*layers)
    if s.step not in (None, 1):
        raise ValueError(f"layers: a step would change the sample interval; found {layers}")
    start, stop, _ = s.indices(n)
    if stop - start < 2:
        raise ValueError(f"layers={layers} keeps {max(stop - start, 0)} of {n} samples")
    return slice(start, stop)


def _ava_dict(m, back, gathers, wavemat, theta, labelled):
    d = {}
    if labelled:
        d.update(vp_aug=m[:, 0].T, vs_aug=m[:, 1].T, rho_aug=m[:, 2].T)
    d.update(vp_back=back[:, 0].T, vs_back=back[:, 1].T, rho_back=back[:, 2].T)
    d.update(seis_s=gathers[0], seis_m=gathers[1], seis_l=gathers[2], wavemat=wavemat, theta=theta)
    return d


def build_ava_files(vp, vs, rho, out_dir: str, well_traces: Sequence[int], n_aug: int = 10,
                    aug_noise: float = 0.03, cutoff_hz: float = 10.0, dt: float = 0.001, freq: float = 30.0,
                    theta_groups: Optional[Sequence[Sequence[float]]] = None, snr_db: Optional[float] = None,
                    seed: int = 0, layers=None, method: str = "zoeppritz", fmt: str = "mat",
                    butter_order: int = 4, aug_corr: float = 3.0, chunk: int = 256,
                    beyond_critical: str = "mask", wavelet: Optional[np.ndarray] = None,
                    settings: Optional[Dict] = None, key: str = "out_dir") -> Dict[str, str]:
    """Write the labelled, section and truth files (see module docstring).

    Args:
        vp, vs, rho: true sections [L, ntraces] in m/s, m/s, g/cc.
        out_dir: output folder, claimed before anything is written (:func:`ppsci_ext.outputs.claimed`): new,
            empty, or marked by an earlier build with the same ``settings``; any other folder is refused.
        settings: what the files are built from, recorded in the folder's marker and compared on a later
            build (e.g. the example's DATA section); None: not compared.
        key: the name of ``out_dir``'s setting, for messages.
        well_traces: indices of the traces used as wells (labels).
        n_aug: labelled copies per well (the first unperturbed).
        aug_noise: relative std of the augmentation perturbation.
        cutoff_hz: Butterworth cutoff (Hz) of the background; ``dt``: sample
            interval (s) of one depth sample; ``butter_order``: one-way order.
        freq: Ricker peak frequency (Hz).
        wavelet: a user wavelet (1-D, sampled at ``dt``) used instead of the
            Ricker; centred as ``wavelet_matrix`` documents.
        theta_groups: three lists of angles (degrees); default
            ``default_theta_groups()``.
        snr_db: SNR of the per-angle gathers (dB); ``None``/``inf`` = no noise.
        seed: seed of all random draws.
        layers: ``None`` (all), an int n (first n samples), a ``slice`` or a
            ``(start, stop)`` pair of depth samples to keep.
        method, beyond_critical: passed to ``AVAForward``.
        fmt: ``"mat"`` or ``"npz"`` for the two AVA files.
        aug_corr: smoothing length (samples) of the augmentation's smooth part.
        chunk: traces per forward call.

    Returns:
        ``{"labelled": path, "section": path, "truth": path}``.
    """
    from ppsci_ext.physics.ava import AVAForward
    from ppsci_ext.physics.ava import default_theta_groups
    from ppsci_ext.physics.wavelets import ricker_wavelet_matrix
    from ppsci_ext.physics.wavelets import wavelet_matrix

    paths = ava_file_paths(out_dir, fmt)  # also rejects a bad fmt before any work
    vp, vs, rho = (np.asarray(a, dtype=np.float64) for a in (vp, vs, rho))
    if vp.ndim != 2 or vs.shape != vp.shape or rho.shape != vp.shape:
        raise ValueError(f"vp, vs, rho must be 2-D [layers, ntraces] of one shape, "
                         f"found {vp.shape}, {vs.shape}, {rho.shape}")
    for name, a in (("vp", vp), ("vs", vs), ("rho", rho)):
        if not np.isfinite(a).all() or (a <= 0).any():
            raise ValueError(f"{name} must be finite and > 0 everywhere")
    check_elastic(vp, vs, rho, "build_ava_files")  # units and vs < vp, before any modelling
    sl = _layer_slice(layers, vp.shape[0])
    vp, vs, rho = vp[sl], vs[sl], rho[sl]
    L, N = vp.shape
    wells = np.asarray(well_traces, dtype=np.int64).ravel()
    if wells.size == 0 or wells.min() < 0 or wells.max() >= N or len(np.unique(wells)) != wells.size:
        raise ValueError(f"well_traces must be distinct indices in [0, {N}), found {list(well_traces)}")
    theta = [list(map(float, g)) for g in (default_theta_groups() if theta_groups is None else theta_groups)]
    if len(theta) != 3:
        raise ValueError(f"theta_groups must hold 3 groups (near, mid, far), found {len(theta)}")
    claim_folder(out_dir, WRITER, settings, key)  # a folder that is not ours is refused before any modelling

    m = np.stack([vp.T, vs.T, rho.T], 1)  # [N, 3, L]
    if wavelet is None:
        wavemat = np.asarray(ricker_wavelet_matrix(freq, dt, L), dtype=np.float64)
    else:
        wavelet = np.asarray(wavelet, dtype=np.float64)
        if wavelet.ndim != 1 or wavelet.size < 1 or not np.isfinite(wavelet).all():
            raise ValueError(f"wavelet must be a finite 1-D array, found shape {wavelet.shape}")
        wavemat = np.asarray(wavelet_matrix(wavelet, L), dtype=np.float64)
    op = AVAForward(wavemat, theta, method=method, beyond_critical=beyond_critical, dtype="float64")

    # section: backgrounds, gathers, noise
    back = butterworth_background(m, cutoff_hz, dt, butter_order, axis=2)
    clean = synthesize_gathers(m, op, chunk)
    if snr_db is None or np.isinf(snr_db):
        if snr_db is not None and snr_db < 0:
            raise ValueError("snr_db=-inf would be pure noise")
        sigma, p_signal = 0.0, None
    else:
        p_signal = float(sum((g ** 2).sum() for g in clean) / sum(g.size for g in clean))
        sigma = math.sqrt(p_signal / 10.0 ** (snr_db / 10.0))
    section = add_white_noise(clean, sigma, np.random.default_rng([seed, _STREAM_SECTION_NOISE]))
    del clean

    # labelled: augmented well logs, their backgrounds and gathers, same noise level
    lo = m.min(axis=(0, 2)) * 0.9
    hi = m.max(axis=(0, 2)) * 1.1
    m_lab = augment_logs(m[wells], n_aug, aug_noise, np.random.default_rng([seed, _STREAM_AUG]), aug_corr, lo, hi)
    back_lab = butterworth_background(m_lab, cutoff_hz, dt, butter_order, axis=2)
    lab_gathers = add_white_noise(synthesize_gathers(m_lab, op, chunk), sigma,
                                  np.random.default_rng([seed, _STREAM_LABEL_NOISE]))

    with claimed(out_dir, WRITER, settings, key):
        write_ava_file(paths["labelled"], _ava_dict(m_lab, back_lab, lab_gathers, wavemat, theta, True))
        write_ava_file(paths["section"], _ava_dict(m, back, section, wavemat, theta, False))
        write_npz(paths["truth"], **dict(
            vp=vp, vs=vs, rho=rho, well_traces=wells, layer_start=sl.start, layer_stop=sl.stop,
            dt=dt, freq=freq, cutoff_hz=cutoff_hz, butter_order=butter_order,
            snr_db=np.inf if snr_db is None else float(snr_db), noise_sigma=sigma,
            signal_power=np.nan if p_signal is None else p_signal, n_aug=n_aug, aug_noise=aug_noise, seed=seed,
            method=method,
        ))
    return paths
