"""OpenFWI A families of make_velocity_models: published range and one fault; this module's own layer rules.

A column is read as its layers top to bottom: the rows where velocity changes and the velocities. Two columns of an
unfaulted layered model (flat or folded in parallel) are the same layers moved up or down as a whole; a fault breaks
that between the columns it crosses.
"""
import numpy as np
import pytest

from ppsci_ext.data.fwi.velocity_models import OPENFWI_VELOCITY_RANGE, make_velocity_models

MODELS = dict(nz=70, nx=70, min_layers=2, max_layers=5, vmin=1500.0, vmax=4500.0, min_thickness=4,
              increasing=True, min_contrast=100.0)  # GENERATE.models of conf/velocitygan.yaml
N = 200
THROW = (5, 15)  # cells, the fault throw this module chose
DIP = (60.0, 80.0)  # degrees from horizontal, the fault dip this module chose
FAMILIES = ["flatvel-a", "curvevel-a", "flatfault-a", "curvefault-a"]


def _models(family, seed=7):
    return make_velocity_models(range(N), seed, family=family, **MODELS)[:, 0]


def _layers(col):
    """Rows where each layer starts (after the first) and the layer velocities, top to bottom."""
    starts = np.flatnonzero(np.diff(col)) + 1
    return starts, col[np.r_[0, starts]]


def _vertical_shift(a, b):
    """Cells column ``b``'s layers lie below column ``a``'s, or None if b is not a as a whole moved up or down."""
    (sa, va), (sb, vb) = _layers(a), _layers(b)
    if len(sa) != len(sb) or not np.array_equal(va, vb):
        return None
    shifts = set((sb - sa).tolist())
    return shifts.pop() if len(shifts) == 1 else (0 if not shifts else None)


def _unfaulted_pairs(v):
    """For each pair of neighbouring columns: their vertical shift, or None where something cuts between them."""
    return [_vertical_shift(v[:, x], v[:, x + 1]) for x in range(v.shape[1] - 1)]


@pytest.fixture(scope="module")
def models():
    return {family: _models(family) for family in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES)
def test_velocities_in_the_published_range_and_increase_with_depth(models, family):
    m = models[family]
    assert m.shape == (N, 70, 70) and m.dtype == np.float32
    assert OPENFWI_VELOCITY_RANGE == (1500.0, 4500.0)  # label_min / label_max of OpenFWI's dataset_config.json
    assert m.min() >= 1500 and m.max() <= 4500
    steps = np.diff(m, axis=1)
    assert (steps >= 0).all()  # every column of every model
    assert steps[steps > 0].min() >= 100 - 1e-3  # min_contrast


@pytest.mark.parametrize("family", FAMILIES)
def test_layer_counts_follow_the_config(models, family):
    counts = []
    for v in models[family]:
        n = len(np.unique(v))
        counts.append(n)
        per_column = [1 + len(_layers(v[:, x])[0]) for x in range(70)]
        assert max(per_column) == n and min(per_column) >= 1
        for x in (0, 69):  # the fault never reaches the edge columns: they show every layer, min_thickness thick
            starts, _ = _layers(v[:, x])
            assert len(starts) == n - 1 and np.diff(np.r_[0, starts, 70]).min() >= 4
        if "fault" not in family:  # ... nor any column of an unfaulted model
            assert min(per_column) == n
    assert sorted(set(counts)) == [2, 3, 4, 5]  # min_layers .. max_layers


def test_flat_layers_are_laterally_constant(models):
    m = models["flatvel-a"]
    assert np.array_equal(m, np.repeat(m[:, :, :1], 70, axis=2))


def test_curved_layers_are_parallel_folds_and_not_flat(models):
    for v in models["curvevel-a"]:
        shifts = _unfaulted_pairs(v)
        assert None not in shifts  # no column pair cut: every layer keeps its thickness across the model
        assert any(shifts)  # ... yet the interfaces move: the layers are not flat


