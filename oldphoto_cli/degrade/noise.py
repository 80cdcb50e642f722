"""Smooth random fields, the raw material of stains, paper texture and uneven fading.

Drawing a coarse grid of random values and resizing it up with cubic interpolation gives a smooth
field at the grid's scale in a few milliseconds; summing a few scales gives the blotchy, fibrous
look of real paper. Everything takes the caller's Generator, so fields are reproducible.
"""

from __future__ import annotations

import cv2
import numpy as np


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-ish variance float32 field whose features are about ``scale`` pixels wide."""
    h, w = shape
    gh, gw = max(2, round(h / scale) + 2), max(2, round(w / scale) + 2)
    grid = rng.standard_normal((gh, gw), dtype=np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def fractal_field(
    rng: np.random.Generator, shape: tuple[int, int], scales: tuple[float, ...], falloff: float = 0.6
) -> np.ndarray:
    """Sum of smooth fields at several scales (largest first), normalised to zero mean, unit std."""
    total = np.zeros(shape, np.float32)
    weight = 1.0
    for scale in scales:
        total += weight * smooth_field(rng, shape, scale)
        weight *= falloff
    return (total - total.mean()) / (total.std() + 1e-6)


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 below ``lo``, 1 above ``hi``, a smooth S between: soft edges for thresholded fields."""
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
