"""The one place where ppsci_ext's classes are made known to ppsci's builders.

ppsci builds datasets and networks from config by class name
(``ppsci.data.dataset.build_dataset`` and ``ppsci.arch.build_model`` look the
name up in their own module namespace). ppsci 1.4 already has classes called
``FWIDataset``, ``VelocityGenerator`` and ``VelocityDiscriminator``; ours are
registered under the ``Ext`` names below so that importing ppsci_ext never
changes what PaddleScience's own examples build.

The datasets ppsci builds end the process when an item fails in a loader
thread (:func:`ends_run_on_item_error`): paddle 3.3's single-process
``DataLoader`` reads items in a thread that dies on an exception and leaves its
reader waiting for ever. The datasets check their files when built, so this is
the last line of defence, not the way errors are reported.
"""
import logging
import os
import sys
import threading
import traceback

import ppsci

from ppsci_ext import arch
from ppsci_ext import data


def ends_run_on_item_error(cls):
    """A subclass of the dataset class ``cls`` whose items, when one raises outside the main thread, log
    the error with its traceback and end the process with exit status 1 (in the main thread, and in
    loader worker processes, the exception is raised as usual)."""

    def __getitem__(self, idx):
        try:
            return cls.__getitem__(self, idx)
        except Exception:
            if threading.current_thread() is threading.main_thread():
                raise
            logging.getLogger("ppsci").error(f"{cls.__name__} item {idx} failed in a data-loader thread; "
                                             f"ending the run:\n{traceback.format_exc()}")
            for handler in logging.getLogger("ppsci").handlers:
                handler.flush()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)

    return type(cls.__name__, (cls,), {"__getitem__": __getitem__, "__doc__": cls.__doc__,
                                       "__module__": cls.__module__})


DATASETS = {name: ends_run_on_item_error(cls) for name, cls in (
    ("ExtFWIDataset", data.FWIDataset), ("AVADataset", data.AVADataset), ("SeismicSRDataset", data.SeismicSRDataset))}
ARCHS = {
    "ExtVelocityGenerator": arch.VelocityGenerator,
    "ExtVelocityDiscriminator": arch.VelocityDiscriminator,
    "MDUNet": arch.MDUNet,
}


def register_all():
    for name, cls in DATASETS.items():
        setattr(ppsci.data.dataset, name, cls)
    for name, cls in ARCHS.items():
        setattr(ppsci.arch, name, cls)
