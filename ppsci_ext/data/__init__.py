"""Data of the three examples, one subpackage each, every one with a reader, a generator and a dataset module:

- :mod:`ppsci_ext.data.fwi`: VelocityGAN's OpenFWI-format files (and the one normalisation of gathers and velocities);
- :mod:`ppsci_ext.data.ava`: GDRNN's prestack AVA files (and the elastic sections they are built from);
- :mod:`ppsci_ext.data.sr`: MD Diffusion's low/high-resolution pairs (and the real sections it is shown on);
- :mod:`ppsci_ext.data.arrays`: the one reader of ``.npy``/``.npz`` files the three share.

The datasets are what ppsci builds by name (registered in :mod:`ppsci_ext.registry`).
"""
from ppsci_ext.data.ava import AVADataset
from ppsci_ext.data.fwi import FWIDataset
from ppsci_ext.data.sr import SeismicSRDataset

__all__ = ["FWIDataset", "AVADataset", "SeismicSRDataset"]
