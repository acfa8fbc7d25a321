"""No code is ever run from a user's file: crafted weights and AVA ``.npz`` files are refused, not run.

A crafted pickle names a callable the reader calls while it reads (``os.system``, ``builtins.open``, ...).
Each payload here would create a flag file if it ran: the flag must not appear, and the error must name the
file and what it tried to build. The files this package writes itself (``pretrained/``, a fresh checkpoint)
still load, to the same objects as ``paddle.load`` returns.
"""
import glob
import os
import pickle
import re
import subprocess
import sys

import numpy as np
import paddle
import pytest

from ppsci_ext.data.ava.reader import read_ava_file
from ppsci_ext.data.ava.reader import write_ava_file
from ppsci_ext.train import WarmupEMA
from ppsci_ext.train import base
from ppsci_ext.train.checkpoint import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def refused(path, name) -> str:
    """The pattern of the refusal of ``path`` building ``name``."""
    return re.escape(f"{path}: refused to build {name}: the file is not loaded because unpickling it could run code")


class Call:
    """Unpickled, calls ``fn(*args)``: the payload a crafted file carries."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def qualified(fn) -> str:
    """``module.name`` as pickle writes ``fn`` (``os.system`` is ``posix.system``, ``open`` is ``io.open``)."""
    return f"{fn.__module__}.{fn.__qualname__}"


def raw_pickle(module: str, name: str, arg: str) -> bytes:
    """Protocol 0 bytes that call ``module.name(arg)``, for callables a Python object cannot stand for."""
    return f"c{module}\n{name}\n(V{arg}\ntR.".encode()


def payloads(flag):
    """``{id: (pickle bytes, refused module.name)}``: each would create ``flag`` if it ran."""
    shell = Call(os.system, f"touch {flag}")
    return {
        "os.system": (pickle.dumps({"nets": {"model": shell}}, protocol=4), qualified(os.system)),
        "open": (pickle.dumps({"nets": {"model": Call(open, str(flag), "w")}}, protocol=2), qualified(open)),
        "subprocess": (pickle.dumps(Call(subprocess.call, ["touch", str(flag)])), qualified(subprocess.call)),
        "eval": (raw_pickle("builtins", "eval", f"open({str(flag)!r}, 'w')"), "builtins.eval"),
        "exec": (raw_pickle("builtins", "exec", f"open({str(flag)!r}, 'w')"), "builtins.exec"),
        # getattr(__import__('os'), 'system')('touch flag'): refused at its first name
        "getattr": (b"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(Vos\ntRVsystem\ntR(Vtouch " + str(flag).encode()
                    + b"\ntR.", "builtins.getattr"),
    }


def tiny_trainer(path, init_from=None):
    paddle.seed(0)
    net = paddle.nn.Sequential(paddle.nn.Linear(3, 4), paddle.nn.BatchNorm1D(4))
    sched = paddle.optimizer.lr.StepDecay(0.1, 2)
    opt = paddle.optimizer.Adam(learning_rate=sched, parameters=net.parameters())
    return Tiny({"model": net}, {"model": opt}, train={"init_from": init_from}, checkpoint=str(path),
                lr_schedulers={"model": sched}, ema=WarmupEMA(net, 0.9),
                config={"network": {"MODEL.width": 4}, "settings": {"TRAIN.lr": 0.1, "n": [1, None, "x"]}})


class Tiny(base.Trainer):
    """One Adam step with an lr schedule and a weight average: a checkpoint holding every part of the schema."""

    def fit(self):
        self.resume()
        loss = self.nets["model"](paddle.randn([4, 3])).square().mean()
        loss.backward()
        self.optimizers["model"].step()
        self.lr_schedulers["model"].step()
        self.ema.update()
        self.step += 1
        self.history.append({"loss": float(loss), "loss32": np.float32(loss)})
        self.save()


# ------------------------------------------------------------ (a) weights
@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["os.system", "open", "subprocess", "eval", "exec", "getattr"])
def test_crafted_weights_are_refused_not_run(tmp_path, kind):
    flag = tmp_path / "pwned"
    data, name = payloads(flag)[kind]
    path = tmp_path / f"{kind}.pdparams"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=refused(path, name)):
        load_checkpoint(str(path))
    assert not flag.exists()


@pytest.mark.timeout(60)
def test_payload_inside_a_real_checkpoint_is_refused(tmp_path):
    good = tmp_path / "good.pdparams"
    tiny_trainer(good).fit()
    state = pickle.loads(good.read_bytes())  # the trusted file this test wrote, as plain objects
    flag = tmp_path / "pwned"
    state["history"].append({"loss": Call(os.system, f"touch {flag}")})
    bad = tmp_path / "bad.pdparams"
    bad.write_bytes(pickle.dumps(state, protocol=4))
    with pytest.raises(ValueError, match=refused(bad, qualified(os.system))):
        load_checkpoint(str(bad))
    assert not flag.exists()


@pytest.mark.timeout(60)
def test_init_from_and_resume_refuse_crafted_checkpoints(tmp_path):
    """``TRAIN.init_from`` (fine-tuning) and the run's own checkpoint (``TRAIN.checkpoint``) go through the
    same loader."""
    flag = tmp_path / "pwned"
    crafted = tmp_path / "crafted.pdparams"
    crafted.write_bytes(payloads(flag)["os.system"][0])
    with pytest.raises(ValueError, match=refused(crafted, qualified(os.system))):
        tiny_trainer(tmp_path / "run" / "checkpoint.pdparams", init_from=str(crafted)).fit()
    with pytest.raises(ValueError, match=refused(crafted, qualified(os.system))):
        tiny_trainer(crafted).fit()
    assert not flag.exists()


@pytest.mark.timeout(60)
def test_refusals_that_create_nothing(tmp_path):
    """A dotted name under an admitted one, a codec other than latin1, a persistent id: all refused."""
    from ppsci_ext.train.safe_load import UntrustedPickleError
    from ppsci_ext.train.safe_load import safe_load

    cases = {
        "dotted": (b"\x80\x04\x8c\x08builtins\x8c\x0dtuple.__new__\x93.", r"builtins\.tuple\.__new__"),
        "codec": (b"c_codecs\nencode\n(Vx\nVrot13\ntR.", r"_codecs\.encode with encoding 'rot13'"),
        "persistent": (b"Pabc\n.", r"a persistent id \(str\)"),
    }
    for what, (data, name) in cases.items():
        path = tmp_path / f"{what}.pdparams"
        path.write_bytes(data)
        with pytest.raises(UntrustedPickleError, match=rf"{what}\.pdparams: refused to build {name}") as info:
            safe_load(str(path))
        assert isinstance(info.value, pickle.UnpicklingError) and isinstance(info.value, ValueError)


def run_script(script, *over, timeout=170):
    env = {**os.environ, "GLOG_minloglevel": "2", "PYTHONPATH": ROOT}
    res = subprocess.run([sys.executable, os.path.join("examples", *script), *over], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=timeout)
    return res.returncode, res.stdout + res.stderr


def unlabelled_section(n_traces=6, n_layers=12, seed=0):
    """A small, plausible physics-driven AVA dict (vp ~3000 m/s, vs ~1500 m/s, rho ~2.3 g/cc)."""
    rng = np.random.default_rng(seed)
    theta = [[2.0, 6.0, 10.0], [14.0, 18.0, 22.0], [26.0, 30.0, 34.0]]
    d = {f"{p}_back": v * (1 + 0.01 * rng.standard_normal((n_layers, n_traces)))
         for p, v in {"vp": 3000.0, "vs": 1500.0, "rho": 2.3}.items()}
    for g, k in enumerate(("seis_s", "seis_m", "seis_l")):
        d[k] = rng.standard_normal((n_traces, n_layers, len(theta[g])))
    d["wavemat"] = rng.standard_normal((n_layers, n_layers))
    d["theta"] = theta
    return d


def example_runs(tmp_path):
    """``{example: (script, overrides)}``: each example's inference on a small valid input."""
    gathers = tmp_path / "gathers.npy"
    np.save(gathers, 0.05 * np.random.default_rng(0).standard_normal((1, 5, 200, 70)).astype(np.float32))
    section = write_ava_file(tmp_path / "section.npz", unlabelled_section())
    sr_section = tmp_path / "sr_section.npy"
    np.save(sr_section, np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32))
    out = f"output_dir={tmp_path}/out"
    return {
        "velocitygan": (("velocitygan", "VelocityGAN.py"), (out, "MODELLING.nt=200", "DATA.sample_ratio=4",
                        f"INFER.input={gathers}", f"INFER.output={tmp_path}/v.npy")),
        "gdrnn": (("gdrnn", "GDRNN.py"), (out, "num_threads=1", f"INFER.input={section}",
                  f"INFER.output={tmp_path}/inv.npz")),
        "md_diffusion": (("md_diffusion", "MDDiffusion.py"), (out, f"INFER.input={sr_section}",
                         f"INFER.output={tmp_path}/sr.npy")),
    }


