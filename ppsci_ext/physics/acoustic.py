"""2D constant-density acoustic finite-difference modelling (OpenFWI-style shot gathers).

PDE, for the pressure-like field u(x, z, t) in the model:

    u_tt = v^2 (u_xx + u_zz) + v^2 w(t) delta(x - xs) delta(z - zs),
    i.e.  (1/v^2) u_tt - lap u = w(t) delta(x - xs) delta(z - zs),

with u = u_t = 0 at t = 0.  In a homogeneous, unbounded medium the solution is

    u(r, t) = (w * G)(t),   G(r, t) = H(t - r/v) / (2 pi sqrt(t^2 - r^2/v^2)),

the free-space 2D Green's function of (1/v^2) d_tt - lap, convolved in time with w;
it does not depend on v's scale, and the operator is self-adjoint, so data are
reciprocal (source and receiver swap gives the same trace).  Units: v in m/s, dx in m,
dt in s; u has the units of w (dimensionless for the default Ricker).

Discretisation:
  * space: 4th order, 1D stencil (-1/12, 4/3, -5/2, 4/3, -1/12) / dx^2 per axis;
  * time: 2nd order leapfrog, u^{n+1} = 2 u^n - u^{n-1} + v^2 dt^2 (L u^n + w^n delta_h);
  * source: delta_h is 1/dx^2 at the source cell, i.e. v^2 dt^2 w(n dt) / dx^2 is added
    to the source cell when stepping from n to n+1;
  * receivers record u^k at time k * dt, k = 0..nt-1 (so sample 0 is always zero).

Absorbing boundary: ``pad`` cells of convolutional PML (C-PML, second-order form of
Pasalic & McGarry 2010, as in deepwave) on all four sides, no free surface; velocity
is extended from the nearest model cell and u = 0 beyond the padded grid.  Profiles:
sigma = sigma0 f^2 (f the fractional depth into the layer), sigma0 = 3 vmax ln(1/R) / (2 L),
L = pad * dx, R = ``PML_R``; alpha = pi freq (1 - f); kappa = 1.  ``DEFAULT_PAD`` comes
from the accuracy/cost table of bench/bench_modelling.py (pad 15: ~0.3% relative L2
error vs. a boundary-free reference, pad 10: ~1%, pad 20: ~0.1%).  pad=0 gives rigid
(u = 0) walls at the model edge.

Stability: for leapfrog in time, v dt sqrt(sum over axes of max|symbol|) <= 2; the
4th-order stencil's symbol peaks at k dx = pi with magnitude 5/2 + 8/3 + 1/6 = 16/3
per axis, so in 2D  v dt / dx <= 2 / sqrt(2 * 16/3) = sqrt(3/8) ~= 0.612 (``CFL_LIMIT``).

Conventions (``convention``): "ours" is the above. "openfwi" follows OpenFWI's published modelling
settings, so that the data have its amplitudes and timing: the source adds v^2 dt^2 w(n dt) to its
cell (no 1/dx^2: amplitudes are dx^2 times ours, 100x at dx = 10 m), the wavelet is
:func:`~ppsci_ext.physics.wavelets.openfwi_ricker` (peak at 73 ms for 15 Hz at 1 ms, not 1/freq), and
sample k records u^{k+1} (the field just after the k-th source sample; ours records u^k, so sample 0
is not zero). Same stencil, time stepping, polarity and acquisition. OpenFWI damps the outgoing
waves with a 120-cell sponge; here the C-PML of ``pad`` cells does it (the difference is measured in
bench/bench_modelling.py).
"""

import math
import platform
import warnings

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from .wavelets import openfwi_ricker
from .wavelets import ricker

CFL_LIMIT = math.sqrt(3.0 / 8.0)
CONVENTIONS = ("ours", "openfwi")
# C-PML width (cells) on each side, chosen from Table A of bench/bench_modelling.py.
DEFAULT_PAD = 15
# Target (continuous, normal-incidence) reflection coefficient of the C-PML.
PML_R = 1e-3
# Dispersion check: points per wavelength wanted at the highest frequency, taken as
# 2 * freq (the Ricker amplitude spectrum is 20% of its peak there).
POINTS_PER_WAVELENGTH = 5.0
_FMAX_OVER_FREQ = 2.0

