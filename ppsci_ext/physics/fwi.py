"""Adjoint-state full-waveform inversion on the acoustic modelling of :mod:`.acoustic`.

The modelling is the discrete linear recursion of :func:`~.acoustic.forward_model`: with c = v^2 dt^2 / dx^2 on the
padded grid (v edge-extended into the C-PML) and L the stencil Laplacian with its C-PML memory terms,

    u^{n+1} = c (L u^n + f w^n delta_src) + 2 u^n - u^{n-1},   f = 1 ("ours") or dx^2 ("openfwi"),

so the only place c enters is the product, and  d u^{n+1} / d c = (u^{n+1} - 2 u^n + u^{n-1}) / c  (the point
source's own c included). Hence, for a misfit J of the recorded data:

* **Born** (:func:`born`): delta u obeys the same recursion with no point source and the volume source
  (delta c / c) (u^{n+1} - 2 u^n + u^{n-1}) added after each step; delta c / c = 2 delta v / v.
* **Gradient** (:func:`gradient`): the exact transpose of that map, i.e. the discrete adjoint of the whole
  recursion, C-PML memory variables included (not the continuous adjoint re-discretised). The adjoint field
  mu^{n+1} = dJ/du^{n+1} runs backwards in time from the data residual, and

      dJ/dc = sum_n mu^{n+1} (u^{n+1} - 2 u^n + u^{n-1}) / c,   dJ/dv = 2 / v * sum_n mu^{n+1} (...)

  summed over shots, and the padded cells folded back onto the model cell they copy. The forward field is kept
  for every step (nt x shots x padded grid, 0.2 GB for one 70 x 70 sample of 5 shots and 1000 float32 steps).
  Not differentiated: the C-PML damping profile's dependence on the model's maximum velocity (it is held as
  computed for the current model).

The transposed stencils: the 4th-order second-derivative stencil is symmetric, the first-derivative one
antisymmetric (D1^T = -D1); the C-PML recursion of ``_pml_x`` (psi^n = a psi^{n-1} + b D1 u,
tmp = (1 + b) D2 u + db D1 u + D1(a psi^{n-1}), lap = (1 + b) tmp + a zeta^{n-1}, zeta^n = b tmp + a zeta^{n-1},
the last two terms only inside the strip) transposes term by term:

    tmp_bar = (1 + b) g + b zeta_bar^n,  g = c mu^{n+1}
    u_bar^n += D2((1 + b) tmp_bar) - D1(db tmp_bar + b psi_bar^n)
    psi_bar^{n-1} = a (psi_bar^n - D1(m tmp_bar)),  zeta_bar^{n-1} = a (g + zeta_bar^n),  m = 1 in the strip.

Checked in tests/physics/test_fwi.py by a dot-test of :func:`born` against :func:`gradient` (float64, 1e-10),
by central finite differences of the misfit, and against deepwave's autograd gradient.

:func:`refine` is the inversion: L-BFGS with velocity bounds and a line search (scipy's L-BFGS-B) on the
relative L2 data misfit, low-pass filtered in stages from low to high frequency (multiscale).
"""
import inspect
import math

import numba
import numpy as np

from .acoustic import _K_VALUES
from .acoustic import _enter_ftz
from .acoustic import _leave_ftz
from .acoustic import _run
from .acoustic import _setup
from .acoustic import forward_model

__all__ = ["born", "gradient", "misfit_gradient", "lowpass", "refine", "RefineResult"]

_MODELLING_KEYS = ("dx", "dt", "nt", "freq", "src_x", "src_z", "rec_x", "rec_z", "pad", "wavelet", "convention")
# forward_model's defaults, the one source of them
_DEFAULTS = {k: p.default for k, p in inspect.signature(forward_model).parameters.items() if k in _MODELLING_KEYS}


@numba.njit(inline="always")
def _d1(k, f, i, j, di, dj):
    """4th-order first difference of ghost-indexed ``f`` at cell [i + 2, j + 2] along (di, dj) (times dx)."""
    r, c = i + 2, j + 2
    return k[3] * (f[r + di, c + dj] - f[r - di, c - dj]) + k[4] * (f[r + 2 * di, c + 2 * dj] - f[r - 2 * di, c - 2 * dj])


