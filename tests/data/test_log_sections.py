"""Sections built from well logs: the wells reappear at their traces, facies beds take the logs' rocks, the gas
case lowers vp and density where the sand is porous."""
import numpy as np
import pytest

from ppsci_ext.data.ava import log_sections as ls


def toy_log(n=80, seed=0):
    rng = np.random.default_rng(seed)
    vp = 2500 + 1500 * rng.random(n)
    return {"vp": vp, "vs": vp / rng.uniform(1.7, 2.2, n), "rho": 2.1 + 0.4 * rng.random(n), "t": np.arange(n) * 0.002}


def test_flat_section_repeats_the_well_and_interpolates_between_two():
    a, b = toy_log(seed=1), toy_log(seed=2)
    vp, vs, rho = ls.section_between_wells([a], [10], 30, n_samples=50)
    np.testing.assert_allclose(vp, np.repeat(a["vp"][:50, None], 30, 1))  # no dip, no stretch: the log everywhere
    vp, _, rho = ls.section_between_wells([a, b], [5, 25], 31, n_samples=60)
    np.testing.assert_allclose(vp[:, 5], a["vp"][:60])
    np.testing.assert_allclose(vp[:, 25], b["vp"][:60])
    np.testing.assert_allclose(vp[:, 15], np.sqrt(a["vp"][:60] * b["vp"][:60]))  # halfway, in log-properties
    np.testing.assert_allclose(rho[:, 0], a["rho"][:60])  # outside the wells: the nearest one


def test_dipping_section_stays_inside_the_logs():
    a = toy_log(n=120)
    vp, vs, rho = ls.section_between_wells([a], [0], 40, dip=10.0, undulation=2.0, stretch=0.2, seed=3)
    assert vp.min() >= a["vp"].min() - 1e-9 and vp.max() <= a["vp"].max() + 1e-9
    assert vp.shape[1] == 40 and 80 < vp.shape[0] < 110
    with pytest.raises(ValueError, match="the wells cover"):
        ls.section_between_wells([a], [0], 40, n_samples=120, dip=10.0)


def test_facies_beds_take_rows_of_their_cloud():
    clouds = {"sand": np.array([[3000.0, 1700.0, 2.2]]), "shale": np.array([[2600.0, 1100.0, 2.4]])}
    vp, vs, rho = ls.facies_section(clouds, {"sand": {"shale": 1.0}, "shale": {"sand": 1.0}}, 100, 20,
                                    {"sand": 6.0, "shale": 6.0}, seed=0, grading=0.0)
    assert set(np.unique(np.round(rho, 6))) == {2.2, 2.4}
    np.testing.assert_allclose(vs[rho == 2.2], 1700.0)
    # beds change thickness from the first trace to the last
    assert not np.array_equal(rho[:, 0], rho[:, -1])


def test_gas_case_lowers_vp_and_density_in_the_porous_sand_only():
    log = {"vp": np.array([3000.0, 2800.0, 2900.0, 4500.0]), "vs": np.array([1500.0, 1500.0, 1550.0, 2400.0]),
           "rho": np.array([2.45, 2.15, 2.18, 2.60])}
    gas, n = ls.gas_case(log, (1, 4))
    assert n == 2  # sample 3 (rho 2.60, porosity ~0.05) is not porous enough; sample 0 is outside
    assert gas["vp"][0] == log["vp"][0] and gas["vp"][3] == log["vp"][3]
    assert (gas["vp"][1:3] < log["vp"][1:3]).all() and (gas["rho"][1:3] < log["rho"][1:3]).all()
    assert (gas["vs"][1:3] > log["vs"][1:3]).all()
