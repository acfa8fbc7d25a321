"""The gap to PyTorch, by numbers: the VelocityGAN generator (ppsci_ext.arch.VelocityGenerator, Paddle) against
OpenFWI's InversionNet layout in PyTorch (ppsci_ext/testing/openfwi_nets.py), same shapes, same threads.

Every timing is the median of --repeats after one untimed warm-up call, and Paddle and PyTorch are timed
interleaved (in every repeat Paddle's call, then PyTorch's call of the same thing), so that drift of the machine
hits both alike. Threads are set in both frameworks (``paddle.base.core.set_num_threads``,
``torch.set_num_threads``): 1 and --threads. Prints markdown tables:

1. the machine: CPU model, usable cores, versions, batch, repeats;
2. machine matmul peak: float32 square matrix products in each framework at each thread count, GFLOP/s; the
   machine's peak is the best of them;
3. every block of the generator (encoder, decoder, head; dims (32, 64, 128, 256, 512), input [B, 5, 1000, 70],
   ``upsample="deconv"``): its convolution's GFLOP, forward time in both frameworks, the ratio Paddle / PyTorch,
   GFLOP/s as % of the peak; then one matrix product of the same arithmetic per block (im2col's
   [Cout, Cin kh kw] x [Cin kh kw, B Hout Wout]; for a transposed convolution the col2im form
   [Cout kh kw, Cin] x [Cin, B Hin Win]) in both frameworks: is a block slow because of its arithmetic (BLAS)
   or because of its convolution kernel?
4. the whole network: forward (eval, no grad) and one training step (forward in train mode, L1 loss, backward,
   AdamW step) in both frameworks;
5. what Paddle offers instead of its dynamic graph, at --threads, each checked against the plain dynamic-graph
   output: ``paddle.jit.to_static`` with and without the oneDNN flags, the inference Predictor with and without
   oneDNN, the same flags on the critic (no BatchNorm); each runs in a child process, so that a crash (oneDNN's
   passes can segfault) is reported in its cell; and NHWC against NCHW for the slowest (k, 1) encoder convolution;
6. "What limits the loop", worked out from the numbers above.

    python bench/bench_conv_layers.py [--batch 4] [--repeats 5] [--threads 2] [--quick]

--quick is a smoke run (batch 2, 2 repeats), not a measurement.
"""
import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import paddle
import torch

import common  # noqa: F401  (puts the project root on sys.path)
from ppsci_ext.arch import VelocityDiscriminator
from ppsci_ext.arch import VelocityGenerator
from ppsci_ext.testing.openfwi_nets import inversion_net

DIMS = (32, 64, 128, 256, 512)
IN_SHAPE = (5, 1000, 70)
OUT_SHAPE = (70, 70)
MATMUL_SIZES = (1024, 2048)
TOLERANCE = 1e-4  # max |difference| / max |reference| above which an alternative is flagged WRONG
ONEDNN_FLAGS = ("FLAGS_use_onednn", "FLAGS_use_mkldnn")
# the child-process variants of table 5: label, network, to_static, oneDNN, Predictor, passes deleted
VARIANTS = {
    "static": ("generator, `paddle.jit.to_static`", "generator", True, False, False, ()),
    "static_onednn": ("generator, `to_static` + oneDNN flags", "generator", True, True, False, ()),
    "dygraph_onednn": ("generator, dynamic graph + oneDNN flags", "generator", False, True, False, ()),
    "predictor": ("generator, inference Predictor", "generator", False, False, True, ()),
    "predictor_onednn": ("generator, inference Predictor + oneDNN", "generator", False, True, True, ()),
    "predictor_onednn_nofuse": ("generator, Predictor + oneDNN without `conv2d_bias_bn_onednn_fuse_pass`",
                                "generator", False, True, True, ("conv2d_bias_bn_onednn_fuse_pass",)),
    "critic_onednn": ("critic (no BatchNorm), dynamic graph + oneDNN flags", "critic", False, True, False, ()),
    "critic_static_onednn": ("critic (no BatchNorm), `to_static` + oneDNN flags", "critic", True, True, False, ()),
}


