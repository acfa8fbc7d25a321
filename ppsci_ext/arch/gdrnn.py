"""GDRNN networks for prestack AVA inversion, and the "original" joint network.

All three work on single traces: a model ``m`` is [B, 3, L] = (vp m/s, vs m/s,
rho g/cc) over L depth (or time) samples; partial-angle stacks are [B, G, L].

Scaling. GDRNN works on log-parameters ``x = ln(m / scale)`` with ``scale`` a
fixed reference per property (YAML ``MODEL.scale``, e.g. 3000 m/s, 1500 m/s,
2.3 g/cc): an update of x is the same relative change for vp, vs and rho, the
network never sees m/s next to g/cc, and m stays positive whatever the UNet
outputs. The data-misfit gradient is taken with respect to x (that is
``m * dJ/dm``) and divided by its RMS over the trace (all three properties
together, so their ratio survives) before it enters the UNet.

- ``UNet1D``: encoder-decoder with skip connections over depth.
- ``GDRNN``: the unrolled cell (Zhao et al.): for t = 1..T
  ``g_t = dJ/dx (x_t)``, ``J = 1/2 ||d_obs - F(m_t)||^2``, ``m_t = scale * exp(x_t)``;
  ``x_{t+1} = x_t - alpha_t * U(g_t, x_t)``; one UNet ``U`` shared by all
  steps; ``alpha_t = exp(a_t) > 0`` learned per step, or the adaptive
  ``alpha_t = sigmoid(N(g_t, x_t))`` per trace.
- ``AVAUNet``: the original joint data/physics-driven network,
  ``m = m_back + lam * scale * UNet(S / stack_scale)`` (floored at 5% of
  ``scale`` so the physics never sees a non-positive model).
"""
import math
from typing import Sequence

import paddle
from paddle import nn
from ppsci.arch import base

__all__ = ["UNet1D", "GDRNN", "AVAUNet"]


