"""Run by tests/train/test_gan_distributed.py under paddle.distributed.launch (2 CPU processes, gloo).

Each rank trains the same tiny WGAN-GP for one epoch on its shard and writes
its final generator and critic weights, and the sample indices it saw, to
<out>/rank<r>.npz.
"""
import os
import sys

import numpy as np
import paddle
import paddle.distributed as dist

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tests.train.test_gan import build  # noqa: E402

if __name__ == "__main__":
    out = sys.argv[1]
    dist.init_parallel_env()
    trainer = build(out)  # same seed on every rank; the trainer broadcasts rank 0's weights anyway
    paddle.seed(100 + dist.get_rank())  # different gradient-penalty draws per rank
    trainer.train_cfg.epochs = 1
    seen = [list(b) for b in trainer.constraint.data_loader.batch_sampler]
    trainer.fit()
    weights = {f"g{i}": p.numpy() for i, p in enumerate(trainer.g.parameters()) if p.trainable}
    weights.update({f"d{i}": p.numpy() for i, p in enumerate(trainer.d.parameters())})
    np.savez(os.path.join(out, f"rank{dist.get_rank()}.npz"), seen=np.array(seen), **weights)