def parse_args(argv=None):
    """Command-line options; --quick: batch 2, 2 repeats (batch 1 would stop PyTorch's BatchNorm training on the
    1 x 1 latent)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=4, help="samples per forward")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per measurement (median)")
    ap.add_argument("--threads", type=int, default=2, help="the higher thread count (the lower is 1)")
    ap.add_argument("--quick", action="store_true", help="smoke run: batch 2, 2 repeats")
    ap.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)  # child of table 5
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.batch, args.repeats = 2, 2
    return args


# ------------------------------------------------------------------ timing helpers
def interleaved(fns, repeats):
    """Median seconds of every callable of ``fns``: one untimed warm-up call of each, then ``repeats`` rounds that
    call each once, in the given order."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for seconds, fn in zip(times, fns):
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def set_threads(n):
    """``n`` compute threads in both frameworks."""
    paddle.base.core.set_num_threads(n)
    torch.set_num_threads(n)


def ms(seconds):
    """Milliseconds, three significant figures or whole numbers."""
    v = seconds * 1e3
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def relative_error(out, ref):
    """max |out - ref| / max |ref| as text, with WRONG above :data:`TOLERANCE` or on a shape mismatch."""
    if out.shape != ref.shape:
        return f"WRONG shape {list(out.shape)}"
    err = float(np.abs(out - ref).max() / np.abs(ref).max())
    return f"{err:.1e}" + (" WRONG" if not err <= TOLERANCE else "")


def short_error(text):
    """The last line of ``text`` that names an error (``SomethingError: ...``), cut to fit a table cell."""
    lines = [ln.strip() for ln in text.splitlines() if re.search(r"\w*Error\b:", ln)] or text.splitlines()[-1:]
    return (lines[-1] if lines else "no message")[:160].replace("|", "/")


def crash_report(proc):
    """Why a child process ended without writing its result: the signal or exit status, Paddle's error line and
    the deepest C++ frame that names oneDNN (else the deepest frame) of its output (Paddle prints a crash's C++
    stack on stdout)."""
    rc = proc.returncode
    how = f"killed by {signal.Signals(-rc).name}" if rc < 0 else f"exit status {rc}"
    frames = [ln.strip() for ln in proc.stdout.splitlines() if re.match(r"\s*\d+\s+\S+::", ln)]
    frame = ([f for f in frames if "onednn" in f.lower()] or frames or [""])[-1][:120]
    return f"process {how}: {short_error(proc.stdout)}" + (f"; in {frame}" if frame else "")


def threads_text(n):
    """'1 thread', '2 threads'."""
    return f"{n} thread" + ("s" if n != 1 else "")


def print_header(title, cells):
    """A markdown section title, then a table's header row and rule."""
    print(f"## {title}\n\n| " + " | ".join(cells) + " |\n" + "|---" * len(cells) + "|")


# ------------------------------------------------------------------ 1, 2: machine and matmul peak
def print_machine(args):
    """Table 1: CPU model, usable cores, versions, batch, repeats, and the load average (other work on the
    machine skews every timing)."""
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    print(f"# The gap to PyTorch, by numbers\n\n- CPU: {model}; usable cores: {len(os.sched_getaffinity(0))}\n"
          f"- paddle {paddle.__version__}, torch {torch.__version__}\n"
          f"- batch {args.batch}, median of {args.repeats} repeats after a warm-up, Paddle and PyTorch interleaved\n"
          f"- load average (1 min) at the start: {os.getloadavg()[0]:.2f}\n")


def matmul_peak(thread_counts, repeats):
    """Table 2: float32 square matmul GFLOP/s in both frameworks; returns {(framework, threads): best GFLOP/s}."""
    print_header("Machine matmul peak (float32 square matmul, 2 n^3 / time)",
                 ["n", "threads", "Paddle GFLOP/s", "PyTorch GFLOP/s", "time Paddle / PyTorch"])
    rng = np.random.default_rng(0)
    best = {}
    for n in MATMUL_SIZES:
        a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
        ap, bp, at, bt = paddle.to_tensor(a), paddle.to_tensor(b), torch.from_numpy(a), torch.from_numpy(b)
        for threads in thread_counts:
            set_threads(threads)
            tp, tt = interleaved([lambda: paddle.matmul(ap, bp), lambda: torch.mm(at, bt)], repeats)
            gp, gt = 2 * n ** 3 / tp / 1e9, 2 * n ** 3 / tt / 1e9
            best[("paddle", threads)] = max(best.get(("paddle", threads), 0), gp)
            best[("torch", threads)] = max(best.get(("torch", threads), 0), gt)
            print(f"| {n} | {threads} | {gp:.1f} | {gt:.1f} | {tp / tt:.2f}x |")
    print(f"\nMachine peak (best of the above): {max(best.values()):.1f} GFLOP/s\n")
    return best


