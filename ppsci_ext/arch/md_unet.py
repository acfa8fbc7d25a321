"""Attention-free conditional UNet of MD Diffusion (Xiao et al., 2024).

The denoiser of a conditional (SR3-style) diffusion model that predicts the
noise ``eps`` added to a clean section, given the noisy section ``x_noisy``,
the degraded section ``cond`` (already resampled to the same grid) and the
noise level ``gamma`` (the cumulative signal fraction, alpha-bar, in (0, 1]):

    x_noisy = sqrt(gamma) * x_clean + sqrt(1 - gamma) * eps.

Layout (``L = len(channel_mults)`` levels, widths ``base_channels * mult``):

- input: ``concat(cond, x_noisy)`` on channels -> 3x3 conv to ``base_channels``;
- encoder: per level ``num_res_blocks`` residual blocks, the output kept as the
  level's skip, then a stride-2 3x3 conv (not after the last level);
- middle: two residual blocks at the coarsest level;
- decoder: per level (coarsest first) concat with the level's skip ->
  ``num_res_blocks`` residual blocks, then nearest x2 + 3x3 conv (not after
  the finest level);
- output: GroupNorm -> SiLU -> 3x3 conv to ``out_channels``.

Residual block: ``GN -> FiLM -> SiLU -> conv3x3 -> GN -> SiLU -> dropout ->
conv3x3`` plus the input (through a 1x1 conv when the width changes). FiLM is
``h * (1 + scale) + shift`` right after the first GroupNorm, with
(scale, shift) a linear map of the noise embedding, so every block sees the
noise level.

Noise embedding: ``v = 1000 * sqrt(gamma)`` (the SR3 / WaveGrad choice of
conditioning on the continuous noise scale ``sqrt(gamma)``, scaled so that it
spans the same range as the integer timesteps of DDPM's sinusoidal
embedding), ``[sin(v * f_k), cos(v * f_k)]`` with
``f_k = 10000 ** (-k / (n/2))``, ``n = base_channels``, then
``Linear -> SiLU -> Linear`` to ``emb_dim`` (default ``4 * base_channels``).

No attention anywhere, so the network is fully convolutional: inputs of any
size are padded (replicate, split evenly before/after) on every spatial axis
to a multiple of ``2 ** (L - 1)`` and the output is cropped back. Note that
GroupNorm normalises over the whole (padded) image, so the output on a patch
is not exactly the same as the output of the same patch cut out of a larger
image; only the convolutions are local.

``spatial_dims`` picks Conv2D (inputs [B, C, H, W]) or Conv3D (inputs
[B, C, D, H, W]); one code path for both.
"""
import math
from typing import Sequence
from typing import Tuple

import paddle
from paddle import nn
from ppsci.arch import base

__all__ = ["MDUNet"]

_CONV = {2: nn.Conv2D, 3: nn.Conv3D}
_FORMAT = {2: "NCHW", 3: "NCDHW"}


NORMS = ("group", "channel")


class ChannelNorm(nn.Layer):
    """LayerNorm over the channels of each pixel (voxel), with a per-channel scale and shift.

    Purely local: the output at a pixel depends on that pixel's channels only, so unlike
    GroupNorm it does not change with the size of the image the pixel sits in.
    """

    def __init__(self, channels: int, epsilon: float = 1e-5):
        super().__init__()
        self.epsilon = epsilon
        self.weight = self.create_parameter([channels], default_initializer=nn.initializer.Constant(1.0))
        self.bias = self.create_parameter([channels], is_bias=True)

    def forward(self, x):
        # channels last -> paddle's fused layer_norm over the last axis -> channels first again
        # (3-5x faster on CPU than composing mean/var from elementwise ops)
        last = [0] + list(range(2, x.ndim)) + [1]
        back = [0, x.ndim - 1] + list(range(1, x.ndim - 1))
        h = nn.functional.layer_norm(x.transpose(last), x.shape[1:2], self.weight, self.bias, self.epsilon)
        return h.transpose(back)


def _norm(channels: int, groups: int, kind: str = "group") -> nn.Layer:
    if kind == "channel":
        return ChannelNorm(channels)
    # the largest group count <= norm_groups that divides the width
    return nn.GroupNorm(math.gcd(groups, channels), channels)


def noise_embedding(noise_level: paddle.Tensor, dim: int) -> paddle.Tensor:
    """gamma [B] -> [B, dim] sinusoidal embedding of 1000 * sqrt(gamma)."""
    half = dim // 2
    freqs = paddle.exp(-math.log(10000.0) * paddle.arange(half, dtype="float32") / half)
    v = 1000.0 * paddle.sqrt(noise_level.astype("float32")).reshape([-1, 1]) * freqs.reshape([1, -1])
    return paddle.concat([paddle.sin(v), paddle.cos(v)], axis=1)


