"""The one checkpoint schema's pieces (random states, atomic writes) and the warm-up weight average."""
import os
import random

import numpy as np
import paddle
import pytest

from ppsci_ext.train.checkpoint import load_checkpoint
from ppsci_ext.train.checkpoint import rng_state
from ppsci_ext.train.checkpoint import save_checkpoint
from ppsci_ext.train.checkpoint import set_rng_state
from ppsci_ext.train.ema import WarmupEMA


def test_random_states_round_trip_through_a_checkpoint(tmp_path):
    paddle.seed(5)
    np.random.seed(5)
    random.seed(5)
    path = str(tmp_path / "c.pdparams")
    save_checkpoint({"rng": rng_state(), "history": [{"step": 1, "loss": 0.5}]}, path)
    expected = paddle.rand([4]).numpy(), np.random.rand(3), random.random()
    paddle.seed(99)
    np.random.seed(99)
    random.seed(99)
    state = load_checkpoint(path)
    set_rng_state(state["rng"])
    np.testing.assert_array_equal(paddle.rand([4]).numpy(), expected[0])
    np.testing.assert_array_equal(np.random.rand(3), expected[1])
    assert random.random() == expected[2]
    assert state["history"] == [{"step": 1, "loss": 0.5}]
    assert os.listdir(tmp_path) == ["c.pdparams"]


def test_missing_required_key_is_named(tmp_path):
    path = str(tmp_path / "c.pdparams")
    save_checkpoint({"nets": {}}, path)
    with pytest.raises(KeyError, match=r"c.pdparams: missing keys \['epoch'\]"):
        load_checkpoint(path, required=("nets", "epoch"))
    assert load_checkpoint(str(tmp_path / "none.pdparams")) is None


def test_warmup_ema_follows_its_formula_and_round_trips():
    paddle.seed(0)
    net = paddle.nn.Linear(3, 2)
    w0 = net.weight.numpy().copy()
    ema = WarmupEMA(net, 0.999)
    avg, ws = w0.astype(np.float64), []
    for k in range(1, 6):
        with paddle.no_grad():
            net.weight.set_value(net.weight + float(k))
        ema.update()
        d = min(0.999, (1 + k) / (10 + k))
        avg = d * avg + (1 - d) * net.weight.numpy()
        ws.append(net.weight.numpy().copy())
    np.testing.assert_allclose(ema.state_dict()["weight"].numpy(), avg, rtol=1e-6)
    assert int(ema.state_dict()["n_avg"]) == 5
    other = WarmupEMA(paddle.nn.Linear(3, 2), 0.999)
    other.set_state_dict(dict(ema.state_dict()))
    np.testing.assert_array_equal(other.state_dict()["weight"].numpy(), ema.state_dict()["weight"].numpy())
    assert int(other.n_avg) == 5
    with pytest.raises(ValueError, match="EMA decay"):
        WarmupEMA(net, 1.5)


def test_exported_weights_load_into_the_float32_network(tmp_path):
    """A weights file keeps the picked networks and the recorded config, drops the optimiser, and in float16
    loads strictly into the float32 network within float16 rounding (a missing weight is still named)."""
    from ppsci_ext.train.checkpoint import export_weights
    from ppsci_ext.train.checkpoint import set_state_strict

    paddle.seed(0)
    net = paddle.nn.Sequential(paddle.nn.Conv2D(1, 4, 3), paddle.nn.BatchNorm2D(4))
    src, out = str(tmp_path / "c.pdparams"), str(tmp_path / "w.pdparams")
    save_checkpoint({"nets": {"model": net.state_dict(), "critic": net.state_dict()}, "optimizers": {"model": {}},
                     "config": {"network": {"MODEL.width": 4}}, "step": 7}, src)
    export_weights(src, out, lambda s: {"model": s["nets"]["model"]}, half=True)
    w = load_checkpoint(out)
    assert set(w) == {"nets", "config", "exported"} and set(w["nets"]) == {"model"}
    assert w["config"] == {"network": {"MODEL.width": 4}} and w["exported"]["step"] == 7
    assert all(v.dtype == paddle.float16 for v in w["nets"]["model"].values())
    other = paddle.nn.Sequential(paddle.nn.Conv2D(1, 4, 3), paddle.nn.BatchNorm2D(4))
    set_state_strict(other, w["nets"]["model"], out)
    for k, v in other.state_dict().items():
        assert v.dtype == paddle.float32
        np.testing.assert_allclose(v.numpy(), net.state_dict()[k].numpy(), rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="missing"):
        set_state_strict(other, {k: v for k, v in w["nets"]["model"].items() if k != "0.bias"}, out)