@numba.njit(inline="always")
def _d2(k, f, i, j, di, dj):
    """4th-order second difference (times dx^2), as ``_d1``."""
    r, c = i + 2, j + 2
    return k[0] * (f[r + di, c + dj] + f[r - di, c - dj]) + k[1] * (
        f[r + 2 * di, c + 2 * dj] + f[r - 2 * di, c - 2 * dj]) + k[2] * f[r, c]


@numba.njit(inline="always")
def _strip_adjoint(q, aux, axis, gg, a_, b_, db_, r, c, one):
    """The transposed C-PML terms of one axis (0: x, 1: z) at the ghost-indexed cell [r, c], g = c mu^{n+1}:
    q[3 axis ..] <- (1 + b) tmp_bar, db tmp_bar + b psi_bar, tmp_bar (in the strip); zeta_bar updated in place.
    Outside the strip (a = 0) the plain stencil: q[3 axis] = g, and b, db, psi and zeta take no part."""
    qi = 3 * axis
    if a_ != 0:
        tb = (one + b_) * gg + b_ * aux[2 + axis, r, c]
        q[qi, r, c] = (one + b_) * tb
        q[qi + 1, r, c] = db_ * tb + b_ * aux[axis, r, c]
        q[qi + 2, r, c] = tb
        aux[2 + axis, r, c] = a_ * (gg + aux[2 + axis, r, c])
    else:
        q[qi, r, c] = gg


@numba.njit(parallel=True, cache=True, fastmath=True)
def _adjoint(coef, pax, pbx, pdbx, paz, pbz, pdbz, field, adj, rec_iz, rec_ix, offset, grad):
    """Backward adjoint recursion of every (model, shot) pair (see the module docstring).

    field: [N, n_src, L, nzp, nxp] forward u^0..u^{L-1}; adj: [N, n_src, nt, n_rec] dJ/d(data), sample k being
    u^{k + offset}; positions are padded-grid indices. grad: [N, n_src, nzp, nxp], written: sum_n mu^{n+1}
    (u^{n+1} - 2 u^n + u^{n-1}).
    """
    n_model, nzp, nxp = coef.shape
    n_src, n_lev = field.shape[1], field.shape[2]
    n_rec, nt = rec_iz.shape[0], adj.shape[2]
    g = 2
    k = np.array(_K_VALUES).astype(coef.dtype)
    one, two = k[5], k[6]
    for pair in numba.prange(n_model * n_src):
        mxcsr = _enter_ftz()
        m = pair // n_src
        s = pair % n_src
        shape = (nzp + 2 * g, nxp + 2 * g)
        # mu^{n+1}, partial mu^n, -mu^{n+1} for mu^{n-1}; C-PML adjoints; stencil inputs
        mu = np.zeros((3,) + shape, dtype=coef.dtype)
        aux = np.zeros((4,) + shape, dtype=coef.dtype)  # psi_bar x, z; zeta_bar x, z
        q = np.zeros((6,) + shape, dtype=coef.dtype)  # (1+b) tmp_bar, db tmp_bar + b psi_bar, m tmp_bar; x, z
        c = coef[m]
        ax, bx, dbx, az, bz, dbz = pax[m], pbx[m], pdbx[m], paz[m], pbz[m], pdbz[m]
        cur, part, nxt = 0, 1, 2
        kk = n_lev - 1 - offset
        if 0 <= kk < nt:
            for r in range(n_rec):
                mu[cur, rec_iz[r] + g, rec_ix[r] + g] += adj[m, s, kk, r]
        for n in range(n_lev - 2, -1, -1):  # step n: u^n, u^{n-1} -> u^{n+1}; mu[cur] = mu^{n+1} is complete
            a_mu = mu[cur]
            for i in range(nzp):
                for j in range(nxp):
                    am = a_mu[i + g, j + g]
                    d2t = field[m, s, n + 1, i, j] - two * field[m, s, n, i, j]
                    if n > 0:
                        d2t += field[m, s, n - 1, i, j]
                    grad[m, s, i, j] += am * d2t
                    gg = c[i, j] * am
                    _strip_adjoint(q, aux, 0, gg, ax[j + g], bx[j + g], dbx[j + g], i + g, j + g, one)  # x: by column
                    _strip_adjoint(q, aux, 1, gg, az[i + g], bz[i + g], dbz[i + g], i + g, j + g, one)  # z: by row
            p_mu, n_mu = mu[part], mu[nxt]
            for i in range(nzp):
                for j in range(nxp):
                    am = a_mu[i + g, j + g]
                    p_mu[i + g, j + g] += (two * am + _d2(k, q[0], i, j, 0, 1) - _d1(k, q[1], i, j, 0, 1)
                                           + _d2(k, q[3], i, j, 1, 0) - _d1(k, q[4], i, j, 1, 0))
                    n_mu[i + g, j + g] = -am
                    aux[0, i + g, j + g] = ax[j + g] * (aux[0, i + g, j + g] - _d1(k, q[2], i, j, 0, 1))
                    aux[1, i + g, j + g] = az[i + g] * (aux[1, i + g, j + g] - _d1(k, q[5], i, j, 1, 0))
            kk = n - offset
            if 0 <= kk < nt:
                for r in range(n_rec):
                    p_mu[rec_iz[r] + g, rec_ix[r] + g] += adj[m, s, kk, r]
            cur, part, nxt = part, nxt, cur
        _leave_ftz(mxcsr)


