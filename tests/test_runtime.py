"""The example harness: mode dispatch, set-up, paths, model loading, batched prediction, running from any folder."""
import os
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest

from ppsci_ext import runtime
from ppsci_ext.outputs import MARKER
from ppsci_ext.specs import GDRNN
from ppsci_ext.specs import MD_DIFFUSION
from ppsci_ext.runtime import PROJECT_ROOT
from ppsci_ext.testing.examples import compose_config


def test_dispatch_names_the_valid_modes(capsys):
    cfg = compose_config("gdrnn", ["mode=fly"])
    with pytest.raises(SystemExit) as end:
        runtime.dispatch(cfg, {"train": print, "eval": print})
    assert end.value.code == 1
    assert "cfg.mode should be one of ['eval', 'train'], but got 'fly'" in capsys.readouterr().err
    assert runtime.dispatch(compose_config("gdrnn", ["mode=eval"]), {"eval": lambda c: c.mode}) == "eval"


def test_mode_sets_the_run_up_first(tmp_path):
    @runtime.mode
    def draw(cfg):
        return paddle.rand([3]).numpy(), np.random.rand()

    cfg = compose_config("md_diffusion", [f"output_dir={tmp_path}/out", "seed=3", "mode=eval"])
    first, second = draw(cfg), draw(cfg)
    np.testing.assert_array_equal(first[0], second[0])
    assert first[1] == second[1]
    assert os.path.isfile(tmp_path / "out" / "eval.log")


def test_config_paths_resolve_under_the_project_root():
    cfg = compose_config("md_diffusion")
    assert cfg.output_dir == os.path.join(PROJECT_ROOT, "outputs", "md_diffusion")
    assert cfg.VIEW.field_dir == os.path.normpath(os.path.join(PROJECT_ROOT, "..", "shared", "data", "field"))
    assert compose_config("md_diffusion", ["output_dir=/abs/x"]).EVAL.pred_dir == "/abs/x/pred"


def test_load_trained_names_the_missing_checkpoint_and_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"checkpoint not found: .*none.pdparams; train first: python x.py"):
        runtime.load_trained(str(tmp_path / "none.pdparams"), lambda: paddle.nn.Linear(2, 2), "python x.py")


def test_predict_batches_equals_one_pass():
    class Net(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.lin = paddle.nn.Linear(4, 2)

        def forward(self, d):
            return {"y": self.lin(d["x"]) + d["z"]}

    paddle.seed(0)
    net, x, z = Net(), np.random.rand(7, 4), np.random.rand(7, 2)
    got = runtime.predict_batches(net, {"x": x, "z": z}, "y", batch_size=3)
    np.testing.assert_allclose(got, net({"x": paddle.to_tensor(x, "float32"), "z": paddle.to_tensor(z, "float32")})["y"]
                               .numpy(), rtol=1e-6)


def test_inputs_are_checked_when_read(tmp_path):
    with pytest.raises(ValueError, match=r"INFER.input is not set: pass INFER.input=<file.npy>"):
        runtime.read_npy(None, "INFER.input")
    with pytest.raises(FileNotFoundError, match="INFER.input: file not found: .*no.npy"):
        runtime.read_npy(str(tmp_path / "no.npy"), "INFER.input")
    np.save(tmp_path / "nan.npy", np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"nan.npy \(INFER.input\) contains NaN"):
        runtime.read_npy(str(tmp_path / "nan.npy"), "INFER.input")


@pytest.mark.parametrize("own_package", [True, False])
def test_example_runs_from_its_own_folder_on_a_fresh_copy(tmp_path, own_package):
    """`cd examples/gdrnn && python GDRNN.py mode=train` in a copy with nothing generated: the data is built and
    the outputs land under the copy's root, as the YAML's ${root:...} paths say, also when the package imported
    is installed from another checkout (own_package False), never under that checkout."""
    copy = tmp_path / "project"
    for name in ("conf", "examples") + (("ppsci_ext",) if own_package else ()):
        shutil.copytree(os.path.join(PROJECT_ROOT, name), copy / name,
                        ignore=shutil.ignore_patterns("__pycache__", "outputs*", "data_gen"))
    over = ["DATA.synthetic.n_samples=32", "DATA.synthetic.n_traces=16", "DATA.synthetic.n_layers_range=[6,8]",
            "DATA.wells=[3,12]", "DATA.n_aug=4", "MODEL.dims=[4,8]", "MODEL.n_steps=2", "TRAIN.epochs=1",
            "TRAIN.batch_size=4", "TRAIN.well_batch_size=2", "TRAIN.nprocs=1", "num_threads=1"]
    env = {**os.environ, "PYTHONPATH": str(copy) if own_package else PROJECT_ROOT, "GLOG_minloglevel": "2"}
    res = subprocess.run([sys.executable, "GDRNN.py", "mode=train", *over], cwd=copy / "examples" / "gdrnn",
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert sorted(os.listdir(copy / "data_gen" / "gdrnn_synthetic")) == [MARKER, "section.npz", "train_labelled.npz",
                                                                         "truth.npz"]
    assert os.path.isfile(copy / "outputs" / "gdrnn_synthetic" / "gdrnn" / "checkpoint.pdparams")
    assert not os.path.exists(copy / "examples" / "gdrnn" / "outputs")


def test_weights_path_folder_file_or_the_runs_checkpoint(tmp_path):
    """pretrained_model_path: a folder gives <folder>/<kind>.pdparams for every kind, a file only MODEL.kind's;
    unset, each kind's own checkpoint in output_dir. GDRNN's eval and infer read EVAL's and INFER's key."""
    folder = tmp_path / "weights"
    folder.mkdir()
    base = [f"output_dir={tmp_path}/out"]
    cfg = compose_config("md_diffusion", base)
    assert MD_DIFFUSION.weights_path(cfg, "supervised") == os.path.join(f"{tmp_path}/out", "supervised", "checkpoint.pdparams")
    cfg = compose_config("md_diffusion", base + [f"EVAL.pretrained_model_path={folder}"])
    assert MD_DIFFUSION.weights_path(cfg, "supervised") == str(folder / "supervised.pdparams")
    assert MD_DIFFUSION.weights_path(cfg, "supervised", "INFER").endswith(os.path.join("supervised", "checkpoint.pdparams"))
    cfg = compose_config("gdrnn", base + [f"INFER.pretrained_model_path={tmp_path}/g.pdparams"])
    assert GDRNN.weights_path(cfg, "gdrnn", "INFER") == f"{tmp_path}/g.pdparams"
    assert GDRNN.weights_path(cfg, "original", "INFER").endswith(os.path.join("original", "checkpoint.pdparams"))


def test_nprocs_is_a_cpu_setting(tmp_path, monkeypatch):
    """On a GPU, TRAIN.nprocs > 1 runs the loop in this one process and says how to start several."""
    said = []
    monkeypatch.setattr(runtime.logger, "message", said.append)
    cfg = compose_config("velocitygan", [f"output_dir={tmp_path}/o", "device=gpu"])
    calls = []
    assert runtime.data_parallel(lambda c: calls.append(c.device) or "done", cfg, 2) == "done"
    assert calls == ["gpu"]
    assert any("TRAIN.nprocs=2 is a CPU setting: one process on device=gpu, 8 items a step where the CPU's 2 "
               "processes train on 16 (set TRAIN.batch_size=16 to keep that)" in m for m in said), said
