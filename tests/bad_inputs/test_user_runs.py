"""What a new user meets on a fresh clone, case by case: each example's own command (its ``run``, as ``main`` runs
it after Hydra composes the config) on files and settings that are wrong, or that belong to the user.

Every case ends one of three ways, and the test says which: a clear error (exit status 1, one message naming the
file or key, what was expected and what was found, and what to do; no traceback), a warning that says what to
change, or a refusal that leaves the user's files exactly as they were (bytes and modification times).
"""
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ppsci_ext.outputs import MARKER
from ppsci_ext.testing.examples import compose_config
from ppsci_ext.testing.examples import load_example
from tests.conftest import snapshot
from tests.conftest import write_fwi_files

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRETRAINED = os.path.join(ROOT, "pretrained")
VG_TINY = ["MODELLING.nt=200", "DATA.sample_ratio=4", "MODEL.generator.dims=[4,8,8,16,16]",
           "MODEL.critic.dims=[4,4,8,8]", "TRAIN.epochs=1", "TRAIN.batch_size=2", "TRAIN.nprocs=1",
           "GENERATE.n_train=8", "GENERATE.n_test=8", "GENERATE.file_size=8", "num_threads=1"]
MD_TINY = ["DATA.n_pairs=10", "DATA.lr_shape=[16,16]", "DATA.hr_shape=[32,32]", "DATA.patch=16",
           "MODEL.base_channels=8", "MODEL.channel_mults=[1,2]", "TRAIN.iters=1", "TRAIN.batch_size=2",
           "EVAL.n_items=1", "num_threads=1"]
SCRIPTS = {"velocitygan": ("velocitygan", "VelocityGAN"), "gdrnn": ("gdrnn", "GDRNN"),
           "md_diffusion": ("md_diffusion", "MDDiffusion")}


def run(capsys, config, overrides):
    """``<example>.run(cfg)`` in this process -> (exit status, everything printed)."""
    folder, script = SCRIPTS[config.split("_openfwi")[0]]
    cfg = compose_config(config, list(overrides))
    try:
        load_example(folder, script).run(cfg)
        code = 0
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out + out.err


def failed(capsys, config, overrides, *expected):
    """Run; assert exit status 1, no traceback, and every ``expected`` text in the message. Returns the output."""
    code, out = run(capsys, config, overrides)
    assert code == 1, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    for text in expected:
        assert text in out, f"{text!r} not in:\n{out[-3000:]}"
    return out


def user_fwi_folder(folder, n=2):
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, "data0.npy"), np.zeros((n, 5, 200, 70), np.float32))
    np.save(os.path.join(folder, "model0.npy"), np.full((n, 1, 70, 70), 2500.0, np.float32))
    return snapshot(folder)


def gathers(path, shape=(2, 5, 1000, 70), scale=0.05, seed=0):
    np.save(path, (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32))
    return str(path)


# ----------------------------------------------------------- a user's files are never changed
@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["generate", "train"])
def test_generating_into_a_folder_of_your_own_is_refused(capsys, tmp_path, mode):
    """GENERATE.out_dir at a folder holding the user's data0.npy / model0.npy (no train.txt): refused, unchanged."""
    before = user_fwi_folder(tmp_path / "mine")
    failed(capsys, "velocitygan", [f"mode={mode}", f"GENERATE.out_dir={tmp_path}/mine", f"output_dir={tmp_path}/out",
                                   *VG_TINY],
           f"GENERATE.out_dir={tmp_path}/mine holds files the project did not write (data0.npy, model0.npy",
           "nothing is generated into a folder of your own")
    assert snapshot(tmp_path / "mine") == before


