"""Gassmann fluid substitution: the velocities and density of a rock when its pore fluid is replaced.

Units: velocities m/s, densities g/cc, moduli GPa (so ``rho * v^2`` is in GPa after the factor 1e-6),
porosity and saturations as fractions. Arrays broadcast against each other.

The recipe (Gassmann, 1951; as laid out for logs by Smith, Sondergeld & Rai, 2003):

1. moduli of the rock with its initial fluid: ``mu = rho vs^2``, ``K_sat1 = rho vp^2 - 4/3 mu``;
2. the initial fluid's modulus and density: Wood (Reuss) average of water and hydrocarbon,
   ``1/K_fl = S_w/K_w + (1 - S_w)/K_hc``, ``rho_fl = S_w rho_w + (1 - S_w) rho_hc``;
3. the dry frame from Gassmann's relation inverted:
   ``K_dry = (K_sat1 (phi K_min/K_fl1 + 1 - phi) - K_min) / (phi K_min/K_fl1 + K_sat1/K_min - 1 - phi)``;
4. the rock with the new fluid: ``K_sat2 = K_dry + (1 - K_dry/K_min)^2 / (phi/K_fl2 + (1 - phi)/K_min - K_dry/K_min^2)``,
   ``rho2 = rho + phi (rho_fl2 - rho_fl1)``, ``mu`` unchanged;
5. ``vp2 = sqrt((K_sat2 + 4/3 mu) / rho2)``, ``vs2 = sqrt(mu / rho2)``.

The mineral modulus of a mixture is the Voigt-Reuss-Hill average (:func:`vrh`).
"""
from typing import Sequence
from typing import Tuple

import numpy as np

__all__ = ["moduli", "velocities", "wood", "vrh", "dry_modulus", "gassmann", "fluid_substitution",
           "density_porosity", "BRINE", "GAS", "OIL"]

# (K GPa, rho g/cc) of reservoir fluids at typical conditions (order of magnitude of Batzle & Wang, 1992)
BRINE = (2.8, 1.05)
OIL = (1.0, 0.75)
GAS = (0.05, 0.20)


def moduli(vp, vs, rho) -> Tuple[np.ndarray, np.ndarray]:
    """(K, mu) in GPa of a rock with vp, vs (m/s) and rho (g/cc)."""
    vp, vs, rho = (np.asarray(a, np.float64) for a in (vp, vs, rho))
    mu = rho * vs ** 2 * 1e-6
    return rho * vp ** 2 * 1e-6 - 4.0 / 3.0 * mu, mu


def velocities(k, mu, rho) -> Tuple[np.ndarray, np.ndarray]:
    """(vp, vs) in m/s from K, mu (GPa) and rho (g/cc)."""
    k, mu, rho = (np.asarray(a, np.float64) for a in (k, mu, rho))
    return np.sqrt((k + 4.0 / 3.0 * mu) / rho * 1e6), np.sqrt(mu / rho * 1e6)


def wood(sw, k_w: float, k_hc: float):
    """Modulus (GPa) of water (saturation ``sw``) and hydrocarbon mixed finely: the Reuss average."""
    sw = np.asarray(sw, np.float64)
    return 1.0 / (sw / k_w + (1.0 - sw) / k_hc)


def vrh(fractions: Sequence, ks: Sequence[float]):
    """Voigt-Reuss-Hill average of the moduli ``ks`` with volume ``fractions`` (which must sum to 1)."""
    f = [np.asarray(x, np.float64) for x in fractions]
    total = sum(f)
    if not np.allclose(total, 1.0, atol=1e-6):
        raise ValueError(f"vrh: the volume fractions must sum to 1, found {np.min(total):.6g}..{np.max(total):.6g}")
    voigt = sum(x * k for x, k in zip(f, ks))
    reuss = 1.0 / sum(x / k for x, k in zip(f, ks))
    return 0.5 * (voigt + reuss)


def dry_modulus(k_sat, k_min, k_fl, phi):
    """The dry-frame bulk modulus (GPa) of a rock of modulus ``k_sat`` saturated with a fluid of ``k_fl``."""
    k_sat, k_min, k_fl, phi = (np.asarray(a, np.float64) for a in (k_sat, k_min, k_fl, phi))
    a = phi * k_min / k_fl
    return (k_sat * (a + 1.0 - phi) - k_min) / (a + k_sat / k_min - 1.0 - phi)


def gassmann(k_dry, k_min, k_fl, phi):
    """The saturated bulk modulus (GPa) of a dry frame ``k_dry`` filled with a fluid of ``k_fl``."""
    k_dry, k_min, k_fl, phi = (np.asarray(a, np.float64) for a in (k_dry, k_min, k_fl, phi))
    return k_dry + (1.0 - k_dry / k_min) ** 2 / (phi / k_fl + (1.0 - phi) / k_min - k_dry / k_min ** 2)


def fluid_substitution(vp, vs, rho, phi, k_min, fluid1: Tuple, fluid2: Tuple, where=None):
    """(vp2, vs2, rho2, ok): the rock (vp, vs m/s, rho g/cc, porosity ``phi``, mineral modulus ``k_min`` GPa) with
    its pore fluid ``fluid1 = (K GPa, rho g/cc)`` replaced by ``fluid2``.

    ``where`` (bool, broadcastable): only those samples are substituted (e.g. the sands); the others are returned
    unchanged. ``ok`` marks the samples substituted: where the dry frame comes out outside (0, k_min) or the porosity
    is not in (0, 1) (a shale, a log spike, a wrong mineral modulus) the sample is left unchanged and ``ok`` is
    False there, so a caller can count them."""
    vp, vs, rho, phi, k_min = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in (vp, vs, rho, phi, k_min)))
    (k1, r1), (k2, r2) = fluid1, fluid2
    k_sat, mu = moduli(vp, vs, rho)
    with np.errstate(divide="ignore", invalid="ignore"):
        k_dry = dry_modulus(k_sat, k_min, k1, phi)
        ok = (phi > 0) & (phi < 1) & (k_dry > 0) & (k_dry < k_min) & np.isfinite(k_dry)
        if where is not None:
            ok &= np.broadcast_to(np.asarray(where, bool), ok.shape)
        rho2 = rho + phi * (r2 - r1)
        vp2, vs2 = velocities(gassmann(k_dry, k_min, k2, phi), mu, rho2)
    return np.where(ok, vp2, vp), np.where(ok, vs2, vs), np.where(ok, rho2, rho), ok


def density_porosity(rho, rho_min: float = 2.65, rho_fl: float = BRINE[1]):
    """Porosity from bulk density (g/cc): ``(rho_min - rho) / (rho_min - rho_fl)``, clipped to [0, 1]."""
    return np.clip((rho_min - np.asarray(rho, np.float64)) / (rho_min - rho_fl), 0.0, 1.0)
