"""Run by tests/train/test_sr_distributed.py under paddle.distributed.launch (2 CPU processes, gloo).

Each rank runs MD Diffusion's ``mode=train`` on the tiny test configuration in <tmp> and writes its final
weights, and the patch indices its sampler gave it in the first pass, to <tmp>/rank<r>.npz.
"""
import os
import sys

import numpy as np
import paddle.distributed as dist

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tests.examples.test_md_diffusion_script import load_script  # noqa: E402
from tests.examples.test_md_diffusion_script import tiny_cfg  # noqa: E402

if __name__ == "__main__":
    tmp = sys.argv[1]
    mod = load_script()
    fit = mod.SRTrainer.fit

    def recording_fit(self):
        seen = [list(b) for b in self.constraint.data_loader.batch_sampler]
        history = fit(self)
        weights = {f"w{i}": p.numpy() for i, p in enumerate(self.model.parameters())}
        np.savez(os.path.join(tmp, f"rank{dist.get_rank()}.npz"), seen=np.array(seen), **weights)
        return history

    mod.SRTrainer.fit = recording_fit
    mod.train(tiny_cfg(tmp, "MODEL.kind=diffusion", "TRAIN.iters=3", "TRAIN.save_every=3"))