# ------------------------------------------------------------------ 3: block by block
def build_networks():
    """Our generator and OpenFWI's InversionNet in PyTorch, both in eval mode."""
    ours = VelocityGenerator(("data",), ("velocity",), n_sources=IN_SHAPE[0], time_samples=IN_SHAPE[1],
                             n_receivers=IN_SHAPE[2], out_shape=OUT_SHAPE, dims=DIMS, upsample="deconv")
    theirs = inversion_net(DIMS, n_receivers=IN_SHAPE[2])
    ours.eval(), theirs.eval()
    return ours, theirs


def conv_geometry(conv, x_shape, y_shape):
    """GFLOP of a (transposed) convolution ``conv`` (a torch module) from [B, C, H, W] input and output shapes,
    and the (M, K, N) of the one matrix product with its arithmetic."""
    b, cin, hin, win = x_shape
    _, cout, hout, wout = y_shape
    kh, kw = conv.kernel_size
    if conv.transposed:  # every input pixel scatters a [Cout, kh, kw] patch (col2im form)
        gemm = (cout * kh * kw, cin, b * hin * win)
    else:  # every output pixel gathers a [Cin, kh, kw] patch (im2col form)
        gemm = (cout, cin * kh * kw, b * hout * wout)
    return 2 * gemm[0] * gemm[1] * gemm[2] / 1e9, gemm


def collect_blocks(ours, theirs, x):
    """Per block: name, Paddle block, PyTorch block, Paddle input, PyTorch input, GFLOP, matmul (M, K, N). The
    head (conv -> BatchNorm -> tanh) follows the decoder, on the cropped output as in both forwards."""
    pairs = list(zip(theirs.order, list(ours.encoder) + list(ours.decoder)))
    if len(pairs) != len(theirs.order) or len(pairs) != len(ours.encoder) + len(ours.decoder):
        raise ValueError(f"blocks: ours has {len(ours.encoder) + len(ours.decoder)}, "
                         f"OpenFWI's layout {len(theirs.order)}")
    xp, xt, rows = paddle.to_tensor(x), torch.from_numpy(x), []
    with paddle.no_grad(), torch.no_grad():
        for name, block in pairs + [("deconv6 (head)", ours.head)]:
            layer = theirs.deconv6 if name.startswith("deconv6") else getattr(theirs, name)
            if name.startswith("deconv6"):
                (cz, cx), (nz, nx) = ours.crop, OUT_SHAPE
                xp, xt = xp[:, :, cz:cz + nz, cx:cx + nx], xt[:, :, 5:-5, 5:-5]
            yp, yt = block(xp), layer(xt)
            if list(yp.shape) != list(yt.shape):
                raise ValueError(f"block {name}: Paddle gives {list(yp.shape)}, PyTorch {list(yt.shape)}")
            gflop, gemm = conv_geometry(layer.layers[0], list(xt.shape), list(yt.shape))
            rows.append((name, block, layer, xp, xt, gflop, gemm))
            xp, xt = yp, yt
    return rows


def time_blocks(rows, thread_counts, repeats):
    """Block forward and same-FLOP matmul in both frameworks at every thread count:
    {name: {threads: (paddle block, torch block, paddle matmul, torch matmul) seconds}}."""
    rng, res = np.random.default_rng(1), {}
    with paddle.no_grad(), torch.no_grad():
        for name, block, layer, xp, xt, _, (m, k, n) in rows:
            a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
            ap, bp, at, bt = paddle.to_tensor(a), paddle.to_tensor(b), torch.from_numpy(a), torch.from_numpy(b)
            res[name] = {}
            for threads in thread_counts:
                set_threads(threads)
                fwd = interleaved([lambda: block(xp), lambda: layer(xt)], repeats)
                mm = interleaved([lambda: paddle.matmul(ap, bp), lambda: torch.mm(at, bt)], repeats)
                res[name][threads] = (*fwd, *mm)
    return res


def sums(res, threads):
    """Sums over all blocks of the four times of :func:`time_blocks` at ``threads``."""
    return tuple(sum(v[threads][i] for v in res.values()) for i in range(4))