_C1 = 4.0 / 3.0
_C2 = -1.0 / 12.0


# Denormals: the stencil spreads ~1e-40 precursors over the whole grid and the PML decays
# fields through that range; on x86 denormal arithmetic is ~50x slower and made float32
# runs 3-10x slower.  Each (model, shot) loop sets flush-to-zero / denormals-are-zero
# (MXCSR bits 15 and 6) and restores the thread's MXCSR afterwards.  The effect on the
# data is below 1e-38 (float32) / 1e-308 (float64) per sample.
_MXCSR_FTZ_DAZ = 0x8040
_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


def _mxcsr_fn(builder, name):
    fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
    return cgutils.get_or_insert_function(builder.module, fnty, name)


@intrinsic
def _get_mxcsr(typingctx):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.call(_mxcsr_fn(builder, "llvm.x86.sse.stmxcsr"), [builder.bitcast(slot, ir.IntType(8).as_pointer())])
        return builder.load(slot)

    return types.uint32(), codegen


@intrinsic
def _set_mxcsr(typingctx, value):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.store(args[0], slot)
        builder.call(_mxcsr_fn(builder, "llvm.x86.sse.ldmxcsr"), [builder.bitcast(slot, ir.IntType(8).as_pointer())])
        return context.get_dummy_value()

    return types.void(types.uint32), codegen


if _X86:

    @numba.njit(inline="always")
    def _enter_ftz():
        old = _get_mxcsr()
        _set_mxcsr(old | numba.uint32(_MXCSR_FTZ_DAZ))
        return old

    @numba.njit(inline="always")
    def _leave_ftz(old):
        _set_mxcsr(old)

else:  # other CPUs: no portable intrinsic; correct results, possibly slower float32

    @numba.njit(inline="always")
    def _enter_ftz():
        return numba.uint32(0)

    @numba.njit(inline="always")
    def _leave_ftz(old):
        pass


def cfl_number(vmax, dt, dx):
    """Courant number vmax * dt / dx (must be <= CFL_LIMIT ~= 0.612 for stability)."""
    return float(vmax) * float(dt) / float(dx)


# Stencil constants are passed as an array of the field dtype (_K): float64 literals in a
# float32 kernel would force conversions and cost ~40% of the run time.
# _K = [4/3, -1/12, -5/2, 2/3 (= 8/12), -1/12, 1, 2]
_K_VALUES = (_C1, _C2, -2.5, 8.0 / 12.0, -1.0 / 12.0, 1.0, 2.0)

# Cells are addressed as [i + 2, j + 2] with i, j >= 0 the padded-grid indices (2 ghost
# cells); only non-negative offsets are used so that numba can drop its
# negative-index (wraparound) checks, which otherwise make the loops ~5x slower.


@numba.njit(inline="always")
def _pml_x(k, u, psi, psi_new, zeta, a, b, db, i, j):
    """C-PML contribution of the x axis to dx^2 * lap u at cell [i + 2, j + 2].

    Pasalic & McGarry (2010): psi and zeta are recursive convolutions applying 1/s - 1,
    s = 1 + sigma / (alpha + i omega): psi^n = a psi^{n-1} + b u_x^n, and
    (1/s) d/dx (1/s) d/dx u = tmp + zeta^n, tmp = d/dx (u_x + psi^n)
    = (1 + b) u_xx + b' u_x + d/dx (a psi^{n-1}), zeta^n = a zeta^{n-1} + b tmp.
    All derivatives are 4th order and times dx (resp. dx^2).
    """
    r = i + 2
    du = k[3] * (u[r, j + 3] - u[r, j + 1]) + k[4] * (u[r, j + 4] - u[r, j])
    d2u = k[0] * (u[r, j + 3] + u[r, j + 1]) + k[1] * (u[r, j + 4] + u[r, j]) + k[2] * u[r, j + 2]
    dpsi = k[3] * (a[j + 3] * psi[r, j + 3] - a[j + 1] * psi[r, j + 1]) + k[4] * (
        a[j + 4] * psi[r, j + 4] - a[j] * psi[r, j]
    )
    bb = b[j + 2]
    aa = a[j + 2]
    tmp = (k[5] + bb) * d2u + db[j + 2] * du + dpsi
    out = (k[5] + bb) * tmp + aa * zeta[r, j + 2]
    psi_new[r, j + 2] = bb * du + aa * psi[r, j + 2]
    zeta[r, j + 2] = bb * tmp + aa * zeta[r, j + 2]
    return out


