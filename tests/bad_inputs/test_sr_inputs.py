"""MD Diffusion (seismic super-resolution) on bad inputs: every fault is an error naming what is wrong,
and a folder of the user's own pairs is only ever read, never written into."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ppsci_ext.data.sr.dataset import SeismicSRDataset
from ppsci_ext.data.sr.generator import generate_pairs
from ppsci_ext.data.sr.split import read_split
from ppsci_ext.data.sr.split import split_files
from ppsci_ext.data.sr.reader import write_dat
from ppsci_ext.data.sr.split import write_split
from ppsci_ext.diffusion import SRPipeline
from ppsci_ext.outputs import MARKER
from ppsci_ext.data.sr.generator import prepare_pairs
from ppsci_ext.data.sr.dataset import normalise
from ppsci_ext.data.sr.reader import read_dat
from ppsci_ext.data.sr.reader import read_section
from ppsci_ext.data.sr.split import split_once
from ppsci_ext.testing.examples import compose_config
from ppsci_ext.testing.examples import load_example
from tests.conftest import snapshot

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "md_diffusion", "MDDiffusion.py")
LR, HR = (8, 8), (16, 16)


def user_pairs(root, n=4, lr_shape=LR):
    """``n`` random pairs of the user's own (stems u00, u01, ...); LR = HR[::2, ::2]."""
    rng = np.random.default_rng(0)
    stems = [f"u{k:02d}" for k in range(n)]
    for s in stems:
        hr = rng.standard_normal(tuple(2 * v for v in lr_shape)).astype(np.float32)
        write_dat(os.path.join(root, "sx", f"{s}.dat"), hr)
        write_dat(os.path.join(root, "nx2", f"{s}.dat"), hr[::2, ::2])
    return stems


def prepare(root, log, n=4, seed=1, **kw):
    """``prepare_pairs`` as the script calls it with DATA.generate true, on the small test shapes."""
    return prepare_pairs(str(root), True, n, seed, LR, HR, log=log.append, noise_std=0.1, **kw)


# ---------------------------------------------------------------- user folders are only read

@pytest.mark.timeout(60)
def test_user_folder_with_mis_sized_file_is_an_error_and_left_unchanged(tmp_path):
    user_pairs(tmp_path)
    write_dat(tmp_path / "sx" / "u01.dat", np.random.default_rng(1).standard_normal((16, 15)))
    before, log = snapshot(tmp_path), []
    with pytest.raises(ValueError, match=r"mis-sized.*sx/u01\.dat \(expected \(16, 16\) = 1024 bytes, found 960\)"):
        prepare(tmp_path, log)
    assert snapshot(tmp_path) == before
    assert len(log) == 1 and f"DATA.root {tmp_path} holds your own pairs" in log[0] and "nothing is generated" in log[0]


@pytest.mark.timeout(60)
def test_user_folder_with_missing_partner_is_an_error_and_nothing_is_written(tmp_path):
    user_pairs(tmp_path)
    os.remove(tmp_path / "nx2" / "u02.dat")
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match=r"unpaired.*sx only: u02\.dat"):
        prepare(tmp_path, [])
    assert snapshot(tmp_path) == before and not (tmp_path / "nx2" / "u02.dat").exists()


@pytest.mark.timeout(60)
def test_generate_pairs_refuses_a_user_folder(tmp_path):
    user_pairs(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match=rf"{tmp_path} holds files the project did not write \(nx2, sx; no "
                                         rf"{MARKER} file\)"):
        generate_pairs(str(tmp_path), 3, seed=1, size=16, progress=False)
    assert snapshot(tmp_path) == before