def print_blocks(rows, res, thread_counts, peak):
    """Table 3a: block forward times, ratios, GFLOP/s as % of the peak; a last row sums the blocks."""
    cells = ["block", "input", "GFLOP"]
    for t in thread_counts:
        cells += [f"Paddle {t}t ms", f"PyTorch {t}t ms", f"ratio {t}t"]
    cells += [f"Paddle % peak ({'/'.join(map(str, thread_counts))}t)", "PyTorch % peak"]
    print_header(f"Block by block: forward (eval, no grad); ratio = Paddle / PyTorch; % of the {peak:.1f} GFLOP/s "
                 "peak", cells)
    total = ("all blocks", None, None, None, None, sum(r[5] for r in rows), None)
    for name, _, _, xp, _, gflop, _ in rows + [total]:
        cells, pct_p, pct_t = [name, str(list(xp.shape)) if xp is not None else "", f"{gflop:.3f}"], [], []
        for t in thread_counts:
            p, q = res[name][t][:2] if name in res else sums(res, t)[:2]
            cells += [ms(p), ms(q), f"{p / q:.2f}x"]
            pct_p.append(f"{gflop / p / peak * 100:.0f}")
            pct_t.append(f"{gflop / q / peak * 100:.0f}")
        print("| " + " | ".join(cells + ["/".join(pct_p), "/".join(pct_t)]) + " |")
    print()


def print_matmuls(rows, res, thread_counts):
    """Table 3b: each block's same-FLOP matmul in both frameworks, and how the block compares with it."""
    n = thread_counts[-1]
    cells = ["block", "matmul [M, K] x [K, N]"]
    for t in thread_counts:
        cells += [f"Paddle {t}t ms", f"PyTorch {t}t ms", f"ratio {t}t"]
    cells += [f"block ratio / matmul ratio ({n}t)", f"Paddle block / its matmul ({n}t)",
              f"PyTorch block / its matmul ({n}t)"]
    print_header("Same-FLOP matmul per block: one matrix product with the arithmetic of the block's convolution",
                 cells)
    for name, *_, (m, k, nn) in rows + [("all blocks", (None, None, None))]:
        cells = [name, f"[{m}, {k}] x [{k}, {nn}]" if name in res else ""]
        for t in thread_counts:
            _, _, pm, tm = res[name][t] if name in res else sums(res, t)
            cells += [ms(pm), ms(tm), f"{pm / tm:.2f}x"]
        p, q, pm, tm = res[name][n] if name in res else sums(res, n)
        cells += [f"{p / q / (pm / tm):.2f}", f"{p / pm:.2f}", f"{q / tm:.2f}"]
        print("| " + " | ".join(cells) + " |")
    print()


# ------------------------------------------------------------------ 4: whole network
def train_steps(ours, theirs, x, y):
    """One training step of each network as a callable: forward in train mode, L1 loss, backward, AdamW step."""
    opt_p = paddle.optimizer.AdamW(learning_rate=1e-4, parameters=ours.parameters())
    opt_t = torch.optim.AdamW(theirs.parameters(), lr=1e-4)
    xp, yp, xt, yt = paddle.to_tensor(x), paddle.to_tensor(y), torch.from_numpy(x), torch.from_numpy(y)

    def step_paddle():
        """Paddle's step."""
        (ours({"data": xp})["velocity"] - yp).abs().mean().backward()
        opt_p.step()
        opt_p.clear_grad()

    def step_torch():
        """PyTorch's step."""
        opt_t.zero_grad()
        (theirs(xt) - yt).abs().mean().backward()
        opt_t.step()

    return step_paddle, step_torch


def whole_network(ours, theirs, x, thread_counts, repeats, gflop):
    """Table 4: whole forward and one training step, both frameworks, every thread count;
    returns {(pass, threads): (paddle s, torch s)} (a string where a step failed)."""
    print_header("Whole network", ["pass", "threads", "Paddle ms", "PyTorch ms", "ratio", "Paddle GFLOP/s",
                                   "PyTorch GFLOP/s"])
    y = np.random.default_rng(2).uniform(-1, 1, (x.shape[0], 1, *OUT_SHAPE)).astype(np.float32)
    xp, xt, out = paddle.to_tensor(x), torch.from_numpy(x), {}
    for t in thread_counts:
        set_threads(t)
        ours.eval(), theirs.eval()
        with paddle.no_grad(), torch.no_grad():
            out[("forward", t)] = interleaved([lambda: ours({"data": xp}), lambda: theirs(xt)], repeats)
        ours.train(), theirs.train()
        try:
            out[("train step", t)] = interleaved(list(train_steps(ours, theirs, x, y)), repeats)
        except Exception as e:  # e.g. BatchNorm training on a 1 x 1 latent with batch 1
            out[("train step", t)] = short_error(f"{type(e).__name__}: {e}")
    ours.eval(), theirs.eval()
    for (name, t), v in out.items():
        if isinstance(v, str):
            print(f"| {name} | {t} | failed: {v} | | | | |")
            continue
        f = gflop * (3 if name == "train step" else 1)  # backward ~ twice the forward's arithmetic
        print(f"| {name} | {t} | {ms(v[0])} | {ms(v[1])} | {v[0] / v[1]:.2f}x | {f / v[0]:.1f} | {f / v[1]:.1f} |")
    print("\n(training step GFLOP/s count three times the forward's arithmetic)\n")
    return out


