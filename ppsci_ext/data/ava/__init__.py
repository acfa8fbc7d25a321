"""GDRNN's data: prestack AVA files (the original code's .mat/.npz layouts).

- :mod:`.reader`: read, check and write AVA files; a user's wavelet.
- :mod:`.dataset`: :class:`AVADataset`, what ppsci builds by name (one trace per item).
- :mod:`.generator`: the AVA files of an elastic section (wells, backgrounds, gathers, noise).
- :mod:`.elastic_models`: the elastic sections the generator starts from (layered, a family of varied geology,
  Marmousi with rock-physics relations).
"""
from ppsci_ext.data.ava.dataset import AVADataset
from ppsci_ext.data.ava.generator import ava_file_paths
from ppsci_ext.data.ava.generator import build_ava_files
from ppsci_ext.data.ava.reader import read_ava_file
from ppsci_ext.data.ava.reader import read_wavelet
from ppsci_ext.data.ava.reader import write_ava_file

__all__ = ["AVADataset", "read_ava_file", "write_ava_file", "read_wavelet", "build_ava_files", "ava_file_paths"]
