"""The one place where ppsci_ext's classes are made known to ppsci's builders.

ppsci builds datasets and networks from config by class name
(``ppsci.data.dataset.build_dataset`` and ``ppsci.arch.build_model`` look the
name up in their own module namespace). ppsci 1.4 already has classes called
``FWIDataset``, ``VelocityGenerator`` and ``VelocityDiscriminator``; ours are
registered under the ``Ext`` names below so that importing ppsci_ext never
changes what PaddleScience's own examples build.
"""
import ppsci

from ppsci_ext import arch
from ppsci_ext import data

DATASETS = {"ExtFWIDataset": data.FWIDataset, "AVADataset": data.AVADataset}
DATASETS["SeismicSRDataset"] = data.SeismicSRDataset
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
