"""VelocityGAN networks: InversionNet-style generator and a WGAN-GP critic.

Generator (Wu & Lin, 2019, InversionNet; Zhang & Lin, 2021, VelocityGAN):
shot gathers [B, n_src, n_time, n_rec] -> velocity [B, 1, nz, nx] in [-1, 1].
The encoder first shrinks time with (k, 1) convolutions until it is about as
long as the receiver axis, then shrinks both axes, then collapses to a 1x1
latent; the decoder grows it back with transposed convolutions and crops to
the output grid. For OpenFWI's sizes (5 x 1000 x 70 -> 70 x 70) the layer
layout is exactly OpenFWI's InversionNet.

The critic has no normalisation layers: the gradient penalty needs a second
derivative through the critic, and Paddle's CPU BatchNorm double-backward is
very slow (and GroupNorm/LayerNorm have none); Gulrajani et al. (2017) also
advise against batch norm in a WGAN-GP critic.
"""
import math
from typing import Sequence
from typing import Tuple

from paddle import nn
from ppsci.arch import base

__all__ = ["VelocityGenerator", "VelocityDiscriminator"]


def conv_block(cin, cout, kernel=3, stride=1, padding=1, norm=True):
    layers = [nn.Conv2D(cin, cout, kernel, stride, padding)]
    if norm:
        layers.append(nn.BatchNorm2D(cout))
    layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


def deconv_block(cin, cout, kernel=2, stride=2, padding=0):
    return nn.Sequential(nn.Conv2DTranspose(cin, cout, kernel, stride, padding),
                         nn.BatchNorm2D(cout), nn.LeakyReLU(0.2))


def upsample_block(cin, cout, mode):
    """x2 upsampling: OpenFWI's 4x4 stride-2 transposed conv, or interpolation + 3x3 conv.

    Interpolation avoids the checkerboard artefacts of transposed convolutions
    (Odena et al., 2016), which show up as lateral stripes that SSIM punishes
    in flat layers.
    """
    if mode == "deconv":
        return deconv_block(cin, cout, 4, 2, 1)
    if mode in ("bilinear", "nearest"):
        return nn.Sequential(nn.Upsample(scale_factor=2, mode=mode), conv_block(cin, cout))
    raise ValueError(f"VelocityGenerator upsample: expected 'deconv', 'bilinear' or 'nearest', found {mode!r}")


def _half(n):  # output length of a stride-2 conv with "same" padding
    return (n + 1) // 2


