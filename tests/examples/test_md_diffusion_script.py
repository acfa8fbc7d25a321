"""The built modes of examples/md_diffusion/MDDiffusion.py on a tiny configuration (train, sample, eval)."""
import json
import os

import numpy as np
import pytest

from ppsci_ext.data.ava.elastic_models import marmousi_section
from ppsci_ext.data.sr import degradations as dg
from ppsci_ext.diffusion import SRPipeline
from ppsci_ext.testing.examples import compose_config
from ppsci_ext.train.checkpoint import load_checkpoint
from ppsci_ext.testing.examples import load_example


def load_script():
    return load_example("md_diffusion", "MDDiffusion")


def tiny_cfg(tmp, *extra):
    over = [f"output_dir={tmp}/out", f"DATA.root={tmp}/data", "DATA.n_pairs=20", "DATA.lr_shape=[32,32]",
            "DATA.hr_shape=[64,64]", "DATA.patch=32", "MODEL.base_channels=8", "MODEL.channel_mults=[1,2]",
            "TRAIN.iters=4", "TRAIN.batch_size=2", "TRAIN.nprocs=1", "TRAIN.save_every=2", "DIFFUSION.sample_steps=3",
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
        assert [r["step"] for r in json.load(open(os.path.join(tmp, "out", kind, "history.json")))] == [1, 2, 3, 4]


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
    pipe = SRPipeline.from_config(model, "diffusion", cfg)
    np.testing.assert_array_equal(pipe.predict_sections(lr)[0], pipe.predict_sections(lr)[0])


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
    for nprocs in (1, 3):  # the tiles in this process, or shared by three: the same section (auto: the cores)
        again = mod.inference(tiny_cfg(tmp, f"INFER.input={src}", f"INFER.output={tmp_path}/sr{nprocs}.npy",
                                       "INFER.patch=32", "INFER.overlap=8", f"INFER.nprocs={nprocs}"))
        np.testing.assert_array_equal(again, out)
    with pytest.raises(ValueError, match="INFER.input"):
        mod.inference(tiny_cfg(tmp))
    with pytest.raises(ValueError, match="unknown section format"):
        (tmp_path / "x.txt").write_text("1")
        mod.inference(tiny_cfg(tmp, f"INFER.input={tmp_path}/x.txt", f"INFER.output={tmp_path}/o.npy"))


@pytest.mark.parametrize("kind", ["supervised", "diffusion"])
def test_infer_output_is_consistent_with_its_input_and_warns_when_it_was_not(trained, tmp_path, monkeypatch, kind):
    """SAMPLING.degradation names how the input was made: the output degraded by it is the input (noise_level 0:
    exactly, to float32), on any size and across tiles; the 4-step network's own output did not explain its input,
    which the run says in a warning naming the operator and the key to set."""
    mod, tmp, _ = trained
    seen = []
    monkeypatch.setattr(mod.logger, "warning", lambda msg, *a: seen.append(msg))
    truth = np.random.default_rng(2).standard_normal((44, 36))
    lr = dg.apply(truth, "area").astype("<f4")
    np.save(tmp_path / "lr.npy", lr)
    over = [f"MODEL.kind={kind}", f"INFER.input={tmp_path}/lr.npy", "INFER.patch=32", "INFER.overlap=8",
            "SAMPLING.degradation=area", "SAMPLING.noise_level=0"]
    out = mod.inference(tiny_cfg(tmp, *over, f"INFER.output={tmp_path}/sr_{kind}.npy"))
    np.testing.assert_allclose(dg.apply(out, "area"), lr, atol=1e-5 * np.abs(lr).max())
    assert len(seen) == 1 and "degraded by 'area'" in seen[0] and "SAMPLING.degradation" in seen[0]
    plain = mod.inference(tiny_cfg(tmp, *over[:-2], f"INFER.output={tmp_path}/plain_{kind}.npy",
                                   "SAMPLING.degradation=none"))
    assert len(seen) == 1 and np.abs(dg.apply(plain, "area") - lr).max() > 0.1 * np.abs(lr).max()


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
    sec = marmousi_section(f"{tmp_path}/marm.npz", 25.0, 0.002)
    assert sec.shape == (40, 20) and np.abs(sec).max() > 0


def test_3d_volumes_train_sample_eval_and_infer(tmp_path):
    """MODEL.spatial_dims=3: synthetic volume pairs, cubic patches, Conv3D, scores and tiled inference."""
    mod = load_script()
    over = ["MODEL.spatial_dims=3", "DATA.lr_shape=[8,8,8]", "DATA.hr_shape=[16,16,16]", "DATA.patch=8",
            "DATA.n_pairs=10", "INFER.patch=8", "INFER.overlap=2", "DATA.degrade=null"]
    cfg = tiny_cfg(tmp_path, *over)
    hist = mod.train(cfg)
    assert len(hist) == 4 and all(np.isfinite(h["loss"]) for h in hist)
    assert os.path.getsize(os.path.join(tmp_path, "data", "sx", "0000.dat")) == 16 ** 3 * 4
    mod.sample(cfg)
    rows = mod.evaluate(cfg)
    assert set(rows) == {"bicubic", "diffusion"} and all(np.isfinite(r["SSIM"]) for r in rows.values())
    vol = np.random.default_rng(0).standard_normal((9, 12, 10)).astype(np.float32)
    np.save(tmp_path / "vol.npy", vol)
    out = mod.inference(tiny_cfg(tmp_path, *over, f"INFER.input={tmp_path}/vol.npy",
                                 f"INFER.output={tmp_path}/sr.npy"))
    assert out.shape == (18, 24, 20) and np.isfinite(out).all()
    with pytest.raises(ValueError, match="DATA.lr_shape and DATA.hr_shape need 3 sizes"):
        mod.train(tiny_cfg(tmp_path, "MODEL.spatial_dims=3"))
    with pytest.raises(ValueError, match=r"for volumes \(lr_shape \[8, 8, 8\]\) set DATA.degrade=null"):
        mod.train(tiny_cfg(tmp_path, *over[:-1], "output_dir=" + str(tmp_path / "other")))


def test_paper_config_composes_and_builds():
    cfg = compose_config("md_diffusion_paper", [])
    m, t = cfg.MODEL, cfg.TRAIN
    assert (m.spatial_dims, m.base_channels, list(m.channel_mults)) == (3, 64, [1, 2, 4, 8, 8])
    assert (t.batch_size, t.iters, t.lr, cfg.DATA.patch) == (8, 400000, 1e-4, 64)
    assert cfg.DIFFUSION.n_train_steps == 1000 and cfg.DATA.synthetic.seed == 2024  # the rest is inherited
    mod = load_script()
    assert mod.ndim(cfg) == 3
    net = mod.build_model(cfg)
    n = sum(int(np.prod(p.shape)) for p in net.parameters())
    assert n > 50_000_000, n  # 3x3x3 kernels at widths 64..512


def test_checkpoint_keeps_a_weight_average_used_for_sampling(trained):
    mod, tmp, _ = trained
    cfg = tiny_cfg(tmp)
    state = load_checkpoint(mod.SPEC.checkpoint(cfg.output_dir, "diffusion"))
    state["model"] = state["nets"]["model"]
    assert set(state["ema"]) - {"n_avg"} == set(state["model"])
    model = mod.load_model(cfg, "diffusion")
    got = {k: v.numpy() for k, v in model.state_dict().items()}
    assert all(np.array_equal(got[k], np.asarray(state["ema"][k])) for k in got)
    assert any(not np.array_equal(np.asarray(state["ema"][k]), np.asarray(state["model"][k])) for k in got)
    # off: the checkpoint has no average and sampling uses the last weights
    mod.train(tiny_cfg(tmp, "TRAIN.ema_decay=null", "MODEL.kind=supervised", "TRAIN.iters=2",
                       f"output_dir={tmp}/noema"))
    assert "ema" not in load_checkpoint(mod.SPEC.checkpoint(f"{tmp}/noema", "supervised"))


def test_n_samples_averages_samples_of_consecutive_seeds(trained):
    mod, tmp, _ = trained
    model = mod.load_model(tiny_cfg(tmp), "diffusion")
    cond = np.random.default_rng(0).standard_normal((2, 32, 32)).astype(np.float32)
    one = [SRPipeline.from_config(model, "diffusion", tiny_cfg(tmp, f"seed={s}")).predict(cond) for s in (42, 43)]
    two = SRPipeline.from_config(model, "diffusion", tiny_cfg(tmp, "seed=42", "SAMPLING.n_samples=2")).predict(cond)
    np.testing.assert_allclose(two, (one[0] + one[1]) / 2, atol=1e-5)
    assert not np.allclose(one[0], one[1])


def test_ensemble_mean_and_spread_in_sample_eval_and_infer(trained, tmp_path):
    """SAMPLING.n_samples=3 with eta > 0: sample writes the draws' mean (as the averaging sampler gives it) and
    their standard deviation; eval scores spectra for every method and the spread against the error for
    diffusion; infer writes <output>_std.npy next to the mean."""
    mod, tmp, _ = trained
    over = ("SAMPLING.n_samples=3", "DIFFUSION.eta=1.0", f"EVAL.pred_dir={tmp_path}/pred")
    cfg = tiny_cfg(tmp, *over)
    mod.sample(cfg)
    split = json.load(open(os.path.join(tmp, "out", "split.json")))
    stem = split["test"][0]
    std = np.fromfile(os.path.join(cfg.EVAL.pred_dir, "diffusion", f"{stem}_std.dat"), np.float32)
    assert std.size == 64 * 64 and std.min() >= 0 and std.max() > 0
    assert not os.path.exists(os.path.join(cfg.EVAL.pred_dir, "supervised", f"{stem}_std.dat"))
    model = mod.load_model(cfg, "diffusion")
    cond = np.random.default_rng(0).standard_normal((2, 32, 32)).astype(np.float32)
    pipe = SRPipeline.from_config(model, "diffusion", cfg)
    draws = pipe.predict(cond, ensemble=True)
    assert draws.shape == (2, 3, 32, 32) and np.abs(draws[:, 0] - draws[:, 1]).max() > 1e-3
    np.testing.assert_allclose(draws.mean(1), pipe.predict(cond), atol=1e-5)
    rows = mod.evaluate(cfg)
    for name in ("bicubic", "supervised", "diffusion"):
        assert {"spec_ratio_75_100", "log_spectral_distance"} <= set(rows[name])
    assert {"spearman_std_error", "coverage_2std", "mean_std"} <= set(rows["diffusion"])
    assert "coverage_2std" not in rows["supervised"]
    section = np.random.default_rng(1).standard_normal((40, 36)).astype(np.float32)
    np.save(tmp_path / "in.npy", section)
    out = mod.inference(tiny_cfg(tmp, *over, f"INFER.input={tmp_path}/in.npy", f"INFER.output={tmp_path}/sr.npy",
                                 "INFER.patch=32", "INFER.overlap=8"))
    spread = np.load(tmp_path / "sr_std.npy")
    assert out.shape == spread.shape == (80, 72) and spread.min() >= 0 and spread.max() > 0
    np.testing.assert_array_equal(np.load(tmp_path / "sr.npy"), out)


@pytest.mark.timeout(120)
def test_checkpoint_of_another_network_config_is_refused(trained):
    mod, tmp, _ = trained
    for over, msg in (("MODEL.base_channels=16", r"MODEL.base_channels: 8 in the checkpoint, 16 now"),
                      ("MODEL.channel_mults=[1,2,4]", r"MODEL.channel_mults: \[1, 2\] in the checkpoint, \[1, 2, 4\]"),
                      ("DIFFUSION.prediction_type=v", r"DIFFUSION.prediction_type: 'eps' in the checkpoint, 'v' now")):
        with pytest.raises(ValueError, match=msg):
            mod.sample(tiny_cfg(tmp, over))
    with pytest.raises(ValueError, match=r"MODEL.base_channels: 8 in the checkpoint, 16 now"):
        mod.train(tiny_cfg(tmp, "MODEL.base_channels=16"))  # resuming with other sizes
