import numpy as np
import paddle
import pytest

import ppsci
import ppsci_ext  # noqa: F401
from ppsci_ext.arch import VelocityDiscriminator
from ppsci_ext.arch import VelocityGenerator
from ppsci_ext.train.gan import gradient_penalty


@pytest.mark.parametrize("upsample", ["deconv", "bilinear"])
@pytest.mark.parametrize("sizes", [
    dict(n_sources=5, time_samples=1000, sample_ratio=10, n_receivers=70, out_shape=(70, 70)),
    dict(n_sources=3, time_samples=500, sample_ratio=2, n_receivers=40, out_shape=(50, 60)),
])
def test_generator_shapes_follow_config(sizes, upsample):
    g = VelocityGenerator(("data",), ("velocity",), dims=(4, 8, 8, 16, 16), upsample=upsample, **sizes)
    nt = -(-sizes["time_samples"] // sizes["sample_ratio"])
    y = g({"data": paddle.randn([2, sizes["n_sources"], nt, sizes["n_receivers"]])})["velocity"]
    assert y.shape == [2, 1, *sizes["out_shape"]]
    assert float(y.abs().max()) <= 1.0  # tanh head: normalised velocity


def test_openfwi_sizes_give_openfwi_layout():
    g = VelocityGenerator(("data",), ("velocity",))  # 5 x 1000 x 70 -> 70 x 70, widths 32..512
    convs = [m for m in g.encoder.sublayers() if isinstance(m, paddle.nn.Conv2D)]
    assert len(convs) == 14  # InversionNet: convblock1, 2_1..7_2, 8
    assert list(convs[-1].weight.shape) == [512, 256, 8, 9]


def test_wrong_input_shape_is_explained():
    g = VelocityGenerator(("data",), ("velocity",), sample_ratio=10, dims=(4, 8, 8, 16, 16))
    with pytest.raises(ValueError, match=r"expected \[B, 5, 100, 70\], found \[1, 5, 1000, 70\].*sample_ratio"):
        g({"data": paddle.randn([1, 5, 1000, 70])})


def test_critic_supports_gradient_penalty():
    d = VelocityDiscriminator(("velocity",), ("score",), in_shape=(70, 70), dims=(4, 8, 8, 16))
    assert not [m for m in d.sublayers() if "Norm" in type(m).__name__]
    real, fake = paddle.rand([3, 1, 70, 70]), paddle.rand([3, 1, 70, 70])
    gp = gradient_penalty(d, real, fake, "velocity")
    gp.backward()  # needs the critic's double-backward
    # every conv weight shapes the input-gradient, so every one gets a gradient (biases need not)
    weights = [m.weight for m in d.sublayers() if isinstance(m, paddle.nn.Conv2D)]
    assert all(w.grad is not None and float(w.grad.abs().sum()) > 0 for w in weights) and float(gp) >= 0


def test_gradient_penalty_value_on_a_linear_critic():
    # D(x) = sum(w * x): grad = w everywhere, so GP = (||w|| - 1)^2 exactly.
    class Linear(ppsci.arch.base.Arch):
        def __init__(self, w):
            super().__init__()
            self.w = paddle.to_tensor(w)

        def forward(self, x):
            return {"score": (x["velocity"] * self.w).sum(axis=[1, 2, 3]).reshape([-1, 1])}

    w = np.full((1, 4, 4), 0.5, np.float32)  # ||w|| = 2
    gp = gradient_penalty(Linear(w), paddle.rand([2, 1, 4, 4]), paddle.rand([2, 1, 4, 4]), "velocity")
    np.testing.assert_allclose(float(gp), 1.0, rtol=1e-5)


def test_networks_registered_by_name():
    g = ppsci.arch.build_model({"name": "ExtVelocityGenerator", "input_keys": ["data"], "output_keys": ["velocity"],
                                "sample_ratio": 10, "dims": [4, 8, 8, 16, 16]})
    assert isinstance(g, VelocityGenerator)
    assert ppsci.arch.VelocityGenerator is not VelocityGenerator
