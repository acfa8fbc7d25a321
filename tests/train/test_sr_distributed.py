import os

import numpy as np

from tests.conftest import launch_two_gloo_ranks
from tests.examples.test_md_diffusion_script import load_script
from tests.examples.test_md_diffusion_script import tiny_cfg

WORKER = os.path.join(os.path.dirname(__file__), "sr_dist_worker.py")


def test_md_diffusion_trains_data_parallel_with_ranks_in_sync(tmp_path):
    """MD Diffusion's mode=train under paddle.distributed.launch, two gloo processes: disjoint shards of the
    patches, identical weights after the steps (gradients averaged), one checkpoint written by rank 0."""
    load_script().prepare_data(tiny_cfg(tmp_path))  # the pairs, written once before the processes start
    r0, r1 = launch_two_gloo_ranks(WORKER, tmp_path)
    assert r0["seen"].size and not set(r0["seen"].ravel()) & set(r1["seen"].ravel())
    keys = [k for k in r0.files if k != "seen"]
    assert keys
    for k in keys:
        np.testing.assert_allclose(r0[k], r1[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert os.path.isfile(tmp_path / "out" / "diffusion" / "checkpoint.pdparams")
