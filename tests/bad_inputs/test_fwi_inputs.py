"""VelocityGAN's inputs (OpenFWI files, annotation files, DATA settings, forward-mode models) are checked when
read: every wrong input is an error or a warning naming the file, the sample or line, and the key to change."""
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest
from ppsci.utils import logger

from ppsci_ext.data.fwi import FWIDataset
from ppsci_ext.data.fwi import FWINormalisation
from ppsci_ext.data.fwi.reader import read_annotation
from ppsci_ext.data.fwi.reader import check_velocity
from ppsci_ext.testing.examples import compose_config
from ppsci_ext.testing.examples import load_example
from tests.conftest import write_fwi_files

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "velocitygan", "VelocityGAN.py")
STATS = dict(data_min=-10.0, data_max=10.0, label_min=1500.0, label_max=4500.0)
TINY = ["MODELLING.nt=200", "DATA.sample_ratio=4", "MODEL.generator.dims=[4,8,8,16,16]",
        "MODEL.critic.dims=[4,4,8,8]", "TRAIN.epochs=1", "TRAIN.batch_size=2"]


def make(anno, **kw):
    return FWIDataset(("data",), ("velocity",), anno, **{**STATS, **kw})


def edit(folder, name, change):
    """Load ``folder/name`` (.npy), apply ``change`` to it in place (or use its result) and save it back."""
    path = os.path.join(folder, name)
    arr = np.load(path)
    out = change(arr)
    np.save(path, arr if out is None else out)
    return path


@pytest.fixture
def warnings_(monkeypatch):
    """The ppsci logger's warnings, as a list of messages (the logger does not propagate to caplog)."""
    seen = []
    monkeypatch.setattr(logger, "warning", lambda msg, *args: seen.append(msg % args if args else msg))
    return seen


# ------------------------------------------------------------------ data files
@pytest.mark.timeout(60)
def test_nan_in_data_fails_at_build_naming_file_and_sample(tmp_path):
    anno = write_fwi_files(tmp_path)
    edit(tmp_path, "data1.npy", lambda d: d.__setitem__((3, 4, 99, 69), np.nan))
    with pytest.raises(ValueError, match=r"data1\.npy: sample 3 contains NaN or Inf"):
        make(anno)


@pytest.mark.timeout(60)
def test_nan_found_across_chunks(tmp_path, monkeypatch):
    """Memory-mapped files are scanned a few samples at a time; the first bad sample of a later chunk is named."""
    monkeypatch.setattr("ppsci_ext.data.fwi.reader.CHUNK_BYTES", 1)  # one sample a chunk
    anno = write_fwi_files(tmp_path, n=6)
    edit(tmp_path, "data0.npy", lambda d: d.__setitem__((5, 0, 0, 0), -np.inf))
    edit(tmp_path, "data0.npy", lambda d: d.__setitem__((4, 1, 2, 3), np.inf))
    with pytest.raises(ValueError, match=r"data0\.npy: sample 4 contains NaN or Inf"):
        make(anno)


@pytest.mark.timeout(60)
def test_inf_in_model_fails_at_build(tmp_path):
    anno = write_fwi_files(tmp_path)
    edit(tmp_path, "model0.npy", lambda m: m.__setitem__((2, 0, 10, 10), np.inf))
    with pytest.raises(ValueError, match=r"model0\.npy: model 2 contains NaN or Inf"):
        make(anno)


@pytest.mark.timeout(60)
def test_complex_data_is_rejected_naming_file_and_dtype(tmp_path):
    anno = write_fwi_files(tmp_path)
    edit(tmp_path, "data1.npy", lambda d: d.astype(np.complex64))
    with pytest.raises(ValueError, match=r"data1\.npy: data has dtype complex64; expected real numbers"):
        make(anno)


@pytest.mark.timeout(60)
def test_integer_files_are_accepted(tmp_path):
    anno = write_fwi_files(tmp_path)
    edit(tmp_path, "model0.npy", lambda m: m.astype(np.int32))
    x, y, _ = make(anno)[1]
    assert y["velocity"].dtype == np.float32 and -1 <= y["velocity"].min() <= y["velocity"].max() <= 1


