"""Prestack AVA (amplitude versus angle) forward modelling of P-P reflections, batched over traces.

A model is a set of traces sampled in two-way time (or depth): vp, vs (m/s) and rho (any density unit: only
ratios enter) at samples i = 0..L-1. Interface i lies between samples i and i+1 (upper medium 1 = sample i,
lower medium 2 = sample i+1); its reflection coefficient is stored at index i, and index L-1 (the last sample,
which has no interface below it) holds 0. Angles are P-wave incidence angles in the upper medium.

Reflection coefficients come either from the exact Zoeppritz solution (real, pre-critical) or from the
3-term Aki-Richards linearisation in log-parameters, as pylops writes it (``pylops.avo.avo.akirichards`` with
a forward-difference derivative). Synthetic traces are the reflectivity convolved with a wavelet, written as
a matrix product with a convolution matrix W ([L, L], wavelet centred on the diagonal).

Critical angles. The P-P coefficient is real only below the P critical angle asin(vp1/vp2) (exists where
vp2 > vp1); the exact Zoeppritz formula also needs a real transmitted / reflected S angle, i.e. incidence
below asin(vp1/vs) for vs = vs1, vs2 (exists where vs2 > vp1). An (interface, angle) pair counts as "at or
beyond critical" when sin^2(theta) * (v/vp1)^2 >= 1 - 1e-6 for v = vp2 (both methods) or v = vs1, vs2
(Zoeppritz only). ``beyond_critical="error"`` raises a ValueError for such a pair, ``"mask"`` sets its
coefficient (and gradient) to exactly 0, with every intermediate finite, so no NaN reaches a gradient.

Everything is written in paddle so it is differentiable (``paddle.grad``, also with ``create_graph=True``).
``AVAForward.misfit_and_gradient`` differentiates the misfit with an explicit adjoint (paddle ops as well,
so it too can be differentiated again), 2.5-3x cheaper than autograd through the Zoeppritz formula.
The (interface, angle) work is laid out as [A, N] (N interfaces of all traces, flattened) and done in
blocks of ~128 K entries with every operand of full block shape: paddle's CPU element-wise kernels are
several times faster on same-shape tensors that stay in cache than on 80 MB temporaries or on broadcast
operands (a [N, 1] x [A] product is ~5x slower than an [A, N] x [A, N] one).
"""

import math

import numpy as np
import paddle

__all__ = [
    "AVAForward",
    "aki_richards_rpp",
    "critical_angle_deg",
    "default_theta_groups",
    "reflectivity",
    "zoeppritz_rpp",
]

METHODS = ("zoeppritz", "aki_richards")
BEYOND_CRITICAL = ("error", "mask")
CRITICAL_TOL = 1e-6  # relative margin in sin^2(theta) below which an angle counts as at/beyond critical
_BLOCK_ELEMENTS = 1 << 17  # (interface, angle) entries per block


# ---------------------------------------------------------------------------------------------------------
# Single-interface formulas
# ---------------------------------------------------------------------------------------------------------

def _rpp_core_forward(inv_a2_sq, inv_b1_sq, inv_b2_sq, d, r, s2, ct):
    """Exact Zoeppritz Rpp in units where vp1 = 1 and rho1 = 1 (Rpp depends on ratios only), and the
    intermediates its adjoint needs: returns (rpp, cache).

    inv_a2_sq = (vp1/vp2)^2, inv_b1_sq = (vp1/vs1)^2, inv_b2_sq = (vp1/vs2)^2, r = rho2/rho1,
    d = 2 (r (vs2/vp1)^2 - (vs1/vp1)^2) (from ``_interface_ratios``), s2 = sin^2(theta) = (p vp1)^2,
    ct = cos(theta); all broadcastable. Aki & Richards (1980, eq. 5.40) with cos(i2)/vp2 = sqrt(1/a2^2 - s2)
    etc. and a = b - 1, b = r - d s2, c = 1 + d s2:
        Rpp = [(b ct - c p2) F - (a + d ct q2) H s2] / [E F + G H s2],  E = b ct + c p2, F = b q1 + c q2,
        G = a - d ct q2, H = a - d p2 q1.
    Pre-critical arguments are required (a negative square-root argument gives NaN).
    """
    p2 = (inv_a2_sq - s2).sqrt()  # cos(i2) / vp2
    q1 = (inv_b1_sq - s2).sqrt()  # cos(j1) / vs1
    q2 = (inv_b2_sq - s2).sqrt()  # cos(j2) / vs2
    dq = d * s2
    b = r - dq
    a = b - 1.0
    c = dq + 1.0
    b_p1, c_p2 = b * ct, c * p2
    f = b * q1 + c * q2
    p1_q2 = ct * q2
    d_p1_q2 = d * p1_q2
    p2_q1 = p2 * q1
    s2_h = s2 * (a - d * p2_q1)
    e, g = b_p1 + c_p2, a - d_p1_q2
    num_1, num_2 = b_p1 - c_p2, a + d_p1_q2
    denom = e * f + g * s2_h
    rpp = (num_1 * f - num_2 * s2_h) / denom
    cache = dict(p2=p2, q1=q1, q2=q2, b=b, c=c, d=d, ct=ct, s2=s2, f=f, p1_q2=p1_q2, p2_q1=p2_q1, s2_h=s2_h,
                 e=e, g=g, num_1=num_1, num_2=num_2, denom=denom, rpp=rpp)
    return rpp, cache


