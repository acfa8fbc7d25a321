"""Test support, not product: left out of the wheel (pyproject.toml), used by ``tests/`` and ``bench/`` only.

- :mod:`ppsci_ext.testing.openfwi_fd`, :mod:`ppsci_ext.testing.openfwi_nets`: PyTorch re-implementations, written
  for this project, of the reference codes' published layouts: the independent side of the alignment tests and
  benches. They need ``torch`` (CPU is enough; a test extra), imported only when a function runs.
- :mod:`ppsci_ext.testing.examples`: the examples' configs and scripts as tests and benches load them.
"""