# ------------------------------------------------------------------ 5: what Paddle offers instead
def layout_check(rows, res, threads, repeats):
    """Table 5b: the (k, 1) encoder convolution that takes Paddle the longest, NCHW against NHWC in Paddle
    (the filter stays [Cout, Cin, kh, kw], as Paddle's conv2d wants for both), PyTorch NCHW and channels_last
    beside; returns {layout: seconds}."""
    tall = [r for r in rows if not r[2].layers[0].transposed and r[2].layers[0].kernel_size[1] == 1
            and r[2].layers[0].kernel_size[0] > 1]
    name, _, layer, _, xt, _, _ = max(tall, key=lambda r: res[r[0]][threads][0])
    conv = layer.layers[0]
    set_threads(threads)
    x = xt.numpy()
    w = np.random.default_rng(3).standard_normal(tuple(conv.weight.shape), dtype=np.float32)
    xp, xp_nhwc, wp = paddle.to_tensor(x), paddle.to_tensor(x.transpose(0, 2, 3, 1)), paddle.to_tensor(w)
    wt = torch.from_numpy(w)
    xt_cl, wt_cl = (v.contiguous(memory_format=torch.channels_last) for v in (xt, wt))
    kw = dict(stride=conv.stride, padding=conv.padding)
    calls = {"Paddle NCHW": lambda: paddle.nn.functional.conv2d(xp, wp, **kw).numpy(),
             "Paddle NHWC": lambda: paddle.nn.functional.conv2d(xp_nhwc, wp, data_format="NHWC", **kw)
             .numpy().transpose(0, 3, 1, 2),
             "PyTorch NCHW": lambda: torch.nn.functional.conv2d(xt, wt, **kw).numpy(),
             "PyTorch channels_last": lambda: torch.nn.functional.conv2d(xt_cl, wt_cl, **kw).numpy()}
    with paddle.no_grad(), torch.no_grad():
        ref = calls["Paddle NCHW"]()
        errs = {k: relative_error(f(), ref) for k, f in calls.items()}
        times = dict(zip(calls, interleaved(list(calls.values()), repeats)))
    print_header(f"Layout: {name}'s convolution, kernel {tuple(conv.kernel_size)}, stride {tuple(conv.stride)}, "
                 f"input {list(x.shape)}, {threads} threads", ["layout", "ms", "vs Paddle NCHW",
                                                                "max diff / max ref (to Paddle NCHW)"])
    for k, v in times.items():
        print(f"| {k} | {ms(v)} | {v / times['Paddle NCHW']:.2f}x | {errs[k]} |")
    print()
    return name, times


class TensorForward(paddle.nn.Layer):
    """A dict-in/dict-out ppsci network seen as tensor in -> tensor out (its first input and output key), so
    that ``to_static``, ``jit.save`` and the Predictor see one plain tensor."""

    def __init__(self, net):
        """Wrap ``net``."""
        super().__init__()
        self.net = net

    def forward(self, x):
        """[B, ...] tensor in, the first output out."""
        return self.net({self.net.input_keys[0]: x})[self.net.output_keys[0]]


def flag_names():
    """The oneDNN flags this Paddle has (``FLAGS_use_onednn``, the older ``FLAGS_use_mkldnn``)."""
    names = []
    for name in ONEDNN_FLAGS:
        try:
            paddle.get_flags([name])
            names.append(name)
        except Exception:  # unknown flag in this version
            pass
    return names


@contextlib.contextmanager
def onednn_flags(on):
    """The oneDNN flags set to True inside the block when ``on``, put back after."""
    if not on:
        yield
        return
    names = flag_names()
    old = paddle.get_flags(names)
    paddle.set_flags({n: True for n in names})
    try:
        yield
    finally:
        paddle.set_flags(old)


