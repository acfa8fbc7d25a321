import os

import numpy as np

from tests.conftest import launch_two_gloo_ranks
from tests.conftest import write_fwi_files

WORKER = os.path.join(os.path.dirname(__file__), "dist_worker.py")


def test_data_parallel_training_keeps_ranks_in_sync(tmp_path):
    # written once here: a worker rewriting a file the other has memory-mapped would crash it (SIGBUS)
    write_fwi_files(tmp_path, n_files=1, n=4, shape=(5, 100, 70))
    r0, r1 = launch_two_gloo_ranks(WORKER, tmp_path)
    assert not set(r0["seen"].ravel()) & set(r1["seen"].ravel())  # each rank trains on its own shard
    keys = [k for k in r0.files if k != "seen"]
    assert keys
    for k in keys:  # averaged gradients: identical weights on both ranks
        np.testing.assert_allclose(r0[k], r1[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert os.path.isfile(tmp_path / "ckpt" / "latest.pdparams")  # written once, by rank 0
