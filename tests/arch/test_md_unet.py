"""MDUNet: any grid in 2-D and 3-D, noise level and condition enter, gradients everywhere, input checks."""
import re

import numpy as np
import paddle
import pytest

from ppsci_ext.arch import MDUNet

TINY = dict(base_channels=8, channel_mults=(1, 2, 2))


def batch(shape, b=2, seed=0, gamma=None):
    paddle.seed(seed)
    g = paddle.to_tensor(np.linspace(0.2, 0.9, b).astype("float32")) if gamma is None else gamma
    return {"x_noisy": paddle.randn([b, 1] + list(shape)), "cond": paddle.randn([b, 1] + list(shape)),
            "noise_level": g}


def tiny(spatial_dims=2, **kw):
    paddle.seed(1)
    return MDUNet(spatial_dims=spatial_dims, zero_init_out=False, **TINY, **kw)


@pytest.mark.parametrize("spatial_dims,shape", [
    (2, (64, 64)), (2, (128, 128)), (2, (100, 76)), (3, (16, 16, 16)), (3, (20, 12, 10))])
def test_any_grid(spatial_dims, shape):
    net = tiny(spatial_dims)  # built once, whatever the grid: nothing in it depends on the size
    net.eval()
    y = net(batch(shape))["out"]
    assert list(y.shape) == [2, 1] + list(shape)
    assert np.isfinite(y.numpy()).all()


def test_same_model_on_patch_and_larger_grids():
    net = tiny()
    net.eval()
    out = [net(batch(s))["out"].numpy() for s in ((64, 64), (128, 128), (100, 76))]
    assert [o.shape[2:] for o in out] == [(64, 64), (128, 128), (100, 76)]
    assert all(np.isfinite(o).all() and o.std() > 0 for o in out)


def test_zero_init_output():
    net = MDUNet(**TINY)
    assert float(net.out[-1].weight.abs().sum()) == 0.0
    np.testing.assert_array_equal(net(batch((32, 32)))["out"].numpy(), 0.0)


