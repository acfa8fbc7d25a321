"""Where the VelocityGAN generator's time goes, layer by layer: our VelocityGenerator (Paddle) against OpenFWI's
InversionNet layout in PyTorch (ppsci_ext/reference/openfwi_nets.py), same weights' shapes, input and threads.

Prints a markdown table: forward time of every encoder/decoder block (median of --repeats after a warm-up), both
frameworks, the ratio, and the whole network forward and forward + backward.

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
    from ppsci_ext.reference.openfwi_nets import inversion_net

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


if __name__ == "__main__":
    main()