def _rpp_core_adjoint(g_rpp, k):
    """Reverse-mode derivative of ``_rpp_core_forward``: g_rpp (dphi/dRpp) and its cache ->
    dphi/d(inv_a2_sq, inv_b1_sq, inv_b2_sq, d, r), each of g_rpp's shape (s2, ct are constants)."""
    g_num = g_rpp / k["denom"]
    g_den = -(g_num * k["rpp"])
    g_sum, g_dif = g_num + g_den, g_den - g_num
    g_f = g_num * k["num_1"] + g_den * k["e"]
    g_s2h = g_den * k["g"] - g_num * k["num_2"]
    g_bp1, g_cp2 = g_sum * k["f"], g_dif * k["f"]
    g_h = g_s2h * k["s2"]
    g_a = g_dif * k["s2_h"] + g_h
    n_dp1q2 = g_sum * k["s2_h"]  # = -dphi/d(d ct q2)
    n_p2q1 = g_h * k["d"]  # = -dphi/d(p2 q1)
    g_p2 = g_cp2 * k["c"] - n_p2q1 * k["q1"]
    g_q1 = g_f * k["b"] - n_p2q1 * k["p2"]
    g_q2 = g_f * k["c"] - (n_dp1q2 * k["d"]) * k["ct"]
    g_b = g_f * k["q1"] + g_bp1 * k["ct"] + g_a
    g_c = g_f * k["q2"] + g_cp2 * k["p2"]
    g_d = (g_c - g_b) * k["s2"] - g_h * k["p2_q1"] - n_dp1q2 * k["p1_q2"]
    return (0.5 * g_p2 / k["p2"], 0.5 * g_q1 / k["q1"], 0.5 * g_q2 / k["q2"], g_d, g_b)


def _interface_ratios(vp1, vs1, rho1, vp2, vs2, rho2):
    """(inv_a2_sq, inv_b1_sq, inv_b2_sq, d, r) of ``_rpp_core_forward``, each of the inputs' broadcast shape."""
    b1_sq = (vs1 / vp1).square()
    b2_sq = (vs2 / vp1).square()
    r = rho2 / rho1
    return (vp1 / vp2).square(), 1.0 / b1_sq, 1.0 / b2_sq, 2.0 * (r * b2_sq - b1_sq), r


def _as_tensor(x, like=None):
    if isinstance(x, paddle.Tensor):
        return x
    dtype = like.dtype if like is not None else None
    return paddle.to_tensor(np.asarray(x, dtype=np.float64), dtype=dtype or "float64")


def zoeppritz_rpp(vp1, vs1, rho1, vp2, vs2, rho2, theta):
    """Exact P-P reflection coefficient (Aki & Richards 1980 closed form), real, pre-critical.

    Args:
        vp1, vs1, rho1: upper medium P and S velocity (m/s, vs1 > 0) and density (any unit).
        vp2, vs2, rho2: lower medium, same units.
        theta: P incidence angle in the upper medium, radians.
        All paddle tensors (plain numbers / arrays are converted), broadcastable against each other.

    Returns:
        paddle tensor of the broadcast shape: R_pp (dimensionless; positive when impedance increases at
        normal incidence, where it equals (Z2 - Z1) / (Z2 + Z1), Z = rho vp). Only valid pre-critically:
        where theta is beyond asin(vp1/vp2) or asin(vp1/vs2) the result is NaN (use ``reflectivity`` with
        ``beyond_critical="mask"`` for a NaN-free masked version).
    """
    vp1 = _as_tensor(vp1)
    vs1, rho1, vp2, vs2, rho2, theta = (_as_tensor(x, vp1) for x in (vs1, rho1, vp2, vs2, rho2, theta))
    return _rpp_core_forward(*_interface_ratios(vp1, vs1, rho1, vp2, vs2, rho2), paddle.sin(theta).square(),
                             paddle.cos(theta))[0]


