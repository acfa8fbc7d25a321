"""The shipped weights (pretrained/): every file is the one manifest.json describes (size under 5 MB,
SHA-256, the command that trained it), it loads strictly into the network its example builds, and its
demo, run here into a temporary folder, gives the metrics the manifest records (relative tolerance TOL)
and beats the baseline README compares it with."""
import os
import os.path as osp

import pytest

from ppsci_ext import pretrained as P
from ppsci_ext.runtime import PROJECT_ROOT
from ppsci_ext.testing.examples import compose_config
from ppsci_ext.testing.examples import load_example

TOL = 0.01  # relative; the demos are deterministic, this covers other CPUs' rounding
RECORD = P.manifest()
MODES = {"eval": "evaluate", "sample": "sample"}
# the demo's data folders, moved to the test's temporary folder
DATA_KEYS = {"velocitygan": "GENERATE.out_dir", "gdrnn": "DATA.out_dir", "md_diffusion": "DATA.root"}
# what each demo must beat (README's claims): [(metric, the baseline's, larger is better)]
FWI_BEATS = [("MAE", "depth_mean_MAE", False), ("SSIM", "depth_mean_SSIM", True)]  # the training set's depth mean
BEATS = {"velocitygan": FWI_BEATS, "inversionnet": FWI_BEATS,
         "gdrnn_family": [("gdrnn_vp_PCC", "gd_vp_PCC", True)], "gdrnn_marmousi": [("gdrnn_vp_PCC", "gd_vp_PCC", True)],
         "md_diffusion": [("diffusion_PSNR", "bicubic_PSNR", True)],
         "md_supervised": [("supervised_PSNR", "bicubic_PSNR", True)]}


@pytest.mark.parametrize("name", list(P.ENTRIES))
def test_file_is_what_the_manifest_says(name):
    e = P.ENTRIES[name]
    path = osp.join(P.FOLDER, e.file)
    assert e.file in RECORD, f"{e.file} is not in {P.MANIFEST}: python -m ppsci_ext.pretrained record {name}"
    rec = RECORD[e.file]
    assert os.path.getsize(path) == rec["bytes"] <= P.MAX_BYTES
    assert P.sha256(path) == rec["sha256"], f"{path} changed since it was recorded"
    assert rec["trained_by"] == e.train and rec["demo"] == [P.demo_command(e, m) for m in e.modes]


def test_readme_shows_the_manifest_table():
    """README's table of the shipped weights (file, training command, demo metrics) is the manifest's, and
    README shows every demo command."""
    readme = open(osp.join(PROJECT_ROOT, "README.md"), encoding="utf-8").read()
    assert P.table() in readme, "README's weights table differs: paste `python -m ppsci_ext.pretrained table`"
    for e in P.ENTRIES.values():
        for mode in e.modes:
            assert P.demo_command(e, mode) in readme, f"README does not show the demo command of {e.name}"


def demo_config(e, tmp):
    """The demo's config with its outputs and data under ``tmp`` and the weights path absolute."""
    args = list(e.demo)
    name = args[1] if args[0] == "--config-name" else e.example
    over = [a for a in args if "=" in a and not a.startswith(("output_dir=", f"{DATA_KEYS[e.example]}="))]
    over = [f"{k}={osp.join(PROJECT_ROOT, v)}" if k.endswith("pretrained_model_path") else f"{k}={v}"
            for k, v in (a.split("=", 1) for a in over)]
    return compose_config(name, over + [f"output_dir={tmp}/out", f"{DATA_KEYS[e.example]}={tmp}/data", "num_threads=1"])


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    """Each demo run once (entries sharing a demo share the run): demo args -> output folder."""
    runs = {}

    def run(e):
        key = (e.example, e.demo)
        if key not in runs:
            tmp = tmp_path_factory.mktemp(e.name)
            cfg = demo_config(e, tmp)
            mod = load_example(e.example, e.script)
            for mode in e.modes:
                getattr(mod, MODES[mode])(cfg)
            runs[key] = cfg.output_dir
        return runs[key]

    return run


@pytest.mark.parametrize("name", list(P.ENTRIES))
def test_demo_gives_the_recorded_metrics(name, demo_runs):
    e = P.ENTRIES[name]
    if P.missing_inputs(e):
        pytest.skip(f"{P.missing_inputs(e)} not found")
    got = P.demo_metrics(e, demo_runs(e))
    want = RECORD[e.file]["demo_metrics"]
    assert set(got) == set(want)
    off = {k: (got[k], v) for k, v in want.items() if abs(got[k] - v) > TOL * max(abs(v), 1e-6)}
    assert not off, f"{name}: metrics (now, recorded) differ by more than {TOL:.0%}: {off}"
    for ours, baseline, larger in BEATS[name]:
        better = got[ours] > got[baseline] if larger else got[ours] < got[baseline]
        assert better, f"{name}: {ours} {got[ours]:.4f} does not beat {baseline} {got[baseline]:.4f}"