def child_network(kind, batch):
    """Two copies (same weights) of the network ``kind`` in eval mode and an input batch for it."""
    paddle.seed(0)
    rng = np.random.default_rng(0)
    if kind == "critic":
        make = lambda: VelocityDiscriminator(("velocity",), ("score",), in_shape=OUT_SHAPE)  # noqa: E731
        x = rng.uniform(-1, 1, (batch, 1, *OUT_SHAPE))
    else:
        make = lambda: build_networks()[0]  # noqa: E731
        x = rng.uniform(-1, 1, (batch, *IN_SHAPE))
    plain, other = make(), make()
    other.set_state_dict(plain.state_dict())
    plain.eval(), other.eval()
    return plain, other, x.astype(np.float32)


def predictor_call(net, x, workdir, threads, onednn, deleted):
    """``net`` saved by ``paddle.jit.save`` and run by ``paddle.inference``'s Predictor on CPU: a callable."""
    from paddle import inference

    prefix = os.path.join(workdir, "model")
    paddle.jit.save(TensorForward(net), prefix,
                    input_spec=[paddle.static.InputSpec([None, *x.shape[1:]], "float32")])
    model = prefix + (".json" if os.path.exists(prefix + ".json") else ".pdmodel")
    cfg = inference.Config(model, prefix + ".pdiparams")
    cfg.disable_gpu()
    cfg.set_cpu_math_library_num_threads(threads)
    cfg.disable_glog_info()
    switch = ("enable" if onednn else "disable") + ("_onednn" if hasattr(cfg, "enable_onednn") else "_mkldnn")
    getattr(cfg, switch)()
    for name in deleted:
        cfg.delete_pass(name)
    pred = inference.create_predictor(cfg)
    inp, out = pred.get_input_handle(pred.get_input_names()[0]), pred.get_output_handle(pred.get_output_names()[0])

    def call():
        """One prediction of ``x``, as numpy."""
        inp.copy_from_cpu(x)
        pred.run()
        return out.copy_to_cpu()

    return call


def run_variant(args):
    """Child process of table 5a: time one variant interleaved with the plain dynamic graph and write
    {plain, variant seconds, relative difference} or {error} to <workdir>/<variant>.json."""
    _, kind, static, onednn, predictor, deleted = VARIANTS[args.variant]
    set_threads(args.threads)
    try:
        plain, other, x = child_network(kind, args.batch)
        xp, plain_layer = paddle.to_tensor(x), TensorForward(plain)
        if predictor:
            call = predictor_call(other, x, tempfile.mkdtemp(dir=args.workdir), args.threads, onednn, deleted)
        else:
            layer = paddle.jit.to_static(TensorForward(other), full_graph=True) if static else TensorForward(other)

            def call():
                """One forward of the variant, as numpy."""
                with onednn_flags(onednn):
                    return layer(xp).numpy()
        with paddle.no_grad():
            err = relative_error(call(), plain_layer(xp).numpy())
            tp, tv = interleaved([lambda: plain_layer(xp).numpy(), call], args.repeats)
        result = {"plain": tp, "variant": tv, "diff": err}
    except Exception as e:
        result = {"error": short_error(f"{type(e).__name__}: {e}")}
    with open(os.path.join(args.workdir, args.variant + ".json"), "w") as f:
        json.dump(result, f)


def alternatives(args, torch_forward):
    """Table 5a: every variant of :data:`VARIANTS` in its own process; a crash is reported, not fatal.
    ``torch_forward``: PyTorch's whole forward at --threads (s), from table 4. Returns {variant: result}."""
    print_header(f"Alternatives Paddle offers, {args.threads} threads, batch {args.batch} (each in its own process, "
                 "timed interleaved with the plain dynamic graph there)",
                 ["alternative", "max diff / max ref", "ms", "plain dynamic graph ms", "speed-up",
                  "time / PyTorch forward (table 4)"])
    out = {}
    with tempfile.TemporaryDirectory() as workdir:
        for key, (label, kind, *_) in VARIANTS.items():
            cmd = [sys.executable, os.path.abspath(__file__), "--variant", key, "--workdir", workdir,
                   "--batch", str(args.batch), "--threads", str(args.threads), "--repeats", str(args.repeats)]
            try:
                # Paddle's log level left as it is: a raised GLOG_minloglevel also hides the crash report
                proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
                path = os.path.join(workdir, key + ".json")
                if os.path.exists(path):
                    with open(path) as f:
                        r = json.load(f)
                else:
                    r = {"error": crash_report(proc)}
            except subprocess.TimeoutExpired:
                r = {"error": "timed out after 1800 s"}
            out[key] = r
            if "error" in r:
                print(f"| {label} | failed: {r['error']} | | | | |")
                continue
            vs_torch = f"{r['variant'] / torch_forward:.2f}x" if kind == "generator" and torch_forward else ""
            print(f"| {label} | {r['diff']} | {ms(r['variant'])} | {ms(r['plain'])} | "
                  f"{r['plain'] / r['variant']:.2f}x | {vs_torch} |")
    print()
    return out


