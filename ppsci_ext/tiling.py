"""Apply a network to a section of any size by overlapping tiles blended smoothly.

Each tile's output is weighted by a separable window that is 1 in its middle
and falls off as a raised cosine over ``overlap`` samples at the tile's edges
(but not at the section's edges), and the weighted sum is divided by the sum
of the weights, so seams carry no jump and a function that commutes with
cropping (e.g. the identity) is reproduced exactly.
"""
import functools
import itertools
from typing import Callable
from typing import List

import numpy as np

from ppsci_ext.parallel import fork_map

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
                batch_size: int = 4, progress: bool = False, nprocs: int = 1) -> np.ndarray:
    """``fn`` maps a batch of tiles [B, tile, tile] to [B, tile, tile]; returns fn applied to all of x [H, W].

    Volumes work the same way: x [D, H, W] and tiles [B, tile, tile, tile]. A section
    smaller than ``tile`` along an axis is edge-padded to the tile and cropped back.
    ``fn`` may also give m predictions per tile, [B, m, tile, tile]: the result is then [m, H, W],
    each member blended on its own. ``nprocs > 1``: the batches are shared by that many single-thread
    processes (:func:`ppsci_ext.parallel.fork_map`; the same batches, so the same result), without a progress bar.
    """
    if x.ndim not in (2, 3):
        raise ValueError(f"tiled_apply: expected a 2-D section or a 3-D volume, found shape {x.shape}")
    pad = tuple((0, max(tile - n, 0)) for n in x.shape)
    xp = np.pad(x, pad, mode="edge")
    starts = [tile_starts(n, tile, overlap) for n in xp.shape]
    corners = list(itertools.product(*starts))
    out, weight = None, np.zeros(xp.shape, np.float64)
    chunks = [corners[b:b + batch_size] for b in range(0, len(corners), batch_size)]

    def boxes_of(chunk):
        return [tuple(slice(i, i + tile) for i in c) for c in chunk]

    def predict(chunk):
        return fn(np.stack([xp[box] for box in boxes_of(chunk)]))

    if nprocs > 1 and len(chunks) > 1:
        preds = fork_map(predict, chunks, nprocs)
    else:
        preds = (predict(chunk) for chunk in (chunks if not progress else _bar(chunks)))
    for chunk, pred in zip(chunks, preds):
        boxes = boxes_of(chunk)
        if out is None:  # [m, ...] when fn gives m members per tile
            out = np.zeros(pred.shape[1:-x.ndim] + xp.shape, np.float64)
        for c, box, p in zip(chunk, boxes, pred):
            win = functools.reduce(np.multiply.outer, [blend_window(tile, overlap, i == s[0], i == s[-1])
                                                       for i, s in zip(c, starts)])
            out[(Ellipsis,) + box] += win * p
            weight[box] += win
    return (out / weight)[(Ellipsis,) + tuple(slice(0, n) for n in x.shape)].astype(np.float32)


def _bar(chunks):
    from tqdm import tqdm
    return tqdm(chunks, desc="tiles")