@numba.njit(inline="always")
def _pml_z(k, u, psi, psi_new, zeta, a, b, db, i, j):
    """As ``_pml_x`` along z (the first axis)."""
    c = j + 2
    du = k[3] * (u[i + 3, c] - u[i + 1, c]) + k[4] * (u[i + 4, c] - u[i, c])
    d2u = k[0] * (u[i + 3, c] + u[i + 1, c]) + k[1] * (u[i + 4, c] + u[i, c]) + k[2] * u[i + 2, c]
    dpsi = k[3] * (a[i + 3] * psi[i + 3, c] - a[i + 1] * psi[i + 1, c]) + k[4] * (
        a[i + 4] * psi[i + 4, c] - a[i] * psi[i, c]
    )
    bb = b[i + 2]
    aa = a[i + 2]
    tmp = (k[5] + bb) * d2u + db[i + 2] * du + dpsi
    out = (k[5] + bb) * tmp + aa * zeta[i + 2, c]
    psi_new[i + 2, c] = bb * du + aa * psi[i + 2, c]
    zeta[i + 2, c] = bb * tmp + aa * zeta[i + 2, c]
    return out


@numba.njit(inline="always")
def _d2x(k, u, i, j):
    r = i + 2
    return k[0] * (u[r, j + 3] + u[r, j + 1]) + k[1] * (u[r, j + 4] + u[r, j]) + k[2] * u[r, j + 2]


@numba.njit(inline="always")
def _d2z(k, u, i, j):
    c = j + 2
    return k[0] * (u[i + 3, c] + u[i + 1, c]) + k[1] * (u[i + 4, c] + u[i, c]) + k[2] * u[i + 2, c]


@numba.njit(inline="always")
def _x_strip(k, u, old, c, psx, psx_new, zex, ax, bx, dbx, i, n):
    """Cells [i, 0..n-1] of arrays whose column 0 is the strip's first cell: x-PML only."""
    two = k[6]
    for j in range(n):
        lap = _pml_x(k, u, psx, psx_new, zex, ax, bx, dbx, i, j) + _d2z(k, u, i, j)
        old[i + 2, j + 2] = c[i, j] * lap + two * u[i + 2, j + 2] - old[i + 2, j + 2]


@numba.njit(cache=True, fastmath=True)
def _step(k, u, old, c, psx, psx_new, zex, psz, psz_new, zez, ax, bx, dbx, az, bz, dbz, pad):
    """One time step: old <- u^{n+1} from u = u^n, old = u^{n-1} (ghost-cell arrays).

    Each cell of old is read only by its own update, so it is overwritten in place.
    Every loop starts at 0 (column views for the right strip): a loop starting at a
    run-time offset keeps numba's wraparound checks and runs ~6x slower.
    """
    nzp, nxp = c.shape
    right = nxp - pad
    two = k[6]
    c1, c2, c0 = k[0], k[1], k[6] * k[2]
    # Right x-PML strip through column views, so that its loop starts at 0.
    u_r, old_r, c_r = u[:, right:], old[:, right:], c[:, right:]
    psx_r, psx_new_r, zex_r = psx[:, right:], psx_new[:, right:], zex[:, right:]
    ax_r, bx_r, dbx_r = ax[right:], bx[right:], dbx[right:]
    for i in range(nzp):
        if i < pad or i >= nzp - pad:
            for j in range(nxp):
                lap = _pml_z(k, u, psz, psz_new, zez, az, bz, dbz, i, j)
                if j < pad or j >= right:
                    lap += _pml_x(k, u, psx, psx_new, zex, ax, bx, dbx, i, j)
                else:
                    lap += _d2x(k, u, i, j)
                old[i + 2, j + 2] = c[i, j] * lap + two * u[i + 2, j + 2] - old[i + 2, j + 2]
            continue
        _x_strip(k, u, old, c, psx, psx_new, zex, ax, bx, dbx, i, pad)
        um2, um1, u0, up1, up2 = u[i, pad:], u[i + 1, pad:], u[i + 2, pad:], u[i + 3, pad:], u[i + 4, pad:]
        o = old[i + 2, pad:]
        cc = c[i, pad:]
        for j in range(nxp - 2 * pad):
            lap = c1 * (um1[j + 2] + up1[j + 2] + u0[j + 1] + u0[j + 3]) + c2 * (
                um2[j + 2] + up2[j + 2] + u0[j] + u0[j + 4]
            ) + c0 * u0[j + 2]
            o[j + 2] = cc[j] * lap + two * u0[j + 2] - o[j + 2]
        _x_strip(k, u_r, old_r, c_r, psx_r, psx_new_r, zex_r, ax_r, bx_r, dbx_r, i, pad)


