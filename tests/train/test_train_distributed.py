"""MD Diffusion's and GDRNN's mode=train in two data-parallel gloo processes (paddle.distributed.launch)."""
import os

import numpy as np

from tests.conftest import launch_two_gloo_ranks

WORKER = os.path.join(os.path.dirname(__file__), "train_dist_worker.py")
CHECKPOINT = {"md_diffusion": "diffusion", "gdrnn": "gdrnn"}


def test_two_processes_train_in_sync_and_resume_exactly(tmp_path):
    """For each of the two examples: disjoint shards, identical weights on both ranks (gradients averaged), one
    checkpoint written by rank 0, and a run stopped after its first checkpoint and resumed ends bit-identical
    to the straight run, in both processes."""
    r0, r1 = launch_two_gloo_ranks(WORKER, tmp_path)
    for example, kind in CHECKPOINT.items():
        seen0, seen1 = r0[f"{example}/seen"], r1[f"{example}/seen"]
        assert seen0.size and not set(seen0.ravel()) & set(seen1.ravel()), example
        whole = [k for k in r0.files if k.startswith(f"{example}/whole/")]
        assert whole and len(whole) == len([k for k in r0.files if k.startswith(f"{example}/stopped/")])
        for k in whole:
            np.testing.assert_allclose(r0[k], r1[k], rtol=1e-5, atol=1e-6, err_msg=k)
            for r in (r0, r1):
                np.testing.assert_array_equal(r[k], r[k.replace("/whole/", "/stopped/")], err_msg=k)
        for run in ("whole", "stopped"):
            assert os.path.isfile(tmp_path / example / run / kind / "checkpoint.pdparams")
