"""Classical prestack AVA inversion: the baselines GDRNN is compared with.

All work trace by trace, batched: models m [B, 3, L] = (vp m/s, vs m/s, rho
g/cc), observed partial-angle stacks d [B, G, L], and any forward operator
``forward_op(m) -> d`` (``AVAForward``). The iterative methods update the
log-parameters x = ln(m / scale) (one reference value per property), as
GDRNN does: one step is the same relative change for vp, vs and rho, and m
stays positive.

- ``gradient_descent``: steepest descent on J = 1/2 ||F(m) - d||^2 with a
  backtracking (Armijo) line search per trace: a trace's step is halved until
  its misfit decreases, and doubled again after each accepted step. One such
  step is ``line_search_step`` (GDRNN's guard takes it too).
- ``adam_inversion``: Adam (Kingma & Ba) on the same misfit.
- ``damped_least_squares``: the linearised (Aki-Richards, log-parameter)
  operator A, one matrix for the whole section (vs/vp per sample = the
  section's mean background ratio, as pylops ``PrestackInversion`` takes one
  ``vsvp`` per sample), solved in closed form:
  l = l_back + (A^T A + eps^2 I)^-1 A^T (d - A l_back), with l = ln m.
"""
import math
from typing import Callable
from typing import List
from typing import NamedTuple
from typing import Optional
from typing import Tuple

import numpy as np
import paddle

__all__ = ["relative_misfit", "line_search_step", "gradient_descent", "adam_inversion", "damped_least_squares"]


def _misfit(forward_op, x, scale, d_obs):
    return 0.5 * (forward_op(scale * x.exp()) - d_obs).square().sum(axis=[1, 2])


def relative_misfit(forward_op: Callable, m: paddle.Tensor, d_obs: paddle.Tensor) -> float:
    """sum ||F(m) - d||^2 / sum ||d||^2 over the batch."""
    with paddle.no_grad():
        return float((forward_op(m) - d_obs).square().sum() / d_obs.square().sum())


def _value_and_grad(forward_op, x, scale, d_obs):
    x = x.detach()
    x.stop_gradient = False
    j = _misfit(forward_op, x, scale, d_obs)
    (g,) = paddle.grad(j.sum(), x)
    return j.detach(), g.detach()


class LineSearchStep(NamedTuple):
    """Result of ``line_search_step``; every field is per trace."""

    x: paddle.Tensor                   # [B, 3, L] the new log-model (the old one where no descent was found)
    step: paddle.Tensor                # [B, 1, 1] the accepted step, or the last one halved where none was
    found: paddle.Tensor               # [B, 1, 1] bool, True where a step satisfying Armijo was found
    misfit: paddle.Tensor              # [B] J at ``x``
    data: Optional[paddle.Tensor]      # [B, G, L] F at ``x``, or None where the caller gave no ``d``


def line_search_step(forward_op: Callable, x: paddle.Tensor, j: paddle.Tensor, g: paddle.Tensor,
                     d_obs: paddle.Tensor, scale: paddle.Tensor, step: paddle.Tensor, max_halvings: int = 10,
                     d: Optional[paddle.Tensor] = None) -> LineSearchStep:
    """One steepest-descent step on x = ln(m / scale) with a backtracking (Armijo) line search per trace.

    Direction p = g / rms(g) (the gradient normalised to unit RMS over each trace), slope s = <g, p>.
    Trial steps a = step, step/2, ... (at most ``max_halvings`` trials) until
    J(x - a p) <= J(x) - 1e-4 a s; a trace that never satisfies it keeps x.
    J(x) = 1/2 ||F(scale exp(x)) - d_obs||^2 per trace; a trial whose model is not finite and positive
    fails without being evaluated.

    Args:
        forward_op: m [B, 3, L] -> d [B, G, L].
        x: [B, 3, L] log-model; j: [B] J(x); g: [B, 3, L] dJ/dx at x.
        d_obs: [B, G, L] observed stacks; scale: [1, 3, 1] reference (vp, vs, rho).
        step: [B, 1, 1] first trial step per trace, a relative model change.
        d: [B, G, L] F(scale exp(x)), optional: given, the result also carries F at the new x
            (the trial evaluations are reused, F is not evaluated again).
    """
    direction = g / (g.square().mean(axis=[1, 2], keepdim=True).sqrt() + 1e-30)
    slope = (g * direction).sum(axis=[1, 2]).reshape([-1, 1, 1])
    pending = paddle.ones_like(step, dtype="bool")
    j_new, d_new = j.reshape([-1, 1, 1]), d
    with paddle.no_grad():
        m = scale * x.exp()
        for _ in range(max_halvings):
            m_trial = scale * (x - step * direction).exp()
            # a trial whose model overflows or underflows is not evaluated (F needs m finite, > 0): it fails
            valid = (paddle.isfinite(m_trial) & (m_trial > 0)).all(axis=[1, 2], keepdim=True)
            d_trial = forward_op(paddle.where(valid, m_trial, m))
            trial = (0.5 * (d_trial - d_obs).square().sum(axis=[1, 2])).reshape([-1, 1, 1])
            trial = paddle.where(valid, trial, paddle.full_like(trial, math.inf))
            ok = trial <= j.reshape([-1, 1, 1]) - 1e-4 * step * slope
            accepted = pending & ok
            j_new = paddle.where(accepted, trial, j_new)
            if d is not None:
                d_new = paddle.where(accepted, d_trial, d_new)
            pending = pending & ~ok
            if not bool(pending.any()):
                break
            step = paddle.where(pending, step * 0.5, step)
        x = paddle.where(pending, x, x - step * direction)  # a trace that found no descent stays put
    return LineSearchStep(x, step, ~pending, j_new.reshape([-1]), d_new)


