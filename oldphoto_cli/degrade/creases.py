"""Creases: a print folded once leaves a near-straight line across it, a cracked bright ridge with a
soft light/shadow band on either side.

The cracked ridge goes into the damage canvas (it is damage, it lands in the mask); the soft band
only shades the photo a little, like the scan light falling on a bent surface, and is not masked.
"""

from __future__ import annotations

import numpy as np

from oldphoto_cli.degrade.canvas import DamageCanvas
from oldphoto_cli.degrade.strokes import draw_tapered, walk


def creases(
    rgb: np.ndarray, canvas: DamageCanvas, rng: np.random.Generator, strength: float
) -> tuple[np.ndarray, dict]:
    """One or two fold lines edge to edge; returns the shaded image and the record."""
    h, w = rgb.shape[:2]
    count = 1 + int(rng.random() < 0.3 * strength)
    shade = np.zeros((h, w), np.float32)
    for _ in range(count):
        a, b = _edge_to_edge(rng, w, h)
        length = float(np.hypot(*(b - a)))
        heading = float(np.arctan2(b[1] - a[1], b[0] - a[0]))
        step = 3.0
        pts = walk(rng, a, heading, int(length / step) + 1, step, 0.002, 0.12)
        width = rng.uniform(0.8, 2.0) * max(0.5, min(h, w) / 512)
        draw_tapered(canvas.bright, pts, width, min(1.0, rng.uniform(0.5, 0.9) * max(strength, 0.5)))
        shade += _fold_shading(h, w, a, b, rng.uniform(4, 14) * max(0.5, min(h, w) / 512))
    amount = rng.uniform(0.04, 0.12) * min(strength, 2.0)
    out = np.clip(rgb.astype(np.float32) * (1 + amount * shade[:, :, None]), 0, 255).round().astype(np.uint8)
    return out, {"op": "creases", "count": count, "shading": float(amount)}


def _edge_to_edge(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Two points on opposite edges (left-right or top-bottom), so the fold crosses the print."""
    if rng.random() < 0.5:
        return np.array([0.0, rng.uniform(0, h)]), np.array([float(w), rng.uniform(0, h)])
    return np.array([rng.uniform(0, w), 0.0]), np.array([rng.uniform(0, w), float(h)])


def _fold_shading(h: int, w: int, a: np.ndarray, b: np.ndarray, width: float) -> np.ndarray:
    """Signed shading: lighter on one side of the line a-b, darker on the other, fading with distance."""
    d = b - a
    normal = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-6)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = (xs - a[0]) * normal[0] + (ys - a[1]) * normal[1]
    return (np.sign(dist) * np.exp(-np.abs(dist) / width)).astype(np.float32)