class VelocityGenerator(base.Arch):
    """Encoder-decoder from shot gathers to a velocity map.

    Args:
        input_keys, output_keys: one key each, e.g. ("data",), ("velocity",).
        n_sources: shots per sample (input channels).
        time_samples: time samples per trace on disk.
        sample_ratio: temporal downsampling applied by the data set
            (the network sees ceil(time_samples / sample_ratio) samples).
        n_receivers: receivers per shot.
        out_shape: (nz, nx) of the velocity map.
        dims: five channel widths, outermost to bottleneck.
        upsample: decoder x2 stages, "deconv" (OpenFWI) or "bilinear"/"nearest" + conv.
        head_norm: BatchNorm before the output tanh, as OpenFWI. With small
            batches it re-centres every batch of velocity maps, so the network
            cannot express a batch's absolute velocity level in training.
    """

    def __init__(self, input_keys: Tuple[str, ...], output_keys: Tuple[str, ...],
                 n_sources: int = 5, time_samples: int = 1000, sample_ratio: int = 1,
                 n_receivers: int = 70, out_shape: Sequence[int] = (70, 70),
                 dims: Sequence[int] = (32, 64, 128, 256, 512), upsample: str = "deconv",
                 head_norm: bool = True):
        super().__init__()
        self.input_keys, self.output_keys = tuple(input_keys), tuple(output_keys)
        if len(dims) != 5:
            raise ValueError(f"VelocityGenerator dims: expected 5 channel widths, found {list(dims)}")
        d1, d2, d3, d4, d5 = dims
        self.in_shape = (n_sources, math.ceil(time_samples / sample_ratio), n_receivers)
        self.out_shape = tuple(out_shape)
        nt, nr = self.in_shape[1:]
        n_time_down = max(1, round(math.log2(nt / nr)))
        enc = [conv_block(n_sources, d1, (7, 1), (2, 1), (3, 0))]
        nt, cin = _half(nt), d1
        for j in range(1, n_time_down):
            cout = d3 if j == n_time_down - 1 else d2
            enc += [conv_block(cin, cout, (3, 1), (2, 1), (1, 0)), conv_block(cout, cout, (3, 1), 1, (1, 0))]
            nt, cin = _half(nt), cout
        for cout in (d3, d4, d4):
            enc += [conv_block(cin, cout, stride=2), conv_block(cout, cout)]
            nt, nr, cin = _half(nt), _half(nr), cout
        enc.append(conv_block(cin, d5, (nt, nr), 1, 0))  # collapse to 1 x 1
        self.encoder = nn.Sequential(*enc)
        nz, nx = self.out_shape
        start = (math.ceil(nz / 16), math.ceil(nx / 16))
        dec = [deconv_block(d5, d5, start, 1, 0), conv_block(d5, d5)]
        for cin, cout in ((d5, d4), (d4, d3), (d3, d2), (d2, d1)):
            dec += [upsample_block(cin, cout, upsample), conv_block(cout, cout)]
        self.decoder = nn.Sequential(*dec)
        self.crop = ((start[0] * 16 - nz) // 2, (start[1] * 16 - nx) // 2)
        head = [nn.Conv2D(d1, 1, 3, 1, 1)] + ([nn.BatchNorm2D(1)] if head_norm else []) + [nn.Tanh()]
        self.head = nn.Sequential(*head)

    def forward(self, x):
        if self._input_transform is not None:
            x = self._input_transform(x)
        y = self.concat_to_tensor(x, self.input_keys, axis=1)
        if tuple(y.shape[1:]) != self.in_shape:
            raise ValueError(
                f"VelocityGenerator input '{self.input_keys[0]}': expected [B, {', '.join(map(str, self.in_shape))}], "
                f"found {list(y.shape)} (check MODEL sizes and DATA.sample_ratio)"
            )
        y = self.decoder(self.encoder(y))
        (cz, cx), (nz, nx) = self.crop, self.out_shape
        y = self.head(y[:, :, cz:cz + nz, cx:cx + nx])
        y = {self.output_keys[0]: y}
        if self._output_transform is not None:
            y = self._output_transform(x, y)
        return y


class VelocityDiscriminator(base.Arch):
    """WGAN critic: velocity map [B, 1, nz, nx] -> score [B, 1].

    Args:
        input_keys, output_keys: one key each, e.g. ("velocity",), ("score",).
        in_shape: (nz, nx) of the velocity map.
        dims: four channel widths.
        norm: False (default): no normalisation layers, the score a plain convolution; True: OpenFWI's
            critic, BatchNorm and LeakyReLU after every convolution, the score's included (its gradient
            penalty then needs BatchNorm's double backward: slow on Paddle's CPU kernels).
    """

    def __init__(self, input_keys: Tuple[str, ...], output_keys: Tuple[str, ...],
                 in_shape: Sequence[int] = (70, 70), dims: Sequence[int] = (32, 64, 128, 256), norm: bool = False):
        super().__init__()
        self.input_keys, self.output_keys = tuple(input_keys), tuple(output_keys)
        if len(dims) != 4:
            raise ValueError(f"VelocityDiscriminator dims: expected 4 channel widths, found {list(dims)}")
        nz, nx = in_shape
        layers, cin = [], 1
        for cout in dims:
            layers += [conv_block(cin, cout, stride=2, norm=norm), conv_block(cout, cout, norm=norm)]
            nz, nx, cin = _half(nz), _half(nx), cout
        layers.append(conv_block(cin, 1, (nz, nx), 1, 0, norm=True) if norm else nn.Conv2D(cin, 1, (nz, nx)))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        if self._input_transform is not None:
            x = self._input_transform(x)
        y = self.concat_to_tensor(x, self.input_keys, axis=1)
        y = self.net(y)
        y = {self.output_keys[0]: y.reshape([y.shape[0], 1])}  # flatten has no double-grad
        if self._output_transform is not None:
            y = self._output_transform(x, y)
        return y
