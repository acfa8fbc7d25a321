"""Every mode of examples/gdrnn/GDRNN.py on a tiny configuration, and its errors."""
import json
import os

import numpy as np
import pytest

from ppsci_ext.outputs import MARKER
from ppsci_ext.data.ava.reader import read_wavelet
from ppsci_ext.testing.examples import compose_config
from ppsci_ext.testing.examples import load_example


def load_script():
    return load_example("gdrnn", "GDRNN")


def tiny_cfg(tmp, *extra):
    over = [f"output_dir={tmp}/out", f"DATA.out_dir={tmp}/data", "DATA.synthetic.n_samples=48",
            "DATA.synthetic.n_traces=24", "DATA.synthetic.n_layers_range=[8,12]", "DATA.wells=[4,18]", "DATA.n_aug=4",
            "MODEL.dims=[8,16]", "MODEL.n_steps=3", "TRAIN.epochs=2", "TRAIN.nprocs=1", "TRAIN.batch_size=8",
            "TRAIN.well_batch_size=4", "TRAIN.schedule.start_steps=2", "TRAIN.schedule.grow_epochs=2",
            "EVAL.n_iter_long=4", "EVAL.blind_trace=10", "EVAL.well_margin=1", "num_threads=1", *extra]
    return compose_config("gdrnn", over)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gdrnn")
    mod, cfg = load_script(), tiny_cfg(tmp)
    os.makedirs(cfg.output_dir, exist_ok=True)
    history = mod.train(cfg)
    orig = tiny_cfg(tmp, "MODEL.kind=original")
    mod.train(orig)
    return mod, cfg, tmp, history


def test_train_builds_data_follows_curriculum_and_checkpoints(trained):
    mod, cfg, tmp, history = trained
    assert sorted(os.listdir(cfg.DATA.out_dir)) == [MARKER, "section.npz", "train_labelled.npz", "truth.npz"]
    assert [h["n_steps"] for h in history] == [2, 3]               # curriculum: 2 -> MODEL.n_steps
    assert [h["snr_db"] for h in history] == [20.0, 5.0]          # noise injection falls 20 -> 5 dB
    assert [h["lambda2"] for h in history] == pytest.approx([1.0, 0.3])
    assert {"data", "tv", "model"} <= set(history[0])
    for kind in ("gdrnn", "original"):
        assert os.listdir(os.path.join(cfg.output_dir, kind)) == ["checkpoint.pdparams", "history.json"] or \
            sorted(os.listdir(os.path.join(cfg.output_dir, kind))) == ["checkpoint.pdparams", "history.json"]


def test_rerun_resumes_and_continues(trained):
    mod, cfg, tmp, history = trained
    more = mod.train(tiny_cfg(tmp, "TRAIN.epochs=3"))
    assert [h["epoch"] for h in more] == [1, 2, 3]
    assert more[:2] == history                                      # the first two epochs were not redone


def test_eval_scores_every_method_and_writes_figures(trained):
    mod, cfg, tmp, _ = trained
    out = mod.evaluate(cfg)
    saved = json.load(open(os.path.join(cfg.output_dir, "eval_metrics.json")))
    assert set(saved["methods"]) == {"gdrnn", "original", "gd", "adam", "gd_long", "adam_long", "dls", "background"}
    for row in saved["methods"].values():
        for p in ("vp", "vs", "rho"):
            for k in ("PCC", "R2", "MAE", "SSIM"):
                assert np.isfinite(row[f"{p}_{k}"])
        assert np.isfinite(row["data_misfit"])
    # traces within the margin of a well are not scored
    assert saved["scored_traces"] == 24 - 2 * 3
    assert len(saved["misfit_curves"]["gdrnn"]) == cfg.MODEL.n_steps + 1
    assert len(saved["misfit_curves"]["gd"]) == cfg.EVAL.n_iter_long + 1
    for name in ("section_vp.png", "section_vs.png", "section_rho.png", "well_logs.png", "misfit_curves.png"):
        assert os.path.isfile(os.path.join(cfg.output_dir, "figures", name))
    assert out["methods"]["gdrnn"]["vp_PCC"] == saved["methods"]["gdrnn"]["vp_PCC"]