@numba.njit(parallel=True, cache=True, fastmath=True)
def _propagate(coef, pax, pbx, pdbx, paz, pbz, pdbz, pad, src_scale, wavelet, src_iz, src_ix, rec_iz, rec_ix, out,
               field, born_scale, base):
    """Run every (model, shot) pair to completion; one pair per prange iteration.

    coef: [N, nzp, nxp] v^2 dt^2 / dx^2 on the padded grid.  p{a,b,db}{x,z}: C-PML
    profiles per model, [N, nxp + 4] / [N, nzp + 4] (ghost-cell indexing, db times dx).
    src_scale: [N, n_src] factor multiplying w^n at the source cell.
    Positions are padded-grid indices.  out: [N, n_src, nt, n_rec], written in place.
    field: [N, n_src, nt, nzp, nxp] to keep every u^n (for the adjoint-state gradient), or empty ([0, ...]).
    born_scale: [N, nzp, nxp] = delta c / c with base [N, n_src, nt, nzp, nxp] the unperturbed field, to add the
    Born source born_scale * (base^{n+1} - 2 base^n + base^{n-1}) after each step (linearised modelling), or empty.
    """
    n_model, nzp, nxp = coef.shape
    n_src = src_iz.shape[0]
    n_rec = rec_iz.shape[0]
    nt = wavelet.shape[0]
    store = field.shape[0] > 0
    born = born_scale.shape[0] > 0
    g = 2
    k = np.array(_K_VALUES).astype(coef.dtype)
    for pair in numba.prange(n_model * n_src):
        mxcsr = _enter_ftz()
        m = pair // n_src
        s = pair % n_src
        # [u, psi_x, psi_z] double-buffered by time-step parity; zeta updated in place.
        buf = np.zeros((2, 3, nzp + 2 * g, nxp + 2 * g), dtype=coef.dtype)
        zeta = np.zeros((2, nzp + 2 * g, nxp + 2 * g), dtype=coef.dtype)
        sz = src_iz[s] + g
        sx = src_ix[s] + g
        amp = src_scale[m, s]
        for n in range(nt):
            cur = buf[n % 2]
            nxt = buf[(n + 1) % 2]
            for r in range(n_rec):
                out[m, s, n, r] = cur[0, rec_iz[r] + g, rec_ix[r] + g]
            if store:
                field[m, s, n] = cur[0, g:g + nzp, g:g + nxp]
            if n == nt - 1:
                break
            _step(k, cur[0], nxt[0], coef[m], cur[1], nxt[1], zeta[0], cur[2], nxt[2], zeta[1],
                  pax[m], pbx[m], pdbx[m], paz[m], pbz[m], pdbz[m], pad)
            nxt[0, sz, sx] += amp * wavelet[n]
            if born:
                for i in range(nzp):
                    for j in range(nxp):
                        d2t = base[m, s, n + 1, i, j] - k[6] * base[m, s, n, i, j]
                        if n > 0:
                            d2t += base[m, s, n - 1, i, j]
                        nxt[0, i + g, j + g] += born_scale[m, i, j] * d2t
        _leave_ftz(mxcsr)


