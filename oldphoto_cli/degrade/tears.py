"""Torn or missing corners and holes, filled white as the published pipeline fills its holes.

The published code pastes white into irregular hole masks after all other degradation, so a hole
is pure 255 in the degraded image and 255 in the mask; we do the same. Our holes are generated: a
torn corner is the corner cut off along a jagged line, a hole is a blob with a noisy outline.
"""

from __future__ import annotations

import cv2
import numpy as np


def tears(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> tuple[np.ndarray, dict]:
    """The mask of torn corners and holes (bool H×W) and its record."""
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    corners = int(rng.binomial(4, min(0.9, 0.25 * strength)))
    holes = int(rng.poisson(0.8 * strength))
    if corners + holes == 0:
        corners = 1
    for corner in rng.choice(4, size=corners, replace=False):
        cv2.fillPoly(mask, [_corner_polygon(rng, w, h, int(corner))], 255)
    for _ in range(holes):
        cv2.fillPoly(mask, [_hole_polygon(rng, w, h)], 255)
    return mask > 0, {"op": "tears", "corners": corners, "holes": holes}


def _jagged(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, roughness: float) -> np.ndarray:
    """Points from a to b with a torn-paper edge: random offsets across the line, rough at all scales."""
    n = max(8, int(np.hypot(*(b - a)) / 3))
    t = np.linspace(0, 1, n)
    normal = np.array([-(b - a)[1], (b - a)[0]]) / (np.hypot(*(b - a)) + 1e-6)
    offsets = np.cumsum(rng.normal(0, roughness, n))
    offsets -= np.linspace(offsets[0], offsets[-1], n)  # pinned at both ends
    offsets += rng.normal(0, roughness * 0.5, n)
    return a + t[:, None] * (b - a) + offsets[:, None] * normal


def _corner_polygon(rng: np.random.Generator, w: int, h: int, corner: int) -> np.ndarray:
    """A corner cut off along a jagged line from one edge to the neighbouring edge."""
    size = min(w, h)
    cx, cy = (0.0 if corner in (0, 3) else float(w)), (0.0 if corner in (0, 1) else float(h))
    sx, sy = (1 if cx == 0 else -1), (1 if cy == 0 else -1)
    a = np.array([cx + sx * rng.uniform(0.05, 0.25) * size, cy])
    b = np.array([cx, cy + sy * rng.uniform(0.05, 0.25) * size])
    edge = _jagged(rng, a, b, max(1.0, size / 300))
    return np.round(np.vstack([[cx, cy], edge])).astype(np.int32)


def _hole_polygon(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A closed blob with a noisy radius: a hole or a chip of emulsion torn off."""
    r = rng.uniform(0.01, 0.05) * min(w, h)
    centre = rng.uniform((0, 0), (w, h))
    n = 48
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    wobble = np.cumsum(rng.normal(0, 0.08, n))
    wobble -= np.linspace(0, wobble[-1], n)
    radii = r * np.clip(1 + wobble + rng.normal(0, 0.05, n), 0.3, 2.0)
    pts = centre + radii[:, None] * np.stack([np.cos(angles), np.sin(angles) * rng.uniform(0.5, 1.0)], 1)
    return np.round(pts).astype(np.int32)