@pytest.mark.timeout(60)
def test_generating_into_an_unmarked_folder_with_other_files_adds_nothing(capsys, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("mine")
    failed(capsys, "velocitygan", ["mode=generate", f"GENERATE.out_dir={tmp_path}/notes",
                                   f"output_dir={tmp_path}/out", *VG_TINY], "readme.txt")
    assert os.listdir(tmp_path / "notes") == ["readme.txt"]


@pytest.mark.timeout(60)
def test_a_marked_folder_of_other_settings_is_refused_before_any_modelling(capsys, tmp_path):
    code, _ = run(capsys, "velocitygan", ["mode=generate", f"GENERATE.out_dir={tmp_path}/gen",
                                          f"output_dir={tmp_path}/o", *VG_TINY])
    assert code == 0 and os.path.isfile(tmp_path / "gen" / MARKER)
    before = snapshot(tmp_path / "gen")
    failed(capsys, "velocitygan", ["mode=generate", f"GENERATE.out_dir={tmp_path}/gen", f"output_dir={tmp_path}/o",
                                   *VG_TINY, "GENERATE.seed=7"],
           "holds data generated with other settings", "seed: 2024 there, 7 now")
    assert snapshot(tmp_path / "gen") == before


@pytest.mark.timeout(120)
@pytest.mark.parametrize("config, extra, make_input", [
    ("velocitygan", ["mode=infer", f"INFER.pretrained_model_path={PRETRAINED}/velocitygan.pdparams"], "gathers"),
    ("velocitygan", ["mode=forward", "MODELLING.nt=200"], "models"),
    ("gdrnn", ["mode=infer", f"INFER.pretrained_model_path={PRETRAINED}/gdrnn_family"], "ava"),
    ("md_diffusion", ["mode=infer", f"INFER.pretrained_model_path={PRETRAINED}/md_diffusion"], "section"),
])
@pytest.mark.parametrize("alias", ["same path", "symbolic link", "hard link"])
def test_an_output_equal_to_the_input_is_refused(capsys, tmp_path, config, extra, make_input, alias):
    """INFER.output naming INFER.input (by its path, through a link, or a second name of the same inode)."""
    src = tmp_path / "in" / ("x.npz" if make_input == "ava" else "x.npy")
    src.parent.mkdir()
    if make_input == "models":
        np.save(src, np.full((1, 70, 70), 2500.0, np.float32))
    else:
        np.save(src, np.zeros((1, 2), np.float32)) if make_input != "ava" else src.write_bytes(b"PK\x03\x04")
    out = {"same path": src, "symbolic link": tmp_path / "link.npy", "hard link": tmp_path / "hard.npy"}[alias]
    if alias == "symbolic link":
        os.symlink(src, out)
    elif alias == "hard link":
        os.link(src, out)
    before = snapshot(tmp_path / "in")
    failed(capsys, config, [*extra, f"INFER.input={src}", f"INFER.output={out}", f"output_dir={tmp_path}/o"],
           f"INFER.output={out} is the same file as INFER.input={src}")
    assert snapshot(tmp_path / "in") == before


@pytest.mark.timeout(60)
def test_an_existing_output_is_replaced_only_when_asked(capsys, tmp_path):
    models, data = tmp_path / "m.npy", tmp_path / "d.npy"
    np.save(models, np.full((1, 70, 70), 2500.0, np.float32))
    data.write_bytes(b"mine")
    over = ["mode=forward", "MODELLING.nt=200", f"INFER.input={models}", f"INFER.output={data}",
            f"output_dir={tmp_path}/o"]
    failed(capsys, "velocitygan", over, f"INFER.output={data} exists and is not replaced", "INFER.overwrite=true")
    assert data.read_bytes() == b"mine"
    code, out = run(capsys, "velocitygan", over + ["INFER.overwrite=true"])
    assert code == 0 and np.load(data).shape == (1, 5, 200, 70), out[-2000:]


@pytest.mark.timeout(60)
def test_outputs_inside_a_data_folder_are_refused(capsys, tmp_path):
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "m.npy", np.full((1, 70, 70), 2500.0, np.float32))
    failed(capsys, "velocitygan", ["mode=forward", f"GENERATE.out_dir={tmp_path}/data", f"INFER.input={tmp_path}/m.npy",
                                   f"INFER.output={tmp_path}/data/d.npy", f"output_dir={tmp_path}/o"],
           f"INFER.output={tmp_path}/data/d.npy lies inside the data folder GENERATE.out_dir={tmp_path}/data")
    failed(capsys, "md_diffusion", ["mode=eval", f"DATA.root={tmp_path}/data", f"output_dir={tmp_path}/data/run"],
           f"output_dir={tmp_path}/data/run lies inside the data folder DATA.root={tmp_path}/data")
    assert os.listdir(tmp_path / "data") == []


