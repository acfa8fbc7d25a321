import os
import subprocess
import sys

import numpy as np

from tests.conftest import write_fwi_files

WORKER = os.path.join(os.path.dirname(__file__), "dist_worker.py")


def test_data_parallel_training_keeps_ranks_in_sync(tmp_path):
    # written once here: a worker rewriting a file the other has memory-mapped would crash it (SIGBUS)
    write_fwi_files(tmp_path, n_files=1, n=4, shape=(5, 100, 70))
    env = {**os.environ, "PADDLE_DISTRI_BACKEND": "gloo", "GLOG_minloglevel": "2"}
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--log_dir", str(tmp_path / "log"),
           "--nproc_per_node", "2", WORKER, str(tmp_path)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    logs = "".join(open(tmp_path / "log" / f).read() for f in os.listdir(tmp_path / "log") if f.startswith("workerlog"))
    assert res.returncode == 0, res.stdout[-2000:] + logs[-3000:]
    r0, r1 = (np.load(tmp_path / f"rank{r}.npz") for r in (0, 1))
    assert not set(r0["seen"].ravel()) & set(r1["seen"].ravel())  # each rank trains on its own shard
    keys = [k for k in r0.files if k != "seen"]
    assert keys
    for k in keys:  # averaged gradients: identical weights on both ranks
        np.testing.assert_allclose(r0[k], r1[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert os.path.isfile(tmp_path / "ckpt" / "latest.pdparams")  # written once, by rank 0