def _block(cin, cout):
    # GroupNorm rather than BatchNorm: the unrolled steps see different
    # statistics, and training and inference must behave the same.
    return nn.Sequential(
        nn.Conv1D(cin, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.GELU(),
        nn.Conv1D(cout, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.GELU(),
    )


class _UNetCore(nn.Layer):
    """[B, cin, L] -> [B, cout, L] for any L (padded to a multiple of 2**levels, then cropped)."""

    def __init__(self, cin: int, cout: int, dims: Sequence[int]):
        super().__init__()
        dims = list(dims)
        if len(dims) < 2:
            raise ValueError(f"UNet dims: need at least 2 widths (one per level), found {dims}")
        self.levels = len(dims) - 1
        self.down = nn.LayerList([_block(cin, dims[0])] + [_block(a, b) for a, b in zip(dims[:-1], dims[1:])])
        self.pool = nn.MaxPool1D(2)
        self.up = nn.LayerList([nn.Conv1DTranspose(b, a, 2, stride=2) for a, b in zip(dims[:-1], dims[1:])])
        self.fuse = nn.LayerList([_block(2 * a, a) for a in dims[:-1]])
        self.head = nn.Conv1D(dims[0], cout, 1)

    def forward(self, x):
        n = x.shape[-1]
        mult = 2 ** self.levels
        pad = (-n) % mult
        if pad:
            x = nn.functional.pad(x, [0, pad], mode="replicate", data_format="NCL")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for up, fuse in zip(reversed(self.up), reversed(self.fuse)):
            x = fuse(paddle.concat([up(x), skips.pop()], axis=1))
        return self.head(x)[:, :, :n]


class UNet1D(base.Arch):
    """1-D UNet over depth as a ppsci Arch: inputs concatenated on channels -> ``output_keys[0]``.

    Args:
        input_keys, output_keys: dict keys; the inputs are [B, C_k, L] and are concatenated.
        in_channels, out_channels: total input channels, output channels.
        dims: widths per level, outermost first; len(dims) - 1 poolings by 2.
    """

    def __init__(self, input_keys, output_keys, in_channels: int, out_channels: int, dims=(16, 32, 64)):
        super().__init__()
        self.input_keys, self.output_keys = tuple(input_keys), tuple(output_keys)
        self.net = _UNetCore(in_channels, out_channels, dims)

    def forward(self, x):
        if self._input_transform is not None:
            x = self._input_transform(x)
        y = {self.output_keys[0]: self.net(self.concat_to_tensor(x, self.input_keys, axis=1))}
        if self._output_transform is not None:
            y = self._output_transform(x, y)
        return y


def _check_trace_input(name, key, t, channels):
    if t.ndim != 3 or t.shape[1] != channels:
        raise ValueError(f"{name} input '{key}': expected [B, {channels}, L], found {list(t.shape)}")


class GDRNN(base.Arch):
    """Gradient-driven recurrent network (unrolled, physics in every step).

    Args:
        input_keys: (stacks [B, G, L] observed partial-angle stacks, m_back [B, 3, L] starting model).
        output_keys: (m final model [B, 3, L], m_steps [B, T, 3, L], d_steps [B, T, G, L] = F(m_t)).
        forward_op: callable m [B, 3, L] -> d [B, G, L] with a method
            ``misfit_and_gradient(m, d_obs, create_graph)`` (``ppsci_ext.physics.AVAForward``).
        scale: reference (vp, vs, rho) that maps m to the network's x = ln(m / scale).
        n_steps: unrolled steps T (the trainer may lower it for a curriculum via ``self.n_steps``).
        dims: UNet widths.
        adaptive_step: False: alpha_t = exp(a_t), one learned scalar per step;
            True: alpha_t = sigmoid(N(g_t, x_t)), one value per trace and step.
        alpha_init: initial step size (relative model change per unit of UNet output).
        second_order: False: in training the misfit gradient g_t enters the UNet as a constant
            (first-order unrolling, as the original code does); True: backprop also through g_t's
            dependence on m_t (needs the physics' second derivatives, about 3x the cost).
    """

    def __init__(self, input_keys, output_keys, forward_op, scale: Sequence[float], n_steps: int,
                 dims=(16, 32, 64), adaptive_step: bool = False, alpha_init: float = 0.05,
                 second_order: bool = False):
        super().__init__()
        if len(output_keys) != 3:
            raise ValueError(f"GDRNN output_keys: expected (m, m_steps, d_steps), found {list(output_keys)}")
        if not (n_steps >= 1 and alpha_init > 0 and len(scale) == 3 and min(scale) > 0):
            raise ValueError(f"GDRNN: need n_steps >= 1, alpha_init > 0, 3 positive scales; found "
                             f"n_steps={n_steps}, alpha_init={alpha_init}, scale={list(scale)}")
        self.input_keys, self.output_keys = tuple(input_keys), tuple(output_keys)
        self.forward_op = forward_op
        self.register_buffer("scale", paddle.to_tensor(list(scale), dtype="float32").reshape([1, 3, 1]))
        self.n_steps = self.max_steps = int(n_steps)
        self.unet = UNet1D(("gradient", "model"), ("update",), 6, 3, dims)  # the modulator U(g_t, x_t)
        self.adaptive_step, self.second_order = adaptive_step, second_order
        if adaptive_step:
            self.step_net = nn.Sequential(nn.Conv1D(6, 16, 5, padding=2), nn.GELU(), nn.AdaptiveAvgPool1D(1),
                                          nn.Flatten(), nn.Linear(16, 1))
        else:
            # alpha_t = exp(a_t): positive for every a_t (softplus underflows to 0 in float32)
            self.alpha_raw = self.create_parameter(
                [self.max_steps], default_initializer=nn.initializer.Constant(math.log(alpha_init)))

    def misfit_gradient(self, x, d_obs, graph: str):
        """(F(m), dJ/dx) with m = scale * exp(x), J = 1/2 ||F(m) - d_obs||^2 per trace; dJ/dx = m * dJ/dm.

        graph: "none" (inference: both detached), "first" (F(m) keeps its graph
        for the loss, g is a constant input to the UNet, as in the original
        code) or "second" (g is differentiable too: backprop through the
        Hessian of J, about 3x the cost). dJ/dm comes from the operator's
        ``misfit_and_gradient`` (explicit adjoint, exact).
        """
        m = self.scale * x.exp()
        m_g = m if graph == "second" else m.detach()
        with paddle.set_grad_enabled(True):  # the physics gradient is needed in inference too
            _, g_m = self.forward_op.misfit_and_gradient(m_g, d_obs, create_graph=graph == "second")
        with paddle.set_grad_enabled(graph != "none"):
            d = self.forward_op(m)
        return d, g_m * m_g

    def step_size(self, t, g=None, x=None):
        if self.adaptive_step:
            return nn.functional.sigmoid(self.step_net(paddle.concat([g, x], axis=1))).reshape([-1, 1, 1])
        return self.alpha_raw[t].exp()

    def forward(self, inputs):
        if self._input_transform is not None:
            inputs = self._input_transform(inputs)
        d_obs, m_back = inputs[self.input_keys[0]], inputs[self.input_keys[1]]
        _check_trace_input("GDRNN", self.input_keys[1], m_back, 3)
        if d_obs.ndim != 3 or d_obs.shape[-1] != m_back.shape[-1]:
            raise ValueError(f"GDRNN input '{self.input_keys[0]}': expected [B, G, {m_back.shape[-1]}], "
                             f"found {list(d_obs.shape)}")
        graph = ("second" if self.second_order else "first") if self.training else "none"
        x = (m_back / self.scale).log()
        xs, ds = [], []
        for t in range(self.n_steps):
            d, g = self.misfit_gradient(x, d_obs, graph)
            if t:
                ds.append(d)
            g = g / (g.square().mean(axis=[1, 2], keepdim=True).sqrt() + 1e-12)
            x = x - self.step_size(t, g, x) * self.unet({"gradient": g, "model": x})["update"]
            if graph == "none":
                x = x.detach()
            xs.append(x)
        with paddle.set_grad_enabled(graph != "none"):
            ds.append(self.forward_op(self.scale * x.exp()))
        m_steps = paddle.stack(xs, axis=1).exp() * self.scale.unsqueeze(1)
        y = {self.output_keys[0]: m_steps[:, -1], self.output_keys[1]: m_steps,
             self.output_keys[2]: paddle.stack(ds, axis=1)}
        if self._output_transform is not None:
            y = self._output_transform(inputs, y)
        return y


class AVAUNet(base.Arch):
    """The original joint data/physics-driven network: m = m_back + lam * scale * UNet(S / stack_scale).

    ``stack_scale`` (a buffer saved with the weights) is the RMS of the training
    stacks; the trainer sets it once with ``set_stack_scale``.
    Outputs (m, m_steps, d_steps) with T = 1, so the same loss serves both networks.
    """

    def __init__(self, input_keys, output_keys, forward_op, scale: Sequence[float], n_stacks: int = 3,
                 dims=(16, 32, 64), lam: float = 0.1):
        super().__init__()
        self.input_keys, self.output_keys = tuple(input_keys), tuple(output_keys)
        self.forward_op = forward_op
        self.register_buffer("scale", paddle.to_tensor(list(scale), dtype="float32").reshape([1, 3, 1]))
        self.register_buffer("stack_scale", paddle.ones([1], dtype="float32"))
        self.lam = lam
        self.unet = UNet1D(("stacks",), ("update",), n_stacks, 3, dims)

    def set_stack_scale(self, value: float):
        self.stack_scale.set_value(paddle.to_tensor([value], dtype="float32"))

    def forward(self, inputs):
        if self._input_transform is not None:
            inputs = self._input_transform(inputs)
        d_obs, m_back = inputs[self.input_keys[0]], inputs[self.input_keys[1]]
        _check_trace_input("AVAUNet", self.input_keys[1], m_back, 3)
        m = m_back + self.lam * self.scale * self.unet({"stacks": d_obs / self.stack_scale})["update"]
        m = paddle.maximum(m, 0.05 * self.scale)
        d = self.forward_op(m)
        y = {self.output_keys[0]: m, self.output_keys[1]: m.unsqueeze(1), self.output_keys[2]: d.unsqueeze(1)}
        if self._output_transform is not None:
            y = self._output_transform(inputs, y)
        return y
