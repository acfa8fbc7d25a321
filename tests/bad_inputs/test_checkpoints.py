"""Bad checkpoints: empty, truncated, of another network; a second run on the same folder."""
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import paddle
import pytest

from ppsci_ext import runtime
from ppsci_ext.train import base
from ppsci_ext.train.checkpoint import check_config
from ppsci_ext.train.checkpoint import load_checkpoint
from ppsci_ext.train.checkpoint import run_lock
from ppsci_ext.train.checkpoint import set_state_strict


class Tiny(base.Trainer):
    def fit(self):
        self.resume()
        self.step += 1
        self.save()
        return self.history


def tiny_trainer(path, width=4, config=None):
    paddle.seed(0)
    net = paddle.nn.Linear(3, width)
    opt = paddle.optimizer.Adam(parameters=net.parameters())
    return Tiny({"model": net}, {"model": opt}, train={"init_from": None}, checkpoint=str(path),
                config=config or {}), net


@pytest.mark.timeout(30)
def test_empty_checkpoint_names_its_path(tmp_path):
    path = tmp_path / "checkpoint.pdparams"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"checkpoint .*checkpoint.pdparams is empty \(0 bytes\)"):
        load_checkpoint(str(path))


@pytest.mark.timeout(30)
def test_truncated_checkpoint_names_its_path_and_size(tmp_path):
    trainer, _ = tiny_trainer(tmp_path / "good.pdparams")
    trainer.fit()
    data = (tmp_path / "good.pdparams").read_bytes()
    for cut in (len(data) // 2, 10):
        bad = tmp_path / f"cut{cut}.pdparams"
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=rf"cut{cut}.pdparams \({cut} bytes\) cannot be read"):
            load_checkpoint(str(bad))


@pytest.mark.timeout(30)
def test_foreign_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "list.pdparams"
    paddle.save([1, 2, 3], str(path))
    with pytest.raises(ValueError, match=r"list.pdparams: expected a dict .* found list"):
        load_checkpoint(str(path))


@pytest.mark.timeout(30)
def test_missing_and_misshaped_weights_are_named():
    net = paddle.nn.Linear(3, 4)
    state = {k: v for k, v in paddle.nn.Linear(3, 5).state_dict().items()}
    with pytest.raises(ValueError, match=r"ckpt X does not fit .*shape differs \(2\): weight \[3, 5\] in the "
                                         r"checkpoint, \[3, 4\] in the network"):
        set_state_strict(net, state, "ckpt X")
    with pytest.raises(ValueError, match=r"missing \(1\): bias"):
        set_state_strict(net, {"weight": net.weight}, "ckpt X")
    with pytest.raises(ValueError, match=r"unexpected \(1\): extra"):
        set_state_strict(net, {**net.state_dict(), "extra": net.bias}, "ckpt X")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("make, key, swap", [
    (lambda: paddle.nn.Linear(3, 4), "weight", (1, 0)),                # [4, 3] given for [3, 4]
    (lambda: paddle.nn.Conv2D(2, 3, (4, 5)), "weight", (0, 1, 3, 2)),  # kernel [5, 4] given for [4, 5]
    (lambda: paddle.nn.Conv2D(2, 3, (4, 5)), "weight", (1, 0, 2, 3)),  # in and out channels swapped
], ids=["linear_transposed", "conv_kernel_hw_swapped", "conv_in_out_swapped"])
def test_a_weight_with_its_axes_swapped_is_refused(make, key, swap):
    """Same number of elements, same sizes, another axis order (e.g. a PyTorch Linear weight, the transpose of
    Paddle's): refused and named, and nothing is loaded. A check on numel or sorted sizes would let it through."""
    paddle.seed(0)
    net = make()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    state = dict(before)
    state[key] = before[key].transpose(swap).copy()
    assert state[key].size == before[key].size and state[key].shape != before[key].shape
    given, own = (re.escape(str(list(a.shape))) for a in (state[key], before[key]))
    with pytest.raises(ValueError, match=rf"ckpt X does not fit .*shape differs \(1\): {key} {given} .*{own}"):
        set_state_strict(net, state, "ckpt X")
    assert all(np.array_equal(v.numpy(), before[k]) for k, v in net.state_dict().items())


@pytest.mark.timeout(30)
def test_network_config_differences_name_key_and_both_values():
    state = {"config": {"network": {"MODEL.dims": [16, 32], "MODEL.n_steps": 6}}}
    check_config(state, {"MODEL.dims": [16, 32], "MODEL.n_steps": 6}, "c.pdparams")  # equal: no error
    with pytest.raises(ValueError, match=r"c.pdparams was trained with another network config:\n  "
                                         r"MODEL.n_steps: 6 in the checkpoint, 3 now"):
        check_config(state, {"MODEL.dims": [16, 32], "MODEL.n_steps": 3}, "c.pdparams")
    check_config({}, {"MODEL.n_steps": 3}, "old.pdparams")  # records nothing: names and shapes decide
    # a setting added after the checkpoint was written (its default keeps the old network) is not compared
    check_config(state, {"MODEL.dims": [16, 32], "MODEL.n_steps": 6, "MODEL.critic.norm": False}, "c.pdparams")