@pytest.mark.timeout(120)
def test_script_train_refuses_empty_pair_folders_made_for_user_files(tmp_path):
    """A DATA.root holding only empty nx2/ and sx/ (made for the user's pairs) is not generated into: the run
    says the folder is read as the user's, and stops naming the empty folders."""
    for sub in ("nx2", "sx"):
        (tmp_path / "data" / sub).mkdir(parents=True)
    res = subprocess.run([sys.executable, SCRIPT, "mode=train", f"output_dir={tmp_path}/out",
                          f"DATA.root={tmp_path}/data", "DATA.n_pairs=4", "TRAIN.iters=1"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    out = res.stdout + res.stderr
    assert res.returncode == 1 and "holds your own pairs" in out and "no .dat files in" in out, out[-2000:]
    assert snapshot(tmp_path / "data") == {} and sorted(os.listdir(tmp_path / "data")) == ["nx2", "sx"]


@pytest.mark.timeout(120)
def test_script_reads_valid_user_pairs_and_splits_only_them(tmp_path):
    """DATA.generate true (the default) on a folder of the user's pairs: nothing added, the split is theirs."""
    stems = user_pairs(tmp_path / "data", n=10)
    before = snapshot(tmp_path / "data")
    cfg = compose_config("md_diffusion", [f"output_dir={tmp_path}/out", f"DATA.root={tmp_path}/data",
                                          "DATA.lr_shape=[8,8]", "DATA.hr_shape=[16,16]"])
    assert cfg.DATA.generate is True
    split = load_example("md_diffusion", "MDDiffusion").prepare_data(cfg)
    assert snapshot(tmp_path / "data") == before
    assert sorted(split["train"] + split["val"] + split["test"]) == stems
    saved = json.load(open(tmp_path / "out" / "split.json"))
    assert saved["root"] == str(tmp_path / "data") and saved["n_files"] == 10


# ---------------------------------------------------------------- the project's own folders

@pytest.mark.timeout(60)
def test_empty_folder_is_generated_and_marked(tmp_path):
    root = tmp_path / "gen"
    root.mkdir()
    log = []
    pairs = prepare(root, log)
    assert [p[0] for p in pairs] == ["0000", "0001", "0002", "0003"] and log == []
    rec = json.load(open(root / MARKER))
    assert rec["settings"]["n_pairs"] == 4 and rec["settings"]["seed"] == 1 and rec["settings"]["size"] == 16
    assert rec["settings"]["noise_std"] == 0.1


@pytest.mark.timeout(60)
def test_marked_folder_resumes_and_rejects_other_settings(tmp_path):
    root = tmp_path / "gen"
    prepare(root, [], n=3)
    kept = snapshot(root)["sx/0000.dat"]
    os.remove(root / "nx2" / "0001.dat")  # an interrupted run
    pairs = prepare(root, [], n=4)
    assert [p[0] for p in pairs] == ["0000", "0001", "0002", "0003"]
    assert snapshot(root)["sx/0000.dat"] == kept  # complete pairs are not rewritten
    assert json.load(open(root / MARKER))["settings"]["n_pairs"] == 4
    before = snapshot(root)
    with pytest.raises(ValueError, match=rf"{root} holds data generated with other settings.*"
                                         rf"seed: 1 there, 2 now.*delete {root}.*another DATA\.root"):
        prepare(root, [], n=4, seed=2)
    with pytest.raises(ValueError, match=r"n_pairs: 4 there, 2 now"):
        prepare(root, [], n=2)
    assert snapshot(root) == before


# ---------------------------------------------------------------- stale split

@pytest.mark.timeout(60)
def test_split_from_another_root_is_an_error_naming_both(tmp_path):
    stems = [f"{i:04d}" for i in range(10)]
    path = tmp_path / "out" / "split.json"
    first = split_once(path, stems, root=tmp_path / "a")
    assert split_once(path, stems, root=tmp_path / "a") == first
    assert read_split(path) == first  # the three lists, without the recorded root
    with pytest.raises(ValueError, match=rf"{path}: this split was drawn for the data in {tmp_path}/a \(10 files\), "
                                         rf"the current data root is {tmp_path}/b; delete {path}.*another output_dir"):
        split_once(path, stems, root=tmp_path / "b")
    with pytest.raises(ValueError, match=r"2 stems of the split are not in the data \(0008, 0009\)"):
        split_once(path, stems[:8], root=tmp_path / "a")


@pytest.mark.timeout(60)
def test_old_split_without_root_is_checked_on_stems(tmp_path):
    stems = [f"{i:04d}" for i in range(10)]
    path = write_split(tmp_path / "split.json", split_files(stems))
    assert "root" not in json.load(open(path))
    assert split_once(path, stems, root=tmp_path / "any") == read_split(path)
    with pytest.raises(ValueError, match=rf"{path}: .*1 stems of the split are not in the data \(0000\).*"
                                         rf"1 files of the data are in no part of the split \(zz\).*delete {path}"):
        split_once(path, stems[1:] + ["zz"], root=tmp_path / "any")


# ---------------------------------------------------------------- training files checked at build

@pytest.mark.timeout(60)
def test_nan_in_training_file_fails_at_dataset_build(tmp_path):
    stems = user_pairs(tmp_path)
    bad = read_dat(tmp_path / "sx" / "u02.dat", HR)
    bad[3, 4] = np.inf
    write_dat(tmp_path / "sx" / "u02.dat", bad)
    for sel in (stems, None):
        with pytest.raises(ValueError, match=r"sx/u02\.dat: 1 of 256 values are NaN or Inf \(first at index \(3, 4\)"):
            SeismicSRDataset(str(tmp_path), sel, lr_shape=LR, hr_shape=HR, patch=None)
    SeismicSRDataset(str(tmp_path), stems[:2], lr_shape=LR, hr_shape=HR, patch=None)  # the others are fine


@pytest.mark.timeout(60)
def test_constant_lr_or_hr_fails_at_dataset_build(tmp_path):
    stems = user_pairs(tmp_path)
    write_dat(tmp_path / "nx2" / "u01.dat", np.zeros(LR))
    with pytest.raises(ValueError, match=r"nx2/u01\.dat: constant section \(every value is 0\)"):
        SeismicSRDataset(str(tmp_path), stems, lr_shape=LR, hr_shape=HR, patch=None)
    write_dat(tmp_path / "sx" / "u03.dat", np.full(HR, 2.5))
    with pytest.raises(ValueError, match=r"sx/u03\.dat: constant section \(every value is 2\.5\)"):
        SeismicSRDataset(str(tmp_path), ["u03"], lr_shape=LR, hr_shape=HR, patch=None)


# ---------------------------------------------------------------- inference inputs

@pytest.mark.timeout(60)
def test_complex_npy_is_an_error_and_integers_are_cast(tmp_path):
    np.save(tmp_path / "c.npy", np.ones((6, 4)) * (1 + 2j) * np.arange(4))
    with pytest.raises(ValueError, match=r"c\.npy: the array is complex \(dtype complex128\).*np\.real.*np\.abs"):
        read_section(tmp_path / "c.npy")
    np.save(tmp_path / "i.npy", np.arange(24, dtype=np.int16).reshape(6, 4))
    x = read_section(tmp_path / "i.npy")
    assert x.dtype == np.float32 and x[5, 3] == 23


@pytest.mark.timeout(60)
def test_constant_or_nan_section_to_inference_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"normalise: the input section: constant section \(every value is 0\)"):
        normalise(np.zeros((8, 8)))
    with pytest.raises(ValueError, match=r"normalise: line_a: constant section \(every value is 3\)"):
        normalise(np.full((8, 8), 3.0), "line_a")
    mod = load_example("md_diffusion", "MDDiffusion")
    cfg = compose_config("md_diffusion", [f"output_dir={tmp_path}/out"])
    with pytest.raises(ValueError, match=r"constant section \(every value is -1\.5\)"):
        mod.super_resolve(cfg, SRPipeline(None, "supervised"), np.full((12, 10), -1.5, np.float32))  # before the net
    write_dat(tmp_path / "flat_6x4.dat", np.zeros((6, 4)))
    with pytest.raises(ValueError, match=r"flat_6x4\.dat: constant section \(every value is 0\)"):
        read_section(tmp_path / "flat_6x4.dat")
    nan = np.ones((6, 4), np.float32)
    nan[2, 1] = np.nan
    write_dat(tmp_path / "nan_6x4.dat", nan)
    np.save(tmp_path / "nan.npy", nan)
    for name in ("nan_6x4.dat", "nan.npy"):
        with pytest.raises(ValueError, match=rf"{name}: 1 of 24 values are NaN or Inf \(first at index \(2, 1\)"):
            read_section(tmp_path / name)


# ---------------------------------------------------------------- the script end to end

@pytest.mark.timeout(180)
def test_script_train_on_user_folder_with_nan_file_exits_naming_it(tmp_path):
    data = tmp_path / "data"
    stems = user_pairs(data, n=10, lr_shape=(32, 32))
    bad = split_files(stems, (0.8, 0.1, 0.1), 0)["train"][0]  # the script's split (DATA.split, DATA.split_seed)
    lr = read_dat(data / "nx2" / f"{bad}.dat", (32, 32))
    lr[7, 9] = np.nan
    write_dat(data / "nx2" / f"{bad}.dat", lr)
    before = snapshot(data)
    over = [f"output_dir={tmp_path}/out", f"DATA.root={data}", "DATA.lr_shape=[32,32]", "DATA.hr_shape=[64,64]",
            "DATA.patch=32", "MODEL.base_channels=8", "MODEL.channel_mults=[1,2]", "TRAIN.iters=4",
            "TRAIN.batch_size=2", "TRAIN.save_every=2", "num_threads=1"]
    env = {**os.environ, "HYDRA_FULL_ERROR": "1", "GLOG_minloglevel": "2"}
    res = subprocess.run([sys.executable, SCRIPT, "mode=train", *over], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-3000:]
    assert f"{data}/nx2/{bad}.dat: 1 of 1024 values are NaN or Inf" in out, out[-3000:]
    assert snapshot(data) == before
    assert not os.path.exists(os.path.join(tmp_path, "out", "diffusion", "checkpoint.pdparams"))
