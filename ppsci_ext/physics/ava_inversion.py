"""Classical prestack AVA inversion: the baselines GDRNN is compared with.

All work trace by trace, batched: models m [B, 3, L] = (vp m/s, vs m/s, rho
g/cc), observed partial-angle stacks d [B, G, L], and any forward operator
``forward_op(m) -> d`` (``AVAForward``). The iterative methods update the
log-parameters x = ln(m / scale) (one reference value per property), as
GDRNN does: one step is the same relative change for vp, vs and rho, and m
stays positive.

- ``gradient_descent``: steepest descent on J = 1/2 ||F(m) - d||^2 with a
  backtracking (Armijo) line search per trace: a trace's step is halved until
  its misfit decreases, and doubled again after each accepted step.
- ``adam_inversion``: Adam (Kingma & Ba) on the same misfit.
- ``damped_least_squares``: the linearised (Aki-Richards, log-parameter)
  operator A, one matrix for the whole section (vs/vp per sample = the
  section's mean background ratio, as pylops ``PrestackInversion`` takes one
  ``vsvp`` per sample), solved in closed form:
  l = l_back + (A^T A + eps^2 I)^-1 A^T (d - A l_back), with l = ln m.
"""
from typing import Callable
from typing import List
from typing import Tuple

import numpy as np
import paddle

__all__ = ["relative_misfit", "gradient_descent", "adam_inversion", "damped_least_squares"]


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


def gradient_descent(forward_op: Callable, m0: paddle.Tensor, d_obs: paddle.Tensor, n_iter: int,
                     scale, step0: float = 0.01, max_halvings: int = 10) -> Tuple[paddle.Tensor, List[float]]:
    """Steepest descent with a per-trace backtracking line search.

    ``step0`` is the first trial step as a relative model change for a
    gradient normalised to unit RMS per trace. Returns the model and the
    relative misfit before the first and after every iteration.
    """
    scale = paddle.to_tensor(list(scale), dtype=m0.dtype).reshape([1, 3, 1])
    x, d_power = (m0 / scale).log(), float(d_obs.square().sum())
    step = paddle.full([m0.shape[0], 1, 1], step0, dtype=m0.dtype)
    j, g = _value_and_grad(forward_op, x, scale, d_obs)
    history = [2 * float(j.sum()) / d_power]
    for _ in range(n_iter):
        direction = g / (g.square().mean(axis=[1, 2], keepdim=True).sqrt() + 1e-30)
        slope = (g * direction).sum(axis=[1, 2]).reshape([-1, 1, 1])
        pending = paddle.ones_like(step, dtype="bool")
        with paddle.no_grad():
            for _ in range(max_halvings):
                trial = _misfit(forward_op, x - step * direction, scale, d_obs).reshape([-1, 1, 1])
                ok = trial <= j.reshape([-1, 1, 1]) - 1e-4 * step * slope
                pending = pending & ~ok
                if not bool(pending.any()):
                    break
                step = paddle.where(pending, step * 0.5, step)
            x = paddle.where(pending, x, x - step * direction)  # a trace that found no descent stays put
            step = paddle.where(pending, step, step * 2.0)
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
