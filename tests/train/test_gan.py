import os

import numpy as np
import paddle
import pytest
from omegaconf import OmegaConf

import ppsci
import ppsci_ext  # noqa: F401
from ppsci_ext.arch import VelocityDiscriminator
from ppsci_ext.arch import VelocityGenerator
from ppsci_ext.train.checkpoint import load_checkpoint
from ppsci_ext.train.checkpoint import save_checkpoint
from ppsci_ext.train.gan import WGANGPTrainer
from tests.conftest import write_fwi_files

CFG = OmegaConf.create(dict(epochs=2, n_critic=2, gan_schedule="same_batch", lr_g=1e-3, lr_d=1e-3, warmup_steps=0,
                            final_lr_ratio=0.1, log_freq=100, init_from=None))


def build(tmp_path, gan=True, train=CFG):
    anno = os.path.join(tmp_path, "train.txt")
    if not os.path.exists(anno):  # data-parallel workers share files written once beforehand
        anno = write_fwi_files(tmp_path, n_files=1, n=4, shape=(5, 100, 70))
    loader = {"dataset": {"name": "ExtFWIDataset", "input_keys": ("data",), "label_keys": ("velocity",), "anno": anno,
                          "data_min": -3.0, "data_max": 3.0, "label_min": 1500.0, "label_max": 4500.0,
                          "sample_ratio": 10},
              "batch_size": 2, "sampler": {"name": "DistributedBatchSampler", "shuffle": True, "drop_last": True},
              "num_workers": 0}

    def gen_loss(out, lab, w=None):
        losses = {"l1": (out["velocity"] - lab["velocity"]).abs().mean()}
        if "score_fake" in out:
            losses["adv"] = -0.1 * out["score_fake"].mean()
        return losses

    def crit_loss(out, lab=None, w=None):
        return {"critic": out["score_fake"].mean() - out["score_real"].mean(), "gp": 10 * out["gp"]}

    paddle.seed(0)
    con = ppsci.constraint.SupervisedConstraint(loader, ppsci.loss.FunctionalLoss(gen_loss), name="fwi")
    g = VelocityGenerator(("data",), ("velocity",), time_samples=100, sample_ratio=10, dims=(4, 8, 8, 16, 16))
    d = VelocityDiscriminator(("velocity",), ("score",), dims=(4, 4, 8, 8)) if gan else None
    opt_g = paddle.optimizer.AdamW(1e-3, parameters=g.parameters())
    opt_d = paddle.optimizer.AdamW(1e-3, parameters=d.parameters()) if gan else None
    path = os.path.join(tmp_path, "ckpt", "latest.pdparams")
    return WGANGPTrainer(generator=g, critic=d, constraint=con, critic_loss=ppsci.loss.FunctionalLoss(crit_loss),
                         opt_g=opt_g, opt_d=opt_d, train=train, checkpoint=path, config={}, validate=None)


def params(net):
    """Trainable weights (BatchNorm running statistics are non-trainable parameters in paddle)."""
    return [p.numpy().copy() for p in net.parameters() if p.trainable]


def test_no_gradient_leaks_between_the_two_optimisers(tmp_path):
    t = build(tmp_path)
    t.steps_per_epoch = 2
    inputs, labels, weights = next(iter(t.constraint.data_loader))
    d0, g0 = params(t.d), params(t.g)
    t.generator_step(inputs, labels, weights)
    assert all(np.array_equal(a, b) for a, b in zip(d0, params(t.d)))  # critic untouched by G's step
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in t.d.parameters())
    g1 = params(t.g)
    assert not all(np.array_equal(a, b) for a, b in zip(g0, g1))
    with paddle.no_grad():
        fake = t.g(inputs)["velocity"]
    t.critic_step(fake, labels["velocity"])
    assert all(np.array_equal(a, b) for a, b in zip(g1, params(t.g)))  # generator untouched by D's step
    assert not all(np.array_equal(a, b) for a, b in zip(d0, params(t.d)))