@pytest.mark.timeout(200)
@pytest.mark.parametrize("example", ["velocitygan", "gdrnn", "md_diffusion"])
def test_example_infer_refuses_crafted_weights(tmp_path, example):
    """``<Script>.py mode=infer INFER.pretrained_model_path=<crafted>``: non-zero exit, the file and the refused
    name in the message, no flag file, no output."""
    flag = tmp_path / "pwned"
    crafted = tmp_path / "crafted.pdparams"
    crafted.write_bytes(payloads(flag)["os.system"][0])
    script, over = example_runs(tmp_path)[example]
    rc, out = run_script(script, "mode=infer", *over, f"INFER.pretrained_model_path={crafted}")
    assert rc != 0, out[-3000:]
    assert f"{crafted}: refused to build {qualified(os.system)}" in out, out[-3000:]
    assert "could run code" in out
    assert not flag.exists()
    assert not [p for p in os.listdir(tmp_path) if p in ("v.npy", "inv.npz", "sr.npy")]


# ---------------------------------------------------------- (b) AVA .npz
def crafted_npz(path, flag, key="theta"):
    """A physics-driven AVA ``.npz`` whose ``key`` is an object array that runs ``touch flag`` when unpickled."""
    d = unlabelled_section()
    d["theta"] = np.asarray(d["theta"])
    d[key] = np.array([Call(os.system, f"touch {flag}")], dtype=object)
    np.savez(path, **d)  # np.savez pickles object arrays: the form of the attack
    return str(path)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("key", ["theta", "wavemat"])