def aki_richards_rpp(vp1, vs1, rho1, vp2, vs2, rho2, theta):
    """Aki-Richards 3-term linearised P-P reflection coefficient, same arguments as ``zoeppritz_rpp``.

    R = G1 dvp/vp + G2 dvs/vs + G3 drho/rho with G1 = 1/(2 cos^2 theta), G2 = -4 k^2 sin^2 theta,
    G3 = 1/2 - 2 k^2 sin^2 theta, dx = x2 - x1, x = (x1 + x2)/2, k = vs/vp of the averages. theta is the
    incidence angle (not the average of incidence and transmission angles), as in pylops' ``akirichards``.
    Returns a paddle tensor of the broadcast shape (dimensionless); finite at every angle < 90 degrees.
    """
    vp1 = _as_tensor(vp1)
    vs1, rho1, vp2, vs2, rho2, theta = (_as_tensor(x, vp1) for x in (vs1, rho1, vp2, vs2, rho2, theta))
    vp, vs, rho = 0.5 * (vp1 + vp2), 0.5 * (vs1 + vs2), 0.5 * (rho1 + rho2)
    k2_s2 = (vs / vp).square() * paddle.sin(theta).square()
    g1 = 0.5 / paddle.cos(theta).square()
    return g1 * (vp2 - vp1) / vp - 4.0 * k2_s2 * (vs2 - vs1) / vs + (0.5 - 2.0 * k2_s2) * (rho2 - rho1) / rho


def critical_angle_deg(vp1, vp2):
    """P-wave critical angle asin(vp1/vp2) in degrees at an interface from velocity vp1 (upper) to vp2.

    Args: vp1, vp2: numpy arrays / numbers, or paddle tensors (m/s), broadcastable.
    Returns: same kind (numpy or paddle) and broadcast shape; ``inf`` (not NaN) where vp2 <= vp1, i.e. where
    there is no critical angle, so that comparisons "theta < critical" hold there and min() finds the
    smallest real critical angle.
    """
    if isinstance(vp1, paddle.Tensor) or isinstance(vp2, paddle.Tensor):
        vp1 = _as_tensor(vp1, vp2 if isinstance(vp2, paddle.Tensor) else None)
        vp1, vp2 = paddle.broadcast_tensors([vp1, _as_tensor(vp2, vp1)])
        angle = paddle.asin((vp1 / vp2).clip(max=1.0)) * (180.0 / math.pi)
        return paddle.where(vp2 > vp1, angle, paddle.full_like(angle, math.inf))
    vp1, vp2 = np.broadcast_arrays(np.asarray(vp1, dtype=np.float64), np.asarray(vp2, dtype=np.float64))
    angle = np.degrees(np.arcsin(np.minimum(vp1 / vp2, 1.0)))
    return np.where(vp2 > vp1, angle, np.inf)[()]


def default_theta_groups():
    """Near / mid / far incidence-angle groups in degrees: [[1..15], [16..30], [31..45]], 1 degree step."""
    return [list(range(1, 16)), list(range(16, 31)), list(range(31, 46))]


# ---------------------------------------------------------------------------------------------------------
# Batched reflectivity
# ---------------------------------------------------------------------------------------------------------

class _Angles:
    """Per-angle constants in the operator's dtype, computed once in float64."""

    def __init__(self, theta_deg, dtype):
        deg = np.asarray(theta_deg, dtype=np.float64)
        if deg.ndim != 1 or deg.size == 0 or not np.isfinite(deg).all() or deg.min() < 0 or deg.max() >= 90:
            raise ValueError(f"theta_deg must be a non-empty 1-D sequence of angles in [0, 90) degrees, "
                             f"found {theta_deg!r}")
        rad = np.deg2rad(deg)
        self.deg, self.dtype, self.size = deg, dtype, deg.size
        self.max_deg = float(deg.max())
        self.max_s2 = float(np.sin(np.deg2rad(self.max_deg)) ** 2)
        self.columns = {"s2": np.sin(rad) ** 2, "ct": np.cos(rad), "g1": 0.5 / np.cos(rad) ** 2}
        self._full = {}

    def aki_coef(self, transpose=False):
        """[3, A] (or [A, 3]): per-angle weights (1/(2 cos^2), 1, sin^2) of the 3 ``_aki_richards_terms``."""
        key = ("aki", transpose)
        if key not in self._full:
            cols = self.columns
            coef = np.stack([cols["g1"], np.ones(self.size), cols["s2"]])
            self._full[key] = paddle.to_tensor(coef.T.copy() if transpose else coef, dtype=self.dtype)
        return self._full[key]

    def full(self, name, n):
        """Constant [A, n] tensor whose row a is the angle constant ``name`` ("s2", "ct", "g1") of angle a."""
        key = (name, n)
        if key not in self._full:
            block = np.repeat(self.columns[name][:, None], n, axis=1)
            self._full[key] = paddle.to_tensor(block, dtype=self.dtype)
        return self._full[key]


