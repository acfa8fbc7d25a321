"""Each loop, stopped after a checkpoint and resumed by a fresh trainer, ends with the weights and history of an
uninterrupted run (bit for bit): the checkpoint holds the random states and every pass is fixed by its number."""
import os

import numpy as np
import paddle
import ppsci
import pytest

import ppsci_ext  # noqa: F401  (registers the datasets with ppsci)
from ppsci_ext.arch import MDUNet
from ppsci_ext.diffusion import DiffusionScheduler
from ppsci_ext.testing.examples import compose_config
from ppsci_ext.testing.examples import load_example
from ppsci_ext.runtime import setup_run
from ppsci_ext.train import SRTrainer
from ppsci_ext.train import UnrolledTrainer
from ppsci_ext.train import WGANGPTrainer
from ppsci_ext.train import loader_config
from ppsci_ext.train.sr import sr_loss
from tests.data.test_seismic_sr import make_pairs
from tests.train.test_gan import build as build_gan


class Killed(Exception):
    pass


def stop_after_save(monkeypatch, cls, when):
    """Make ``cls.save`` end the run right after writing the checkpoint at which ``when(trainer)`` holds."""
    real = cls.save

    def save(self):
        real(self)
        if when(self):
            raise Killed

    monkeypatch.setattr(cls, "save", save)


def weights(*nets):
    return [p.numpy().copy() for net in nets for p in net.parameters()]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_gan_resumed_after_an_epoch_matches_the_uninterrupted_run(tmp_path, monkeypatch):
    for name in ("whole", "cut"):
        os.makedirs(tmp_path / name)
    whole = build_gan(tmp_path / "whole")
    paddle.seed(1)
    h_whole = whole.fit()
    with monkeypatch.context() as m:
        stop_after_save(m, WGANGPTrainer, lambda t: t.epoch == 1)
        cut = build_gan(tmp_path / "cut")
        paddle.seed(1)
        with pytest.raises(Killed):
            cut.fit()
    paddle.seed(12345)  # whatever the new process draws before, the checkpoint's states win
    resumed = build_gan(tmp_path / "cut")
    h_resumed = resumed.fit()
    assert_same(weights(whole.g, whole.d), weights(resumed.g, resumed.d))
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(h_whole) == strip(h_resumed)


def sr_trainer(root, ckpt, kind, iters, save_every):
    stems = make_pairs(str(root), n=5, lr_shape=(8, 8))
    ds = {"name": "SeismicSRDataset", "root": str(root), "stems": stems, "lr_shape": [8, 8], "hr_shape": [16, 16],
          "patch": 8, "augment": True, "interp": "random", "seed": 3, "input_keys": ["cond"], "label_keys": ["hr"]}
    paddle.seed(0)
    model = MDUNet(base_channels=4, channel_mults=(1, 2))
    constraint = ppsci.constraint.SupervisedConstraint(loader_config(ds, 2, True), sr_loss(kind), name="sr")
    opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    train = {"iters": iters, "save_every": save_every, "ema_decay": 0.9, "init_from": None}
    return SRTrainer(model=model, kind=kind, scheduler=DiffusionScheduler(sample_steps=3), constraint=constraint,
                     optimizer=opt, train=train, checkpoint=str(ckpt), config={}, seed=7, log=None)


def test_sr_loop_resumed_mid_pass_matches_the_uninterrupted_run(tmp_path, monkeypatch):
    for kind in ("diffusion", "supervised"):
        whole = sr_trainer(tmp_path / "data", tmp_path / kind / "whole.pdparams", kind, 7, 3)
        h_whole = whole.fit()
        # 5 items, batch 2 -> 2 batches a pass: a stop after step 3 is in the middle of the second pass
        with monkeypatch.context() as m:
            stop_after_save(m, SRTrainer, lambda t: t.step == 3)
            with pytest.raises(Killed):
                sr_trainer(tmp_path / "data", tmp_path / kind / "cut.pdparams", kind, 7, 3).fit()
        resumed = sr_trainer(tmp_path / "data", tmp_path / kind / "cut.pdparams", kind, 7, 3)
        h_resumed = resumed.fit()
        assert [h["step"] for h in h_resumed] == list(range(1, 8))
        assert h_whole == h_resumed, kind
        assert_same(weights(whole.model), weights(resumed.model))
        for k, v in whole.ema.state_dict().items():
            np.testing.assert_array_equal(np.asarray(v), np.asarray(resumed.ema.state_dict()[k]), err_msg=k)


def test_unrolled_loop_resumed_after_an_epoch_matches_the_uninterrupted_run(tmp_path, monkeypatch):
    mod = load_example("gdrnn", "GDRNN")
    over = ["DATA.synthetic.n_samples=32", "DATA.synthetic.n_traces=16", "DATA.synthetic.n_layers_range=[6,8]",
            "DATA.wells=[3,12]", "DATA.n_aug=4", "MODEL.dims=[4,8]", "MODEL.n_steps=2", "TRAIN.batch_size=4",
            "TRAIN.well_batch_size=2", "TRAIN.schedule.start_steps=1", "TRAIN.schedule.grow_epochs=2",
            f"DATA.out_dir={tmp_path}/data", "TRAIN.nprocs=1", "num_threads=1"]
    h_whole = mod.train(compose_config("gdrnn", over + [f"output_dir={tmp_path}/whole", "TRAIN.epochs=3"]))
    with monkeypatch.context() as m:
        stop_after_save(m, UnrolledTrainer, lambda t: t.epoch == 1)
        with pytest.raises(Killed):
            mod.train(compose_config("gdrnn", over + [f"output_dir={tmp_path}/cut", "TRAIN.epochs=3"]))
    h_resumed = mod.train(compose_config("gdrnn", over + [f"output_dir={tmp_path}/cut", "TRAIN.epochs=3"]))
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(h_whole) == strip(h_resumed)
    cfg = compose_config("gdrnn", over + [f"output_dir={tmp_path}/whole"])
    setup_run(cfg)
    op = mod.build_forward_op(cfg, mod.data_paths(cfg)["section"])
    a = mod.load_model(cfg, "gdrnn", op)
    b = mod.load_model(compose_config("gdrnn", over + [f"output_dir={tmp_path}/cut"]), "gdrnn", op)
    assert_same(weights(a), weights(b))