def test_noise_level_and_condition_enter():
    net = tiny()
    net.eval()
    inp = batch((32, 32))
    y0 = net(inp)["out"].numpy()
    y_gamma = net(dict(inp, noise_level=paddle.to_tensor([[0.5], [0.05]])))["out"].numpy()
    y_cond = net(dict(inp, cond=inp["cond"] + paddle.randn(inp["cond"].shape)))["out"].numpy()
    assert np.abs(y_gamma - y0).max() > 1e-3 * np.abs(y0).max()
    assert np.abs(y_cond - y0).max() > 1e-3 * np.abs(y0).max()
    # each sample only sees its own noise level
    y_one = net(dict(inp, noise_level=paddle.to_tensor([0.2, 0.05])))["out"].numpy()
    np.testing.assert_allclose(y_one[0], y0[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("spatial_dims,shape", [(2, (36, 28)), (3, (8, 12, 6))])
def test_gradients_reach_every_parameter(spatial_dims, shape):
    net = tiny(spatial_dims, num_res_blocks=2)
    net.train()
    inp = batch(shape)
    inp["noise_level"].stop_gradient = False
    loss = net(inp)["out"].square().mean()
    loss.backward()
    dead = [p.name for p in net.parameters() if p.grad is None or float(p.grad.abs().sum()) == 0]
    assert not dead, dead
    assert inp["noise_level"].grad is not None


@pytest.mark.parametrize("change,key,expected", [
    (dict(x_noisy=paddle.zeros([2, 1, 16])), "x_noisy", "[B, 1, H, W]"),
    (dict(x_noisy=paddle.zeros([2, 3, 16, 16])), "x_noisy", "[B, 1, H, W]"),
    (dict(cond=paddle.zeros([2, 2, 16, 16])), "cond", "[2, 1, 16, 16]"),
    (dict(cond=paddle.zeros([3, 1, 16, 16])), "cond", "[2, 1, 16, 16]"),
    (dict(cond=paddle.zeros([2, 1, 16, 8])), "cond", "[2, 1, 16, 16]"),
    (dict(noise_level=paddle.ones([3])), "noise_level", "[2] or [2, 1]"),
    (dict(noise_level=paddle.ones([2, 2])), "noise_level", "[2] or [2, 1]"),
])
def test_bad_inputs(change, key, expected):
    net = MDUNet(**TINY)
    inp = dict(batch((16, 16)), **change)
    with pytest.raises(ValueError, match=f"'{key}'.*{re.escape(expected)}"):
        net(inp)


def test_missing_key_and_bad_config():
    net = MDUNet(**TINY)
    inp = batch((16, 16))
    del inp["cond"]
    with pytest.raises(ValueError, match="'cond'"):
        net(inp)
    with pytest.raises(ValueError, match="spatial_dims"):
        MDUNet(spatial_dims=1)


def test_paper_config_builds_over_1e6_parameters():
    net = MDUNet(base_channels=64, channel_mults=(1, 2, 4, 8, 8))
    n = sum(int(np.prod(p.shape)) for p in net.parameters())
    print(f"MDUNet paper config (base 64, mults (1, 2, 4, 8, 8), 2-D): {n} parameters")
    assert 1e6 < n < 1e9


def _crop_vs_whole(norm, spatial_dims=2):
    """Max |difference| at the centre between the network on a whole grid and on a crop of it."""
    net = tiny(spatial_dims, norm=norm)
    net.eval()
    n, lo, size, c = 192, 32, 128, 8  # crop [32, 160): offset a multiple of 2**(levels-1); the centre 8 lies
    # 60 samples from the crop edges, beyond the tiny net's receptive radius (~52)
    inputs = batch((n,) * spatial_dims, b=1)
    crop = tuple([slice(None), slice(None)] + [slice(lo, lo + size)] * spatial_dims)
    whole = net(inputs)["out"].numpy()[crop]
    part = net({k: (v[crop] if v.ndim > 1 else v) for k, v in inputs.items()})["out"].numpy()
    mid = tuple([slice(None), slice(None)] + [slice(size // 2 - c // 2, size // 2 + c // 2)] * spatial_dims)
    return np.abs(whole[mid] - part[mid]).max(), np.abs(whole[mid]).max()


def test_channel_norm_is_local_group_norm_is_not():
    # with ChannelNorm the centre of a crop sees the same pixels (within the receptive field) as in the
    # whole grid, so the outputs agree; GroupNorm's image-wide statistics change them
    err, ref = _crop_vs_whole("channel")
    assert err < 1e-5 * max(ref, 1.0), err
    err_group, _ = _crop_vs_whole("group")
    assert err_group > 1e-3 * ref, err_group


def test_channel_norm_normalises_each_pixel_over_channels():
    from ppsci_ext.arch.md_unet import ChannelNorm
    x = paddle.randn([2, 6, 5, 4]) * 3.0 + 2.0
    y = ChannelNorm(6)(x).numpy()
    assert np.allclose(y.mean(axis=1), 0.0, atol=1e-5)
    assert np.allclose(y.std(axis=1), 1.0, atol=1e-3)
    x3 = paddle.randn([1, 4, 3, 3, 3])
    y3 = ChannelNorm(4)(x3).numpy()
    ref = (x3.numpy() - x3.numpy().mean(1, keepdims=True)) / np.sqrt(x3.numpy().var(1, keepdims=True) + 1e-5)
    assert np.allclose(y3, ref, atol=1e-5)


def test_unknown_norm():
    with pytest.raises(ValueError, match="norm"):
        MDUNet(norm="batch")


def test_built_by_name_through_ppsci():
    import ppsci

    import ppsci_ext  # noqa: F401  (registers MDUNet)
    net = ppsci.arch.build_model({"name": "MDUNet", "input_keys": ["x_noisy", "cond", "noise_level"],
                                  "output_keys": ["out"], "base_channels": 8, "channel_mults": [1, 2]})
    assert isinstance(net, MDUNet)
    assert list(net(batch((16, 16)))["out"].shape) == [2, 1, 16, 16]