def _check_options(method, vsvp, beyond_critical):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, found {method!r}")
    if beyond_critical not in BEYOND_CRITICAL:
        raise ValueError(f"beyond_critical must be one of {BEYOND_CRITICAL}, found {beyond_critical!r}")
    if vsvp is not None and method != "aki_richards":
        raise ValueError("vsvp is used only by method='aki_richards' (Zoeppritz takes vs/vp from the model)")


def _check_model(vp, vs, rho):
    """vp, vs, rho: paddle [B, L], same shape, L >= 2, finite and > 0."""
    for name, x in (("vp", vp), ("vs", vs), ("rho", rho)):
        if not isinstance(x, paddle.Tensor) or x.ndim != 2 or x.shape != vp.shape:
            raise ValueError(f"{name} must be a paddle tensor [B, L] like vp {list(vp.shape)}, found "
                             f"{type(x).__name__} {list(getattr(x, 'shape', []))}")
    if vp.shape[1] < 2:
        raise ValueError(f"traces need L >= 2 samples (one interface), found L={vp.shape[1]}")
    with paddle.no_grad():
        stacked = paddle.stack([vp, vs, rho])
        if not bool(paddle.isfinite(stacked).all()) or not float(stacked.min()) > 0:
            raise ValueError("vp, vs and rho must be finite and > 0 (vs = 0, a fluid, is not supported)")


def _vsvp_squared(vsvp, shape, dtype):
    """(vs/vp)^2 at the upper sample of each interface: None, a float, or a tensor [1 or B, L-1]."""
    if vsvp is None:
        return None
    if np.ndim(vsvp) == 0:
        return float(vsvp) ** 2
    k = vsvp.astype(dtype) if isinstance(vsvp, paddle.Tensor) else paddle.to_tensor(np.asarray(vsvp), dtype)
    if k.ndim == 1:
        k = k.unsqueeze(0)
    n_traces, n_samples = shape  # n_traces None: any batch size
    if k.ndim != 2 or k.shape[1] != n_samples or k.shape[0] not in (1, n_traces or k.shape[0]):
        raise ValueError(f"vsvp must be a float, [L] or [B, L] with B={n_traces}, L={n_samples}; "
                         f"found shape {list(k.shape)}")
    return k[:, :-1].square()


def _critical_ratio(vp, vs, method):
    """[B, L-1] v / vp1 of the velocity v limiting the angle at each interface: sin(theta_c) = vp1 / v."""
    with paddle.no_grad():
        v = vp[:, 1:]
        if method == "zoeppritz":
            v = paddle.maximum(v, paddle.maximum(vs[:, :-1], vs[:, 1:]))
        return v / vp[:, :-1]


def _raise_if_beyond_critical(ratio, vp, vs, angles, method):
    flat = ratio.reshape([-1])
    worst = int(flat.argmax())
    top = float(flat[worst])
    if angles.max_s2 * top * top < 1.0 - CRITICAL_TOL:
        return
    trace, i = divmod(worst, ratio.shape[1])
    vals = {name: float(x[trace, j]) for name, x, j in
            (("vp1", vp, i), ("vp2", vp, i + 1), ("vs1", vs, i), ("vs2", vs, i + 1))}
    kind = "P-P (vp2 > vp1)" if vals["vp2"] / vals["vp1"] >= top else "P-to-S (vs > vp1)"
    theta_c = math.degrees(math.asin(min(1.0, 1.0 / top)))
    raise ValueError(
        f"reflectivity ({method}): largest incidence angle asked {angles.max_deg:g} deg is at or beyond the "
        f"smallest critical angle found, {theta_c:.3f} deg ({kind}), at trace {trace}, interface {i} between "
        f"samples {i} and {i + 1} (vp1={vals['vp1']:g}, vp2={vals['vp2']:g}, vs1={vals['vs1']:g}, "
        f"vs2={vals['vs2']:g} m/s). Use smaller angles, or beyond_critical='mask' to zero those coefficients.")