@pytest.mark.timeout(60)
def test_an_unwritable_output_dir_is_named_before_any_work(capsys, tmp_path, monkeypatch):
    """(as root a chmod does not stop writes, so the check's answer is stood in for)"""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p).startswith(str(tmp_path / "ro"))
                        else real(p, mode, **kw))
    (tmp_path / "ro").mkdir()
    failed(capsys, "gdrnn", ["mode=eval", f"output_dir={tmp_path}/ro/out"],
           f"output_dir={tmp_path}/ro/out: {tmp_path}/ro is not writable by this user")
    (tmp_path / "file").write_text("x")
    failed(capsys, "gdrnn", ["mode=eval", f"output_dir={tmp_path}/file/out"], "is a file, so no folder can be made")


# ------------------------------------------------------------------ damaged and foreign inputs
def _damaged(kind, path):
    good = path.with_name("good" + path.suffix)
    if path.suffix == ".npy":
        np.save(good, np.zeros((2, 5, 1000, 70), np.float32))
    elif path.suffix == ".mat":
        import scipy.io
        scipy.io.savemat(good, {"a": np.ones(1000)})
    else:
        np.savez(good, a=np.ones(100))
    whole = good.read_bytes()
    path.write_bytes({"empty": b"", "truncated": whole[:len(whole) // 2], "text": b"hello, world\n",
                      "object": None}[kind] or b"")
    if kind == "object":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return path


WEIGHTS = {"velocitygan": "velocitygan.pdparams", "gdrnn": "gdrnn_family", "md_diffusion": "md_diffusion"}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("config, ext, kind, says", [
    ("velocitygan", ".npy", "empty", "is empty (0 bytes)"), ("velocitygan", ".npy", "truncated", "is truncated"),
    ("velocitygan", ".npy", "text", "is not a .npy file"), ("velocitygan", ".npy", "object", "holds Python objects"),
    ("gdrnn", ".npz", "empty", "is empty (0 bytes)"), ("gdrnn", ".npz", "truncated", "is a damaged or truncated .npz archive"),
    ("gdrnn", ".mat", "truncated", "is not a readable .mat file"), ("gdrnn", ".mat", "text", "is not a readable .mat file"),
    ("md_diffusion", ".npy", "empty", "is empty (0 bytes)"), ("md_diffusion", ".npy", "text", "is not a .npy file"),
    ("md_diffusion", ".npy", "object", "holds Python objects"),
])
def test_infer_names_a_damaged_input(capsys, tmp_path, config, ext, kind, says):
    src = _damaged(kind, tmp_path / f"x{ext}")
    failed(capsys, config, ["mode=infer", f"INFER.input={src}", f"INFER.output={tmp_path}/o{ext}",
                            f"INFER.pretrained_model_path={PRETRAINED}/{WEIGHTS[config]}", f"output_dir={tmp_path}/out"],
           f"{src} {says}")


@pytest.mark.timeout(60)
def test_no_gathers_at_all_is_an_error(capsys, tmp_path):
    src = gathers(tmp_path / "x.npy", shape=(0, 5, 200, 70))
    failed(capsys, "velocitygan", ["mode=infer", f"INFER.input={src}", f"INFER.output={tmp_path}/o.npy",
                                   f"INFER.pretrained_model_path={PRETRAINED}/velocitygan.pdparams",
                                   f"output_dir={tmp_path}/out"], f"{src} (INFER.input): holds no values (shape "
                                                                  f"[0, 5, 200, 70])")


@pytest.mark.timeout(60)
def test_an_annotation_that_is_a_folder_or_binary_is_named(capsys, tmp_path):
    (tmp_path / "annos").mkdir()
    over = ["mode=eval", f"EVAL.pretrained_model_path={PRETRAINED}/velocitygan.pdparams", f"output_dir={tmp_path}/o"]
    failed(capsys, "velocitygan", over + [f"EVAL.anno={tmp_path}/annos"],
           f"annotation file {tmp_path}/annos is a folder; expected a text file")
    gathers(tmp_path / "annos" / "g.npy", shape=(1, 2))
    failed(capsys, "velocitygan", over + [f"EVAL.anno={tmp_path}/annos/g.npy"], "is not UTF-8 text")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("config, weights, says", [
    ("velocitygan", "gdrnn_family/gdrnn.pdparams", "holds weights of another example"),
    ("md_diffusion", "velocitygan.pdparams", "holds weights of another example"),
    ("gdrnn", "md_diffusion", "holds no gdrnn.pdparams or original.pdparams (it holds: diffusion.pdparams, "
                              "supervised.pdparams)"),
])
def test_weights_of_another_example_are_named(capsys, tmp_path, config, weights, says):
    mode = "eval" if config == "gdrnn" else "infer"
    src = gathers(tmp_path / "x.npy", shape=(1, 5, 1000, 70) if config == "velocitygan" else (40, 40))
    failed(capsys, config, [f"mode={mode}", f"{mode.upper() if mode == 'eval' else 'INFER'}.pretrained_model_path="
                            f"{PRETRAINED}/{weights}", f"INFER.input={src}", f"INFER.output={tmp_path}/o.npy",
                            f"output_dir={tmp_path}/out"], says)


@pytest.mark.timeout(60)
def test_a_weights_file_given_to_a_gan_fine_tuning_says_it_holds_no_critic(capsys, tmp_path):
    failed(capsys, "velocitygan", ["mode=train", f"TRAIN.init_from={PRETRAINED}/velocitygan.pdparams",
                                   f"output_dir={tmp_path}/o", f"GENERATE.out_dir={tmp_path}/gen"],
           "holds the networks ['generator'] (a weights file: only what inference loads), not ['critic']",
           "MODEL.gan=false to fine-tune the generator alone")
    assert not os.path.exists(tmp_path / "gen")  # checked before any data is built


# ----------------------------------------------------------------------- settings checked first
@pytest.mark.timeout(60)
@pytest.mark.parametrize("config, setting, says", [
    ("velocitygan", "INFER.batch_size=0", "INFER.batch_size must be a whole number >= 1, found 0"),
    ("velocitygan", "TRAIN.epochs=0", "TRAIN.epochs must be a whole number >= 1, found 0"),
    ("velocitygan", "TRAIN.lr_g=-0.001", "TRAIN.lr_g must be a number > 0, found -0.001"),
    ("velocitygan", "GENERATE.models.vmin=5000", "GENERATE.models.vmin (5000) must be below GENERATE.models.vmax"),
    ("gdrnn", "TRAIN.epochs=0", "TRAIN.epochs must be a whole number >= 1, found 0"),
    ("gdrnn", "EVAL.batch_size=0", "EVAL.batch_size must be a whole number >= 1, found 0"),
    ("gdrnn", "DATA.snr_db=-200", "DATA.snr_db must be null (no noise) or a signal-to-noise ratio >= -10 dB"),
    ("gdrnn", "TRAIN.lr=-1", "TRAIN.lr must be a number > 0, found -1"),
    ("md_diffusion", "TRAIN.iters=0", "TRAIN.iters must be a whole number >= 1, found 0"),
    ("md_diffusion", "TRAIN.iters=-5", "TRAIN.iters must be a whole number >= 1, found -5"),
    ("md_diffusion", "INFER.batch_size=0", "INFER.batch_size must be a whole number >= 1, found 0"),
])
def test_settings_are_checked_before_anything_is_built(capsys, tmp_path, config, setting, says):
    data = {"velocitygan": "GENERATE.out_dir", "gdrnn": "DATA.out_dir", "md_diffusion": "DATA.root"}[config]
    failed(capsys, config, ["mode=train", setting, f"output_dir={tmp_path}/o", f"{data}={tmp_path}/data"], says)
    assert not os.path.exists(tmp_path / "data")
    assert not [p for p in (tmp_path / "o").rglob("*") if p.name in ("checkpoint.pdparams", "history.json")]


# ------------------------------------------------------------------ nothing silent
@pytest.mark.timeout(60)
def test_gdrnn_eval_without_any_weights_stops(capsys, tmp_path):
    failed(capsys, "gdrnn", ["mode=eval", f"output_dir={tmp_path}/o", f"DATA.out_dir={tmp_path}/data"],
           "no trained gdrnn or original network", f"{tmp_path}/o/gdrnn/checkpoint.pdparams",
           "EVAL.pretrained_model_path=pretrained/gdrnn_family")
    assert not os.path.exists(tmp_path / "data")


@pytest.mark.timeout(60)
def test_md_sample_without_weights_and_eval_without_predictions_stop(capsys, tmp_path):
    over = [f"output_dir={tmp_path}/o", f"DATA.root={tmp_path}/data", *MD_TINY]
    failed(capsys, "md_diffusion", ["mode=sample", *over], "no trained diffusion or supervised network",
           "EVAL.pretrained_model_path=pretrained/md_diffusion")
    assert not os.path.exists(tmp_path / "data")
    failed(capsys, "md_diffusion", ["mode=eval", *over], f"no predictions to score in EVAL.pred_dir={tmp_path}/o/pred",
           "run mode=sample first")


@pytest.mark.timeout(120)
def test_gathers_far_louder_than_their_wavelet_allows_get_a_warning(capsys, tmp_path):
    from ppsci_ext.data.ava.reader import read_ava_file
    from ppsci_ext.data.ava.reader import write_ava_file

    mod = load_example("gdrnn", "GDRNN")
    cfg = compose_config("gdrnn", [f"output_dir={tmp_path}/o", f"DATA.out_dir={tmp_path}/data",
                                   "DATA.synthetic.n_traces=8", "DATA.wells=[2,5]", "DATA.n_aug=2"])
    mod.build_data(cfg)
    data = read_ava_file(tmp_path / "data" / "section.npz")
    assert "implies an RMS reflection coefficient" not in capsys.readouterr().out  # the project's own: plausible
    write_ava_file(str(tmp_path / "loud.npz"), {**data, **{k: 100 * data[k] for k in ("seis_s", "seis_m", "seis_l")}})
    code, out = run(capsys, "gdrnn", ["mode=infer", f"INFER.input={tmp_path}/loud.npz", f"INFER.output={tmp_path}/i.npz",
                                      f"INFER.pretrained_model_path={PRETRAINED}/gdrnn_family", f"output_dir={tmp_path}/o"])
    found = re.search(r"loud\.npz: the gathers' RMS amplitude \S+ with this file's wavelet .* implies an RMS reflection "
                      r"coefficient of ([0-9.]+)", out)
    assert code == 0 and found and 1.0 < float(found.group(1)) < 4.0 and "different units or scales" in out, out[-2000:]


@pytest.mark.timeout(60)
def test_training_pairs_whose_hr_is_100x_their_lr_get_a_warning(tmp_path, monkeypatch):
    from ppsci.utils import logger

    from ppsci_ext.data.sr.dataset import SeismicSRDataset
    from ppsci_ext.data.sr.reader import write_dat

    seen = []
    monkeypatch.setattr(logger, "warning", lambda msg, *args: seen.append(msg))
    rng = np.random.default_rng(0)
    for i in range(3):
        hr = rng.standard_normal((16, 16)).astype(np.float32)
        write_dat(tmp_path / "sx" / f"{i}.dat", hr * (100.0 if i == 1 else 1.0))
        write_dat(tmp_path / "nx2" / f"{i}.dat", hr[::2, ::2])
    SeismicSRDataset(str(tmp_path), lr_shape=(8, 8), hr_shape=(16, 16), patch=None)
    out = "".join(seen)
    assert "1 of 3 pairs have a high-resolution section whose RMS amplitude is over 10 times" in out
    assert f"{tmp_path}/sx/1.dat: 10" in out


# ------------------------------------------------------------------ no wasted minutes
def eval_own_files(capsys, tmp_path, config):
    """``mode=eval`` of the shipped VelocityGAN weights on two samples of your own -> the run's printed output,
    after checking it ended well and built no data (GENERATE.out_dir not created)."""
    (tmp_path / "mine").mkdir()
    anno = write_fwi_files(tmp_path / "mine", n_files=1, n=2, shape=(5, 1000, 70))
    code, out = run(capsys, config, ["mode=eval", f"EVAL.anno={anno}", f"GENERATE.out_dir={tmp_path}/gen",
                                     f"EVAL.pretrained_model_path={PRETRAINED}/velocitygan.pdparams",
                                     "EVAL.data_misfit=false", f"output_dir={tmp_path}/o"])
    assert code == 0, out[-3000:]
    assert not os.path.exists(tmp_path / "gen") and "building" not in out
    return out


@pytest.mark.timeout(120)
def test_eval_of_your_own_files_builds_no_training_set(capsys, tmp_path):
    eval_own_files(capsys, tmp_path, "velocitygan")


@pytest.mark.timeout(120)
def test_openfwi_files_with_the_shipped_weights_take_the_weights_input_settings(capsys, tmp_path):
    """--config-name velocitygan_openfwi with weights trained in this project's convention: the weights' input
    settings are used (logged) and the files converted, with no training set built."""
    out = eval_own_files(capsys, tmp_path, "velocitygan_openfwi")
    assert "its settings are used (MODELLING.convention: openfwi -> ours; DATA.data_min: -26.95 -> -0.3" in out
    assert "files of the 'openfwi' convention are converted to its 'ours' convention" in out


@pytest.mark.timeout(60)
def test_weights_of_another_network_are_refused_before_any_data(capsys, tmp_path):
    failed(capsys, "velocitygan_openfwi", ["mode=eval", f"EVAL.pretrained_model_path={PRETRAINED}/velocitygan.pdparams",
                                           "MODEL.generator.dims=[4,8,8,16,16]", f"GENERATE.out_dir={tmp_path}/gen",
                                           f"output_dir={tmp_path}/o"],
           "was trained with another network config", "MODEL.generator.dims: [8, 16, 32, 64, 128] in the checkpoint")
    assert not os.path.exists(tmp_path / "gen")


# ------------------------------------------------------------------ interrupted runs
@pytest.mark.timeout(60)
def test_orphaned_temporaries_of_a_killed_checkpoint_write_are_removed_at_the_next_start(capsys, tmp_path):
    ckpt = tmp_path / "o" / "velocitygan"
    ckpt.mkdir(parents=True)
    orphans = [ckpt / ".checkpoint.pdparams.abcd1234.tmp", ckpt / ".checkpoint.pdparams.zz_9yy8x.tmp"]
    for p in orphans:
        p.write_bytes(b"half a checkpoint")
    (ckpt / "keep.tmp").write_bytes(b"not ours")
    code, out = run(capsys, "velocitygan", ["mode=train", f"output_dir={tmp_path}/o", f"GENERATE.out_dir={tmp_path}/g",
                                            *VG_TINY])
    assert code == 0, out[-3000:]
    assert sorted(os.listdir(ckpt)) == ["checkpoint.pdparams", "history.json", "keep.tmp"]
    assert f"removed {orphans[0]}" in out


@pytest.mark.timeout(180)
@pytest.mark.parametrize("nprocs", [1, 2])
def test_ctrl_c_ends_with_one_line_naming_the_last_checkpoint(tmp_path, nprocs):
    """SIGINT to the terminal's process group (as Ctrl-C sends it) after the first checkpoint: exit status 130,
    one line naming the checkpoint, no traceback from the run or its data-parallel workers, no worker left."""
    cmd = [sys.executable, os.path.join(ROOT, "examples", "velocitygan", "VelocityGAN.py"), "mode=train",
           f"output_dir={tmp_path}/o", f"GENERATE.out_dir={tmp_path}/g", *VG_TINY, "TRAIN.epochs=200",
           f"TRAIN.nprocs={nprocs}"]
    # SIGINT's default restored in the child: a test run started in the background (nohup ... &) ignores SIGINT,
    # and its children would inherit that, as no terminal's would
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    ckpt = tmp_path / "o" / "velocitygan" / "checkpoint.pdparams"
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ckpt.exists(), proc.communicate()[1][-3000:]
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, err[-3000:]
    lines = [ln for ln in err.splitlines() if "interrupted (Ctrl-C)" in ln]
    assert len(lines) == 1 and f"Last checkpoint: {ckpt}" in lines[0], err[-3000:]
    time.sleep(1.5)
    assert subprocess.run(["pgrep", "-f", f"output_dir={tmp_path}/o"], capture_output=True).stdout == b""
