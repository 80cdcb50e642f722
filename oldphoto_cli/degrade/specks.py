"""Dust and specks: many tiny dots and blobs, a few hairs, dark and bright, on the damage canvas.

Sizes follow a heavy-tailed law (most specks are a pixel or two, a few are large blobs), which is
what dust on a print or on the scanner glass looks like; counts scale with the area.
"""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli.degrade.canvas import SHIFT, DamageCanvas, fixed
from oldphoto_cli.degrade.strokes import hairs


def dust(canvas: DamageCanvas, rng: np.random.Generator, strength: float) -> dict:
    """Scatter specks (dots and irregular blobs) and hairs; returns the counts."""
    h, w = canvas.bright.shape
    megapixels = h * w / 1e6
    count = int(rng.poisson(strength * rng.uniform(60, 400) * max(megapixels, 0.15)))
    scale = max(0.5, min(h, w) / 512)
    dark_share = rng.uniform(0.4, 0.8)
    centres = rng.uniform((0, 0), (w, h), size=(count, 2))
    radii = np.minimum(0.5 + rng.pareto(2.5, count) * 1.2 * scale, 12 * scale)
    dark = rng.random(count) < dark_share
    opacity = rng.uniform(0.5, 1.0, count)
    axes_ratio = rng.uniform(0.4, 1.0, count)
    angles = rng.uniform(0, 180, count)
    for i in range(count):
        _speck(canvas.layer(not dark[i]), centres[i], radii[i], axes_ratio[i], angles[i], opacity[i])
    n_hairs = int(rng.poisson(strength * 2.0 * max(megapixels, 0.25)))
    hairs(canvas, rng, n_hairs)
    return {"op": "dust", "specks": count, "dark_share": float(dark_share), "hairs": n_hairs}


def _speck(
    layer: np.ndarray, centre: np.ndarray, radius: float, ratio: float, angle: float, opacity: float
) -> None:
    """One elliptical speck; under a pixel it is drawn as a faint single dot instead."""
    value = round(255 * opacity * min(1.0, 0.4 + radius))
    c = fixed(centre)
    axes = (max(1, int(radius * (1 << SHIFT))), max(1, int(radius * ratio * (1 << SHIFT))))
    cv2.ellipse(layer, (int(c[0]), int(c[1])), axes, float(angle), 0, 360, value, -1, cv2.LINE_AA, SHIFT)