def gradient_descent(forward_op: Callable, m0: paddle.Tensor, d_obs: paddle.Tensor, n_iter: int,
                     scale, step0: float = 0.01, max_halvings: int = 10) -> Tuple[paddle.Tensor, List[float]]:
    """Steepest descent with a per-trace backtracking line search (``line_search_step`` per iteration).

    ``step0`` is the first trial step as a relative model change for a
    gradient normalised to unit RMS per trace; a trace's next first trial is
    twice its last accepted step. Returns the model and the relative misfit
    before the first and after every iteration.
    """
    scale = paddle.to_tensor(list(scale), dtype=m0.dtype).reshape([1, 3, 1])
    x, d_power = (m0 / scale).log(), float(d_obs.square().sum())
    step = paddle.full([m0.shape[0], 1, 1], step0, dtype=m0.dtype)
    j, g = _value_and_grad(forward_op, x, scale, d_obs)
    history = [2 * float(j.sum()) / d_power]
    for _ in range(n_iter):
        x, step, found, _, _ = line_search_step(forward_op, x, j, g, d_obs, scale, step, max_halvings)
        step = paddle.where(found, step * 2.0, step)
        j, g = _value_and_grad(forward_op, x, scale, d_obs)
        history.append(2 * float(j.sum()) / d_power)
    return scale * x.exp(), history


def adam_inversion(forward_op: Callable, m0: paddle.Tensor, d_obs: paddle.Tensor, n_iter: int, scale,
                   lr: float = 0.01) -> Tuple[paddle.Tensor, List[float]]:
    """Adam on the log-parameters; ``lr`` is the largest relative change per step. Same outputs as above."""
    scale_t = paddle.to_tensor(list(scale), dtype=m0.dtype).reshape([1, 3, 1])
    init = paddle.nn.initializer.Assign((m0 / scale_t).log())
    x = paddle.create_parameter(m0.shape, m0.dtype, default_initializer=init)
    opt = paddle.optimizer.Adam(learning_rate=lr, parameters=[x])
    d_power = float(d_obs.square().sum())
    history = []
    for _ in range(n_iter):
        j = _misfit(forward_op, x, scale_t, d_obs).sum()
        history.append(2 * float(j) / d_power)
        opt.clear_grad()
        j.backward()
        opt.step()
    with paddle.no_grad():
        history.append(2 * float(_misfit(forward_op, x, scale_t, d_obs).sum()) / d_power)
    return scale_t * x.detach().exp(), history


def damped_least_squares(linear_op: Callable, m_back: np.ndarray, d_obs: np.ndarray,
                         damping: float) -> np.ndarray:
    """Damped least squares on a log-linear operator, all traces at once (float64).

    Args:
        linear_op: m [B, 3, L] paddle float64 -> d [B, G, L], linear in ln m
            (``AVAForward(method="aki_richards", vsvp=<[L]>)``).
        m_back: background models [N, 3, L]; d_obs: stacks [N, G, L].
        damping: eps, relative to the largest singular value of A.
    Returns:
        models [N, 3, L] (float64).
    """
    n, _, length = m_back.shape
    # A's columns: the operator's response to a change of one ln-parameter.
    # F(exp(l)) is linear in l, so (F(exp(h e_j)) - F(exp(0))) / h is column j
    # for any h; a small h keeps the probe's contrasts far from critical angles.
    h = 1e-3
    eye = paddle.to_tensor(np.exp(h * np.eye(3 * length).reshape(3 * length, 3, length)), dtype="float64")
    ones = paddle.ones([1, 3, length], dtype="float64")
    with paddle.no_grad():
        cols = ((linear_op(eye) - linear_op(ones)) / h).numpy().reshape(3 * length, -1)   # [3L, G*L]
    a = cols.T                                                                        # [G*L, 3L]
    l_back = np.log(m_back).reshape(n, -1).T                                          # [3L, N]
    resid = d_obs.reshape(n, -1).T - a @ l_back
    ata = a.T @ a
    eps2 = (damping ** 2) * np.linalg.eigvalsh(ata)[-1]
    dl = np.linalg.solve(ata + eps2 * np.eye(ata.shape[0]), a.T @ resid)
    return np.exp(l_back + dl).T.reshape(n, 3, length)