def _aki_richards_terms(vp, vs, rho, vsvp_sq):
    """[3, B, L-1] per-interface factors (dln vp, 1/2 dln rho, -2 k^2 (2 dln vs + dln rho)).

    Linearised Rpp(theta) = 1/(2 cos^2 theta) * t0 + t1 + sin^2(theta) * t2 (pylops' G1, G2, G3 regrouped),
    d = forward difference (x[i+1] - x[i]) of ln x, k = vs/vp at sample i (from vsvp_sq, or the model if None).
    """
    def dln(x):
        lx = x.log()
        return lx[:, 1:] - lx[:, :-1]

    dln_vs, dln_rho = dln(vs), dln(rho)
    if vsvp_sq is None:
        vsvp_sq = (vs[:, :-1] / vp[:, :-1]).square()
    return paddle.stack([dln(vp), 0.5 * dln_rho, -2.0 * vsvp_sq * (2.0 * dln_vs + dln_rho)])


def _interface_params(vp, vs, rho, method, vsvp_sq):
    """[k, B * (L-1)]: per-interface quantities, flattened over (trace, interface): the 5 of
    ``_interface_ratios`` (Zoeppritz) or the 3 of ``_aki_richards_terms``. Cheap ([B, L] work)."""
    if method == "aki_richards":
        params = _aki_richards_terms(vp, vs, rho, vsvp_sq)
    else:
        params = paddle.stack(_interface_ratios(vp[:, :-1], vs[:, :-1], rho[:, :-1], vp[:, 1:], vs[:, 1:],
                                                rho[:, 1:]))
    return params.reshape([params.shape[0], -1])


def _block_forward(params, angles, method, keep):
    """Rpp [A, n] of n interfaces from their params [k, n], and its adjoint, a function [A, n] -> [k, n].

    keep: None, or the float [A, n] pre-critical mask; masked pairs are evaluated at normal incidence
    (s2 = 0, where everything is finite), then multiplied by 0.
    """
    n = params.shape[1]
    if method == "aki_richards":  # Rpp = g1 t0 + t1 + s2 t2: a [A, 3] @ [3, n] product
        rpp = paddle.matmul(angles.aki_coef(transpose=True), params)

        def adjoint(g_rpp):
            return paddle.matmul(angles.aki_coef(), g_rpp if keep is None else g_rpp * keep)
    else:
        full = [params[k].expand([angles.size, n]) for k in range(params.shape[0])]
        s2 = angles.full("s2", n)
        rpp, cache = _rpp_core_forward(*full, s2 if keep is None else s2 * keep, angles.full("ct", n))

        def adjoint(g_rpp):
            grads = _rpp_core_adjoint(g_rpp if keep is None else g_rpp * keep, cache)
            return paddle.stack([g.sum(axis=0) for g in grads])
    return (rpp if keep is None else rpp * keep), adjoint


