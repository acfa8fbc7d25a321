"""The 2x degradation operators against the libraries that define them, and the consistency projection."""
import numpy as np
import pytest
from PIL import Image
from skimage.transform import downscale_local_mean
from skimage.transform import rescale

from ppsci_ext.data.sr import degradations as dg

PIL_FILTERS = {"area": Image.BOX, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}


@pytest.fixture
def section():
    return np.random.default_rng(0).standard_normal((40, 30))


@pytest.mark.parametrize("name", sorted(PIL_FILTERS))
def test_resampling_kernels_are_pils(section, name):
    """PIL computes in float32: agreement to a few float32 steps of values of order 1."""
    x = section.astype(np.float32)
    ref = np.asarray(Image.fromarray(x, mode="F").resize((15, 20), PIL_FILTERS[name]), np.float64)
    assert np.abs(dg.apply(x, name) - ref).max() < 1e-6


def test_skimage_and_area_are_skimages(section):
    np.testing.assert_allclose(dg.apply(section, "skimage"), rescale(section, 0.5, anti_aliasing=True), atol=1e-12)
    np.testing.assert_allclose(dg.apply(section, "area"), downscale_local_mean(section, (2, 2)), atol=1e-12)


def test_decimations_keep_one_grid_each(section):
    np.testing.assert_array_equal(dg.apply(section, "decimate"), section[::2, ::2])
    np.testing.assert_array_equal(dg.apply(section, "decimate_odd"), section[1::2, 1::2])


@pytest.mark.parametrize("name", dg.OPERATORS)
def test_every_operator_keeps_a_constant_and_its_pinv_is_a_right_inverse(name):
    np.testing.assert_allclose(dg.apply(np.full((16, 12), 2.5), name), 2.5, atol=1e-12)
    d = dg.matrix(name, 16)
    np.testing.assert_allclose(d @ dg.pinv(name, 16), np.eye(8), atol=1e-10)


@pytest.mark.parametrize("name", dg.OPERATORS)
def test_projection_is_exact_without_noise_and_moves_only_along_the_pseudo_inverse(section, name):
    rng = np.random.default_rng(1)
    y = rng.standard_normal((20, 15))
    x = rng.standard_normal((40, 30))
    z = dg.project(x, y, name)
    np.testing.assert_allclose(dg.apply(z, name), y, atol=1e-10)
    # the change lies in the row space of A: projecting the null-space part of x out changes nothing of it
    null = x - dg.pinv(name, 40) @ dg.apply(x, name) @ dg.pinv(name, 30).T
    np.testing.assert_allclose(z - dg.pinv(name, 40) @ dg.apply(z, name) @ dg.pinv(name, 30).T, null, atol=1e-10)
    # a consistent section is left as it is
    np.testing.assert_array_equal(dg.project(z, y, name, noise=1e-9), z)


def test_projection_with_noise_stops_at_the_noise_level():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((32, 32)), rng.standard_normal((16, 16))
    before = dg.consistency_residual(x, y, "bicubic")
    z = dg.project(x, y, "bicubic", noise=0.25 * before)
    assert dg.consistency_residual(z, y, "bicubic") == pytest.approx(0.25 * before, rel=1e-9)


def test_noise_level_of_white_noise_on_a_smooth_section():
    """Std 0.1 white noise on smooth dipping events: estimated within 5% (MAD of 10^4 differences: ~1% std)."""
    rng = np.random.default_rng(3)
    i, j = np.meshgrid(np.arange(100), np.arange(120), indexing="ij")
    smooth = np.sin(0.15 * j + 0.05 * i)
    assert dg.noise_level(smooth) < 0.01
    assert dg.noise_level(smooth + 0.1 * rng.standard_normal(smooth.shape)) == pytest.approx(0.1, rel=0.05)


def test_best_operator_finds_the_one_that_made_the_input():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((48, 48))
    for name in dg.OPERATORS:
        assert dg.best_operator(x, dg.apply(x, name)) == name


def test_degrade_with_draws_what_it_says_and_is_reproducible():
    hr = np.random.default_rng(5).standard_normal((64, 48))
    info = {}
    a = dg.degrade_with(hr, np.random.default_rng(7), info=info)
    b = dg.degrade_with(hr, np.random.default_rng(7))
    assert a.shape == (32, 24) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert info["operator"] in dg.OPERATORS and 0 <= info["noise"] <= 0.3 and 0 <= info["blur"] <= 0.6
    clean = dg.degrade_with(hr, np.random.default_rng(7), operators=["area"], max_phase=0, blur=(0, 0), noise=(0, 0))
    np.testing.assert_allclose(clean, dg.apply(hr, "area"), atol=1e-6)


def test_bad_names_and_shapes_are_named():
    with pytest.raises(ValueError, match=r"expected one of .*'decimate'.*found 'cubic'"):
        dg.matrix("cubic", 8)
    with pytest.raises(ValueError, match="even number >= 2 of samples, found 7"):
        dg.matrix("area", 7)
    with pytest.raises(ValueError, match=r"twice the input's shape, found \(8, 8\) and \(3, 4\)"):
        dg.project(np.zeros((8, 8)), np.zeros((3, 4)), "area")