def _split(kwargs, caller):
    bad = sorted(set(kwargs) - set(_MODELLING_KEYS) - {"num_threads"})
    if bad:
        raise TypeError(f"{caller}: unexpected arguments {bad}; the modelling takes {list(_MODELLING_KEYS)}")
    modelling = {k: kwargs.get(k, v) for k, v in _DEFAULTS.items()}
    return modelling, kwargs.get("num_threads")


def _fold(padded, pad):
    """Adjoint of edge padding: [N, nz + 2 pad, nx + 2 pad] -> [N, nz, nx], each padded cell added to the model
    cell it copies."""
    if pad == 0:
        return padded.copy()
    x = padded
    x = np.concatenate([x[:, :pad + 1].sum(axis=1, keepdims=True), x[:, pad + 1:-pad - 1],
                        x[:, -pad - 1:].sum(axis=1, keepdims=True)], axis=1)
    x = np.concatenate([x[:, :, :pad + 1].sum(axis=2, keepdims=True), x[:, :, pad + 1:-pad - 1],
                        x[:, :, -pad - 1:].sum(axis=2, keepdims=True)], axis=2)
    return x


def _field(st, num_threads):
    """Data and every time level of the forward field of ``st``."""
    n, nzp, nxp = st.coef.shape
    field = np.zeros((n, st.src_ix.size, st.wavelet.shape[0], nzp, nxp), dtype=st.dtype)
    return _run(st, num_threads, field=field), field


def born(vel, dvel, **modelling):
    """Linearised data of :func:`~.acoustic.forward_model` at ``vel`` for the velocity perturbation ``dvel``
    (both m/s, [N, nz, nx] or [nz, nx]); the same keyword arguments. Data shape and dtype as forward_model's."""
    mod, threads = _split(modelling, "born")
    st = _setup(vel, caller="born", **mod)
    dvel = np.asarray(dvel, dtype=st.dtype)
    if dvel.shape != np.shape(vel):
        raise ValueError(f"born: dvel must have vel's shape {np.shape(vel)}, found {dvel.shape}")
    _, field = _field(st, threads)
    dv = dvel[None] if st.squeeze else dvel
    dvp = np.pad(dv, ((0, 0), (st.pad, st.pad), (st.pad, st.pad)), mode="edge")
    vp = np.pad(st.vel, ((0, 0), (st.pad, st.pad), (st.pad, st.pad)), mode="edge")
    scale = np.ascontiguousarray(2.0 * dvp / vp, dtype=st.dtype)
    out = _run(st, threads, born_scale=scale, base=field)
    return out[0] if st.squeeze else out


def _gradient(st, field, adj, threads):
    n, nzp, nxp = st.coef.shape
    adj = np.ascontiguousarray(adj, dtype=st.dtype)
    part = np.zeros((n, st.src_ix.size, nzp, nxp), dtype=st.dtype)
    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(int(threads))
    try:
        _adjoint(st.coef, *st.profiles, field, adj, st.rec_iz, st.rec_ix, st.offset, part)
    finally:
        numba.set_num_threads(previous)
    vp = np.pad(st.vel, ((0, 0), (st.pad, st.pad), (st.pad, st.pad)), mode="edge")
    return _fold(2.0 * part.sum(axis=1, dtype=np.float64) / vp, st.pad).astype(st.dtype)


