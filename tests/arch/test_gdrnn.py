"""GDRNN networks: shapes, any trace length, positive steps, gradients reach every parameter."""
import numpy as np
import paddle
import pytest

from ppsci_ext.arch import AVAUNet
from ppsci_ext.arch import GDRNN
from ppsci_ext.arch import UNet1D

SCALE = (3000.0, 1500.0, 2.3)
KEYS_IN, KEYS_OUT = ("stacks", "m_back"), ("m", "m_steps", "d_steps")


class ToyForward:
    """A small nonlinear stand-in for AVAForward: 3 stacks from log-contrasts of (vp, vs, rho)."""

    def __call__(self, m):
        logm = m.log()
        r = paddle.concat([logm[..., 1:] - logm[..., :-1], paddle.zeros_like(logm[..., :1])], axis=-1)
        mix = paddle.to_tensor([[0.5, -0.1, 0.4], [0.6, -0.3, 0.3], [0.8, -0.5, 0.2]], dtype=m.dtype)
        return paddle.matmul(mix, r)  # (einsum has no double grad in paddle)

    def misfit_and_gradient(self, m, d_obs, create_graph=False):
        if not create_graph or m.stop_gradient:
            m = m.detach()
            m.stop_gradient = False
        phi = 0.5 * (self(m) - d_obs).square().sum(axis=[1, 2])
        (g,) = paddle.grad(phi.sum(), m, create_graph=create_graph)
        return phi, g


toy_forward = ToyForward()


def models(b, length, seed=0):
    rng = np.random.default_rng(seed)
    base = np.array(SCALE)[None, :, None] * (1 + 0.1 * rng.standard_normal((b, 3, length)).cumsum(-1) / length)
    return paddle.to_tensor(base.astype("float32"))


@pytest.mark.parametrize("length", [37, 64])
def test_unet1d_any_length(length):
    net = UNet1D(("a", "b"), ("y",), 6, 3, dims=(8, 16, 32))
    y = net({"a": paddle.randn([2, 3, length]), "b": paddle.randn([2, 3, length])})["y"]
    assert y.shape == [2, 3, length]


@pytest.mark.parametrize("adaptive,second_order", [(False, False), (True, False), (False, True)])
def test_gdrnn_shapes_and_gradients(adaptive, second_order):
    paddle.seed(0)
    net = GDRNN(KEYS_IN, KEYS_OUT, toy_forward, SCALE, n_steps=3, dims=(8, 16), adaptive_step=adaptive,
                second_order=second_order)
    m_true, m_back = models(4, 45, 0), models(4, 45, 1)
    out = net({"stacks": toy_forward(m_true), "m_back": m_back})
    assert out["m"].shape == [4, 3, 45] and out["m_steps"].shape == [4, 3, 3, 45]
    assert out["d_steps"].shape == [4, 3, 3, 45]
    np.testing.assert_allclose(out["d_steps"][:, -1].numpy(), toy_forward(out["m"]).numpy(), rtol=1e-5, atol=1e-7)
    loss = (out["m_steps"] - m_true.unsqueeze(1)).abs().mean() + out["d_steps"].square().mean()
    loss.backward()
    dead = [p.name for p in net.parameters() if p.grad is None or float(p.grad.abs().sum()) == 0]
    assert not dead, f"parameters without gradient: {dead}"


def test_gdrnn_step_sizes_positive_and_curriculum():
    net = GDRNN(KEYS_IN, KEYS_OUT, toy_forward, SCALE, n_steps=4, dims=(8, 16), alpha_init=0.03)
    with paddle.no_grad():
        net.alpha_raw.set_value(paddle.to_tensor([-30.0, -1.0, 0.0, 5.0]))
    assert all(float(net.step_size(t)) > 0 for t in range(4))
    np.testing.assert_allclose(float(GDRNN(KEYS_IN, KEYS_OUT, toy_forward, SCALE, 2, (8, 16), alpha_init=0.03)
                                     .step_size(0)), 0.03, rtol=1e-5)
    net.n_steps = 2
    out = net({"stacks": toy_forward(models(2, 20)), "m_back": models(2, 20, 1)})
    assert out["m_steps"].shape[1] == 2


def test_gdrnn_inference_matches_training_forward_and_keeps_no_graph():
    paddle.seed(0)
    net = GDRNN(KEYS_IN, KEYS_OUT, toy_forward, SCALE, n_steps=3, dims=(8, 16))
    inputs = {"stacks": toy_forward(models(3, 30)), "m_back": models(3, 30, 1)}
    train_m = net(inputs)["m"]
    net.eval()
    with paddle.no_grad():
        eval_m = net(inputs)["m"]
    assert eval_m.stop_gradient
    np.testing.assert_allclose(eval_m.numpy(), train_m.numpy(), rtol=1e-5)


def test_bad_input_names_key_and_shape():
    net = GDRNN(KEYS_IN, KEYS_OUT, toy_forward, SCALE, n_steps=2, dims=(8, 16))
    with pytest.raises(ValueError, match=r"'m_back'.*\[B, 3, L\].*\[2, 2, 30\]"):
        net({"stacks": paddle.zeros([2, 3, 30]), "m_back": paddle.ones([2, 2, 30])})
    with pytest.raises(ValueError, match=r"'stacks'.*\[B, G, 30\]"):
        net({"stacks": paddle.zeros([2, 3, 31]), "m_back": paddle.ones([2, 3, 30])})


