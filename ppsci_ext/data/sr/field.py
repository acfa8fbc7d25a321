"""The real sections MD Diffusion's ``view`` mode shows: the field sections of a folder and a section made from the
Marmousi velocity window, each beside its super-resolved version."""
import os
from typing import Callable

from ppsci_ext.data.ava.elastic_models import marmousi_section
from ppsci_ext.data.sr.reader import read_section

__all__ = ["field_panels"]


def field_panels(field_dir: str, marmousi: str, marmousi_freq: float, dt: float, super_resolve: Callable) -> list:
    """The sections in ``field_dir`` (``.dat``, traces x samples) and the Marmousi section (depth-down, from the
    velocity window ``marmousi``), each with ``super_resolve(section)`` (traces x samples in, 2x out): dicts as
    :func:`ppsci_ext.plot.field_panels` takes them. A missing folder or file is left out."""
    names = sorted(n for n in os.listdir(field_dir) if n.endswith(".dat")) if os.path.isdir(field_dir) else []
    panels = []
    for name in names:
        a = read_section(os.path.join(field_dir, name))
        panels.append({"name": name, "original": a, "super": super_resolve(a), "dt_original": dt,
                       "dt_super": dt / 2, "transpose": True})
    if os.path.isfile(marmousi):
        section = marmousi_section(marmousi, marmousi_freq, dt)  # depth-down
        panels.append({"name": "Marmousi", "original": section, "super": super_resolve(section.T).T,
                       "dt_original": dt, "dt_super": dt / 2, "transpose": False})
    return panels
