"""Datasets, synthetic-data generators and readers of external formats."""
from ppsci_ext.data.ava_builder import build_ava_files
from ppsci_ext.data.ava_builder import butterworth_background
from ppsci_ext.data.ava_dataset import AVADataset
from ppsci_ext.data.ava_dataset import read_ava_file
from ppsci_ext.data.ava_dataset import write_ava_file
from ppsci_ext.data.elastic_models import castagna_vs
from ppsci_ext.data.elastic_models import gardner_rho
from ppsci_ext.data.elastic_models import layered_elastic_section
from ppsci_ext.data.elastic_models import load_marmousi_elastic
from ppsci_ext.data.fwi_dataset import FWIDataset
from ppsci_ext.data.fwi_dataset import SeismicTransform
from ppsci_ext.data.fwi_dataset import VelocityTransform
from ppsci_ext.data.fwi_dataset import read_annotation
from ppsci_ext.data.velocity_models import make_velocity_models

__all__ = ["FWIDataset", "SeismicTransform", "VelocityTransform", "read_annotation", "make_velocity_models",
           "AVADataset", "read_ava_file", "write_ava_file", "build_ava_files", "butterworth_background",
           "castagna_vs", "gardner_rho", "layered_elastic_section", "load_marmousi_elastic"]