@pytest.mark.timeout(60)
def test_load_trained_refuses_another_network_config(tmp_path):
    path = tmp_path / "m" / "checkpoint.pdparams"
    cfg = {"network": {"MODEL.width": 4}, "settings": {}}
    trainer, _ = tiny_trainer(path, 4, cfg)
    trainer.fit()
    build = lambda: paddle.nn.Linear(3, 4)  # noqa: E731
    runtime.load_trained(str(path), build, "train", network={"MODEL.width": 4})
    with pytest.raises(ValueError, match=r"MODEL.width: 4 in the checkpoint, 8 now"):
        runtime.load_trained(str(path), lambda: paddle.nn.Linear(3, 8), "train", network={"MODEL.width": 8})
    with pytest.raises(ValueError, match=r"does not fit the network built from the config"):
        runtime.load_trained(str(path), lambda: paddle.nn.Linear(3, 8), "train")  # no config given: shapes


@pytest.mark.timeout(60)
def test_resume_with_changed_config(tmp_path, monkeypatch):
    warned = []
    monkeypatch.setattr(base.logger, "warning", lambda msg, *args: warned.append(msg))
    path = tmp_path / "r" / "checkpoint.pdparams"
    config = {"network": {"MODEL.width": 4}, "settings": {"MODEL.width": 4, "TRAIN.epochs": 2}}
    tiny_trainer(path, 4, config)[0].fit()
    changed = {"network": {"MODEL.width": 8}, "settings": {"MODEL.width": 8, "TRAIN.epochs": 2}}
    with pytest.raises(ValueError, match=r"MODEL.width: 4 in the checkpoint, 8 now"):
        tiny_trainer(path, 8, changed)[0].fit()
    more = {"network": {"MODEL.width": 4}, "settings": {"MODEL.width": 4, "TRAIN.epochs": 5}}
    trainer, _ = tiny_trainer(path, 4, more)
    trainer.fit()
    assert trainer.step == 2
    assert any("with changed settings: TRAIN.epochs: 2 in the checkpoint, 5 now" in m for m in warned), warned


_HOLD = textwrap.dedent("""
    import sys, time
    from ppsci_ext.train.checkpoint import run_lock
    run_lock(sys.argv[1])
    print("locked", flush=True)
    time.sleep(120)
""")


@pytest.mark.timeout(60)
def test_second_run_on_the_same_folder_is_refused_while_the_first_lives(tmp_path):
    path = str(tmp_path / "run" / "checkpoint.pdparams")
    first = subprocess.Popen([sys.executable, "-c", _HOLD, path], stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "locked"
        with pytest.raises(RuntimeError, match=r"another run is training into .*run"):
            run_lock(path, wait=0.5)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    t0 = time.monotonic()
    run_lock(path, wait=2.0)  # the killed run's lock went with it
    assert time.monotonic() - t0 < 2.0


_RAISING = textwrap.dedent("""
    import sys
    import numpy as np
    import paddle
    import ppsci
    from ppsci_ext.registry import ends_run_on_item_error
    from ppsci_ext.train import loader_config
    from ppsci_ext.train.base import loader_pass

    class Raising(paddle.io.Dataset):
        input_keys, label_keys = ("x",), ("y",)

        def __init__(self, input_keys=("x",), label_keys=("y",)):
            super().__init__()

        def __len__(self):
            return 8

        def __getitem__(self, i):
            if i == 5:
                raise ValueError(f"item {i}: bad sample in /data/broken.npy")
            return {"x": np.full([2], i, np.float32)}, {"y": np.zeros([1], np.float32)}, {}

    setattr(ppsci.data.dataset, "Raising", ends_run_on_item_error(Raising))
    loader = loader_config({"name": "Raising", "input_keys": ("x",), "label_keys": ("y",)}, 2, False)
    if sys.argv[1] == "paddle":  # paddle's own single-process loader: the item fails in its reader thread
        for batch in ppsci.data.build_dataloader(ppsci.data.dataset.build_dataset(loader["dataset"]), loader):
            pass
    else:  # the training loops' passes
        c = ppsci.constraint.SupervisedConstraint(loader, ppsci.loss.MSELoss(), name="c")
        for batch in loader_pass(c.data_loader, 0):
            pass
    print("finished without error")
""")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["paddle", "loop"])
def test_a_dataset_raising_per_item_ends_the_run_with_its_message(how):
    run = subprocess.run([sys.executable, "-c", _RAISING, how], capture_output=True, text=True, timeout=50)
    assert run.returncode != 0
    assert "item 5: bad sample in /data/broken.npy" in run.stdout + run.stderr
    assert "finished without error" not in run.stdout


@pytest.mark.timeout(30)
def test_read_npy_refuses_complex_arrays(tmp_path):
    np.save(tmp_path / "c.npy", np.ones((2, 3), np.complex64))
    with pytest.raises(ValueError, match=r"c.npy \(INFER.input\): expected real numbers, found dtype complex64 "
                                         r"\(pass np.real\(a\) or np.abs\(a\)\)"):
        runtime.read_npy(str(tmp_path / "c.npy"), "INFER.input")