# ------------------------------------------------------------------ 6: what limits the loop
def limits_blocks(res, n):
    """Bullets: which blocks hold Paddle's time and its excess over PyTorch at ``n`` threads."""
    p, q = {k: v[n][0] for k, v in res.items()}, {k: v[n][1] for k, v in res.items()}
    mm = {k: v[n][2] / v[n][3] for k, v in res.items()}
    total_p, total_q = sum(p.values()), sum(q.values())
    top = sorted(p, key=p.get, reverse=True)[:3]
    out = [f"Largest shares of Paddle's block time at {threads_text(n)}: " + "; ".join(
        f"{k} {p[k] / total_p:.0%} ({p[k] / q[k]:.2f}x PyTorch's time; its same-FLOP matmul {mm[k]:.2f}x)"
        for k in top) + "."]
    excess = total_p - total_q
    if excess > 0:
        worst = [k for k in sorted(p, key=lambda k: p[k] - q[k], reverse=True)[:3] if p[k] > q[k]]
        out.append(f"At {threads_text(n)} Paddle's blocks take {ms(excess)} ms more than PyTorch's "
                   f"({total_p / total_q:.2f}x); of that excess " + ", ".join(
                       f"{k} {(p[k] - q[k]) / excess:.0%}" for k in worst) + ".")
    else:
        out.append(f"At {threads_text(n)} Paddle's blocks take {ms(-excess)} ms less than PyTorch's "
                   f"({total_p / total_q:.2f}x).")
    faster = [k for k in p if p[k] <= q[k]]
    if faster:
        out.append(f"Paddle is as fast or faster on {len(faster)} of {len(p)} blocks at {threads_text(n)}: "
                   f"{', '.join(faster)}.")
    return out


def limits_arithmetic(res, thread_counts):
    """Bullets: does the same-FLOP matmul's ratio explain the blocks' ratio, in all and block by block?"""
    out = []
    for t in thread_counts:
        p, q, pm, qm = sums(res, t)
        br, mr = p / q, pm / qm
        if br <= 1.1:
            verdict = "Paddle's blocks are within 10% of PyTorch's"
        elif br <= 1.1 * mr:
            verdict = "the same arithmetic as one matmul is as much slower in Paddle: BLAS accounts for the gap"
        elif mr <= 1.1:
            verdict = "the matmuls are on par, so the gap is in Paddle's convolution kernels"
        else:
            verdict = f"the matmuls explain a factor {mr:.2f}, Paddle's convolution kernels add {br / mr:.2f} on top"
        out.append(f"At {threads_text(t)} all blocks take {br:.2f}x PyTorch's time, their same-FLOP matmuls "
                   f"{mr:.2f}x: {verdict}. Each framework's blocks take x its own matmuls' time: Paddle "
                   f"{p / pm:.2f}, PyTorch {q / qm:.2f}.")
    n = thread_counts[-1]
    total = sums(res, n)[0]
    big = {k: v[n] for k, v in res.items() if v[n][0] >= 0.03 * total and v[n][0] > 1.1 * v[n][1]}
    kernel = [k for k, v in big.items() if (v[0] / v[1]) / (v[2] / v[3]) > 1.3]
    blas = [k for k in big if k not in kernel]
    for names, what in ((kernel, "exceeds their matmul's by more than 1.3x (the convolution kernel)"),
                        (blas, "is within 1.3x of their matmul's (the arithmetic)")):
        if names:
            out.append(f"Blocks holding 3% or more of Paddle's block time and slower than PyTorch's, whose ratio "
                       f"{what}, at {threads_text(n)}: " + ", ".join(
                           f"{k} ({big[k][0] / big[k][1]:.2f}x vs {big[k][2] / big[k][3]:.2f}x)" for k in names) + ".")
    return out


def limits_threads(best, res, whole, thread_counts):
    """Bullets: what the extra threads buy each framework."""
    n = thread_counts[-1]
    if n == 1:
        return []
    out = []
    for label, key, i in (("Paddle", "paddle", 0), ("PyTorch", "torch", 1)):
        parts = [f"matmul peak x{best[(key, n)] / best[(key, 1)]:.2f}",
                 f"blocks x{sums(res, 1)[i] / sums(res, n)[i]:.2f}"]
        for name in ("forward", "train step"):
            if not isinstance(whole[(name, 1)], str) and not isinstance(whole[(name, n)], str):
                parts.append(f"{name} x{whole[(name, 1)][i] / whole[(name, n)][i]:.2f}")
        out.append(f"{label}, 1 -> {n} threads: " + ", ".join(parts) + ".")
    return out


