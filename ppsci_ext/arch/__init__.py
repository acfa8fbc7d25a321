"""Networks, as ``ppsci.arch.base.Arch`` subclasses (dict in -> dict out)."""
from ppsci_ext.arch.gdrnn import GDRNN
from ppsci_ext.arch.gdrnn import AVAUNet
from ppsci_ext.arch.gdrnn import UNet1D
from ppsci_ext.arch.md_unet import MDUNet
from ppsci_ext.arch.velocitygan import VelocityDiscriminator
from ppsci_ext.arch.velocitygan import VelocityGenerator

__all__ = ["VelocityGenerator", "VelocityDiscriminator", "GDRNN", "AVAUNet", "UNet1D", "MDUNet"]