def test_one_checkpoint_per_run_holds_everything_and_resumes(tmp_path):
    t = build(tmp_path)
    t.train_cfg = OmegaConf.merge(CFG, {"epochs": 1})
    t.fit()
    files = sorted(os.listdir(os.path.dirname(t.path)))
    assert files == ["history.json", "latest.pdparams"]  # one checkpoint, the finished run's history, no temporaries
    state = load_checkpoint(t.path)
    assert {"nets", "optimizers", "epoch", "step", "history", "rng"} <= set(state)
    assert set(state["nets"]) == set(state["optimizers"]) == {"generator", "critic"}
    assert state["epoch"] == 1 and state["step"] == 2
    # a new run (as after a kill) resumes from it and continues to epoch 2
    t2 = build(tmp_path)
    assert t2.resume() and t2.epoch == 1
    for a, b in zip(params(t.g) + params(t.d), params(t2.g) + params(t2.d)):
        np.testing.assert_array_equal(a, b)
    for a, b in ((t.opt_g, t2.opt_g), (t.opt_d, t2.opt_d)):  # moments restored into the new optimiser
        sa, sb = a.state_dict(), b.state_dict()
        moments = sorted(k for k in sa if "moment1" in k)
        assert moments and len(moments) == len([k for k in sb if "moment1" in k])
        for pa, pb in zip(a._parameter_list, b._parameter_list):
            if pa.name + "_moment1_0" not in sa:  # BatchNorm statistics have no moments
                continue
            np.testing.assert_array_equal(sa[pa.name + "_moment1_0"].numpy(), sb[pb.name + "_moment1_0"].numpy())
    history = t2.fit()
    assert [h["epoch"] for h in history] == [1, 2]
    assert load_checkpoint(t2.path)["step"] == 4


def test_plain_inversionnet_trains_without_critic(tmp_path):
    t = build(tmp_path, gan=False)
    history = t.fit()
    assert len(history) == 2 and "critic" not in history[0] and "l1" in history[0]
    assert "critic" not in load_checkpoint(t.path)["nets"]


def test_save_checkpoint_keeps_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = os.path.join(tmp_path, "c.pdparams")
    save_checkpoint({"a": paddle.ones([2])}, path)

    def broken(fd):  # the temporary file is half written when the disk fills
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError):
        save_checkpoint({"a": paddle.zeros([2])}, path)
    assert os.listdir(tmp_path) == ["c.pdparams"]
    monkeypatch.undo()
    np.testing.assert_array_equal(load_checkpoint(path)["a"].numpy(), [1, 1])


@pytest.mark.parametrize("schedule, n_critic, want", [
    ("same_batch", 2, ["d", "d", "g"] * 5),                                 # n_critic critic steps, then G, each batch
    ("openfwi", 2, ["d", "d", "g", "d", "d", "g", "d", "g"]),  # critic every batch, G on batches 2, 4 and the last
    ("openfwi", 3, ["d", "d", "d", "g", "d", "d", "g"]),       # G on batch 3 and the last (5)
])
def test_gan_schedules_order_critic_and_generator_steps(tmp_path, schedule, n_critic, want):
    """OpenFWI's loop: one critic step per batch and a generator step on every n_critic-th batch and the last
    (5 batches here); the same-batch scheme: n_critic critic steps and a generator step on every batch."""
    anno = write_fwi_files(tmp_path, n_files=1, n=10, shape=(5, 100, 70))
    t = build(tmp_path)
    assert anno == os.path.join(tmp_path, "train.txt")
    t.train_cfg = OmegaConf.merge(CFG, {"n_critic": n_critic, "gan_schedule": schedule})
    order = []
    for name in ("critic_step", "generator_step"):
        step = getattr(t, name)
        setattr(t, name, lambda *a, _s=step, _n=name, **k: (order.append(_n[0] if _n[0] == "g" else "d"), _s(*a, **k))[1])
    losses = t.train_epoch()
    assert t.steps_per_epoch == 5 and order == want
    assert set(losses) == {"critic", "gp", "l1", "adv"} and all(np.isfinite(list(losses.values())))
    t.train_cfg = OmegaConf.merge(CFG, {"gan_schedule": "every_batch"})
    with pytest.raises(ValueError, match="TRAIN.gan_schedule: expected 'same_batch' or 'openfwi', found 'every_batch'"):
        t.train_epoch()


@pytest.mark.parametrize("key", ["n_critic", "gan_schedule", "warmup_steps", "init_from"])
def test_every_loop_setting_comes_from_the_config(tmp_path, key):
    """No setting has a default in code: a TRAIN key the loop reads that the YAML lacks stops the run, naming it
    (a default would run silently on a value no config shows)."""
    train = OmegaConf.create({k: v for k, v in OmegaConf.to_container(CFG).items() if k != key})
    with pytest.raises(KeyError, match=rf"TRAIN\.{key} is not set: WGANGPTrainer reads it"):
        build(tmp_path, train=train).fit()