def test_crafted_npz_key_is_refused_not_run(tmp_path, key):
    flag = tmp_path / "pwned"
    path = crafted_npz(tmp_path / "crafted.npz", flag, key)
    with pytest.raises(ValueError, match=rf"crafted\.npz: key '{key}' is an object array; object arrays are not "
                                         r"read because loading them could run code"):
        read_ava_file(path)
    assert not flag.exists()


@pytest.mark.timeout(200)
def test_gdrnn_infer_refuses_crafted_npz(tmp_path):
    flag = tmp_path / "pwned"
    path = crafted_npz(tmp_path / "crafted.npz", flag)
    rc, out = run_script(("gdrnn", "GDRNN.py"), "mode=infer", f"output_dir={tmp_path}/out", "num_threads=1",
                         f"INFER.input={path}", f"INFER.output={tmp_path}/inv.npz")
    assert rc != 0, out[-3000:]
    assert f"{path}: key 'theta' is an object array" in out and "could run code" in out, out[-3000:]
    assert "[3, n_angles]" in out  # how to store it instead
    assert not flag.exists() and not (tmp_path / "inv.npz").exists()


# -------------------------------------------- (c) own files still load
def assert_same_tree(a, b, where="file"):
    """Keys, types and values exactly equal; tensors also in dtype, shape and (paddle.save's) name."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} vs {list(b)}"
        for k in a:
            assert_same_tree(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tree(x, y, f"{where}[{i}]")
    elif isinstance(a, paddle.Tensor):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where
        auto = a.name.startswith("generated_tensor") and b.name.startswith("generated_tensor")  # a counter
        assert a.name == b.name or auto, f"{where}: {a.name} vs {b.name}"
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=where)
    elif isinstance(a, paddle.base.libpaddle.GeneratorState):
        assert a.__getstate__() == b.__getstate__(), where
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


SHIPPED = sorted(glob.glob(os.path.join(ROOT, "pretrained", "**", "*.pdparams"), recursive=True))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", SHIPPED, ids=[os.path.relpath(p, ROOT) for p in SHIPPED])
def test_shipped_weights_load_as_paddle_load_does(path):
    assert_same_tree(paddle.load(path), load_checkpoint(path, required=("nets",)))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", [4, 2])
def test_fresh_checkpoint_loads_as_paddle_load_does(tmp_path, protocol):
    """Every part of the schema (nets, Adam state, lr schedule, weight average, history, random states,
    config); protocol 2 stores bytes through ``_codecs.encode``."""
    trainer = tiny_trainer(tmp_path / "checkpoint.pdparams")
    trainer.fit()
    path = str(tmp_path / f"p{protocol}.pdparams")
    paddle.save(trainer.state_dict(), path, protocol=protocol)
    assert_same_tree(paddle.load(path), load_checkpoint(path))
    assert_same_tree(paddle.load(trainer.path), load_checkpoint(trainer.path))
    again = tiny_trainer(trainer.path)
    assert again.resume() and again.step == 1  # and it resumes


@pytest.mark.timeout(60)
def test_lone_state_dict_loads_as_paddle_load_does(tmp_path):
    """``paddle.save(net.state_dict())`` writes a name table that paddle.load drops."""
    net = paddle.nn.Linear(3, 4)
    path = str(tmp_path / "sd.pdparams")
    paddle.save(net.state_dict(), path)
    assert_same_tree(paddle.load(path), load_checkpoint(path))


# ------------------------------------------------------ (d) object arrays
@pytest.mark.timeout(60)
def test_weights_holding_an_object_array_are_refused(tmp_path):
    net = paddle.nn.Linear(3, 4)
    state = {"nets": {"model": {k: (k, v.numpy()) for k, v in net.state_dict().items()}}}
    state["nets"]["model"]["bias"] = ("bias", np.array([1.0, "x", None, 2.0], dtype=object))
    path = tmp_path / "objects.pdparams"
    path.write_bytes(pickle.dumps(state, protocol=4))
    with pytest.raises(ValueError, match=r"objects\.pdparams: \['nets'\]\['model'\]\['bias'\]\[1\] is a numpy "
                                         r"array of dtype object .*not loaded"):
        load_checkpoint(str(path))
