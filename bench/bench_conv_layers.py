"""Where the VelocityGAN generator's time goes, layer by layer: our VelocityGenerator (Paddle) against OpenFWI's
InversionNet layout in PyTorch (ppsci_ext/testing/openfwi_nets.py), same weights' shapes, input and threads.

Prints a markdown table: forward time of every encoder/decoder block (median of --repeats after a warm-up), both
frameworks, the ratio, and the whole network forward and forward + backward. A second table takes one encoder
convolution (convblock2_2's (3, 1) kernel on [B, 64, 250, 70]) at 1 and 2 threads, beside the one matrix product
of the same arithmetic (im2col's [64, 192] x [192, B * 250 * 70]) and im2col done by ``unfold`` followed
by that product, in each framework: is the limit the arithmetic, the convolution kernel, or the threads?

    python bench/bench_conv_layers.py [--batch 4] [--threads 2] [--repeats 5]
"""
import argparse

import numpy as np

from common import median_time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import paddle
    import torch

    from ppsci_ext.arch import VelocityGenerator
    from ppsci_ext.testing.openfwi_nets import inversion_net

    paddle.base.core.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    ours = VelocityGenerator(("data",), ("velocity",), dims=(32, 64, 128, 256, 512), upsample="deconv")
    theirs = inversion_net()
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch, 5, 1000, 70)).astype(np.float32)
    xp, xt = paddle.to_tensor(x), torch.from_numpy(x)
    print("| block | input | Paddle (ms) | PyTorch (ms) | ratio |\n|---|---|---|---|---|")
    ours.eval(), theirs.eval()
    with paddle.no_grad(), torch.no_grad():
        for block, name in zip(list(ours.encoder) + list(ours.decoder), theirs.order):
            layer = getattr(theirs, name)
            a = median_time(lambda: block(xp), args.repeats) * 1e3
            b = median_time(lambda: layer(xt), args.repeats) * 1e3
            print(f"| {name} | {list(xp.shape)} | {a:.0f} | {b:.0f} | {a / b:.1f}x |")
            xp, xt = block(xp), layer(xt)
    ours.train(), theirs.train()
    yp, yt = paddle.to_tensor(x), torch.from_numpy(x)

    def fb_ours():
        ours({"data": yp})["velocity"].abs().mean().backward()
        ours.clear_gradients()

    def fb_theirs():
        theirs(yt).abs().mean().backward()
        theirs.zero_grad()

    with paddle.no_grad(), torch.no_grad():
        a = median_time(lambda: ours({"data": yp}), args.repeats)
        b = median_time(lambda: theirs(yt), args.repeats)
    print(f"| whole forward | {[args.batch, 5, 1000, 70]} | {a * 1e3:.0f} | {b * 1e3:.0f} | {a / b:.1f}x |")
    a, b = median_time(fb_ours, args.repeats), median_time(fb_theirs, args.repeats)
    print(f"| forward + backward | | {a * 1e3:.0f} | {b * 1e3:.0f} | {a / b:.1f}x |")

    conv_vs_gemm(args)


def conv_vs_gemm(args):
    import paddle
    import torch

    rng = np.random.default_rng(1)
    x = rng.standard_normal((args.batch, 64, 250, 70)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 1)).astype(np.float32)
    cols = rng.standard_normal((192, args.batch * 250 * 70)).astype(np.float32)
    xp, wp, ap, bp = (paddle.to_tensor(a) for a in (x, w, w.reshape(64, 192), cols))
    xt, wt, at, bt = (torch.from_numpy(a) for a in (x, w, w.reshape(64, 192).copy(), cols))
    gflop = 2 * 64 * 192 * cols.shape[1] / 1e9
    print(f"\n| one (3, 1) convolution, [{args.batch}, 64, 250, 70] -> same ({gflop:.2f} GFLOP) | threads | "
          f"Paddle (ms) | PyTorch (ms) | ratio |\n|---|---|---|---|---|")
    for threads in (1, 2):
        paddle.base.core.set_num_threads(threads)
        torch.set_num_threads(threads)
        with paddle.no_grad(), torch.no_grad():
            rows = (("convolution", lambda: paddle.nn.functional.conv2d(xp, wp, padding=(1, 0)),
                     lambda: torch.nn.functional.conv2d(xt, wt, padding=(1, 0))),
                    ("matrix product of the same arithmetic", lambda: paddle.matmul(ap, bp), lambda: at @ bt),
                    ("unfold (im2col) + matrix product", lambda: paddle.matmul(ap, paddle.nn.functional.unfold(
                        xp, [3, 1], paddings=[1, 0])), lambda: at @ torch.nn.functional.unfold(
                        xt, (3, 1), padding=(1, 0))))
            for name, f_p, f_t in rows:
                a, b = median_time(f_p, args.repeats) * 1e3, median_time(f_t, args.repeats) * 1e3
                print(f"| {name} | {threads} | {a:.0f} | {b:.0f} | {a / b:.1f}x |")


if __name__ == "__main__":
    main()
