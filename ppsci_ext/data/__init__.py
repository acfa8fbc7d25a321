"""Datasets, synthetic-data generators and readers of external formats."""
from ppsci_ext.data.fwi_dataset import FWIDataset
from ppsci_ext.data.fwi_dataset import SeismicTransform
from ppsci_ext.data.fwi_dataset import VelocityTransform
from ppsci_ext.data.fwi_dataset import read_annotation
from ppsci_ext.data.velocity_models import make_velocity_models

__all__ = ["FWIDataset", "SeismicTransform", "VelocityTransform", "read_annotation", "make_velocity_models"]
