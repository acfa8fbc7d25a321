"""The family of random elastic sections GDRNN trains on (DATA.source=family)."""
from pathlib import Path

import numpy as np
import pytest

from ppsci_ext.data.ava.elastic_models import family_elastic_sections
from ppsci_ext.data.ava.reader import check_elastic
from ppsci_ext.testing.examples import compose_config

MIX = dict(compose_config("gdrnn").DATA.family.mix)
ROOT = Path(__file__).resolve().parents[2]


def draw(seed=101, n=4, **mix):
    return family_elastic_sections(n, 96, 60, seed, {**MIX, **mix}, wells_per_section=2)


def test_reproducible_by_seed_and_physical():
    vp, vs, rho, wells = draw()
    vp2, vs2, rho2, wells2 = draw()
    assert vp.shape == (96, 240) and np.array_equal(vp, vp2) and np.array_equal(rho, rho2)
    assert np.array_equal(wells, wells2)
    assert not np.array_equal(vp, draw(seed=102)[0])
    assert (vs < vp / 1.45 + 1e-9).all() and (vs > 0).all() and (rho > 1.0).all() and (rho < 3.5).all()
    check_elastic(vp, vs, rho, "family")  # the checks every AVA file passes: units, vs < vp, positive


def test_each_draw_is_a_new_reproducible_family():
    """draw 0 is the files' family; a training epoch's draw gives other sections and wells, the same every time."""
    first = family_elastic_sections(2, 96, 60, 101, MIX, 2, draw=0)
    again = family_elastic_sections(2, 96, 60, 101, MIX, 2, draw=3)
    assert np.array_equal(first[0], draw(n=2)[0])
    assert not np.array_equal(first[0], again[0]) and not np.array_equal(first[3], again[3])
    assert all(np.array_equal(a, b) for a, b in zip(again, family_elastic_sections(2, 96, 60, 101, MIX, 2, draw=3)))


def test_wells_two_per_section_away_from_its_edges():
    _, _, _, wells = draw()
    assert len(wells) == 8 and len(set(wells.tolist())) == 8
    for k in range(4):
        own = wells[(wells >= 60 * k) & (wells < 60 * (k + 1))] - 60 * k
        assert len(own) == 2 and own.min() >= 5 and own.max() < 55


def test_sections_vary_in_geology():
    vp, _, _, _ = draw(n=8)
    sections = np.split(vp, 8, axis=1)
    tops = [s[:10].mean() for s in sections]
    assert np.ptp(tops) > 200.0  # depth trends differ by more than 200 m/s at the top


def test_fault_offsets_the_layers_and_gas_lowers_impedance():
    flat = dict(p_flat=1.0, p_gas=0.0, n_layers=[30, 30], layer_contrast=[0.08, 0.08])
    base = draw(n=1, p_fault=0.0, **flat)[0]
    faulted = draw(n=1, p_fault=1.0, max_faults=1, fault_throw=[10, 10], **flat)[0]
    moved = ~np.isclose(base, faulted).all(axis=0)
    assert 0 < moved.sum() < base.shape[1]  # one side of the plane moved, the other did not
    vp0, _, rho0, _ = draw(n=1, p_fault=0.0, **flat)
    vp1, _, rho1, _ = draw(n=1, p_fault=0.0, **{**flat, "p_gas": 1.0, "p_class3": 1.0})
    ratio = (vp1 * rho1) / (vp0 * rho0)
    assert ratio.min() < 0.85 and ratio.max() <= 1.0 + 1e-12  # a class III sand: impedance down 15% or more


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="wells_per_section"):
        family_elastic_sections(1, 32, 12, 0, MIX, wells_per_section=5)


def test_rocks_from_logs_take_the_logs_scatter():
    """With rock_logs, a section's vs/vp and rho come from log samples near each layer's vp (not the two laws);
    with p_rocks 0 the family is the one drawn without logs, draw for draw."""
    from ppsci_ext.data.ava.elastic_models import castagna_vs
    from ppsci_ext.data.ava.elastic_models import rock_cloud

    cloud = rock_cloud([str(ROOT / "bench" / "well_logs" / "16_2-16.las")])
    assert cloud.shape[1] == 3 and (np.diff(cloud[:, 0]) >= 0).all()
    vp, vs, rho, _ = family_elastic_sections(3, 96, 60, 5, {**MIX, "p_rocks": 1.0, "grading": [0.05, 0.05]},
                                             2, rocks=cloud)
    check_elastic(vp, vs, rho, "family with rocks")
    ratio = vs / vp
    lo, hi = np.quantile(cloud[:, 1] / cloud[:, 0], [0.0, 1.0])
    assert ((ratio >= lo - 1e-9) & (ratio <= min(hi, 1 / 1.45) + 1e-9)).all()
    # not the mudrock line: the relative departures scatter as the log's do (std of several %)
    assert np.std(np.log(vs / castagna_vs(vp))) > 0.05
    plain = family_elastic_sections(3, 96, 60, 5, MIX, 2)
    off = family_elastic_sections(3, 96, 60, 5, {**MIX, "p_rocks": 0.0}, 2, rocks=cloud)
    assert all(np.array_equal(a, b) for a, b in zip(plain, off))
