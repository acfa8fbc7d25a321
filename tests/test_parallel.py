"""ppsci_ext.parallel.fork_map and the tiles it shares: the same results as the one-process loop."""
import os

import numpy as np
import paddle
import pytest

from ppsci_ext import tiling
from ppsci_ext.parallel import fork_map

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork_map forks (Linux)")


def test_results_come_back_in_order_from_every_process():
    items = list(range(7))
    got = fork_map(lambda i: np.array([i, os.getpid()]), items, nprocs=3)
    assert [int(g[0]) for g in got] == items
    pids = {int(g[1]) for g in got}
    assert len(pids) == 3 and os.getpid() not in pids  # three children; this process waits
    assert [int(g[0]) for g in fork_map(lambda i: np.array([i]), items[:2], nprocs=8)] == [0, 1]


def test_an_error_in_a_worker_is_raised_with_its_message():
    def fn(i):
        if i == 1:
            raise ValueError("item 1 is bad")
        return np.zeros(1)

    with pytest.raises(RuntimeError, match="a worker process stopped: ValueError: item 1 is bad"):
        fork_map(fn, [0, 1, 2], nprocs=2)


def test_tiles_of_a_paddle_network_shared_by_two_processes_equal_one_process():
    paddle.seed(0)
    conv = paddle.nn.Conv2D(1, 1, 5, padding=2)

    def fn(tiles):
        with paddle.no_grad():
            return conv(paddle.to_tensor(tiles[:, None])).numpy()[:, 0]

    x = np.random.default_rng(0).standard_normal((150, 130)).astype(np.float32)
    one = tiling.tiled_apply(fn, x, 64, 16, batch_size=2)
    two = tiling.tiled_apply(fn, x, 64, 16, batch_size=2, nprocs=2)
    np.testing.assert_array_equal(one, two)


def test_dicts_of_arrays_come_back_as_the_plain_loop_gives_them():
    def fn(i):
        return {"m": np.full((2, 3), i, dtype=np.float32), "curve": [float(i), 2.0 * i]}

    plain, forked = fork_map(fn, [0, 1, 2], nprocs=1), fork_map(fn, [0, 1, 2], nprocs=2)
    for a, b in zip(plain, forked):
        assert a.keys() == b.keys() == {"m", "curve"}
        for k in a:
            assert a[k].dtype == b[k].dtype
            np.testing.assert_array_equal(a[k], b[k])