def _with_data(vel, data, name, modelling, caller):
    """The modelling set-up of ``vel`` (:func:`_split`, ``_setup``) and ``data`` as [N, n_src, nt, n_rec],
    checked to have the data's shape (the argument ``name`` of ``caller`` in the error)."""
    mod, threads = _split(modelling, caller)
    st = _setup(vel, caller=caller, **mod)
    arr = np.asarray(data)
    arr = arr[None] if st.squeeze else arr
    expected = (st.vel.shape[0], st.src_ix.size, mod["nt"], st.rec_ix.size)
    if arr.shape != expected:
        raise ValueError(f"{caller}: {name} must have the data's shape {expected[st.squeeze:]}, "
                         f"found {np.shape(data)}")
    return st, mod, threads, arr


def gradient(vel, adjoint_source, **modelling):
    """The transpose of :func:`born` applied to ``adjoint_source`` (dJ/d(data), the data's shape): dJ/dv in
    (units of J) per m/s, the model's shape. Same keyword arguments as forward_model."""
    st, mod, threads, adj = _with_data(vel, adjoint_source, "adjoint_source", modelling, "gradient")
    _, field = _field(st, threads)
    g = _gradient(st, field, adj, threads)
    return g[0] if st.squeeze else g


def lowpass(data, fmax, dt, axis=-2):
    """Zero-phase low-pass of traces along ``axis`` (time): the spectrum times a cosine taper falling from 1 at
    0.75 fmax to 0 at 1.25 fmax, on a zero-padded (2x) trace; ``fmax`` None or inf returns the data. The filter is
    symmetric (its own transpose), which the misfit's adjoint source uses."""
    if fmax is None or not math.isfinite(fmax):
        return np.asarray(data)
    if fmax <= 0:
        raise ValueError(f"lowpass: fmax must be > 0 Hz, found {fmax}")
    x = np.moveaxis(np.asarray(data), axis, -1)
    n = x.shape[-1]
    f = np.fft.rfftfreq(2 * n, dt)
    t = np.clip((f - 0.75 * fmax) / (0.5 * fmax), 0.0, 1.0)
    h = 0.5 * (1.0 + np.cos(np.pi * t))
    y = np.fft.irfft(np.fft.rfft(x, 2 * n, axis=-1) * h, 2 * n, axis=-1)[..., :n]
    return np.moveaxis(y.astype(x.dtype, copy=False), -1, axis)


def misfit_gradient(vel, observed, fmax=None, **modelling):
    """Relative misfit J = ||F(d(v) - d_obs)||^2 / ||F d_obs||^2 per model, with F :func:`lowpass` at ``fmax``
    Hz, and its gradient dJ/dv (per m/s). Returns (J [N], gradient like vel, synthetic data)."""
    st, mod, threads, obs = _with_data(vel, observed, "observed", modelling, "misfit_gradient")
    syn, field = _field(st, threads)
    dt = mod["dt"]
    res = lowpass(syn.astype(np.float64) - obs, fmax, dt)
    norm = np.sum(lowpass(obs.astype(np.float64), fmax, dt) ** 2, axis=(1, 2, 3))
    if np.any(norm <= 0):
        raise ValueError("misfit_gradient: observed data are zero (in the band below fmax) for some sample")
    j = np.sum(res ** 2, axis=(1, 2, 3)) / norm
    adj = lowpass(res, fmax, dt) * (2.0 / norm)[:, None, None, None]
    g = _gradient(st, field, adj, threads)
    if st.squeeze:
        return j[0], g[0], syn[0]
    return j, g, syn


class RefineResult:
    """What :func:`refine` returns: ``vel`` [N, nz, nx] m/s, and per sample the history of every iteration
    (iteration 0 is the start): ``misfit`` (full-band relative misfit), ``band`` (the stage's fmax, Hz or None),
    ``evaluations`` (misfit + gradient evaluations so far) and, where ``truth`` was given, ``mae`` (m/s) and
    ``ssim``."""

    def __init__(self, vel, history):
        self.vel = vel
        self.history = history


def _ssim(a, b, data_range):
    from skimage.metrics import structural_similarity
    return float(structural_similarity(a, b, data_range=data_range))


