"""Gassmann fluid substitution against a published worked example, an independent library (bruges) and its own
identities (a round trip returns the rock; the dry frame does not depend on the fluid)."""
import numpy as np
import pytest

from ppsci_ext.physics import rockphysics as rp
from tests.conftest import require


def test_published_worked_example():
    """The fluid substitution worked in Hall's 2021 check of Pratama's (ezygeo, 2020) notebook, printed there by
    both of bruges' recipes: a sand of vp 3349 m/s, vs 1836 m/s, rho 2.13 g/cc, porosity 0.30, 70% oil
    (K 1.6 GPa, 0.8 g/cc) and 30% water (K 2.83 GPa, 1.0 g/cc), mineral 70% of K 36 GPa and 30% of K 75 GPa
    (Voigt-Reuss-Hill), brought to 100% water: vp 3427.244 m/s, vs 1818.162 m/s, rho 2.172 g/cc."""
    k_min = rp.vrh([0.7, 0.3], [36.0, 75.0])
    fluid1 = (rp.wood(0.3, 2.83, 1.6), 0.3 * 1.0 + 0.7 * 0.8)
    vp, vs, rho, ok = rp.fluid_substitution(3349.0, 1836.0, 2.13, 0.30, k_min, fluid1, (2.83, 1.0))
    assert bool(ok)
    assert float(vp) == pytest.approx(3427.2442, abs=1e-3)  # m/s
    assert float(vs) == pytest.approx(1818.1620, abs=1e-3)
    assert float(rho) == pytest.approx(2.172, abs=1e-9)


def test_against_bruges_on_a_cloud_of_sands():
    fluidsub = require("bruges").rockphysics.fluidsub
    rng = np.random.default_rng(0)
    n = 200
    phi = rng.uniform(0.12, 0.32, n)
    vclay = rng.uniform(0.0, 0.3, n)
    k_min = rp.vrh([1 - vclay, vclay], [37.0, 25.0])
    k_dry = k_min * (1 - phi / 0.4) * rng.uniform(0.6, 1.0, n)  # a frame below the critical-porosity line
    rho = 2.65 * (1 - phi) + 1.05 * phi  # brine sands
    vp, vs = rp.velocities(rp.gassmann(k_dry, k_min, 2.8, phi), 0.8 * k_dry, rho)
    sw, swnew = 1.0, 0.2
    ref = fluidsub.smith_fluidsub(vp, vs, rho * 1000.0, phi, rhow=1050.0, rhohc=200.0, sw=sw, swnew=swnew,
                                  kw=2.8e9, khc=0.05e9, kclay=25e9, kqtz=37e9, vclay=vclay)
    fl1 = (rp.wood(sw, 2.8, 0.05), sw * 1.05 + (1 - sw) * 0.2)
    fl2 = (rp.wood(swnew, 2.8, 0.05), swnew * 1.05 + (1 - swnew) * 0.2)
    vp2, vs2, rho2, ok = rp.fluid_substitution(vp, vs, rho, phi, k_min, fl1, fl2)
    assert ok.all()
    # bruges mixes the two minerals by its own Voigt-Reuss-Hill: the same formula, so agreement to rounding
    np.testing.assert_allclose(vp2, ref.Vp, rtol=1e-9)
    np.testing.assert_allclose(vs2, ref.Vs, rtol=1e-9)
    np.testing.assert_allclose(rho2 * 1000.0, ref.rho, rtol=1e-12)
    assert (vp2 < vp).all() and (vs2 > vs).all()  # gas: slower P, lighter rock so faster S


def test_round_trip_and_fluid_independent_frame():
    vp, vs, rho, phi, k_min = 3000.0, 1600.0, 2.25, 0.25, 36.0
    vp2, vs2, rho2, _ = rp.fluid_substitution(vp, vs, rho, phi, k_min, rp.BRINE, rp.GAS)
    back = rp.fluid_substitution(vp2, vs2, rho2, phi, k_min, rp.GAS, rp.BRINE)
    np.testing.assert_allclose([float(b) for b in back[:3]], [vp, vs, rho], rtol=1e-12)
    k_brine = rp.moduli(vp, vs, rho)[0]
    k_gas = rp.moduli(vp2, vs2, rho2)[0]
    np.testing.assert_allclose(rp.dry_modulus(k_brine, k_min, rp.BRINE[0], phi),
                               rp.dry_modulus(k_gas, k_min, rp.GAS[0], phi), rtol=1e-12)


def test_samples_it_cannot_substitute_are_left_alone_and_marked():
    # a shale-like sample (K_sat above what a frame of this porosity and mineral allows) and a masked one
    vp = np.array([3000.0, 4800.0, 3000.0])
    vs = np.array([1600.0, 1500.0, 1600.0])
    rho = np.array([2.25, 2.6, 2.25])
    out_vp, _, out_rho, ok = rp.fluid_substitution(vp, vs, rho, 0.25, 36.0, rp.BRINE, rp.GAS,
                                                   where=[True, True, False])
    assert ok.tolist() == [True, False, False]
    assert out_vp[0] < vp[0] and out_vp[1] == vp[1] and out_vp[2] == vp[2] and out_rho[2] == rho[2]


def test_vrh_checks_the_fractions():
    with pytest.raises(ValueError, match="sum to 1"):
        rp.vrh([0.5, 0.4], [36.0, 25.0])
    assert rp.vrh([1.0, 0.0], [36.0, 25.0]) == pytest.approx(36.0)
