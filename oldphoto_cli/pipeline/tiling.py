"""Restoring an image in overlapping tiles, blended with feathered seams, in bounded memory.

Any backend that maps an image to an image of the same size can run tiled: each tile is restored on
its own (with its share of the scratch mask) and written into a float accumulator with a weight
that ramps linearly from 0 to 1 across the overlap, so neighbouring tiles cross-fade instead of
meeting at a hard edge. Peak memory is then that of one tile plus the accumulators (16 bytes per
pixel), whatever the size of the scan.

Tiles differ from a whole-image run only through context: a tile's edge cuts the networks'
receptive field, and attention sees one tile, not the whole photo (instance normalisation is
shared across tiles, see pipeline/tile_statistics.py). A generous overlap keeps that difference
invisible. Networks that downsample are equivariant only to shifts by their total stride, so tile
origins are kept on multiples of ``align``: a tile then sees the same pixel grid as the whole image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TileFunction = Callable[[np.ndarray, np.ndarray | None], np.ndarray]


@dataclass(frozen=True)
class Box:
    """A tile's rows ``top:bottom`` and columns ``left:right`` in the full image."""

    top: int
    left: int
    bottom: int
    right: int


def _starts(length: int, tile: int, overlap: int, align: int) -> list[int]:
    """Tile origins along one side: near-equal steps on multiples of ``align``, the last tile flush
    with the end (``length - tile`` is a multiple of ``align`` when both sides are)."""
    if length <= tile:
        return [0]
    step = tile - overlap
    count = -(-(length - tile) // step) + 1
    return [round(i * (length - tile) / (count - 1) / align) * align for i in range(count)]


def tile_boxes(height: int, width: int, tile: int, overlap: int, align: int = 1) -> list[Box]:
    """Boxes of at most ``tile × tile`` covering the image, neighbours sharing about ``overlap``
    pixels (at least ``overlap - align``), origins on multiples of ``align``."""
    if overlap >= tile:
        raise ValueError(f"overlap {overlap} must be smaller than the tile {tile}")
    if tile % align or (height > tile and height % align) or (width > tile and width % align):
        raise ValueError(f"tile {tile} and a tiled {width}×{height} image must be multiples of {align}")
    return [
        Box(top, left, min(height, top + tile), min(width, left + tile))
        for top in _starts(height, tile, overlap, align)
        for left in _starts(width, tile, overlap, align)
    ]


def _ramp(length: int, fade_start: bool, fade_end: bool, overlap: int) -> np.ndarray:
    """1-D weight along a tile side: 0 over a guard band at a shared edge, then a linear rise to 1.

    The guard (a quarter of the overlap) drops the pixels nearest a tile's cut edge, whose context
    the network never saw; the rise over the middle half cross-fades with the neighbour.
    """
    weight = np.ones(length, np.float32)
    if not overlap:
        return weight
    guard = overlap // 4
    rise = max(1, overlap - 2 * guard)
    ramp = np.clip((np.arange(overlap, dtype=np.float32) + 0.5 - guard) / rise, 0.0, 1.0)
    n = min(overlap, length)
    if fade_start:
        weight[:n] = np.minimum(weight[:n], ramp[:n])
    if fade_end:
        weight[length - n :] = np.minimum(weight[length - n :], ramp[:n][::-1])
    return weight


def feather(box: Box, height: int, width: int, overlap: int) -> np.ndarray:
    """Blend weight of a tile (h×w float32): ramps only on sides that touch another tile."""
    rows = _ramp(box.bottom - box.top, box.top > 0, box.bottom < height, overlap)
    cols = _ramp(box.right - box.left, box.left > 0, box.right < width, overlap)
    return rows[:, None] * cols[None, :]


def run_tiled(
    rgb: np.ndarray,
    restore_tile: TileFunction,
    tile: int,
    overlap: int,
    mask: np.ndarray | None = None,
    on_tile: Callable[[int, int], None] | None = None,
    align: int = 1,
) -> np.ndarray:
    """Restore ``rgb`` (H×W×3) tile by tile; returns the blended H×W×3 float32 result.

    ``restore_tile(tile_rgb, tile_mask)`` returns the tile restored, same height and width, float.
    ``on_tile(done, total)`` reports progress on long scans; ``align`` see :func:`tile_boxes`.
    """
    height, width = rgb.shape[:2]
    boxes = tile_boxes(height, width, tile, overlap, align)
    total = np.zeros((height, width, 3), np.float32)
    weights = np.zeros((height, width, 1), np.float32)
    for done, box in enumerate(boxes, start=1):
        rows, cols = slice(box.top, box.bottom), slice(box.left, box.right)
        part_mask = None if mask is None else mask[rows, cols]
        restored = restore_tile(rgb[rows, cols], part_mask)
        w = feather(box, height, width, overlap)[..., None]
        total[rows, cols] += restored * w
        weights[rows, cols] += w
        if on_tile:
            on_tile(done, len(boxes))
    total /= weights
    return total
