"""Benchmark of ppsci_ext.physics.AVAForward (prestack AVA modelling) against pylops and bruges.

Prints a markdown table of throughput in traces per second (median of --repeats runs after one warm-up)
and the ratios ours / reference, all measured side by side in this run at the same sizes (default: 800
traces x 550 samples, angles 1-45 deg in 3 groups of 15, Ricker 30 Hz, dt 2 ms):

- ours: ``AVAForward`` in float32, exact Zoeppritz and Aki-Richards (vs/vp taken from the model),
  forward (the 3 partial stacks) and forward + gradient (``misfit_and_gradient``).
- pylops: ``PrestackLinearModelling(wav, theta, vsvp=0.5, linearization="akirich", kind="forward")``
  in float32 on ln(m) of all traces at once (``spatdims``), + the group sums into the same 3 stacks;
  forward+gradient = matvec + rmatvec (the gradient of the linear misfit w.r.t. m). ``explicit=False``
  (chained Convolve1D * AVOLinearModelling * FirstDerivative) is the faster: at the default sizes
  ``explicit=True`` took 72 s to build (a dense (A L) x (A L) block-diagonal wavelet matrix times the
  [A L, 3 L] AVO matrix) and its matvec 2.3 s vs 0.9 s (rmatvec 2.1 s vs 0.4 s), timed once on this
  2-core machine; ``--pylops-explicit`` times it anyway.
- bruges: ``bruges.reflection.zoeppritz_rpp`` (NumPy, complex128, exact) at every (interface, angle),
  group sums, and the same wavelet matrix product; forward only, as bruges has no gradient.

The two Aki-Richards operators differ in one respect: pylops' is linear with vs/vp a fixed constant, ours
takes vs/vp from the model (nonlinear; its gradient includes that dependence).
Takes ~4 min at the default sizes on 2 cores, most of it bruges (~30 s a run).
Usage: python bench/bench_ava.py [--traces 800] [--samples 550] [--repeats 5] [--threads 2]
"""

import argparse
import os
import warnings


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=800)
    parser.add_argument("--samples", type=int, default=550)
    parser.add_argument("--max-angle", type=int, default=45, help="angles 1..max in 3 equal groups (deg)")
    parser.add_argument("--freq", type=float, default=30.0, help="Ricker peak frequency (Hz)")
    parser.add_argument("--dt", type=float, default=0.002, help="sample interval (s)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pylops-explicit", action="store_true", help="pylops explicit=True (slow to build)")
    parser.add_argument("--threads", type=int, default=2, help="threads for paddle and NumPy / SciPy's BLAS")
    return parser.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:  # thread counts must be fixed before numpy / paddle load their libraries
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # paddle's own: set_num_threads in main()
        os.environ[var] = str(ARGS.threads)
os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np  # noqa: E402
import paddle  # noqa: E402

from common import median_time  # noqa: E402
from ppsci_ext.physics import AVAForward, ricker, ricker_wavelet_matrix  # noqa: E402


def smooth_model(n_traces, n_samples, seed=0):
    """[B, 3, L] float64: vp, vs (m/s), rho (g/cc), log-random walks (~2 % per sample), pre-critical at 45 deg."""
    rng = np.random.default_rng(seed)

    def walk(scale):
        x = np.cumsum(rng.normal(0.0, scale, (n_traces, n_samples)), axis=1)
        return x - x.mean(axis=1, keepdims=True)

    vp = 3000.0 * np.exp(walk(0.02))
    return np.stack([vp, vp / 1.9 * np.exp(walk(0.01)), 2.3 * np.exp(walk(0.007))], axis=1)


def theta_groups(max_angle):
    size = max_angle // 3
    return [list(range(1 + g * size, 1 + (g + 1) * size)) for g in range(3)]


def ours_runners(model, d_obs, wavemat, groups, method):
    op = AVAForward(wavemat, groups, method=method, dtype="float32")
    m = paddle.to_tensor(model.astype(np.float32))
    d = paddle.to_tensor(d_obs.astype(np.float32))
    return (lambda: op(m).numpy()), (lambda: op.misfit_and_gradient(m, d)[1].numpy())


def pylops_runners(model, d_obs, wav, groups, explicit):
    """(forward -> stacks [B, G, L], forward+gradient -> dmisfit/dm [B, 3, L]) with pylops' linear operator."""
    from pylops.avo.prestack import PrestackLinearModelling

    n_traces, _, n_samples = model.shape
    theta = np.concatenate(groups).astype(np.float32)
    sizes = [len(g) for g in groups]
    starts = np.cumsum([0] + sizes[:-1])
    op = PrestackLinearModelling(wav.astype(np.float32), theta, vsvp=0.5, nt0=n_samples, spatdims=n_traces,
                                 linearization="akirich", explicit=explicit, kind="forward")
    # explicit=False: model [L, 3, B], data [L, A, B]; explicit=True: model [3, L, B], data [A, L, B]
    m_axes, a_axis = ((2, 1, 0), 1) if not explicit else ((1, 2, 0), 0)
    data_shape = (n_samples, theta.size, n_traces) if not explicit else (theta.size, n_samples, n_traces)
    ln_m = np.log(model).transpose(*m_axes).astype(np.float32)
    d_obs = d_obs.astype(np.float32)

    def stacks():
        gathers = (op @ ln_m.ravel()).reshape(data_shape)
        return np.add.reduceat(gathers, starts, axis=a_axis)

    def as_bgl(s):  # stacks -> [B, G, L]
        return s.transpose(2, 1, 0) if not explicit else s.transpose(2, 0, 1)

    def gradient():
        resid = as_bgl(stacks()) - d_obs  # [B, G, L]
        r = resid.transpose(2, 1, 0) if not explicit else resid.transpose(1, 2, 0)
        g_ln = (op.H @ np.repeat(r, sizes, axis=a_axis).ravel()).reshape(ln_m.shape)
        g_ln = g_ln.transpose(2, 1, 0) if not explicit else g_ln.transpose(2, 0, 1)  # [B, 3, L]
        return g_ln / model

    return (lambda: as_bgl(stacks())), gradient