@pytest.mark.timeout(60)
def test_kms_labels_are_an_error(tmp_path):
    anno = write_fwi_files(tmp_path)
    edit(tmp_path, "model1.npy", lambda m: m / 1000)
    with pytest.raises(ValueError, match=r"model1\.npy: model 0 has velocities of at most 4\.\d+, which look like "
                                         r"km/s: multiply the models by 1000"):
        make(anno)


@pytest.mark.timeout(60)
def test_non_positive_labels_are_an_error(tmp_path):
    anno = write_fwi_files(tmp_path)
    edit(tmp_path, "model1.npy", lambda m: m.__setitem__((3, 0, 0, 0), 0.0))
    with pytest.raises(ValueError, match=r"model1\.npy: model 3 has a non-positive velocity 0"):
        make(anno)


@pytest.mark.timeout(60)
def test_labels_outside_range_warn_once_per_file(tmp_path, warnings_):
    anno = write_fwi_files(tmp_path)
    edit(tmp_path, "model0.npy", lambda m: m.__setitem__((1, 0, 5, 5), 6000.0))
    make(anno)
    assert len(warnings_) == 1
    assert "model0.npy" in warnings_[0] and "6000" in warnings_[0] and "DATA.label_min/DATA.label_max" in warnings_[0]


@pytest.mark.timeout(60)
def test_data_outside_range_warn_once_per_file(tmp_path, warnings_):
    anno = write_fwi_files(tmp_path)
    edit(tmp_path, "data1.npy", lambda d: d.__setitem__((0, 0, 0, 0), 12.5))
    edit(tmp_path, "data1.npy", lambda d: d.__setitem__((2, 0, 0, 0), -13.0))
    make(anno)
    assert len(warnings_) == 1
    assert "data1.npy" in warnings_[0] and "[-13, 12.5]" in warnings_[0]
    assert "DATA.data_min/DATA.data_max" in warnings_[0]


@pytest.mark.timeout(60)
def test_items_are_read_without_checks(tmp_path, monkeypatch):
    """After the build, reading items calls no checker (so nothing raises inside a DataLoader)."""
    anno = write_fwi_files(tmp_path)
    ds = make(anno)
    import ppsci_ext.data.fwi.dataset as dataset
    import ppsci_ext.data.fwi.reader as reader

    def fail(*args, **kwargs):
        raise AssertionError("checked when read")

    for mod in (dataset, reader):
        for name in ("check_velocity", "data_range", "label_range", "_sample_range"):
            if hasattr(mod, name):
                monkeypatch.setattr(mod, name, fail)
    batches = list(paddle.io.DataLoader(ds, batch_size=4))
    assert len(batches) == 2


# -------------------------------------------------------------------- settings
@pytest.mark.timeout(60)
@pytest.mark.parametrize("lo, hi", [(0.3, 0.3), (0.6, -0.3), (float("nan"), 1.0)])
def test_degenerate_data_range(lo, hi):
    with pytest.raises(ValueError, match=rf"DATA\.data_min \({lo}\) must be finite and below DATA\.data_max \({hi}\)"):
        FWINormalisation(lo, hi, 1500.0, 4500.0)


@pytest.mark.timeout(60)
def test_degenerate_label_range(tmp_path):
    with pytest.raises(ValueError, match=r"DATA\.label_min \(4500\.0\) must be finite and below DATA\.label_max "
                                         r"\(1500\.0\)"):
        FWINormalisation(-1.0, 1.0, 4500, 1500)
    anno = write_fwi_files(tmp_path)
    with pytest.raises(ValueError, match=r"DATA\.data_min \(1\.0\) must be finite and below DATA\.data_max \(1\.0\)"):
        make(anno, data_min=1.0, data_max=1.0)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kw, key", [({"log_k": 0.0}, "DATA.log_k"), ({"log_k": -1.0}, "DATA.log_k"),
                                     ({"amplitude_check": "loud"}, "DATA.amplitude_check"),
                                     ({"sample_ratio": 0}, "DATA.sample_ratio"),
                                     ({"sample_ratio": 2.5}, "DATA.sample_ratio")])