def test_original_network_is_background_plus_update():
    net = AVAUNet(KEYS_IN, KEYS_OUT, toy_forward, SCALE, dims=(8, 16), lam=0.1)
    net.set_stack_scale(2.0)
    m_back = models(2, 25)
    out = net({"stacks": paddle.zeros([2, 3, 25]), "m_back": m_back})
    x_update = (out["m"] - m_back) / paddle.to_tensor(SCALE).reshape([1, 3, 1])
    assert float(x_update.abs().max()) < 0.1 * 10  # bounded by lam * |UNet(0)|
    assert out["m_steps"].shape == [2, 1, 3, 25] and float(net.stack_scale) == 2.0


def test_second_order_differs_from_first_order_only_in_gradients():
    """Same forward values; the parameter gradients differ (the Hessian path is really used)."""
    grads = {}
    for so in (False, True):
        paddle.seed(0)
        net = GDRNN(KEYS_IN, KEYS_OUT, toy_forward, SCALE, n_steps=3, dims=(8, 16), second_order=so)
        out = net({"stacks": toy_forward(models(3, 30)), "m_back": models(3, 30, 1)})
        out["m"].abs().sum().backward()
        grads[so] = (out["m"].numpy(), net.alpha_raw.grad.numpy())
    np.testing.assert_allclose(grads[False][0], grads[True][0], rtol=1e-6)
    assert not np.allclose(grads[False][1], grads[True][1], rtol=1e-3)


@pytest.mark.parametrize("second_order", [False, True])
def test_gdrnn_trains_through_the_real_ava_operator(second_order):
    from ppsci_ext.physics import AVAForward
    from ppsci_ext.physics import ricker_wavelet_matrix

    op = AVAForward(ricker_wavelet_matrix(30.0, 0.002, 24), [[1, 8, 15], [16, 23, 30], [31, 38, 45]],
                    beyond_critical="mask")
    net = GDRNN(KEYS_IN, KEYS_OUT, op, SCALE, n_steps=2, dims=(8, 16), second_order=second_order)
    m_true, m_back = models(3, 24, 0), models(3, 24, 1)
    out = net({"stacks": op(m_true), "m_back": m_back})
    (out["m"] - m_true).abs().mean().backward()
    assert all(p.grad is not None and np.isfinite(p.grad.numpy()).all() for p in net.parameters())


# ---------------------------------------------------------------- ppsci input / output transforms

def _with_transforms(net, transform_in, transform_out):
    net.register_input_transform(transform_in)
    net.register_output_transform(transform_out)
    return net


def test_unet1d_honours_input_and_output_transforms():
    paddle.seed(0)
    net = UNet1D(("a", "b"), ("y",), 6, 3, dims=(8, 16))
    a, b = paddle.randn([2, 3, 20]), paddle.randn([2, 3, 20])
    plain = net({"a": 2.0 * a, "b": b})["y"]
    seen = {}

    def out_t(x, y):
        seen["x"] = x
        return {"y": y["y"], "y_plus_a": y["y"] + x["a"]}

    _with_transforms(net, lambda x: {"a": 2.0 * x["a"], "b": x["b"]}, out_t)
    out = net({"a": a, "b": b})
    assert sorted(out) == ["y", "y_plus_a"]
    np.testing.assert_allclose(out["y"].numpy(), plain.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(seen["x"]["a"].numpy(), 2.0 * a.numpy(), rtol=1e-6)  # the transformed inputs
    np.testing.assert_allclose(out["y_plus_a"].numpy(), (plain + 2.0 * a).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ["gdrnn", "avaunet"])
def test_gdrnn_and_avaunet_honour_input_and_output_transforms(arch):
    paddle.seed(0)
    if arch == "gdrnn":
        net = GDRNN(KEYS_IN, KEYS_OUT, toy_forward, SCALE, n_steps=2, dims=(8, 16))
    else:
        net = AVAUNet(KEYS_IN, KEYS_OUT, toy_forward, SCALE, dims=(8, 16))
    stacks, m_back = toy_forward(models(2, 24)), models(2, 24, 1)
    plain = net({"stacks": stacks, "m_back": m_back})
    unit = paddle.to_tensor([1024.0, 1.0, 1.0]).reshape([1, 3, 1])  # a power of 2: rescaling is exact

    def in_t(x):  # the data name the starting model "background" and hold vp in other units
        return {"stacks": x["stacks"], "m_back": x["background"] * unit}

    def out_t(x, y):
        return dict(y, update=y["m"] - x["m_back"])

    _with_transforms(net, in_t, out_t)
    out = net({"stacks": stacks, "background": m_back / unit})
    assert sorted(out) == sorted(KEYS_OUT + ("update",))
    for k in KEYS_OUT:
        np.testing.assert_allclose(out[k].numpy(), plain[k].numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out["update"].numpy(), (plain["m"] - m_back).numpy(), rtol=1e-5, atol=1e-3)
