"""MD Diffusion's data: pairs of low/high-resolution seismic sections, and real sections to super-resolve.

- :mod:`.reader`: ``.dat``/``.npy``/SEG-Y sections and the pairs of a data folder (``nx2/``, ``sx/``).
- :mod:`.split`: the by-file train/val/test split, drawn once.
- :mod:`.dataset`: :class:`SeismicSRDataset`, what ppsci builds by name; the grid and amplitude conventions.
- :mod:`.generator`: the synthetic pairs (sections and their degradation).
- :mod:`.field`: the field and Marmousi sections shown by ``view``.
"""
from ppsci_ext.data.sr.dataset import SeismicSRDataset
from ppsci_ext.data.sr.dataset import upsample2
from ppsci_ext.data.sr.generator import degrade
from ppsci_ext.data.sr.generator import generate_pairs
from ppsci_ext.data.sr.generator import synthetic_section
from ppsci_ext.data.sr.reader import read_dat
from ppsci_ext.data.sr.reader import read_section
from ppsci_ext.data.sr.reader import write_dat

__all__ = ["SeismicSRDataset", "upsample2", "read_dat", "write_dat", "read_section", "synthetic_section", "degrade",
           "generate_pairs"]