def _interface_blocks(vp, vs, params, angles, method, mask, block_elements=_BLOCK_ELEMENTS):
    """Yield (columns, rpp [A, n], adjoint) for blocks of ~block_elements (interface, angle) pairs of the
    flattened interfaces (params [k, N], N = B (L-1)); mask: zero the pairs at/beyond critical."""
    ratio_sq = _critical_ratio(vp, vs, method).square().reshape([-1]) if mask else None
    step = max(1, block_elements // angles.size)
    for lo in range(0, params.shape[1], step):
        cols = slice(lo, min(lo + step, params.shape[1]))
        keep = None
        if mask:
            with paddle.no_grad():
                n = cols.stop - lo
                limit = ratio_sq[cols].expand([angles.size, n]) * angles.full("s2", n)
                keep = (limit < 1.0 - CRITICAL_TOL).astype(params.dtype)
        yield (cols,) + _block_forward(params[:, cols], angles, method, keep)


def _interface_rpp(vp, vs, rho, angles, method, mask, vsvp_sq, reduce=None):
    """Rpp at the L-1 interfaces of each trace, [A, B, L-1], or [K, B, L-1] with reduce: [A, n] -> [K, n]
    (e.g. sums over angle groups) applied block by block, so the full [A, B, L-1] tensor is never built.
    mask: zero the pairs at/beyond critical (else the caller has checked there are none).
    """
    params = _interface_params(vp, vs, rho, method, vsvp_sq)
    out = [rpp if reduce is None else reduce(rpp)
           for _, rpp, _ in _interface_blocks(vp, vs, params, angles, method, mask)]
    rpp = out[0] if len(out) == 1 else paddle.concat(out, axis=1)
    return rpp.reshape([rpp.shape[0], vp.shape[0], vp.shape[1] - 1])


def reflectivity(vp, vs, rho, theta_deg, method="zoeppritz", vsvp=None, beyond_critical="error"):
    """Angle-dependent P-P reflectivity of a batch of traces.

    Args:
        vp, vs, rho: paddle [B, L] (m/s, m/s, any density unit: only ratios matter), finite and > 0.
        theta_deg: 1-D sequence of A incidence angles in degrees, in [0, 90).
        method: "zoeppritz" (exact, real, pre-critical) or "aki_richards": the log-parameter linearisation
            of pylops, r_i = G1(theta) dln(vp)_i + G2(theta, k_i) dln(vs)_i + G3(theta, k_i) dln(rho)_i with
            G1 = 1/(2 cos^2), G2 = -4 k^2 sin^2, G3 = 1/2 - 2 k^2 sin^2 and d = forward difference
            (x[i+1] - x[i]). k_i = vs/vp at sample i: ``vsvp`` as a float, [L] or [B, L] (tensor or array),
            or None to take vs/vp per sample from the model (the operator is then nonlinear).
        vsvp: only for "aki_richards" (a ValueError otherwise).
        beyond_critical: what to do with (interface, angle) pairs at or beyond a critical angle (module
            docstring: the P one for both methods, also the P-to-S one for "zoeppritz"): "error" raises a
            ValueError naming the largest angle, the smallest critical angle, trace and interface; "mask"
            sets those coefficients to 0 with zero, finite gradients.

    Returns:
        paddle [B, L, A] in vp's dtype: coefficient of interface i (samples i, i+1) at index i; index L-1 is 0.
    """
    _check_options(method, vsvp, beyond_critical)
    _check_model(vp, vs, rho)
    angles = _Angles(theta_deg, vp.dtype)
    vsvp_sq = _vsvp_squared(vsvp, vp.shape, vp.dtype)
    if beyond_critical == "error":
        _raise_if_beyond_critical(_critical_ratio(vp, vs, method), vp, vs, angles, method)
    rpp = _interface_rpp(vp, vs, rho, angles, method, beyond_critical == "mask", vsvp_sq).transpose([1, 2, 0])
    return paddle.concat([rpp, paddle.zeros([rpp.shape[0], 1, rpp.shape[2]], dtype=rpp.dtype)], axis=1)


# ---------------------------------------------------------------------------------------------------------
# Operator
# ---------------------------------------------------------------------------------------------------------

class AVAForward:
    """d = F(m): m [B, 3, L] = (vp, vs, rho) in physical units -> partial-angle stacks [B, G, L].

    Each stack g = sum over its angles theta in theta_groups[g] of W @ r(theta) (W = wavelet matrix), i.e.
    the original GDRNN code's convention (the data files store the per-angle traces [ntraces, L, n_angles]
    and the network sees their sum over angles). Since W is linear the operator sums r over each group
    first and convolves G traces, not A; for "aki_richards" with beyond_critical="error" the group sums of
    G1, G2, G3 are precomputed, so its cost does not grow with the number of angles.

    Differentiable: ``__call__``, ``gathers`` and ``misfit`` are plain paddle ops (autograd of any order);
    ``misfit_and_gradient`` uses an explicit adjoint (also paddle ops, so create_graph=True works).

    Args:
        wavemat: [L, L] convolution matrix (numpy or paddle), e.g. from ``ricker_wavelet_matrix``.
        theta_groups: sequence of G sequences of incidence angles in degrees (``default_theta_groups()``).
        method, vsvp, beyond_critical: as in ``reflectivity`` (the critical-angle check runs on every call;
            "error" raises before any work is done); a [B, L] vsvp fixes the batch size.
        dtype: "float32" (default) or "float64"; m and d_obs of another dtype are cast (differentiably).
    Shapes: m [B, 3, L] (vp m/s, vs m/s, rho any unit; finite, > 0), d_obs [B, G, L], W [L, L].
    """

    def __init__(self, wavemat, theta_groups, method="zoeppritz", vsvp=None, beyond_critical="error",
                 dtype="float32"):
        _check_options(method, vsvp, beyond_critical)
        w = np.asarray(wavemat.numpy() if isinstance(wavemat, paddle.Tensor) else wavemat, dtype=np.float64)
        if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] < 2:
            raise ValueError(f"wavemat must be a square [L, L] matrix with L >= 2, found {w.shape}")
        groups = [np.atleast_1d(np.asarray(g, dtype=np.float64)) for g in theta_groups]
        if not groups or any(g.ndim != 1 or g.size == 0 for g in groups):
            raise ValueError(f"theta_groups must be a non-empty list of non-empty 1-D angle lists, found "
                             f"{theta_groups!r}")
        self.method, self.beyond_critical, self.dtype = method, beyond_critical, dtype
        self.n_samples = w.shape[0]
        self.group_sizes = [int(g.size) for g in groups]
        self.theta_groups = [g.tolist() for g in groups]
        self.angles = _Angles(np.concatenate(groups), dtype)
        self.vsvp = vsvp
        self._vsvp_sq = _vsvp_squared(vsvp, (None, self.n_samples), dtype)
        # W without its last column ([L, L-1]), as r[L-1] = 0; and its transpose
        self._w_interfaces = paddle.to_tensor(np.ascontiguousarray(w[:, :-1]), dtype=dtype)
        self._w_interfaces_t = paddle.to_tensor(np.ascontiguousarray(w[:, :-1].T), dtype=dtype)
        member = np.zeros((len(groups), self.angles.size))  # [G, A]: angle a belongs to group g
        member[np.repeat(np.arange(len(groups)), self.group_sizes), np.arange(self.angles.size)] = 1.0
        self._group_sum = paddle.to_tensor(member, dtype=dtype)
        cols = self.angles.columns  # [G, 3]: sums over each group of 1/(2 cos^2), 1, sin^2 (Aki-Richards)
        self._aki_group_sum = paddle.to_tensor(member @ np.stack([cols["g1"], np.ones(self.angles.size),
                                                                  cols["s2"]], axis=1), dtype=dtype)

    def _prepare(self, m):
        """Check m [B, 3, L] (shape, values, critical angles in "error" mode) once; cast it to the dtype."""
        if not isinstance(m, paddle.Tensor) or m.ndim != 3 or m.shape[1] != 3 or m.shape[2] != self.n_samples:
            raise ValueError(f"m must be a paddle tensor [B, 3, {self.n_samples}] (vp, vs, rho), found "
                             f"{type(m).__name__} {list(getattr(m, 'shape', []))}")
        if m.dtype != self._group_sum.dtype:
            m = m.astype(self.dtype)
        vp, vs = m[:, 0], m[:, 1]
        _check_model(vp, vs, m[:, 2])
        if isinstance(self._vsvp_sq, paddle.Tensor) and self._vsvp_sq.shape[0] not in (1, m.shape[0]):
            raise ValueError(f"vsvp was given for {self._vsvp_sq.shape[0]} traces, m has {m.shape[0]}")
        if self.beyond_critical == "error":
            _raise_if_beyond_critical(_critical_ratio(vp, vs, self.method), vp, vs, self.angles, self.method)
        return m

    def _vsvp_rows(self, rows):
        k_sq = self._vsvp_sq
        return k_sq[rows] if isinstance(k_sq, paddle.Tensor) and k_sq.shape[0] > 1 else k_sq

    def _interfaces(self, m, rows, reduce=None):
        """Rpp [A or K, n, L-1] of the checked traces m [n, 3, L] (rows: their slice of the batch)."""
        return _interface_rpp(m[:, 0], m[:, 1], m[:, 2], self.angles, self.method,
                              self.beyond_critical == "mask", self._vsvp_rows(rows), reduce)

    def _group_reflectivity(self, m, rows):
        """[G, n, L-1]: reflectivity at the interfaces of the checked traces m, summed over each group."""
        if self.method == "aki_richards" and self.beyond_critical == "error":
            terms = _aki_richards_terms(m[:, 0], m[:, 1], m[:, 2], self._vsvp_rows(rows))  # [3, n, L-1]
            stacks = paddle.matmul(self._aki_group_sum, terms.reshape([3, -1]))  # [G, 3] @ [3, N]
            return stacks.reshape([len(self.group_sizes), m.shape[0], self.n_samples - 1])
        return self._interfaces(m, rows, reduce=lambda rpp: paddle.matmul(self._group_sum, rpp))

    def _convolve(self, rpp):
        """[K, n, L-1] interface reflectivities -> [K, n, L] traces (W without its last column: r[L-1] = 0)."""
        k, n_traces, n_interfaces = rpp.shape
        traces = paddle.matmul(rpp.reshape([k * n_traces, n_interfaces]), self._w_interfaces_t)
        return traces.reshape([k, n_traces, self.n_samples])

    def _stacks(self, m, rows):
        return self._convolve(self._group_reflectivity(m, rows)).transpose([1, 0, 2])

    def gathers(self, m):
        """Per-angle wavelet-convolved traces: list of G paddle tensors [B, L, A_g] (files' seis_s/m/l)."""
        m = self._prepare(m)
        traces = self._convolve(self._interfaces(m, slice(None))).transpose([1, 2, 0])
        return paddle.split(traces, self.group_sizes, axis=2)

    def __call__(self, m):
        """Partial-angle stacks [B, G, L] of m [B, 3, L]."""
        return self._stacks(self._prepare(m), slice(None))

    def misfit(self, m, d_obs):
        """Per-trace least-squares misfit [B]: 0.5 * sum over (G, L) of (F(m) - d_obs)^2."""
        return self._misfit(self._prepare(m), self._cast(d_obs), slice(None))

    def _cast(self, d_obs):
        return d_obs.astype(self.dtype) if d_obs.dtype != self._group_sum.dtype else d_obs

    def _misfit(self, m, d_obs, rows):
        return 0.5 * (self._stacks(m, rows) - d_obs).square().sum(axis=[1, 2])

    def _traces_per_block(self, block_elements):
        if self.method == "aki_richards" and self.beyond_critical == "error":
            return max(1, 32 * block_elements // (3 * self.n_samples))  # cheap: per-interface work only
        return max(1, block_elements // (self.angles.size * (self.n_samples - 1)))

    def _misfit_adjoint(self, vp, vs, params, d_obs, block_elements):
        """Misfit [n] of n traces (vp, vs [n, L] for the critical mask; interface params [k, n (L-1)]) and
        dmisfit/dparams [k, n (L-1)], by an explicit adjoint: convolution -> group sums -> per-block
        reverse pass of the reflectivity (``_rpp_core_adjoint``)."""
        n_groups, n_traces = len(self.group_sizes), vp.shape[0]
        if self.method == "aki_richards" and self.beyond_critical == "error":
            blocks = [(slice(None), None, lambda g: paddle.matmul(self._aki_group_sum, g, transpose_x=True))]
            groups = [paddle.matmul(self._aki_group_sum, params)]
        else:
            blocks = list(_interface_blocks(vp, vs, params, self.angles, self.method,
                                            self.beyond_critical == "mask", block_elements))
            groups = [paddle.matmul(self._group_sum, rpp) for _, rpp, _ in blocks]
        group_rpp = groups[0] if len(groups) == 1 else paddle.concat(groups, axis=1)
        resid = self._convolve(group_rpp.reshape([n_groups, n_traces, -1])) - d_obs.transpose([1, 0, 2])
        g_group = paddle.matmul(resid.reshape([n_groups * n_traces, -1]), self._w_interfaces)
        g_group = g_group.reshape([n_groups, -1])  # [G, N]: adjoint of the convolution
        g_params = [adj(g_group[:, cols] if rpp is None else
                        paddle.matmul(self._group_sum, g_group[:, cols], transpose_x=True))
                    for cols, rpp, adj in blocks]
        g_params = g_params[0] if len(g_params) == 1 else paddle.concat(g_params, axis=1)
        return 0.5 * resid.square().sum(axis=[0, 2]), g_params

    def misfit_and_gradient(self, m, d_obs, create_graph=False):
        """(misfit [B], d misfit / d m [B, 3, L]); the gradient's units are 1 / units of m.

        The heavy (interface, angle) part is differentiated by an explicit adjoint written in paddle ops,
        for blocks of traces in turn (traces are independent), and chained to m by one ``paddle.grad``
        through the cheap per-interface quantities; it equals autograd of ``misfit`` (tested) at ~1/3 of
        its cost (Zoeppritz, 800 x 550 samples x 45 angles, float32, 2 cores: ~1.2 s vs ~3 s). create_graph=True records all of it, so both outputs stay differentiable (w.r.t.
        whatever m depends on; exact second derivatives), for training an unrolled network; otherwise
        the outputs carry no graph.
        """
        m, d_obs = self._prepare(m), self._cast(d_obs)
        n_traces, n_interfaces = m.shape[0], self.n_samples - 1
        # With create_graph everything is kept for the outer backward anyway: fewer, larger blocks.
        block_elements = _BLOCK_ELEMENTS * (8 if create_graph else 1)
        step = self._traces_per_block(block_elements)
        with paddle.set_grad_enabled(True):
            x = m
            if not create_graph or x.stop_gradient:
                x = m.detach()
                x.stop_gradient = False
            params = _interface_params(x[:, 0], x[:, 1], x[:, 2], self.method, self._vsvp_sq)
            with paddle.set_grad_enabled(create_graph):
                p = params if create_graph else params.detach()
                vp, vs = m[:, 0].detach(), m[:, 1].detach()
                out = [self._misfit_adjoint(vp[lo:lo + step], vs[lo:lo + step],
                                            p[:, lo * n_interfaces:(lo + step) * n_interfaces],
                                            d_obs[lo:lo + step], block_elements)
                       for lo in range(0, n_traces, step)]
            phi = out[0][0] if len(out) == 1 else paddle.concat([o[0] for o in out])
            g_params = out[0][1] if len(out) == 1 else paddle.concat([o[1] for o in out], axis=1)
            (grad,) = paddle.grad(params, x, grad_outputs=g_params, create_graph=create_graph)
        return phi, (grad if create_graph else grad.detach())
