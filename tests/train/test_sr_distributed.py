import os
import subprocess
import sys

import numpy as np

from tests.examples.test_md_diffusion_script import load_script
from tests.examples.test_md_diffusion_script import tiny_cfg

WORKER = os.path.join(os.path.dirname(__file__), "sr_dist_worker.py")


def test_md_diffusion_trains_data_parallel_with_ranks_in_sync(tmp_path):
    """MD Diffusion's mode=train under paddle.distributed.launch, two gloo processes: disjoint shards of the
    patches, identical weights after the steps (gradients averaged), one checkpoint written by rank 0."""
    load_script().prepare_data(tiny_cfg(tmp_path))  # the pairs, written once before the processes start
    env = {**os.environ, "PADDLE_DISTRI_BACKEND": "gloo", "GLOG_minloglevel": "2"}
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--log_dir", str(tmp_path / "log"),
           "--nproc_per_node", "2", WORKER, str(tmp_path)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    logs = "".join(open(tmp_path / "log" / f).read() for f in os.listdir(tmp_path / "log") if f.startswith("workerlog"))
    assert res.returncode == 0, res.stdout[-2000:] + logs[-3000:]
    r0, r1 = (np.load(tmp_path / f"rank{r}.npz") for r in (0, 1))
    assert r0["seen"].size and not set(r0["seen"].ravel()) & set(r1["seen"].ravel())
    keys = [k for k in r0.files if k != "seen"]
    assert keys
    for k in keys:
        np.testing.assert_allclose(r0[k], r1[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert os.path.isfile(tmp_path / "out" / "diffusion" / "checkpoint.pdparams")
