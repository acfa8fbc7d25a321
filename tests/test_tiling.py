"""Tiled inference: exact for functions that commute with cropping, seamless, any size."""
import numpy as np
import pytest

from ppsci_ext.tiling import tile_starts
from ppsci_ext.tiling import tiled_apply


@pytest.mark.parametrize("shape", [(100, 76), (64, 64), (40, 200), (30, 20)])
def test_identity_and_pointwise_functions_are_reproduced_exactly(shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(tiled_apply(lambda t: t, x, 32, 8), x, rtol=0, atol=1e-6)
    np.testing.assert_allclose(tiled_apply(lambda t: 2 * t + 1, x, 32, 8, batch_size=3), 2 * x + 1, atol=1e-5)


def test_tiles_cover_everything_with_the_overlap():
    for n, tile, overlap in [(100, 32, 8), (96, 32, 0), (33, 32, 31)]:
        s = tile_starts(n, tile, overlap)
        covered = np.zeros(n, bool)
        for a in s:
            covered[a:a + tile] = True
        assert covered.all() and s[-1] == n - tile
        assert all(b - a <= tile - overlap for a, b in zip(s, s[1:]))


def test_blending_has_no_seam():
    """Tiles that disagree by a constant blend smoothly: the output never jumps by more than the ramp allows."""
    x = np.zeros((128, 128), np.float32)
    counter = iter(range(1000))
    out = tiled_apply(lambda t: np.stack([np.full_like(a, next(counter)) for a in t]), x, 48, 16)
    jumps = np.abs(np.diff(out, axis=1)).max()
    assert jumps < 0.5 * (out.max() - out.min())


def test_bad_arguments():
    with pytest.raises(ValueError, match="overlap"):
        tile_starts(100, 32, 32)
    with pytest.raises(ValueError, match="2-D section or a 3-D volume"):
        tiled_apply(lambda t: t, np.zeros((2, 3, 4, 5)), 8, 2)


def test_volume_tiles_reproduce_identity_and_see_every_voxel():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 27, 13)).astype(np.float32)
    calls = []

    def fn(t):
        calls.append(t.shape)
        return t

    y = tiled_apply(fn, x, 8, 3, batch_size=5)
    assert np.allclose(y, x, atol=1e-6)
    assert all(c[1:] == (8, 8, 8) for c in calls)
    # a tile-local operation (tile mean) blends into a smooth, finite field everywhere
    z = tiled_apply(lambda t: np.broadcast_to(t.mean(axis=(1, 2, 3), keepdims=True), t.shape), x, 8, 3)
    assert z.shape == x.shape and np.isfinite(z).all()


def test_members_per_tile_are_blended_each_on_its_own():
    """fn giving m predictions per tile ([B, m, p, p]) -> [m, H, W], each as if tiled alone."""
    x = np.random.default_rng(3).standard_normal((70, 45)).astype(np.float32)
    both = tiled_apply(lambda t: np.stack([t, 2 * t + 1], axis=1), x, tile=32, overlap=8, batch_size=3)
    assert both.shape == (2, 70, 45)
    np.testing.assert_allclose(both[0], x, atol=1e-6)
    np.testing.assert_allclose(both[1], 2 * x + 1, atol=1e-5)
