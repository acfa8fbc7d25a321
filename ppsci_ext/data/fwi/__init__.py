"""VelocityGAN's data: OpenFWI-format files.

- :mod:`.reader`: annotation files, gathers and velocity models, with their checks.
- :mod:`.normalisation`: :class:`FWINormalisation`, the one scaling of gathers and velocities.
- :mod:`.dataset`: :class:`FWIDataset`, what ppsci builds by name for training and eval.
- :mod:`.generator`: the synthetic OpenFWI-format data set (acoustic modelling of :mod:`.velocity_models`).
"""
from ppsci_ext.data.fwi.dataset import FWIDataset
from ppsci_ext.data.fwi.generator import generate_openfwi
from ppsci_ext.data.fwi.normalisation import FWINormalisation
from ppsci_ext.data.fwi.reader import read_annotation
from ppsci_ext.data.fwi.velocity_models import make_velocity_models

__all__ = ["FWIDataset", "FWINormalisation", "read_annotation", "generate_openfwi", "make_velocity_models"]