def _fault_rows(v):
    """For each row: the columns where velocity changes laterally."""
    return [np.flatnonzero(np.diff(v[z])) for z in range(v.shape[0])]


def test_flat_fault_is_one_planar_normal_fault_with_the_chosen_throw(models):
    for v in models["flatfault-a"]:
        rows = _fault_rows(v)
        assert max(len(r) for r in rows) == 1  # at most one lateral step per row: one fault, flat layers
        z_cut = [z for z, r in enumerate(rows) if len(r)]
        x_cut = np.array([rows[z][0] for z in z_cut], dtype=float)
        assert len(z_cut) > 0  # the fault offsets at least one interface
        dz, dx = z_cut[-1] - z_cut[0], abs(x_cut[-1] - x_cut[0])
        assert dz / np.tan(np.deg2rad(DIP[1])) - 1 <= dx <= dz / np.tan(np.deg2rad(DIP[0])) + 1  # a planar dip
        assert np.all(np.diff(x_cut) >= 0) or np.all(np.diff(x_cut) <= 0)
        throw = _vertical_shift(v[:, 0], v[:, 69])  # edge columns: footwall and hanging wall
        assert throw is not None and THROW[0] <= abs(throw) <= THROW[1]


def test_curved_fault_cuts_parallel_folds_once(models):
    # A fault offsetting a single interface (2 layers) looks like a steep fold step between neighbouring columns;
    # it takes two interfaces for the fault to break the whole-column shift. The flat-fault test covers 2 layers.
    span = 70 / np.tan(np.deg2rad(DIP[0])) + 2  # widest band of columns one fault can cross
    several = [v for v in models["curvefault-a"] if len(np.unique(v)) >= 3]
    assert len(several) > N // 2
    for v in several:
        shifts = _unfaulted_pairs(v)
        cut = [x for x, s in enumerate(shifts) if s is None]
        assert cut and cut[-1] - cut[0] <= span  # a fault, and the columns it cuts lie in one fault's band
        assert any(s for s in shifts if s is not None)  # folded, not flat, away from the cuts
    for v in models["curvefault-a"]:
        assert _vertical_shift(v[:, 0], v[:, 69]) is not None  # both walls keep the whole folded section


@pytest.mark.parametrize("family", FAMILIES)
def test_models_are_reproducible_per_seed_and_index(family):
    a = make_velocity_models([5, 6, 7], 11, family=family, **MODELS)
    np.testing.assert_array_equal(a[2], make_velocity_models([7], 11, family=family, **MODELS)[0])
    assert not np.array_equal(a[0], make_velocity_models([5], 12, family=family, **MODELS)[0])


def test_bad_names_and_rules_are_named():
    with pytest.raises(ValueError, match=r"GENERATE.models.family: expected one of .*'curvefault-a'.*found 'flatvel_a'"):
        make_velocity_models([0], 0, family="flatvel_a", **MODELS)
    with pytest.raises(ValueError, match="found 'FlatVel-A'"):
        make_velocity_models([0], 0, family="FlatVel-A", **MODELS)
    with pytest.raises(ValueError, match=r"1500.0 <= vmin < vmax <= 4500.0 m/s .* found vmin=1000.0"):
        make_velocity_models([0], 0, family="flatvel-a", **{**MODELS, "vmin": 1000.0})
    with pytest.raises(ValueError, match="increasing: .* found increasing=False"):
        make_velocity_models([0], 0, family="curvevel-a", **{**MODELS, "increasing": False})
    with pytest.raises(ValueError, match="p_inversion: family 'flatfault-a' .* expected 0, found 0.5"):
        make_velocity_models([0], 0, family="flatfault-a", p_inversion=0.5, **MODELS)
    with pytest.raises(ValueError, match="fault throw of 5 cells do not fit in nz=28"):
        make_velocity_models([0], 0, family="curvefault-a", **{**MODELS, "nz": 28, "min_layers": 5})
