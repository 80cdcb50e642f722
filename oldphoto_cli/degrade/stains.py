"""Stains: water and foxing marks, brownish blotches with a darker tide line, multiplied into the print.

A stain's shape is a thresholded smooth noise field under a round falloff, so every stain is a
different irregular blob; the tide line is where that field crosses the threshold, as dried water
leaves its darkest ring at its edge. Stains land in the mask where they are clearly visible.
"""

from __future__ import annotations

import numpy as np

from oldphoto_cli.degrade.noise import fractal_field, smoothstep

#: Stain opacity from which a pixel counts as damaged.
STAIN_MASK = 0.15


def stains(rgb: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """Multiply 1-3 stains into ``rgb``; returns image, mask and record."""
    h, w = rgb.shape[:2]
    count = 1 + int(rng.poisson(0.8 * strength))
    out = rgb.astype(np.float32)
    mask = np.zeros((h, w), bool)
    colour = np.array([rng.uniform(0.75, 0.9), rng.uniform(0.55, 0.7), rng.uniform(0.3, 0.45)], np.float32)
    for _ in range(count):
        box, alpha = _stain_alpha(rng, h, w, min(1.0, rng.uniform(0.3, 0.7) * strength))
        y0, y1, x0, x1 = box
        tint = 1 - alpha[:, :, None] * (1 - colour)
        out[y0:y1, x0:x1] *= tint
        mask[y0:y1, x0:x1] |= alpha >= STAIN_MASK
    return (
        np.clip(out, 0, 255).round().astype(np.uint8),
        mask,
        {"op": "stains", "count": count, "colour": [round(float(c), 3) for c in colour]},
    )


def _stain_alpha(
    rng: np.random.Generator, h: int, w: int, opacity: float
) -> tuple[tuple[int, ...], np.ndarray]:
    """The stain's box and its opacity inside it: a blob with a soft body and a darker rim."""
    r = rng.uniform(0.06, 0.22) * min(h, w)
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    y0, y1 = int(max(0, cy - 1.6 * r)), int(min(h, cy + 1.6 * r))
    x0, x1 = int(max(0, cx - 1.6 * r)), int(min(w, cx + 1.6 * r))
    if y1 - y0 < 2 or x1 - x0 < 2:
        return (0, 1, 0, 1), np.zeros((1, 1), np.float32)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    radial = 1 - np.hypot(ys - cy, xs - cx) / r
    field = radial + 0.35 * fractal_field(rng, (y1 - y0, x1 - x0), (r / 2, r / 5, r / 12))
    body = smoothstep(field, 0.0, 0.25)
    rim = np.exp(-((field - 0.02) ** 2) / 0.004)
    alpha = opacity * np.clip(0.45 * body + 0.8 * rim * (field > -0.05), 0, 1)
    return (y0, y1, x0, x1), alpha.astype(np.float32)
