"""OpenFWI's InversionNet and WGAN-GP Discriminator in PyTorch, re-implemented for this project from the
published layout (Wu & Lin, 2019; Deng et al., 2022), with the parameter names of OpenFWI's checkpoints,
so that a state dict of either converts to ours (:mod:`ppsci_ext.arch.openfwi_weights`).

InversionNet, input [B, 5, 1000, 70] -> [B, 1, 70, 70], widths d1..d5 (32, 64, 128, 256, 512); every block is
conv -> BatchNorm -> LeakyReLU(0.2) unless said otherwise:

    convblock1      5 -> d1, kernel (7, 1), stride (2, 1), padding (3, 0)
    convblock2_1/2  d1 -> d2 (stride (2, 1)), d2 -> d2; kernel (3, 1), padding (1, 0)
    convblock3_1/2  d2 -> d2 (stride (2, 1)), d2 -> d2; same kernels
    convblock4_1/2  d2 -> d3 (stride (2, 1)), d3 -> d3; same kernels
    convblock5_1/2  d3 -> d3 (3x3, stride 2), d3 -> d3 (3x3)
    convblock6_1/2  d3 -> d4 (stride 2), d4 -> d4
    convblock7_1/2  d4 -> d4 (stride 2), d4 -> d4
    convblock8      d4 -> d5, kernel (8, 9), no padding               (latent 1 x 1)
    deconv1_1/2     transposed d5 -> d5, kernel 5; then conv d5 -> d5 (3x3)
    deconv2..5_1/2  transposed (kernel 4, stride 2, padding 1) d5 -> d4 -> d3 -> d2 -> d1, each then a 3x3 conv
    crop 5 cells from each side (80 -> 70); deconv6: conv d1 -> 1 (3x3) -> BatchNorm -> tanh

Discriminator, [B, 1, 70, 70] -> [B, 1], widths (32, 64, 128, 256): four pairs (3x3 stride 2, 3x3), each
conv -> BatchNorm -> LeakyReLU(0.2); then convblock5, a 5x5 conv to one channel, also with BatchNorm and
LeakyReLU, flattened.

Needs ``torch``; imported when a function runs.
"""
from math import ceil


def _block(torch, cin, cout, kernel=3, stride=1, padding=1, transposed=False, act="lrelu", norm=True):
    nn = torch.nn
    conv = (nn.ConvTranspose2d if transposed else nn.Conv2d)(cin, cout, kernel, stride, padding)
    layers = [conv] + ([nn.BatchNorm2d(cout)] if norm else [])
    layers.append(nn.Tanh() if act == "tanh" else nn.LeakyReLU(0.2))
    module = nn.Module()
    module.layers = nn.Sequential(*layers)
    module.forward = module.layers.forward
    return module


def inversion_net(dims=(32, 64, 128, 256, 512), n_receivers=70, norm=True):
    """OpenFWI's InversionNet as a ``torch.nn.Module`` (state-dict keys as OpenFWI's)."""
    import torch

    d1, d2, d3, d4, d5 = dims
    tk, tp = (3, 1), (1, 0)
    spec = [("convblock1", (5, d1, (7, 1), (2, 1), (3, 0))),
            ("convblock2_1", (d1, d2, tk, (2, 1), tp)), ("convblock2_2", (d2, d2, tk, 1, tp)),
            ("convblock3_1", (d2, d2, tk, (2, 1), tp)), ("convblock3_2", (d2, d2, tk, 1, tp)),
            ("convblock4_1", (d2, d3, tk, (2, 1), tp)), ("convblock4_2", (d3, d3, tk, 1, tp)),
            ("convblock5_1", (d3, d3, 3, 2, 1)), ("convblock5_2", (d3, d3, 3, 1, 1)),
            ("convblock6_1", (d3, d4, 3, 2, 1)), ("convblock6_2", (d4, d4, 3, 1, 1)),
            ("convblock7_1", (d4, d4, 3, 2, 1)), ("convblock7_2", (d4, d4, 3, 1, 1)),
            ("convblock8", (d4, d5, (8, ceil(n_receivers / 8)), 1, 0))]
    decoder = [("deconv1_1", (d5, d5, 5, 1, 0), True), ("deconv1_2", (d5, d5, 3, 1, 1), False)]
    for k, (cin, cout) in enumerate(((d5, d4), (d4, d3), (d3, d2), (d2, d1)), start=2):
        decoder += [(f"deconv{k}_1", (cin, cout, 4, 2, 1), True), (f"deconv{k}_2", (cout, cout, 3, 1, 1), False)]

    class InversionNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for name, args in spec:
                setattr(self, name, _block(torch, *args, norm=norm))
            for name, args, transposed in decoder:
                setattr(self, name, _block(torch, *args, transposed=transposed, norm=norm))
            self.deconv6 = _block(torch, d1, 1, act="tanh", norm=norm)
            self.order = [name for name, _ in spec] + [name for name, _, _ in decoder]

        def forward(self, x):
            for name in self.order:
                x = getattr(self, name)(x)
            return self.deconv6(x[:, :, 5:-5, 5:-5])

    return InversionNet()