def test_bad_log_k_and_sample_ratio(kw, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        FWINormalisation(-1.0, 1.0, 1500.0, 4500.0, **kw)


# ----------------------------------------------------------- annotation files
@pytest.mark.timeout(60)
def test_annotation_with_byte_order_mark(tmp_path):
    anno = write_fwi_files(tmp_path)
    text = open(anno).read()
    with open(anno, "w", encoding="utf-8-sig") as f:
        f.write(text)
    assert open(anno, "rb").read(3) == b"\xef\xbb\xbf"
    pairs = read_annotation(anno)
    assert [os.path.basename(p) for p, _ in pairs] == ["data0.npy", "data1.npy"]
    assert len(make(anno)) == 8


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sep", [" ", ",", ";", "  "])
def test_annotation_not_tab_separated(tmp_path, sep):
    anno = write_fwi_files(tmp_path)
    with open(anno, "w") as f:
        f.write(f"data0.npy\tmodel0.npy\n\ndata1.npy{sep}model1.npy\n")
    with pytest.raises(ValueError, match=r"train\.txt, line 3: .* separated by .*: separate the data and model "
                                         r"paths with one TAB"):
        read_annotation(anno)


@pytest.mark.timeout(60)
def test_annotation_with_too_many_tabs(tmp_path):
    anno = write_fwi_files(tmp_path)
    with open(anno, "w") as f:
        f.write("data0.npy\t\tmodel0.npy\n")
    with pytest.raises(ValueError, match=r"train\.txt, line 1: .*found 3 TAB-separated columns.*with one TAB"):
        read_annotation(anno)


@pytest.mark.timeout(60)
def test_single_column_path_with_spaces_is_valid(tmp_path):
    write_fwi_files(tmp_path)
    os.rename(tmp_path / "data0.npy", tmp_path / "shot gathers, run 0.npy")
    anno = tmp_path / "unlabelled.txt"
    anno.write_text("shot gathers, run 0.npy\n")
    ds = FWIDataset(("data",), (), str(anno), **STATS)
    assert len(ds) == 4 and ds[0][1] == {}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("line, what, missing", [("data0.npy\tmodel9.npy", "model", "model9.npy"),
                                                 ("data9.npy\tmodel0.npy", "data", "data9.npy"),
                                                 ("data9.npy", "data", "data9.npy")])
def test_annotation_missing_path_names_line(tmp_path, line, what, missing):
    anno = write_fwi_files(tmp_path)
    with open(anno, "a") as f:
        f.write(line + "\n")
    with pytest.raises(FileNotFoundError, match=rf"train\.txt, line 3: {what} file not found: .*{missing}"):
        read_annotation(anno)


# ---------------------------------------------------------------- forward mode
@pytest.mark.timeout(60)
def test_check_velocity():
    v = np.full((3, 70, 70), 2000.0, np.float32)
    assert check_velocity(v, "v") == (2000.0, 2000.0)
    v[2, 0, 0] = -5.0
    with pytest.raises(ValueError, match=r"v: model 2 has a non-positive velocity -5"):
        check_velocity(v, "v")
    with pytest.raises(ValueError, match=r"v: velocity has dtype complex128"):
        check_velocity(np.ones((1, 2, 2), complex), "v")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("scale, message", [
    (1e-3, r"m\.npy \(INFER\.input\): model 0 has velocities of at most 2\.5, which look like km/s: multiply the "
           r"models by 1000"),
    (-1.0, r"m\.npy \(INFER\.input\): model 0 has a non-positive velocity -2500"),
])
def test_forward_rejects_kms_and_non_positive_models(tmp_path, scale, message):
    vg = load_example("velocitygan", "VelocityGAN")
    np.save(tmp_path / "m.npy", np.full((2, 1, 70, 70), 2500.0 * scale, np.float32))
    cfg = compose_config("velocitygan", [f"output_dir={tmp_path}/out", "MODELLING.nt=200",
                                         f"INFER.input={tmp_path}/m.npy", f"INFER.output={tmp_path}/d.npy"])
    with pytest.raises(ValueError, match=message):
        vg.forward(cfg)
    assert not os.path.exists(tmp_path / "d.npy")


# ---------------------------------------------------------------- end to end
def _run(tmp_path, out, *over):
    """The script on data in ``tmp_path``; outputs go to ``tmp_path``'s sibling ``<name>_out/<out>`` (never
    inside a data folder)."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "1", "GLOG_minloglevel": "2",
           "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, SCRIPT, *over, f"output_dir={tmp_path}_out/{out}",
                           f"GENERATE.out_dir={tmp_path}_out/gen", *TINY], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=150)


@pytest.mark.timeout(180)
def test_script_train_and_eval_stop_on_nan_without_hanging(tmp_path):
    """A NaN in a training file stops the run when the data set is built, naming the file, before any item is
    read: an error raised while reading items left the other data-parallel worker waiting in an all-reduce."""
    train = write_fwi_files(tmp_path, shape=(5, 200, 70))
    clean, bad = tmp_path / "clean.txt", tmp_path / "bad.txt"
    clean.write_text("data0.npy\tmodel0.npy\n")
    bad.write_text("data1.npy\tmodel1.npy\n")
    res = _run(tmp_path, "ok", "mode=train", "TRAIN.nprocs=1", f"DATA.train_anno={clean}", f"DATA.test_anno={clean}")
    assert res.returncode == 0, res.stderr[-3000:]  # a checkpoint for mode=eval below
    edit(tmp_path, "data1.npy", lambda d: d.__setitem__((2, 1, 50, 30), np.nan))

    res = _run(tmp_path, "nan", "mode=train", "TRAIN.nprocs=2", f"DATA.train_anno={train}", f"DATA.test_anno={clean}")
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "data1.npy: sample 2 contains NaN or Inf" in out, out[-3000:]
    assert "__getitem__" not in out  # raised when built, not when read

    res = _run(tmp_path, "nan", "mode=eval", "TRAIN.nprocs=1", f"DATA.train_anno={clean}", f"EVAL.anno={bad}",
               f"EVAL.pretrained_model_path={tmp_path}_out/ok/velocitygan/checkpoint.pdparams")
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "data1.npy: sample 2 contains NaN or Inf" in out, out[-3000:]
    assert "__getitem__" not in out


@pytest.mark.timeout(60)
def test_data_in_another_amplitude_convention_warn_error_or_off(tmp_path, warnings_):
    anno = write_fwi_files(tmp_path)
    edit(tmp_path, "data1.npy", lambda d: d * 100.0)  # e.g. OpenFWI's own files against this project's statistics
    make(anno)
    far = [w for w in warnings_ if "another amplitude convention" in w]
    assert len(far) == 1 and "data1.npy" in far[0] and "DATA.data_min/DATA.data_max = [-10.0, 10.0]" in far[0]
    with pytest.raises(ValueError, match=r"data1\.npy: amplitudes span \[.*\], \d+(\.\d+)? times the peak of the "
                                         r"training statistics"):
        make(anno, amplitude_check="error")
    warnings_.clear()
    make(anno, amplitude_check="off")
    assert not any("another amplitude convention" in w for w in warnings_)
    with pytest.raises(ValueError, match=r"DATA.amplitude_check: expected one of \['warn', 'error', 'off'\]"):
        make(anno, amplitude_check="maybe")


@pytest.mark.timeout(60)
def test_far_too_small_amplitudes_are_far_too(tmp_path, warnings_):
    anno = write_fwi_files(tmp_path)
    edit(tmp_path, "data0.npy", lambda d: d / 1000.0)
    make(anno)
    assert any("data0.npy" in w and "another amplitude convention" in w for w in warnings_)
