"""Apply a network to a section of any size by overlapping tiles blended smoothly.

Each tile's output is weighted by a separable window that is 1 in its middle
and falls off as a raised cosine over ``overlap`` samples at the tile's edges
(but not at the section's edges), and the weighted sum is divided by the sum
of the weights, so seams carry no jump and a function that commutes with
cropping (e.g. the identity) is reproduced exactly.
"""
from typing import Callable
from typing import List

import numpy as np

__all__ = ["tile_starts", "blend_window", "tiled_apply"]


def tile_starts(n: int, tile: int, overlap: int) -> List[int]:
    """Start indices of tiles of length ``tile`` covering 0..n-1 with at least ``overlap`` shared samples."""
    if not 0 <= overlap < tile:
        raise ValueError(f"tiling: need 0 <= overlap < tile, found overlap={overlap}, tile={tile}")
    if n <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, n - tile, step)) + [n - tile]
    return starts


def blend_window(tile: int, overlap: int, first: bool, last: bool) -> np.ndarray:
    """1-D weights [tile]: raised-cosine ramps of length ``overlap`` except at the section's own edges."""
    w = np.ones(tile)
    if overlap:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)
        if not first:
            w[:overlap] = ramp
        if not last:
            w[-overlap:] = ramp[::-1]
    return w


def tiled_apply(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, tile: int, overlap: int,
                batch_size: int = 4, progress: bool = False) -> np.ndarray:
    """``fn`` maps a batch of tiles [B, tile, tile] to [B, tile, tile]; returns fn applied to all of x [H, W].

    A section smaller than ``tile`` along an axis is edge-padded to the tile and cropped back.
    """
    if x.ndim != 2:
        raise ValueError(f"tiled_apply: expected a 2-D section, found shape {x.shape}")
    h, w = x.shape
    pad = ((0, max(tile - h, 0)), (0, max(tile - w, 0)))
    xp = np.pad(x, pad, mode="edge")
    hs, ws = tile_starts(xp.shape[0], tile, overlap), tile_starts(xp.shape[1], tile, overlap)
    corners = [(i, j) for i in hs for j in ws]
    out = np.zeros(xp.shape, np.float64)
    weight = np.zeros(xp.shape, np.float64)
    batches = range(0, len(corners), batch_size)
    if progress:
        from tqdm import tqdm
        batches = tqdm(batches, desc="tiles")
    for b in batches:
        chunk = corners[b:b + batch_size]
        pred = fn(np.stack([xp[i:i + tile, j:j + tile] for i, j in chunk]))
        for (i, j), p in zip(chunk, pred):
            win = np.outer(blend_window(tile, overlap, i == hs[0], i == hs[-1]),
                           blend_window(tile, overlap, j == ws[0], j == ws[-1]))
            out[i:i + tile, j:j + tile] += win * p
            weight[i:i + tile, j:j + tile] += win
    return (out / weight)[:h, :w].astype(np.float32)
