"""A PyTorch re-implementation, written for this project, of the forward modelling OpenFWI publishes with its
data sets: 4th-order Laplacian on a grid padded by ``nbc`` replicated cells per side (periodic beyond them,
so nothing but the sponge absorbs), 2nd-order leapfrog, a sponge damping d(x) = d0 (x / a)^2 over the
``nbc`` cells (d0 = 3 vmin ln(1e7) / (2 a), a = (nbc - 1) dx, vmin the model's smallest velocity; in the
corners the lateral profile wins), v^2 dt^2 w(i dt) added at the source cell after step i, and sample i
recorded just after it. Sources at linspace(0, n_grid - 1, ns) columns (rounded half to even), receivers
at every column, both at depth index sz / dx (gz / dx).

The independent reference for ``forward_model(..., convention="openfwi")`` (tests and bench_modelling.py).
"""
import numpy as np


def openfwi_wavelet(freq, dt, nt):
    n = int(2 * np.floor(2.2 / freq / dt / 2) + 1)
    centre = n // 2
    a = (centre - np.arange(n)) * freq * dt * np.pi
    w = np.zeros(nt)
    w[:n] = (1 - 2 * a ** 2) * np.exp(-a ** 2)
    return w


def _damping(v, nbc, dx):
    """[N, 1, Z, X] sponge coefficients (1/s) of padded models ``v``."""
    import torch

    a = (nbc - 1) * dx
    d0 = 3.0 * v.flatten(1).min(1).values * np.log(1e7) / (2.0 * a)           # [N]
    ramp = (torch.arange(nbc, dtype=v.dtype) * dx / a) ** 2                    # inner (0) -> outer
    prof = d0[:, None] * ramp[None]                                           # [N, nbc]
    damp = torch.zeros_like(v)
    damp[:, 0, :nbc, :] = prof.flip(-1)[:, :, None]
    damp[:, 0, -nbc:, :] = prof[:, :, None]
    damp[:, 0, :, :nbc] = prof.flip(-1)[:, None, :]
    damp[:, 0, :, -nbc:] = prof[:, None, :]
    return damp


def openfwi_gathers(vel, nbc=120, dx=10.0, dt=1e-3, nt=1000, freq=15.0, ns=5, sz=10.0, gz=10.0):
    """Shot gathers [N, ns, nt, nx] (float64) of velocity models [N, nz, nx] (m/s)."""
    import torch

    v = torch.nn.functional.pad(torch.as_tensor(np.asarray(vel, dtype=np.float64))[:, None], (nbc,) * 4,
                                mode="replicate")
    nx = vel.shape[-1]
    src_x = np.round(np.linspace(0, nx - 1, ns)).astype(int) + nbc
    isz, igz = int(round(sz / dx)) + nbc, int(round(gz / dx)) + nbc
    rec_x = np.arange(nx) + nbc
    w = openfwi_wavelet(freq, dt, nt)
    alpha = (v * dt / dx) ** 2
    kappa = _damping(v, nbc, dx) * dt
    c0, c1, c2 = -2.5, 4.0 / 3.0, -1.0 / 12.0
    keep, decay = 2 + 2 * c0 * alpha - kappa, 1 - kappa
    src_amp = (v[:, 0, isz, src_x] * dt) ** 2                                  # [N, ns]
    shape = (v.shape[0], ns, v.shape[2], v.shape[3])
    p0, p1 = torch.zeros(shape, dtype=v.dtype), torch.zeros(shape, dtype=v.dtype)
    out = torch.zeros(v.shape[0], ns, nt, nx, dtype=v.dtype)
    shots = torch.arange(ns)
    with torch.no_grad():
        for i in range(nt):
            near = sum(p1.roll(s, d) for s in (1, -1) for d in (-2, -1))
            far = sum(p1.roll(s, d) for s in (2, -2) for d in (-2, -1))
            p = keep * p1 - decay * p0 + alpha * (c1 * near + c2 * far)
            p[:, shots, isz, src_x] += src_amp * w[i]
            out[:, :, i] = p[:, :, igz, rec_x]
            p0, p1 = p1, p
    return out.numpy()