def limits_whole(whole, gflop, peak):
    """Bullets: the whole network's ratios and how much of the peak each framework reaches."""
    out = []
    for (name, t), v in whole.items():
        if isinstance(v, str):
            out.append(f"{name} at {threads_text(t)} failed: {v}")
        elif name == "forward":
            out.append(f"Whole forward at {threads_text(t)}: Paddle {v[0] / v[1]:.2f}x PyTorch's time; "
                       f"{gflop / v[0] / peak:.0%} of the peak against {gflop / v[1] / peak:.0%}.")
        else:
            out.append(f"Training step at {threads_text(t)}: Paddle {v[0] / v[1]:.2f}x PyTorch's time.")
    return out


def limits_alternatives(alts, layout):
    """Bullets: the best correct alternative, the ones that failed or were wrong, and the layout's effect."""
    out, ok = [], {}
    for key, r in alts.items():
        label = VARIANTS[key][0]
        if "error" in r:
            out.append(f"{label}: failed ({r['error']}).")
        elif "WRONG" in r["diff"]:
            out.append(f"{label}: WRONG output ({r['diff']}).")
        elif r["diff"] == "0.0e+00" and VARIANTS[key][3]:
            out.append(f"{label}: bit-identical output, {r['plain'] / r['variant']:.2f}x the plain speed: "
                       "no other kernel ran.")
        if "error" not in r and "WRONG" not in r["diff"] and VARIANTS[key][1] == "generator":
            ok[key] = r["plain"] / r["variant"]
    if ok:
        key = max(ok, key=ok.get)
        note = " (a Predictor serves inference only, not the training step)" if VARIANTS[key][4] else ""
        out.insert(0, f"Fastest correct alternative for the generator's forward: {VARIANTS[key][0]}, "
                      f"{ok[key]:.2f}x the dynamic graph's speed{note}.")
    name, times = layout
    out.append(f"NHWC on {name}'s convolution: {times['Paddle NHWC'] / times['Paddle NCHW']:.2f}x the time of "
               f"NCHW in Paddle; PyTorch's NCHW takes {times['PyTorch NCHW'] / times['Paddle NCHW']:.2f}x it.")
    return out


def print_limits(best, res, whole, alts, layout, thread_counts, gflop, load):
    """Section 6, every sentence worked out from the measured numbers; ``load``: the load average at the start."""
    peak = max(best.values())
    bullets = [f"The load average was {load:.2f} at the start, on {len(os.sched_getaffinity(0))} usable cores: "
               "other work was running, and the timings at the higher thread count suffer first."
               ] if load >= 0.5 else []
    bullets += (limits_blocks(res, thread_counts[-1]) + limits_arithmetic(res, thread_counts)
                + limits_threads(best, res, whole, thread_counts) + limits_whole(whole, gflop, peak)
                + limits_alternatives(alts, layout))
    print("## What limits the loop\n\n" + "\n".join(f"- {b}" for b in bullets) + "\n")


def main():
    """Run the child of table 5a when asked, else every table in turn."""
    args = parse_args()
    if args.variant:
        run_variant(args)
        return
    start, load = time.perf_counter(), os.getloadavg()[0]
    thread_counts = sorted({1, args.threads})
    print_machine(args)
    best = matmul_peak(thread_counts, args.repeats)
    ours, theirs = build_networks()
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch, *IN_SHAPE)).astype(np.float32)
    rows = collect_blocks(ours, theirs, x)
    res = time_blocks(rows, thread_counts, args.repeats)
    print_blocks(rows, res, thread_counts, max(best.values()))
    print_matmuls(rows, res, thread_counts)
    gflop = sum(r[5] for r in rows)
    whole = whole_network(ours, theirs, x, thread_counts, args.repeats, gflop)
    alts = alternatives(args, whole[("forward", args.threads)][1])
    layout = layout_check(rows, res, args.threads, args.repeats)
    print_limits(best, res, whole, alts, layout, thread_counts, gflop, load)
    print(f"(the bench took {time.perf_counter() - start:.0f} s; load average (1 min) at the end: "
          f"{os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