def bruges_runner(model, wavemat, groups):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        from bruges.reflection import zoeppritz_rpp
    theta = np.concatenate(groups).astype(np.float64)
    starts = np.cumsum([0] + [len(g) for g in groups[:-1]])
    upper = [model[:, k, :-1].ravel() for k in range(3)]
    lower = [model[:, k, 1:].ravel() for k in range(3)]
    w_t = np.ascontiguousarray(wavemat[:, :-1].T)
    n_traces, _, n_samples = model.shape

    def forward():
        rpp = zoeppritz_rpp(*upper, *lower, theta).real  # [A, B (L-1)]
        stacks = np.add.reduceat(rpp, starts, axis=0).reshape(len(groups), n_traces, n_samples - 1)
        return (stacks @ w_t).transpose(1, 0, 2)  # [B, G, L]

    return forward


def rel_diff(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def main():
    args = ARGS or parse_args()
    paddle.base.core.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads)
    except ImportError:
        pass  # OPENBLAS_NUM_THREADS / MKL_NUM_THREADS set above apply
    groups = theta_groups(args.max_angle)
    n_wav = 2 * int(np.ceil(1.5 / (args.freq * args.dt) - 1e-9)) + 1
    wav = ricker(args.freq, n_wav, args.dt, t0=(n_wav // 2) * args.dt).astype(np.float64)
    wavemat = ricker_wavelet_matrix(args.freq, args.dt, args.samples)
    model = smooth_model(args.traces, args.samples)
    other = paddle.to_tensor(smooth_model(args.traces, args.samples, seed=1))
    d_obs = AVAForward(wavemat, groups, dtype="float64")(other).numpy()

    zoe_fwd, zoe_grad = ours_runners(model, d_obs, wavemat, groups, "zoeppritz")
    aki_fwd, aki_grad = ours_runners(model, d_obs, wavemat, groups, "aki_richards")
    explicit = args.pylops_explicit
    pyl_fwd, pyl_grad = pylops_runners(model, d_obs, wav, groups, explicit)
    bru_fwd = bruges_runner(model, wavemat, groups)
    check_zoe = rel_diff(zoe_fwd(), bru_fwd())
    check_aki = rel_diff(AVAForward(wavemat, groups, method="aki_richards", vsvp=0.5, dtype="float32")(
        paddle.to_tensor(model.astype(np.float32))).numpy(), pyl_fwd())

    def rate(fn, warm_up=True):
        return args.traces / median_time(fn, args.repeats, warm_up)

    # bruges (~30 s a run at the default sizes) was warmed up by the check above
    rows = [("exact Zoeppritz, forward", rate(zoe_fwd), "bruges zoeppritz_rpp + W", rate(bru_fwd, False)),
            ("exact Zoeppritz, forward + gradient", rate(zoe_grad), "bruges: no gradient", None),
            ("Aki-Richards, forward", rate(aki_fwd), f"pylops (explicit={explicit}) matvec", rate(pyl_fwd)),
            ("Aki-Richards, forward + gradient", rate(aki_grad), f"pylops (explicit={explicit}) matvec + rmatvec",
             rate(pyl_grad))]
    n_angles = sum(len(g) for g in groups)
    print(f"\n### AVA modelling throughput, traces/s ({args.traces} traces x {args.samples} samples, {n_angles} "
          f"angles in 3 groups, Ricker {args.freq:g} Hz, dt {args.dt:g} s, {args.threads} threads, median of "
          f"{args.repeats})\n")
    print("| case | ours (float32) | reference | reference traces/s | ours / reference |")
    print("|---|---|---|---|---|")
    for case, ours, ref_name, ref in rows:
        ref_txt, ratio = ("-", "-") if ref is None else (f"{ref:.0f}", f"{ours / ref:.1f}x")
        print(f"| {case} | {ours:.0f} | {ref_name} | {ref_txt} | {ratio} |")
    print(f"\nSame stacks: ours Zoeppritz (float32) vs bruges (float64) max rel. difference {check_zoe:.1e}; "
          f"ours Aki-Richards with vsvp=0.5 vs pylops {check_aki:.1e}. In the table ours takes vs/vp from the "
          "model (nonlinear), pylops a constant vsvp=0.5 (linear).")


if __name__ == "__main__":
    main()