def discriminator(dims=(32, 64, 128, 256), norm=True):
    """OpenFWI's WGAN-GP critic as a ``torch.nn.Module`` (state-dict keys as OpenFWI's)."""
    import torch

    names, cin = [], 1

    class Discriminator(torch.nn.Module):
        def __init__(self):
            super().__init__()
            c = cin
            for k, cout in enumerate(dims, start=1):
                setattr(self, f"convblock{k}_1", _block(torch, c, cout, 3, 2, 1, norm=norm))
                setattr(self, f"convblock{k}_2", _block(torch, cout, cout, norm=norm))
                names.extend([f"convblock{k}_1", f"convblock{k}_2"])
                c = cout
            self.convblock5 = _block(torch, c, 1, 5, 1, 0, norm=norm)

        def forward(self, x):
            for name in names:
                x = getattr(self, name)(x)
            return self.convblock5(x).flatten(1)

    return Discriminator()


def openfwi_gan_pass(g, d, batches, opt_g, opt_d, n_critic, lambda_g1v, lambda_g2v, lambda_adv, lambda_gp,
                     alphas=None):
    """One pass of OpenFWI's WGAN-GP loop (VelocityGAN) over ``batches`` of (data, label) tensors: on every batch
    a critic step on the generator's output computed without gradient, and on every ``n_critic``-th batch and
    the last a generator step with its own forward (L1 + L2 + adversarial). ``alphas``: the gradient penalty's
    interpolation weights [B, 1, 1, 1] per batch (default: ``torch.rand``). Returns a list of per-batch dicts of
    loss values: critic (fake - real), gp, and, on generator batches, l1, l2, adv (weighted as in the sum)."""
    import torch

    log = []
    for i, (x, y) in enumerate(batches):
        with torch.no_grad():
            fake = g(x)
        alpha = alphas[i] if alphas is not None else torch.rand(x.shape[0], 1, 1, 1, dtype=y.dtype)
        mixed = (alpha * y + (1 - alpha) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(d(mixed).sum(), mixed, create_graph=True)
        gp = (grad.flatten(1).norm(dim=1) - 1).square().mean()
        critic = d(fake).mean() - d(y).mean()
        opt_d.zero_grad()
        (critic + lambda_gp * gp).backward()
        opt_d.step()
        row = {"critic": critic.item(), "gp": lambda_gp * gp.item()}
        if (i + 1) % n_critic == 0 or i == len(batches) - 1:
            pred = g(x)
            diff = pred - y
            losses = {"l1": lambda_g1v * diff.abs().mean(), "l2": lambda_g2v * diff.square().mean(),
                      "adv": -lambda_adv * d(pred).mean()}
            opt_g.zero_grad()
            sum(losses.values()).backward()
            opt_g.step()
            row.update({k: v.item() for k, v in losses.items()})
        log.append(row)
    return log