def refine(vel, observed, *, iters, bands, vmin, vmax, depth_power, truth=None, ssim_range=None, log=None,
           **modelling):
    """Adjoint-state FWI from the starting models ``vel`` ([N, nz, nx] or [nz, nx], m/s) to fit ``observed``
    (the data of ``modelling``, forward_model's keyword arguments and convention).

    Each sample alone: scipy's L-BFGS-B (bounds ``vmin``..``vmax`` m/s, its own line search) on
    :func:`misfit_gradient` in km/s, ``iters`` iterations in all, split evenly over ``bands`` (fmax in Hz, low
    to high; None: the full band), each stage restarting L-BFGS from where the last stopped. ``truth`` (the
    models' shape) adds MAE and SSIM (over ``ssim_range`` m/s, default vmax - vmin) to the history; ``log`` is
    called with one line per iteration.
    """
    from scipy.optimize import minimize

    mod, threads = _split(modelling, "refine")
    vel = np.asarray(vel)
    squeeze = vel.ndim == 2
    v0 = (vel[None] if squeeze else vel).astype(np.float64)
    obs = np.asarray(observed)
    obs = obs[None] if squeeze else obs
    if obs.ndim != 4 or obs.shape[0] != v0.shape[0]:
        raise ValueError(f"refine: observed must be [N, n_src, nt, n_rec] for {v0.shape[0]} starting models, "
                         f"found shape {np.shape(observed)}")
    if not (0 < vmin < vmax):
        raise ValueError(f"refine: need 0 < vmin < vmax (m/s), found vmin={vmin}, vmax={vmax}")
    if int(iters) != iters or iters < 0:
        raise ValueError(f"refine: iters must be an integer >= 0, found {iters}")
    bands = list(bands) if bands else [None]
    for f in bands:
        if f is not None and not (isinstance(f, (int, float)) and f > 0):
            raise ValueError(f"refine: bands must be fmax values > 0 Hz or None, found {bands}")
    true = None if truth is None else np.asarray(truth, dtype=np.float64).reshape(v0.shape)
    data_range = float(ssim_range or (vmax - vmin))
    dtype = np.float64 if vel.dtype == np.float64 else np.float32
    per_stage = [iters // len(bands) + (i < iters % len(bands)) for i in range(len(bands))]
    out = np.empty_like(v0)
    histories = []
    # unknowns: v / (1000 w(z)), w = ((z + 1) / nz)^depth_power: deeper cells move more per unit step
    nz, nx = v0.shape[1:]
    w = (((np.arange(nz) + 1.0) / nz) ** depth_power)[:, None] * np.ones(nx) * 1000.0
    bounds = list(zip((vmin / w).ravel(), (vmax / w).ravel()))
    for i in range(v0.shape[0]):
        hist = {"misfit": [], "band": [], "evaluations": []}
        if true is not None:
            hist.update(mae=[], ssim=[])
        count = [0]

        def record(v, band, i=i, hist=hist):
            syn = forward_model(v.astype(dtype), num_threads=threads, **mod)
            j = float(np.sum((syn.astype(np.float64) - obs[i]) ** 2) / np.sum(obs[i].astype(np.float64) ** 2))
            hist["misfit"].append(j)
            hist["band"].append(band)
            hist["evaluations"].append(count[0])
            line = f"sample {i} it {len(hist['misfit']) - 1:3d} band {band or 'full'}: misfit {j:.4g}"
            if true is not None:
                hist["mae"].append(float(np.abs(v - true[i]).mean()))
                hist["ssim"].append(_ssim(v, true[i], data_range))
                line += f", MAE {hist['mae'][-1]:.1f} m/s, SSIM {hist['ssim'][-1]:.4f}"
            if log is not None:
                log(line)

        x = np.clip(v0[i], vmin, vmax) / w
        record(x * w, bands[0])
        last = [x]  # the latest iterate recorded: what the stage hands on (L-BFGS-B may end on a trial point)

        def done(xk, band):
            last[0] = xk.reshape(x.shape).copy()
            record(last[0] * w, band)
        for band, n_it in zip(bands, per_stage):
            if n_it == 0:
                continue

            def fun(xk, band=band):
                count[0] += 1
                j, g, _ = misfit_gradient((xk.reshape(x.shape) * w).astype(dtype), obs[i], fmax=band,
                                          num_threads=threads, **mod)
                return float(j), (g.astype(np.float64) * w).ravel()

            minimize(fun, x.ravel(), jac=True, method="L-BFGS-B", bounds=bounds,
                     callback=lambda xk, band=band: done(xk, band),
                     options={"maxiter": n_it, "maxfun": 3 * n_it, "maxcor": 10})
            x = last[0]
        out[i] = x * w
        histories.append(hist)
    out = out.astype(dtype)
    return RefineResult(out[0] if squeeze else out, histories)
