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
  Inference can be guarded (``guard=True``): a step that raises a trace's
  data misfit is replaced by one gradient-descent step (see ``GDRNN``); and
  each property's total change can be bounded by that of T gradient-descent
  steps (``trust_region``, see ``GDRNN``).
- ``AVAUNet``: the original joint data/physics-driven network,
  ``m = m_back + lam * scale * UNet(S / stack_scale)`` (floored at 5% of
  ``scale`` so the physics never sees a non-positive model).
"""
import math
from typing import List
from typing import Sequence

import numpy as np
import paddle
from paddle import nn
from ppsci.arch import base

from ppsci_ext.physics import ava_inversion

__all__ = ["UNet1D", "GDRNN", "AVAUNet", "guard_report"]


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


def guard_report(fallbacks):
    """The guard's summary of ``GDRNN.last_fallback`` arrays [B, T] of one or more calls: how many traces and
    unrolled steps fell back to gradient descent; None when there are none (guard off)."""
    fallbacks = [f for f in fallbacks if f is not None]
    if not fallbacks:
        return None
    f = np.concatenate(fallbacks)
    return {"traces": int(len(f)), "traces_fell_back": int(f.any(1).sum()), "steps": int(f.size),
            "steps_fell_back": int(f.sum())}


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
        guard: guard the steps in inference (eval mode only; also settable as ``self.guard``).
        guard_step0: the guard's first trial step of gradient descent (relative model change for a
            gradient of unit RMS per trace).
        max_halvings: the guard's line search tries at most this many steps, guard_step0 halved each time.
        trust_region: per property (vp, vs, rho), None or a factor c: in inference the network's change of that
            property from the starting model, ``dx_p = x_T - x_0`` per trace, is scaled down where its RMS exceeds
            c times the RMS change that T steps of gradient descent (the guard's line search, from the same start)
            make to it. The data constrain a property's change about as far as gradient descent moves it; a
            network step far beyond that (density at moderate angles above all) comes from the prior it learned,
            not from the data. ``self.last_trust`` [B, 3] holds the factors applied (1: untouched).

    Guarded inference (``guard`` on and ``not self.training``). In every unrolled step t and for
    every trace, the proposal x' = x_t - alpha_t U(g_t, x_t) is accepted where J(x') <= J(x_t).
    Where J(x') > J(x_t) (or x' gives a non-finite or non-positive model, or a non-finite misfit)
    the step is rejected and replaced by one steepest-descent step from x_t with a backtracking
    (Armijo) line search, ``ava_inversion.line_search_step``: direction p = g_t / rms(g_t), trial
    steps a = guard_step0, guard_step0 / 2, ... (at most ``max_halvings`` trials) until
    J(x_t - a p) <= J(x_t) - 1e-4 a <g_t, p>; a trace with no such step stays at x_t. So in
    inference the misfit of every trace never rises from one step to the next. The outputs hold
    the accepted steps; after each guarded call ``self.last_fallback`` is a numpy bool array
    [B, T], True where that trace's step fell back to gradient descent (None when unguarded).
    Training is never guarded. The misfit at the proposal is F at x_{t+1} wherever it is accepted,
    so it is not computed again in the next step: the guard's extra cost is the line search,
    run on the rejected traces only.
    """

    def __init__(self, input_keys, output_keys, forward_op, scale: Sequence[float], n_steps: int,
                 dims=(16, 32, 64), adaptive_step: bool = False, alpha_init: float = 0.05,
                 second_order: bool = False, guard: bool = False, guard_step0: float = 0.01,
                 max_halvings: int = 10, trust_region: Sequence = (None, None, None)):
        super().__init__()
        if len(output_keys) != 3:
            raise ValueError(f"GDRNN output_keys: expected (m, m_steps, d_steps), found {list(output_keys)}")
        if not (n_steps >= 1 and alpha_init > 0 and len(scale) == 3 and min(scale) > 0):
            raise ValueError(f"GDRNN: need n_steps >= 1, alpha_init > 0, 3 positive scales; found "
                             f"n_steps={n_steps}, alpha_init={alpha_init}, scale={list(scale)}")
        if not (guard_step0 > 0 and int(max_halvings) == max_halvings and max_halvings >= 1):
            raise ValueError(f"GDRNN guard: need guard_step0 > 0 and an integer max_halvings >= 1; found "
                             f"guard_step0={guard_step0}, max_halvings={max_halvings}")
        self.guard, self.guard_step0, self.max_halvings = bool(guard), float(guard_step0), int(max_halvings)
        trust_region = list(trust_region)
        if len(trust_region) != 3 or any(c is not None and not c > 0 for c in trust_region):
            raise ValueError(f"GDRNN trust_region: expected 3 entries (vp, vs, rho), each null or > 0; found "
                             f"{trust_region}")
        self.trust_region = trust_region
        self.last_fallback = self.last_trust = None
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

    def misfit_gradient(self, x, d_obs, graph: str, d=None):
        """(F(m), dJ/dx) with m = scale * exp(x), J = 1/2 ||F(m) - d_obs||^2 per trace; dJ/dx = m * dJ/dm.

        graph: "none" (inference: both detached), "first" (F(m) keeps its graph
        for the loss, g is a constant input to the UNet, as in the original
        code) or "second" (g is differentiable too: backprop through the
        Hessian of J, about 3x the cost). dJ/dm comes from the operator's
        ``misfit_and_gradient`` (explicit adjoint, exact). ``d``: F(m) where the caller has it already
        (only with graph "none"); it is returned as is.
        """
        m = self.scale * x.exp()
        m_g = m if graph == "second" else m.detach()
        with paddle.set_grad_enabled(True):  # the physics gradient is needed in inference too
            _, g_m = self.forward_op.misfit_and_gradient(m_g, d_obs, create_graph=graph == "second")
        if d is None:
            with paddle.set_grad_enabled(graph != "none"):
                d = self.forward_op(m)
        return d, g_m * m_g

    def misfit_curve(self, stacks, m_back) -> List[float]:
        """Relative data misfit sum ||F(m) - d||^2 / sum ||d||^2 over all traces (numpy [N, G, L], [N, 3, L]
        in one batch) of the background and after each unrolled step, as this network runs them."""
        d = paddle.to_tensor(stacks)
        with paddle.no_grad():
            out = self({self.input_keys[0]: d, self.input_keys[1]: paddle.to_tensor(m_back)})
            power = float(d.square().sum())
            first = float((self.forward_op(paddle.to_tensor(m_back)) - d).square().sum()) / power
        d_steps = out[self.output_keys[2]]
        return [first] + [float((d_steps[:, t] - d).square().sum()) / power for t in range(self.n_steps)]

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
        x = (m_back / self.scale).log()
        self.last_fallback = self.last_trust = None
        if self.guard and not self.training:
            xs, ds, fallback = self._guarded_steps(x, d_obs)
            self.last_fallback = paddle.stack(fallback, axis=1).numpy()
        else:
            xs, ds = self._steps(x, d_obs)
        if not self.training and any(c is not None for c in self.trust_region):
            xs[-1], ds[-1] = self._trusted(x, xs[-1], d_obs)
        m_steps = paddle.stack(xs, axis=1).exp() * self.scale.unsqueeze(1)
        y = {self.output_keys[0]: m_steps[:, -1], self.output_keys[1]: m_steps,
             self.output_keys[2]: paddle.stack(ds, axis=1)}
        if self._output_transform is not None:
            y = self._output_transform(inputs, y)
        return y

    def _update(self, t, g, x):
        """The network's step x - alpha_t U(g / rms(g), x) from x with the raw gradient g = dJ/dx."""
        g = g / (g.square().mean(axis=[1, 2], keepdim=True).sqrt() + 1e-12)
        return x - self.step_size(t, g, x) * self.unet({"gradient": g, "model": x})["update"]

    def _steps(self, x, d_obs):
        """The unguarded unrolled steps: lists of x_1..x_T and F(m_1)..F(m_T)."""
        graph = ("second" if self.second_order else "first") if self.training else "none"
        xs, ds = [], []
        for t in range(self.n_steps):
            d, g = self.misfit_gradient(x, d_obs, graph)
            if t:
                ds.append(d)
            x = self._update(t, g, x)
            if graph == "none":
                x = x.detach()
            xs.append(x)
        with paddle.set_grad_enabled(graph != "none"):
            ds.append(self.forward_op(self.scale * x.exp()))
        return xs, ds

    def _misfit(self, d, d_obs):
        return 0.5 * (d - d_obs).square().sum(axis=[1, 2])

    def _guarded_steps(self, x, d_obs):
        """The guarded unrolled steps (inference): lists of x_1..x_T, F(m_1)..F(m_T), fallback masks [B]."""
        with paddle.no_grad():
            d = self.forward_op(self.scale * x.exp())
        j = self._misfit(d, d_obs)
        xs, ds, fallback = [], [], []
        for t in range(self.n_steps):
            _, g = self.misfit_gradient(x, d_obs, "none", d=d)
            with paddle.no_grad():
                x_new = self._update(t, g, x).detach()
                m_new = self.scale * x_new.exp()
                valid = (paddle.isfinite(m_new) & (m_new > 0)).all(axis=[1, 2])
                # a trace whose proposal F cannot take is evaluated at x_t instead, and rejected
                x_eval = paddle.where(valid.reshape([-1, 1, 1]), x_new, x)
                d_new = self.forward_op(self.scale * x_eval.exp())
                j_new = self._misfit(d_new, d_obs)
                reject = ~(valid & (j_new <= j))
                if bool(reject.any()):
                    x_new, d_new, j_new = self._fall_back(reject, x, d, j, g, d_obs, x_new, d_new, j_new)
            x, d, j = x_new, d_new, j_new
            xs.append(x)
            ds.append(d)
            fallback.append(reject)
        return xs, ds, fallback

    def _trusted(self, x0, x, d_obs):
        """(x, F(m)) with each property's change from x0 bounded by trust_region x gradient descent's (T steps)."""
        with paddle.set_grad_enabled(True):  # gradient descent needs the physics gradient, in inference too
            m_gd, _ = ava_inversion.gradient_descent(self.forward_op, self.scale * x0.detach().exp(), d_obs.detach(),
                                                     self.n_steps, self.scale.flatten().tolist(), self.guard_step0,
                                                     self.max_halvings)
        with paddle.no_grad():
            rms = lambda a: a.square().mean(axis=2, keepdim=True).sqrt()  # noqa: E731
            dx, dgd = x - x0, (m_gd / self.scale).log() - x0
            c = paddle.to_tensor([[[c if c is not None else np.inf] for c in self.trust_region]], dtype=x.dtype)
            factor = paddle.minimum(paddle.ones_like(rms(dx)), c * rms(dgd) / (rms(dx) + 1e-12))
            self.last_trust = factor.squeeze(-1).numpy()
            x = x0 + factor * dx
            return x, self.forward_op(self.scale * x.exp())

    def _fall_back(self, reject, x, d, j, g, d_obs, x_new, d_new, j_new):
        """Replace the rejected traces' (x, F, J) at step t+1 by one line-search step of gradient descent
        from x_t, run on those traces only."""
        idx = paddle.nonzero(reject).reshape([-1])
        x, d, j, g, d_obs = (paddle.gather(a, idx) for a in (x, d, j, g, d_obs))
        step0 = paddle.full([idx.shape[0], 1, 1], self.guard_step0, dtype=x.dtype)
        gd = ava_inversion.line_search_step(self.forward_op, x, j, g, d_obs, self.scale, step0, self.max_halvings,
                                            d=d)
        return (paddle.scatter(x_new, idx, gd.x), paddle.scatter(d_new, idx, gd.data),
                paddle.scatter(j_new, idx, gd.misfit))


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