class _ResBlock(nn.Layer):
    def __init__(self, cin, cout, emb_dim, nd, groups, dropout, norm):
        super().__init__()
        conv = _CONV[nd]
        self.nd = nd
        self.norm1, self.conv1 = _norm(cin, groups, norm), conv(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * cin)  # (scale, shift) per input channel
        self.norm2, self.conv2 = _norm(cout, groups, norm), conv(cout, cout, 3, padding=1)
        self.act = nn.Silu()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.skip = conv(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        scale, shift = self.film(emb).reshape([emb.shape[0], -1] + [1] * self.nd).chunk(2, axis=1)
        h = self.norm1(x) * (1 + scale) + shift
        h = self.conv1(self.act(h))
        h = self.conv2(self.drop(self.act(self.norm2(h))))
        return h + self.skip(x)


class MDUNet(base.Arch):
    """Attention-free conditional UNet (MD Diffusion denoiser): (x_noisy, cond, noise_level) -> eps.

    Args:
        input_keys: (noisy section, condition, noise level) keys; the sections are
            [B, C, H, W] (``spatial_dims=2``) or [B, C, D, H, W] (``spatial_dims=3``),
            the noise level gamma in (0, 1] is [B] or [B, 1].
        output_keys: one key, the output [B, out_channels, ...] on the input grid; what it means (noise, v or
            the section itself) is for the scheduler or the loss that reads it, not the network.
        in_channels, cond_channels, out_channels: channels of x_noisy, cond and the output.
        base_channels: width of the first level; level i has ``base_channels * channel_mults[i]``.
        channel_mults: width multipliers, one per level; ``len - 1`` downsamplings by 2.
            The paper's configuration is ``base_channels=64, channel_mults=(1, 2, 4, 8, 8)``.
        num_res_blocks: residual blocks per level in the encoder and in the decoder.
        spatial_dims: 2 or 3.
        norm_groups: GroupNorm groups (reduced to a divisor of each width).
        norm: ``"group"`` (GroupNorm, as SR3) or ``"channel"`` (:class:`ChannelNorm`, a
            per-pixel LayerNorm over channels). GroupNorm's statistics span the whole
            image, so a model trained on small patches shifts its output on larger
            inputs; ChannelNorm keeps the network local (translation-equivariant up
            to the padding), which is what running on whole sections needs.
        dropout: dropout before the second conv of each residual block.
        emb_dim: width of the noise embedding MLP; default ``4 * base_channels``.
        zero_init_out: zero the weights and bias of the last conv (default True), so
            an untrained model predicts eps = 0, the mean of the target, and the
            first diffusion losses are ~E[eps^2] = 1 instead of the variance of a
            random deep net's output (the DDPM / improved-DDPM practice). With it,
            the very first backward reaches only the last conv; every parameter
            gets a gradient from the second step on.
    """

    def __init__(self, input_keys: Tuple[str, ...] = ("x_noisy", "cond", "noise_level"),
                 output_keys: Tuple[str, ...] = ("out",), in_channels: int = 1, cond_channels: int = 1,
                 out_channels: int = 1, base_channels: int = 32, channel_mults: Sequence[int] = (1, 2, 4, 8),
                 num_res_blocks: int = 1, spatial_dims: int = 2, norm_groups: int = 8, dropout: float = 0.0,
                 emb_dim: int = None, zero_init_out: bool = True, norm: str = "group"):
        super().__init__()
        self.input_keys, self.output_keys = tuple(input_keys), tuple(output_keys)
        if len(self.input_keys) != 3 or len(self.output_keys) != 1:
            raise ValueError(f"MDUNet keys: expected 3 input keys (x_noisy, cond, noise_level) and 1 output key, "
                             f"found {list(self.input_keys)} and {list(self.output_keys)}")
        if norm not in NORMS:
            raise ValueError(f"MDUNet norm: expected one of {list(NORMS)}, found {norm!r}")
        if spatial_dims not in _CONV:
            raise ValueError(f"MDUNet spatial_dims: expected 2 or 3, found {spatial_dims}")
        mults = [int(m) for m in channel_mults]
        if not mults or min(mults) < 1 or num_res_blocks < 1 or base_channels < 2:
            raise ValueError(f"MDUNet: need channel_mults >= 1 (at least one level), num_res_blocks >= 1, "
                             f"base_channels >= 2; found {mults}, {num_res_blocks}, {base_channels}")
        self.in_channels, self.cond_channels, self.out_channels = in_channels, cond_channels, out_channels
        self.spatial_dims, self.levels = spatial_dims, len(mults)
        self.multiple = 2 ** (self.levels - 1)
        nd, conv = spatial_dims, _CONV[spatial_dims]
        emb_dim = emb_dim or 4 * base_channels
        self.sin_dim = base_channels - base_channels % 2
        self.emb = nn.Sequential(nn.Linear(self.sin_dim, emb_dim), nn.Silu(), nn.Linear(emb_dim, emb_dim))

        def block(cin, cout):
            return _ResBlock(cin, cout, emb_dim, nd, norm_groups, dropout, norm)

        widths = [base_channels * m for m in mults]
        self.head = conv(cond_channels + in_channels, base_channels, 3, padding=1)
        self.enc, self.down = nn.LayerList(), nn.LayerList()
        ch = base_channels
        for i, w in enumerate(widths):
            self.enc.append(nn.LayerList([block(ch if j == 0 else w, w) for j in range(num_res_blocks)]))
            ch = w
            if i < self.levels - 1:
                self.down.append(conv(w, w, 3, stride=2, padding=1))
        self.mid = nn.LayerList([block(ch, ch), block(ch, ch)])
        self.dec, self.up = nn.LayerList(), nn.LayerList()
        for i in reversed(range(self.levels)):
            w = widths[i]
            self.dec.append(nn.LayerList([block(ch + w if j == 0 else w, w) for j in range(num_res_blocks)]))
            ch = w
            if i > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest", data_format=_FORMAT[nd]),
                                             conv(w, widths[i - 1], 3, padding=1)))
                ch = widths[i - 1]
        self.out = nn.Sequential(_norm(ch, norm_groups, norm), nn.Silu(), conv(ch, out_channels, 3, padding=1))
        if zero_init_out:
            zero = nn.initializer.Constant(0.0)
            zero(self.out[-1].weight)
            zero(self.out[-1].bias)

    def _check(self, inputs):
        for key in self.input_keys:
            if key not in inputs:
                raise ValueError(f"MDUNet input '{key}': missing, found keys {list(inputs)}")
        kx, kc, kg = self.input_keys
        x, c, g = inputs[kx], inputs[kc], inputs[kg]
        nd = self.spatial_dims
        sp = "D, H, W" if nd == 3 else "H, W"
        if x.ndim != nd + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"MDUNet input '{kx}': expected [B, {self.in_channels}, {sp}], found {list(x.shape)}")
        want = [x.shape[0], self.cond_channels] + list(x.shape[2:])
        if list(c.shape) != want:
            raise ValueError(f"MDUNet input '{kc}': expected {want} (batch and grid of '{kx}'), "
                             f"found {list(c.shape)}")
        if list(g.shape) not in ([x.shape[0]], [x.shape[0], 1]):
            raise ValueError(f"MDUNet input '{kg}': expected [{x.shape[0]}] or [{x.shape[0]}, 1], "
                             f"found {list(g.shape)}")
        return x, c, g

    def forward(self, inputs):
        if self._input_transform is not None:
            inputs = self._input_transform(inputs)
        x, c, g = self._check(inputs)
        emb = self.emb(noise_embedding(g, self.sin_dim))
        h = self.concat_to_tensor({"x": x, "c": c}, ("c", "x"), axis=1)
        size = list(h.shape[2:])
        pads = [(-n) % self.multiple for n in size]
        if any(pads):
            # paddle's pad list runs from the last axis: [W_lo, W_hi, H_lo, H_hi, (D_lo, D_hi)]
            flat = [v for p in reversed(pads) for v in (p // 2, p - p // 2)]
            h = nn.functional.pad(h, flat, mode="replicate", data_format=_FORMAT[self.spatial_dims])
        h = self.head(h)
        skips = []
        for i, blocks in enumerate(self.enc):
            for blk in blocks:
                h = blk(h, emb)
            skips.append(h)
            if i < self.levels - 1:
                h = self.down[i](h)
        for blk in self.mid:
            h = blk(h, emb)
        for i, blocks in enumerate(self.dec):
            h = paddle.concat([h, skips.pop()], axis=1)
            for blk in blocks:
                h = blk(h, emb)
            if i < self.levels - 1:
                h = self.up[i](h)
        h = self.out(h)
        if any(pads):
            h = h[(slice(None), slice(None)) + tuple(slice(p // 2, p // 2 + n) for p, n in zip(pads, size))]
        out = {self.output_keys[0]: h}
        if self._output_transform is not None:
            out = self._output_transform(inputs, out)
        return out