def test_infer_inverts_a_physics_driven_file(trained):
    mod, cfg, tmp, _ = trained
    out_path = os.path.join(tmp, "inv.npz")
    mod.inference(tiny_cfg(tmp, f"INFER.input={tmp}/data/section.npz", f"INFER.output={out_path}",
                           "INFER.batch_size=5"))
    res = np.load(out_path)
    assert sorted(res.files) == ["rho", "vp", "vs"] and res["vp"].shape == (48, 24)
    # batching does not change the answer
    mod.inference(tiny_cfg(tmp, f"INFER.input={tmp}/data/section.npz", f"INFER.output={out_path}.b.npz",
                           "INFER.batch_size=24"))
    np.testing.assert_allclose(np.load(f"{out_path}.b.npz")["vp"], res["vp"], rtol=1e-3)  # float32 sums


@pytest.mark.timeout(180)
def test_eval_and_infer_batches_shared_by_two_processes_equal_one_process_and_the_whole_section(trained):
    mod, cfg, tmp, _ = trained
    paths = mod.data_paths(cfg)
    stacks, m_back, _ = mod.AVADataset(paths["section"], label_keys=()).arrays()
    runs = {name: mod.run_methods(tiny_cfg(tmp, *over), paths, stacks, m_back, ["gdrnn", "original"])
            for name, over in (("one", ["EVAL.nprocs=1", "EVAL.batch_size=7"]),
                               ("two", ["EVAL.nprocs=2", "EVAL.batch_size=7"]),
                               ("whole", ["EVAL.nprocs=1", "EVAL.batch_size=24"]))}
    (one, one_curves, one_guard), (two, two_curves, two_guard) = runs["one"], runs["two"]
    assert set(one) == set(two) == {"gdrnn", "original", "gd", "adam", "gd_long", "adam_long", "dls"}
    assert one_guard == two_guard and one_guard["gdrnn"]["traces"] == len(stacks)
    whole, whole_curves, _ = runs["whole"]
    for name in one:  # the same batches in another process; and every method but dls works trace by trace
        np.testing.assert_allclose(two[name], one[name], rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(whole[name], one[name], rtol=1e-4, err_msg=name)  # float32 sums of other sizes
    assert set(one_curves) == {"gd", "adam", "gdrnn"}
    for name in one_curves:  # each batch's relative misfit, weighted by its data power: the section's
        np.testing.assert_allclose(two_curves[name], one_curves[name], rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(whole_curves[name], one_curves[name], rtol=1e-4, err_msg=name)
    outs = []
    for n in (1, 2):
        outs.append(os.path.join(tmp, f"inv_procs{n}.npz"))
        mod.inference(tiny_cfg(tmp, f"INFER.input={tmp}/data/section.npz", f"INFER.output={outs[-1]}",
                               "INFER.batch_size=5", f"INFER.nprocs={n}"))
    for p in ("vp", "vs", "rho"):
        np.testing.assert_allclose(np.load(outs[1])[p], np.load(outs[0])[p], rtol=1e-5)


def test_infer_errors_name_the_problem(trained, tmp_path):
    mod, cfg, tmp, _ = trained
    with pytest.raises(ValueError, match="INFER.input"):
        mod.inference(tiny_cfg(tmp))
    bad = tmp_path / "bad.npz"
    data = dict(np.load(os.path.join(tmp, "data", "section.npz")))
    data.pop("seis_m")
    np.savez(bad, **data)
    with pytest.raises(KeyError, match="seis_m"):
        mod.inference(tiny_cfg(tmp, f"INFER.input={bad}", f"INFER.output={tmp_path}/o.npz"))
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        mod.inference(tiny_cfg(tmp, f"INFER.input={tmp}/data/section.npz", f"INFER.output={tmp_path}/o.npz",
                               f"output_dir={tmp_path}/none"))


def test_unknown_mode_and_kind_are_rejected(trained):
    mod, cfg, tmp, _ = trained
    with pytest.raises(ValueError, match="MODEL.kind"):
        mod.build_model(tiny_cfg(tmp, "MODEL.kind=lstm"), None)
    with pytest.raises(ValueError, match="DATA.wells"):
        mod.prepare_data(tiny_cfg(tmp, f"DATA.out_dir={tmp}/d2", "DATA.wells=[3,99]"))


def test_user_wavelet_replaces_the_ricker(tmp_path):
    mod = load_script()
    w = np.array([-0.2, 0.4, 1.0, 0.6, -0.1])  # peak (the centre) at index 2
    np.save(tmp_path / "w.npy", w)
    cfg = tiny_cfg(tmp_path, f"DATA.wavelet_file={tmp_path}/w.npy")
    paths = mod.prepare_data(cfg)
    wavemat = mod.read_ava_file(paths["section"])["wavemat"]
    np.testing.assert_allclose(wavemat[8:13, 10], w, atol=0)     # column j: the wavelet centred on sample j
    np.save(tmp_path / "w2.npy", np.ones((3, 3)))
    with pytest.raises(ValueError, match="1-D wavelet"):
        read_wavelet(tiny_cfg(tmp_path, f"DATA.wavelet_file={tmp_path}/w2.npy").DATA.wavelet_file)


def test_mat_files_train_like_npz(tmp_path):
    """The original code's .mat layout goes through the same pipeline."""
    mod = load_script()
    cfg = tiny_cfg(tmp_path, "DATA.format=mat", "TRAIN.epochs=1")
    os.makedirs(cfg.output_dir, exist_ok=True)
    history = mod.train(cfg)
    assert sorted(os.listdir(cfg.DATA.out_dir)) == [MARKER, "section.mat", "train_labelled.mat", "truth.npz"]
    assert len(history) == 1 and np.isfinite(history[0]["data"])


@pytest.mark.timeout(120)
def test_checkpoint_of_another_network_config_is_refused(trained):
    mod, cfg, tmp, _ = trained
    for over, msg in (("MODEL.adaptive_step=true", r"MODEL.adaptive_step: False in the checkpoint, True now"),
                      ("MODEL.n_steps=5", r"MODEL.n_steps: 3 in the checkpoint, 5 now"),
                      ("MODEL.dims=[8,32]", r"MODEL.dims: \[8, 16\] in the checkpoint, \[8, 32\] now")):
        with pytest.raises(ValueError, match=msg):
            mod.evaluate(tiny_cfg(tmp, over))
    with pytest.raises(ValueError, match=r"MODEL.dims: \[8, 16\] in the checkpoint, \[8, 32\] now"):
        mod.train(tiny_cfg(tmp, "MODEL.dims=[8,32]"))  # resuming with other sizes


FAMILY = ["DATA.source=family", "DATA.family.n_sections=2", "DATA.synthetic.n_traces=20"]


@pytest.mark.timeout(300)
def test_family_training_then_guarded_eval_and_fine_tuning(tmp_path):
    """Train on a family (wells drawn per section), evaluate with the guard, then fine-tune on one user
    section starting from the family model (the transductive workflow)."""
    mod = load_script()
    fam = tiny_cfg(tmp_path / "family", *FAMILY)
    mod.train(fam)
    truth = np.load(os.path.join(fam.DATA.out_dir, "truth.npz"))
    assert truth["vp"].shape == (48, 40) and len(truth["well_traces"]) == 4  # 2 sections x 2 wells
    out = mod.evaluate(fam)
    assert out["wells"] == truth["well_traces"].tolist()
    g = out["guard"]["gdrnn"]
    assert g["traces"] == 40 and g["steps"] == 40 * 3 and 0 <= g["steps_fell_back"] <= g["steps"]
    family_ckpt = os.path.join(fam.output_dir, "gdrnn", "checkpoint.pdparams")
    user = tiny_cfg(tmp_path / "user", f"TRAIN.init_from={family_ckpt}", "TRAIN.epochs=1")
    history = mod.train(user)
    assert len(history) == 1
    log = open(os.path.join(user.output_dir, "train.log")).read()
    assert f"starting from the networks of {family_ckpt}" in log
    with pytest.raises(ValueError, match=r"MODEL.dims: \[8, 16\] in the checkpoint, \[8, 32\] now"):
        mod.train(tiny_cfg(tmp_path / "user2", f"TRAIN.init_from={family_ckpt}", "MODEL.dims=[8,32]"))


@pytest.mark.timeout(300)
def test_family_epochs_draw_new_sections_and_resume_exactly(tmp_path, monkeypatch):
    """DATA.family.redraw: epoch e > 0 trains on the family's draw e (new sections, wells and noise), built into a
    temporary folder; killed after epoch 1 and resumed, the run ends on the same weights as one uninterrupted."""
    from ppsci_ext.train.checkpoint import load_checkpoint

    mod = load_script()
    drawn = []
    build = mod.build_data
    monkeypatch.setattr(mod, "build_data", lambda cfg, out=None, draw=0: (drawn.append(draw), build(cfg, out, draw)))
    straight = tiny_cfg(tmp_path / "a", *FAMILY, "TRAIN.epochs=3")
    mod.train(straight)
    assert drawn == [0, 1, 2]
    assert sorted(os.listdir(straight.DATA.out_dir)) == [MARKER, "section.npz", "train_labelled.npz", "truth.npz"]
    save = mod.UnrolledTrainer.save

    def save_then_die(trainer):
        save(trainer)
        if trainer.epoch == 2:
            raise KeyboardInterrupt("killed after the checkpoint of epoch 2")

    monkeypatch.setattr(mod.UnrolledTrainer, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        mod.train(tiny_cfg(tmp_path / "b", *FAMILY, "TRAIN.epochs=3"))
    monkeypatch.setattr(mod.UnrolledTrainer, "save", save)
    drawn.clear()
    mod.train(tiny_cfg(tmp_path / "b", *FAMILY, "TRAIN.epochs=3"))  # resumes at epoch 2
    assert drawn == [2]  # the files of draw 0 exist already; only the epoch it resumes at is drawn
    same = mod.train(tiny_cfg(tmp_path / "c", *FAMILY, "TRAIN.epochs=3", "DATA.family.redraw=false"))
    weights = [load_checkpoint(str(tmp_path / d / "out" / "gdrnn" / "checkpoint.pdparams"))["nets"]["model"]
               for d in "abc"]
    assert all(np.array_equal(weights[0][k].numpy(), weights[1][k].numpy()) for k in weights[0])
    assert not all(np.array_equal(weights[0][k].numpy(), weights[2][k].numpy()) for k in weights[0])
    assert len(same) == 3


@pytest.mark.timeout(120)
def test_guard_off_reports_nothing_and_guard_on_never_raises_the_misfit(trained):
    mod, cfg, tmp, _ = trained
    paths = mod.data_paths(cfg)
    ds = mod.AVADataset(paths["section"], label_keys=())
    stacks, m_back, _ = ds.arrays()
    op = mod.build_forward_op(cfg, paths["section"])
    off = mod.load_model(tiny_cfg(tmp, "MODEL.guard=false"), "gdrnn", op)
    assert mod.invert(off, stacks, m_back, 8)[1] is None
    on = mod.load_model(cfg, "gdrnn", op)
    m, report = mod.invert(on, stacks, m_back, 8)
    assert report["traces"] == len(stacks) and report["steps"] == len(stacks) * cfg.MODEL.n_steps
    import paddle
    d = paddle.to_tensor(stacks)
    with paddle.no_grad():
        per_trace = lambda x: (op(paddle.to_tensor(x)) - d).square().sum(axis=[1, 2]).numpy()  # noqa: E731
    assert (per_trace(m) <= per_trace(m_back) * (1 + 1e-5)).all()  # no trace ends above its starting misfit
