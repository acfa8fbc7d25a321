"""Tiled inference: exact for functions that commute with cropping, seamless, any size."""
import itertools

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


def raised_cosine_windows(n, tile, overlap):
    """[tiles, n]: each tile's weight along one axis, written out here rather than taken from the module: 1 in
    the tile, a raised cosine 0.5 - 0.5 cos(pi (j + 1/2) / overlap) over the overlap with a neighbour."""
    starts = tile_starts(n, tile, overlap)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)
    w = np.zeros((len(starts), n))
    for k, s in enumerate(starts):
        w[k, s:s + tile] = 1.0
        if k > 0:
            w[k, s:s + overlap] = ramp
        if k < len(starts) - 1:
            w[k, s + tile - overlap:s + tile] = ramp[::-1]
    return starts, w


def test_blending_has_no_seam():
    """Tiles that disagree by a constant (neighbours along a row by 1) blend over the overlap: along a row the
    output moves by at most the raised cosine's largest step per sample, 0.098 for an overlap of 16, where
    pasting the tiles with a hard cut would jump by 1."""
    x = np.zeros((128, 128), np.float32)
    counter = iter(range(1000))
    out = tiled_apply(lambda t: np.stack([np.full_like(a, next(counter)) for a in t]), x, 48, 16)
    largest_step = np.abs(np.diff(raised_cosine_windows(128, 48, 16)[1][0])).max()
    assert 0.09 < largest_step < 0.1
    assert np.abs(np.diff(out, axis=1)).max() <= largest_step + 1e-5


@pytest.mark.parametrize("shape, tile, overlap", [((100, 76), 32, 8), ((128, 128), 48, 16), ((40, 200), 32, 12)])
def test_tiles_with_their_own_gain_and_offset_blend_as_the_windows_say(shape, tile, overlap):
    """A smooth field through a function whose gain and offset depend on the tile (its mean and its corner
    value): the output is the windows' weighted mean of the tiles' outputs, sum_k w_k (g_k x + c_k) / sum_k w_k
    with w_k the product of the raised-cosine windows along both axes, to 8 float32 steps of the largest
    output (9e-6 for outputs up to 9.2; 1.4e-6 measured). Tiles pasted with a hard cut, or cut in the middle
    of the overlap, differ from it by the tiles' disagreement: 1.2 to 4 here."""
    i, j = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    x = (np.sin(i / 9.0) + np.cos(j / 13.0) + 0.01 * i).astype(np.float32)

    def fn(t):  # [B, tile, tile]: gain 1 + tile mean, offset the tile's corner value
        return (1 + t.mean(axis=(1, 2), keepdims=True)) * t + t[:, :1, :1]

    out = tiled_apply(fn, x, tile, overlap, batch_size=3)
    (rows, wr), (cols, wc) = (raised_cosine_windows(n, tile, overlap) for n in shape)
    num, den = np.zeros(shape), np.zeros(shape)
    for (a, r), (b, c) in itertools.product(zip(rows, wr), zip(cols, wc)):
        t = x[a:a + tile, b:b + tile].astype(np.float64)
        w = np.outer(r, c)
        num += w * ((1 + t.mean()) * x + t[0, 0])
        den += w
    want = num / den
    tol = 8 * np.finfo(np.float32).eps * np.abs(want).max()  # 8 float32 steps of the largest output
    print(f"largest |output| {np.abs(want).max():.2f}, error {np.abs(out - want).max():.1e}, tolerance {tol:.1e}")
    np.testing.assert_allclose(out, want, rtol=0, atol=tol)


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
