"""What every example script does first: seed, device, CPU threads, output folder, log file."""
import os
from os import path as osp

import paddle
from ppsci.utils import logger
from ppsci.utils import misc

__all__ = ["setup_run"]


def setup_run(cfg) -> None:
    """Seed (``cfg.seed``), device (``cfg.device``), CPU threads (``cfg.num_threads``), the output folder,
    and ppsci's logger writing ``<output_dir>/<mode>.log``."""
    misc.set_random_seed(cfg.seed)
    paddle.set_device(cfg.device)
    if cfg.num_threads and cfg.device == "cpu":
        paddle.base.core.set_num_threads(int(cfg.num_threads))
    os.makedirs(cfg.output_dir, exist_ok=True)
    logger.init_logger("ppsci", osp.join(cfg.output_dir, f"{cfg.mode}.log"), "info")
