"""Run by tests/train/test_train_distributed.py under paddle.distributed.launch (2 CPU processes, gloo).

For MD Diffusion and GDRNN in turn, each rank runs the example's ``mode=train`` on its tiny test configuration
twice, into <tmp>/<example>/whole (straight through) and into <tmp>/<example>/stopped (stopped right after its
first checkpoint, then the same command again, which resumes), and writes to <tmp>/rank<r>.npz the final
weights of both runs (``<example>/<run>/w<i>``) and the training items its sampler gave it in the first pass
(``<example>/seen``).
"""
import os
import sys

import numpy as np
import paddle.distributed as dist

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from ppsci_ext.train.base import Trainer  # noqa: E402
from tests.examples import test_gdrnn_script  # noqa: E402
from tests.examples import test_md_diffusion_script  # noqa: E402

SCRIPTS = {"md_diffusion": (test_md_diffusion_script, ("TRAIN.iters=4", "TRAIN.save_every=2"), "constraint"),
           "gdrnn": (test_gdrnn_script, ("TRAIN.epochs=2",), "unlabelled")}


class Stop(Exception):
    """Raised after the first checkpoint of the stopped run (as a kill would end it)."""


def train_twice(tmp: str, example: str) -> dict:
    """The final weights of the straight and the stopped-and-resumed run, and the first pass's items."""
    script, over, loader = SCRIPTS[example]
    mod, out = script.load_script(), {}
    finish, save = Trainer.finish, Trainer.save

    def recording_finish(self):
        run = os.path.basename(os.path.dirname(os.path.dirname(self.path)))
        out.update({f"{example}/{run}/w{i}": p.numpy() for i, p in enumerate(self.nets["model"].parameters())})
        out.setdefault(f"{example}/seen", np.array([list(b) for b in getattr(self, loader).data_loader.batch_sampler]))
        return finish(self)

    def stopping_save(self):
        save(self)
        raise Stop

    def train(run):
        mod.train(script.tiny_cfg(f"{tmp}/{example}", *over, f"output_dir={tmp}/{example}/{run}"))

    Trainer.finish = recording_finish
    try:
        train("whole")
        Trainer.save = stopping_save
        try:
            train("stopped")
        except Stop:
            pass
        Trainer.save = save
        train("stopped")
    finally:
        Trainer.finish, Trainer.save = finish, save
    return out


if __name__ == "__main__":
    tmp = sys.argv[1]
    weights = {k: v for example in SCRIPTS for k, v in train_twice(tmp, example).items()}
    np.savez(os.path.join(tmp, f"rank{dist.get_rank()}.npz"), **weights)