def _cpml_profiles(n, pad, dx, dt, vmax, freq, dtype):
    """C-PML a, b and dx * db/dx along one axis of n + 2 pad cells, with 2 zero ghost cells each side.

    sigma = sigma0 f^2 with f the fractional depth into the layer (1 at the outer cell),
    sigma0 = 3 vmax ln(1/R) / (2 L), L = pad dx;  alpha = pi freq (1 - f);
    a = exp(-(sigma + alpha) dt),  b = sigma / (sigma + alpha) (a - 1).
    """
    x = np.arange(n + 2 * pad, dtype=np.float64)
    frac = np.zeros_like(x)
    if pad > 0:
        frac = np.clip(np.maximum(pad - x, x - (pad + n - 1)) / pad, 0.0, 1.0)
    active = frac > 0
    sigma = 3.0 * vmax * math.log(1.0 / PML_R) / (2.0 * max(pad, 1) * dx) * frac**2
    alpha = math.pi * freq * (1.0 - frac)
    total = sigma + alpha
    a = np.where(active, np.exp(-total * dt), 0.0)
    b = np.where(active, sigma / np.where(total > 0, total, 1.0) * np.expm1(-total * dt), 0.0)
    bg = np.pad(b, 2, mode="edge")
    db = (8.0 * (bg[3:-1] - bg[1:-3]) - (bg[4:] - bg[:-4])) / 12.0
    a, b, db = (np.pad(p, 2).astype(dtype) for p in (a, b, db))
    return a, b, db


def _index_array(name, values, size, axis_name):
    arr = np.atleast_1d(np.asarray(values))
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"forward_model: {name} must be an int or a 1D sequence of ints, found {values!r}")
    bad = arr[(arr < 0) | (arr >= size)]
    if bad.size:
        raise ValueError(
            f"forward_model: {name} must lie in [0, {size - 1}] ({axis_name} of the model grid), found {bad.tolist()}"
        )
    return arr.astype(np.int64)


def _check_model(vel, dx, dt, freq, pad):
    if vel.ndim not in (2, 3):
        raise ValueError(f"forward_model: vel must be [nz, nx] or [N, nz, nx] (2D or 3D), found shape {vel.shape}")
    if vel.size == 0:
        raise ValueError(f"forward_model: vel must be non-empty, found shape {vel.shape}")
    if not np.all(np.isfinite(vel)):
        raise ValueError("forward_model: vel must be finite, found NaN or inf")
    vmin, vmax = float(vel.min()), float(vel.max())
    if vmin <= 0:
        raise ValueError(f"forward_model: vel must be > 0 m/s, found min {vmin}")
    if not (dx > 0 and dt > 0):
        raise ValueError(f"forward_model: dx and dt must be > 0, found dx={dx}, dt={dt}")
    if int(pad) != pad or pad < 0:
        raise ValueError(f"forward_model: pad must be an integer >= 0, found {pad}")
    cfl = cfl_number(vmax, dt, dx)
    if cfl > CFL_LIMIT:
        raise ValueError(
            f"forward_model: CFL condition fails: vmax*dt/dx = {cfl:.3g} > {CFL_LIMIT:.3f} "
            f"(vmax={vmax:g} m/s, dt={dt:g} s, dx={dx:g} m); reduce dt or increase dx"
        )
    dx_max = vmin / (_FMAX_OVER_FREQ * freq * POINTS_PER_WAVELENGTH)
    if dx > dx_max * (1 + 1e-9):
        warnings.warn(
            f"forward_model: grid dispersion likely: dx={dx:g} m > vmin/(2*freq*{POINTS_PER_WAVELENGTH:g}) = "
            f"{dx_max:.3g} m (vmin={vmin:g} m/s, freq={freq:g} Hz); reduce dx or freq",
            RuntimeWarning,
            stacklevel=3,
        )


