"""The built modes of examples/md_diffusion/MDDiffusion.py on a tiny configuration (train, sample, eval)."""
import json
import os

import numpy as np
import pytest

from tests.examples.example_scripts import compose_config
from tests.examples.example_scripts import load_example


def load_script():
    return load_example("md_diffusion", "MDDiffusion")


def tiny_cfg(tmp, *extra):
    over = [f"output_dir={tmp}/out", f"DATA.root={tmp}/data", "DATA.n_pairs=20", "DATA.lr_shape=[32,32]",
            "DATA.hr_shape=[64,64]", "DATA.patch=32", "MODEL.base_channels=8", "MODEL.channel_mults=[1,2]",
            "TRAIN.iters=4", "TRAIN.batch_size=2", "TRAIN.save_every=2", "DIFFUSION.sample_steps=3",
            "EVAL.n_items=2", "num_threads=1", *extra]
    return compose_config("md_diffusion", over)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mdd")
    mod = load_script()
    hist = {k: mod.train(tiny_cfg(tmp, f"MODEL.kind={k}")) for k in ("diffusion", "supervised")}
    return mod, tmp, hist


def test_train_splits_by_file_and_checkpoints(trained):
    mod, tmp, hist = trained
    split = json.load(open(os.path.join(tmp, "out", "split.json")))
    stems = split["train"] + split["val"] + split["test"]
    assert len(stems) == len(set(stems)) == 20 and len(split["test"]) == 2
    for kind, h in hist.items():
        assert [r["step"] for r in h] == [1, 2, 3, 4] and all(np.isfinite(r["loss"]) for r in h)
        assert os.path.isfile(os.path.join(tmp, "out", kind, "checkpoint.pdparams"))


def test_rerun_resumes(trained):
    mod, tmp, hist = trained
    more = mod.train(tiny_cfg(tmp, "TRAIN.iters=6"))
    assert [r["step"] for r in more] == [1, 2, 3, 4, 5, 6] and more[:4] == hist["diffusion"]


def test_sample_then_eval_scores_model_and_baselines(trained):
    mod, tmp, _ = trained
    cfg = tiny_cfg(tmp)
    mod.sample(cfg)
    split = json.load(open(os.path.join(tmp, "out", "split.json")))
    for kind in ("diffusion", "supervised"):
        for stem in split["test"][:2]:
            assert os.path.getsize(os.path.join(cfg.EVAL.pred_dir, kind, f"{stem}_pred.dat")) == 64 * 64 * 4
    rows = mod.evaluate(cfg)
    saved = json.load(open(os.path.join(tmp, "out", "eval_metrics.json")))
    assert set(saved) == {"bicubic", "diffusion", "supervised"}
    for r in saved.values():
        assert len(r["items"]) == 2 and all(np.isfinite(r[k]) for k in ("PSNR", "SSIM", "SNR"))
    assert rows["bicubic"]["PSNR"] == pytest.approx(saved["bicubic"]["PSNR"])


def test_sampling_is_deterministic_for_eta_zero(trained):
    mod, tmp, _ = trained
    cfg = tiny_cfg(tmp)
    model = mod.load_model(cfg, "diffusion")
    lr = [np.random.default_rng(0).standard_normal((32, 32)).astype("float32")]
    np.testing.assert_array_equal(mod.predict(cfg, model, "diffusion", lr), mod.predict(cfg, model, "diffusion", lr))


def test_unknown_mode_and_kind_are_rejected(trained):
    mod, tmp, _ = trained
    with pytest.raises(ValueError, match="MODEL.kind"):
        mod.build_model(tiny_cfg(tmp, "MODEL.kind=gan"))


def test_infer_super_resolves_any_size_by_tiles(trained, tmp_path):
    mod, tmp, _ = trained
    section = np.random.default_rng(1).standard_normal((40, 26)).astype("<f4")
    src = tmp_path / "field_40x26.dat"
    section.tofile(src)
    out = mod.inference(tiny_cfg(tmp, f"INFER.input={src}", f"INFER.output={tmp_path}/sr.npy", "INFER.patch=32",
                                 "INFER.overlap=8"))
    assert out.shape == (80, 52) and np.isfinite(out).all()
    np.testing.assert_array_equal(np.load(tmp_path / "sr.npy"), out)
    with pytest.raises(ValueError, match="INFER.input"):
        mod.inference(tiny_cfg(tmp))
    with pytest.raises(ValueError, match="unknown section format"):
        (tmp_path / "x.txt").write_text("1")
        mod.inference(tiny_cfg(tmp, f"INFER.input={tmp_path}/x.txt", f"INFER.output={tmp_path}/o.npy"))


def test_view_draws_synthetic_and_field_figures(trained, tmp_path):
    mod, tmp, _ = trained
    field = tmp_path / "field"
    field.mkdir()
    np.random.default_rng(2).standard_normal((30, 24)).astype("<f4").tofile(field / "small_30x24.dat")
    z = np.linspace(800, 1000, 40)
    np.savez(tmp_path / "marm.npz", model=np.linspace(1.8, 4.0, 40)[:, None] * np.ones((40, 20)), z=z,
             x=np.arange(20.0))
    cfg = tiny_cfg(tmp, f"VIEW.field_dir={field}", f"VIEW.marmousi={tmp_path}/marm.npz", "INFER.patch=32",
                   "INFER.overlap=8")
    mod.sample(cfg)
    mod.view(cfg)
    for name in ("synthetic.png", "field.png"):
        assert os.path.getsize(os.path.join(cfg.output_dir, "figures", name)) > 10000
    sec = mod.marmousi_section(f"{tmp_path}/marm.npz", 25.0, 0.002)
    assert sec.shape == (40, 20) and np.abs(sec).max() > 0
