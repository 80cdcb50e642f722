"""A contact sheet of seeds: one row per photo, the clean original then one column per seed.

Judging synthetic damage needs eyes on many samples side by side; the grid is what ``--preview``
writes and what the README shows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from oldphoto_cli.degrade.config import DegradeConfig
from oldphoto_cli.degrade.pipeline import degrade

GAP = 4
BACKGROUND = 40


def preview_grid(
    photos: Sequence[np.ndarray],
    seeds: Sequence[int],
    config: DegradeConfig,
    cell_height: int = 256,
    row_stride: int = 0,
) -> np.ndarray:
    """Rows of [clean, degraded(seed) for each seed], each cell scaled to ``cell_height``.

    Row ``r`` uses ``seed + r * row_stride``: 0 shows the same damage on every photo (what a seed
    means), ``len(seeds)`` a different damage in every cell (a fairer sample of the distribution).
    """
    rows = [
        _row(photo, [s + r * row_stride for s in seeds], config, cell_height)
        for r, photo in enumerate(photos)
    ]
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=BACKGROUND) for r in rows]
    return _join(rows, axis=0)


def _row(photo: np.ndarray, seeds: Sequence[int], config: DegradeConfig, cell_height: int) -> np.ndarray:
    """One photo and its degraded versions; degradation runs at full size, then the cells shrink."""
    cells = [photo] + [degrade(photo, np.random.default_rng(seed), config).image for seed in seeds]
    return _join([_fit(cell, cell_height) for cell in cells], axis=1)


def _fit(rgb: np.ndarray, height: int) -> np.ndarray:
    """Scale to ``height`` keeping the aspect ratio (area resampling, so damage stays visible)."""
    h, w = rgb.shape[:2]
    size = (max(1, round(w * height / h)), height)
    return np.asarray(Image.fromarray(rgb).resize(size, Image.LANCZOS))


def _join(parts: list[np.ndarray], axis: int) -> np.ndarray:
    """Concatenate with a thin dark gap between parts."""
    out: list[np.ndarray] = []
    for i, part in enumerate(parts):
        if i:
            gap_shape = list(part.shape)
            gap_shape[axis] = GAP
            out.append(np.full(gap_shape, BACKGROUND, np.uint8))
        out.append(part)
    return np.concatenate(out, axis=axis)