def forward_model(
    vel,
    *,
    dx=10.0,
    dt=1e-3,
    nt=1000,
    freq=15.0,
    src_x=(0, 17, 34, 52, 69),
    src_z=1,
    rec_x=None,
    rec_z=1,
    pad=DEFAULT_PAD,
    wavelet=None,
    num_threads=None,
    convention="ours",
):
    """Shot gathers of the 2D constant-density acoustic wave equation (see module docstring).

    Args:
        vel: velocity in m/s, [N, nz, nx] or [nz, nx]; float64 input runs in float64,
            anything else in float32.
        dx: grid spacing in m (both axes).  dt: time step and sample interval in s.
        nt: number of time samples; sample k is time k * dt.
        freq: Ricker peak frequency in Hz (default wavelet and dispersion check).
        src_x, src_z: source column indices (one shot each) and the common depth index.
        rec_x, rec_z: receiver column indices (None: every column 0..nx-1) and depth index.
            All positions are indices of the unpadded model grid.
        pad: absorbing-layer width in cells on each of the four sides (no free surface).
        wavelet: source time function [nt] (default ``ricker(freq, nt, dt)``, or ``openfwi_ricker`` with
            ``convention="openfwi"``).
        num_threads: numba threads for this call (default: numba's current setting).
        convention: "ours" or "openfwi": source scaling, default wavelet and the time of sample 0
            (module docstring).

    Returns:
        [N, n_src, nt, n_rec] (or [n_src, nt, n_rec] for 2D vel), float64 for float64
        vel, else float32: data[i, shot, time, receiver].

    Raises:
        ValueError: bad shape, non-finite or non-positive velocity, positions outside
            the grid, pad < 0, wavelet of the wrong length, CFL > ``CFL_LIMIT``.
    Warns:
        RuntimeWarning: dx > vmin / (5 * 2 * freq) (fewer than 5 points per wavelength).
    """
    st = _setup(vel, dx, dt, nt, freq, src_x, src_z, rec_x, rec_z, pad, wavelet, convention)
    out = _run(st, num_threads)
    return out[0] if st.squeeze else out


