"""Datasets, synthetic-data generators and readers of external formats."""
from ppsci_ext.data.ava_builder import ava_file_paths
from ppsci_ext.data.ava_builder import build_ava_files
from ppsci_ext.data.ava_builder import read_wavelet
from ppsci_ext.data.ava_builder import butterworth_background
from ppsci_ext.data.ava_dataset import AVADataset
from ppsci_ext.data.ava_dataset import read_ava_file
from ppsci_ext.data.ava_dataset import write_ava_file
from ppsci_ext.data.elastic_models import castagna_vs
from ppsci_ext.data.elastic_models import elastic_section_of
from ppsci_ext.data.elastic_models import family_elastic_sections
from ppsci_ext.data.elastic_models import gardner_rho
from ppsci_ext.data.elastic_models import layered_elastic_section
from ppsci_ext.data.elastic_models import load_marmousi_elastic
from ppsci_ext.data.elastic_models import marmousi_section
from ppsci_ext.data.fwi import FWIDataset
from ppsci_ext.data.fwi import FWINormalisation
from ppsci_ext.data.fwi import read_annotation
from ppsci_ext.data.seismic_sections import degrade
from ppsci_ext.data.seismic_sections import generate_pairs
from ppsci_ext.data.seismic_sections import synthetic_section
from ppsci_ext.data.seismic_sr import SeismicSRDataset
from ppsci_ext.data.seismic_sr import pair_files
from ppsci_ext.data.seismic_sr import read_dat
from ppsci_ext.data.seismic_sr import read_split
from ppsci_ext.data.seismic_sr import split_files
from ppsci_ext.data.seismic_sr import upsample2
from ppsci_ext.data.seismic_sr import write_dat
from ppsci_ext.data.seismic_sr import write_split
from ppsci_ext.data.fwi import make_velocity_models

__all__ = ["FWIDataset", "FWINormalisation", "read_annotation", "make_velocity_models",
           "AVADataset", "read_ava_file", "write_ava_file", "build_ava_files", "read_wavelet", "ava_file_paths",
           "butterworth_background", "castagna_vs", "gardner_rho", "layered_elastic_section", "family_elastic_sections",
           "elastic_section_of", "load_marmousi_elastic", "marmousi_section",
           "SeismicSRDataset", "read_dat", "write_dat", "pair_files", "split_files", "read_split", "write_split",
           "upsample2", "synthetic_section", "degrade", "generate_pairs"]