class _Setup:
    """A modelling run's arrays on the padded grid (``_setup``): coef, C-PML profiles, source scale, positions."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def _setup(vel, dx, dt, nt, freq, src_x, src_z, rec_x, rec_z, pad, wavelet, convention, caller="forward_model"):
    """Check the arguments of :func:`forward_model` and build its padded-grid arrays. ``offset``: sample k of the
    data is u^{k + offset} (1 for "openfwi", which runs one step more); ``wavelet`` has nt + offset samples."""
    if convention not in CONVENTIONS:
        raise ValueError(f"{caller}: convention must be one of {list(CONVENTIONS)}, found {convention!r}")
    vel = np.asarray(vel)
    squeeze = vel.ndim == 2
    _check_model(vel, dx, dt, freq, pad)
    dtype = np.float64 if vel.dtype == np.float64 else np.float32
    vel = np.ascontiguousarray(vel[None] if squeeze else vel, dtype=dtype)
    _, nz, nx = vel.shape
    src_ix = _index_array("src_x", src_x, nx, "columns")
    src_iz = np.full_like(src_ix, _index_array("src_z", src_z, nz, "rows")[0])
    rec_ix = np.arange(nx) if rec_x is None else _index_array("rec_x", rec_x, nx, "columns")
    rec_iz = np.full_like(rec_ix, _index_array("rec_z", rec_z, nz, "rows")[0])
    openfwi = convention == "openfwi"
    if wavelet is None:
        wavelet = openfwi_ricker(freq, nt, dt) if openfwi else ricker(freq, nt, dt)
    wavelet = np.ascontiguousarray(wavelet, dtype=dtype)
    if wavelet.shape != (nt,):
        raise ValueError(f"{caller}: wavelet must have shape ({nt},) (nt,), found {wavelet.shape}")
    if openfwi:  # one more step, so that sample k holds u^{k+1}; w(nt dt) is never recorded
        wavelet = np.append(wavelet, dtype(0))
    pad = int(pad)
    coef = np.ascontiguousarray(np.pad(vel, ((0, 0), (pad, pad), (pad, pad)), mode="edge") ** 2 * (dt / dx) ** 2)
    vmax = vel.reshape(vel.shape[0], -1).max(axis=1)
    prof_x = [_cpml_profiles(nx, pad, dx, dt, float(v), freq, dtype) for v in vmax]
    prof_z = [_cpml_profiles(nz, pad, dx, dt, float(v), freq, dtype) for v in vmax]
    profiles = [np.stack([p[k] for p in prof]) for prof in (prof_x, prof_z) for k in range(3)]
    # Source cells are inside the model: delta_h = 1/dx^2, so the factor is v^2 dt^2 / dx^2 (OpenFWI: v^2 dt^2).
    src_scale = np.ascontiguousarray(coef[:, src_iz + pad, src_ix + pad] * dtype(dx * dx if openfwi else 1.0))
    return _Setup(vel=vel, squeeze=squeeze, dtype=dtype, pad=pad, coef=coef, profiles=profiles, src_scale=src_scale,
                  wavelet=wavelet, offset=int(openfwi), src_iz=src_iz + pad, src_ix=src_ix + pad,
                  rec_iz=rec_iz + pad, rec_ix=rec_ix + pad)


def _run(st, num_threads, field=None, born_scale=None, base=None):
    """Propagate every (model, shot) of ``st``; the data [N, n_src, nt, n_rec]. ``field`` [N, n_src, nt + offset,
    nzp, nxp] receives every u^n; ``born_scale`` with ``base`` (such a field) gives linearised data instead, with
    no point source."""
    empty5 = np.zeros((0, 0, 0, 0, 0), st.dtype)
    src_scale = st.src_scale if born_scale is None else np.zeros_like(st.src_scale)
    field = empty5 if field is None else field
    base = empty5 if base is None else base
    born_scale = np.zeros((0, 0, 0), st.dtype) if born_scale is None else born_scale
    out = np.zeros((st.vel.shape[0], st.src_ix.size, st.wavelet.shape[0], st.rec_ix.size), dtype=st.dtype)
    previous = numba.get_num_threads()
    if num_threads is not None:
        numba.set_num_threads(int(num_threads))
    try:
        _propagate(st.coef, *st.profiles, st.pad, src_scale, st.wavelet, st.src_iz, st.src_ix, st.rec_iz, st.rec_ix,
                   out, field, born_scale, base)
    finally:
        numba.set_num_threads(previous)
    return np.ascontiguousarray(out[:, :, st.offset:]) if st.offset else out


def convention_delay(freq: float, dt: float) -> float:
    """Samples by which gathers of the "openfwi" convention lag those of "ours", each with its default wavelet:
    OpenFWI's Ricker peaks at floor(1.1 / (freq dt)) samples, ours at 1 / (freq dt), and OpenFWI's sample k holds
    the field one step later (u^{k+1}). 5.333 samples for 15 Hz at 1 ms."""
    if not (freq > 0 and dt > 0):
        raise ValueError(f"convention_delay: freq and dt must be > 0, found freq={freq}, dt={dt}")
    return math.floor(2.2 / freq / dt / 2) - 1.0 / (freq * dt) - 1.0


def convention_factor(source: str, target: str, dx: float) -> float:
    """How many times larger the ``target`` convention's amplitudes are than the ``source``'s: dx^2 from "ours" to
    "openfwi" (its source term lacks our 1/dx^2), 1/dx^2 back, 1 for the same convention."""
    if source == target:
        return 1.0
    return dx * dx if target == "openfwi" else 1.0 / (dx * dx)


def convert_convention(gathers: np.ndarray, source: str, target: str, dx: float, dt: float,
                       freq: float) -> np.ndarray:
    """Gathers [..., nt, n_rec] modelled in the ``source`` convention (with its default wavelet) as the ``target``
    convention would give them: times dx^2 and delayed by :func:`convention_delay` (a fractional shift, applied
    as a phase ramp on a zero-padded trace) from "ours" to "openfwi", and the reverse. The two differ only in
    the source scaling, the wavelet's delay and truncation (1.6e-4 of its peak) and the sample timing: the
    conversion agrees with the other convention's modelling to 7e-4 of the peak (measured both ways, 400-sample
    traces) except within 20 samples of the trace's end, where a trace cut while the field is still strong
    rings under a fractional shift, and a conversion to "ours" lacks the times past the "openfwi" trace."""
    for name, c in (("source", source), ("target", target)):
        if c not in CONVENTIONS:
            raise ValueError(f"convert_convention: {name} must be one of {list(CONVENTIONS)}, found {c!r}")
    x = np.asarray(gathers)
    if source == target:
        return x.copy()
    n = x.shape[-2]
    shift = convention_delay(freq, dt) * (1.0 if target == "openfwi" else -1.0)
    spec = np.fft.rfft(x.astype(np.float64), 2 * n, axis=-2)
    ramp = np.exp(-2j * np.pi * np.fft.rfftfreq(2 * n) * shift)[:, None]
    out = np.fft.irfft(spec * ramp, 2 * n, axis=-2)[..., :n, :]
    out *= convention_factor(source, target, dx)
    return out.astype(x.dtype, copy=False)
