"""Halftone dots: photos reproduced in newspapers and books were printed as a screen of dots whose
size carries the tone; scans of such clippings show that screen."""

from __future__ import annotations

import numpy as np

from oldphoto_cli.colour import luma


def halftone(rgb: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, dict]:
    """Blend a rotated dot screen of the image's luminance into it, keeping its colours."""
    h, w = rgb.shape[:2]
    cell = float(rng.uniform(3.0, 6.0) * max(1.0, min(h, w) / 700))
    angle = float(rng.choice((15.0, 45.0, 75.0)))
    opacity = float(min(1.0, rng.uniform(0.25, 0.6) * strength))
    x = rgb.astype(np.float32) / 255
    lum = luma(x)
    screen = _screen(h, w, cell, np.deg2rad(angle))
    dots = np.clip((screen - (1 - lum)) * 4 + 0.5, 0, 1)  # 1 = paper, 0 = ink
    ratio = (dots + 0.02) / (lum + 0.02)
    mixed = x * (1 - opacity) + np.clip(x * ratio[:, :, None], 0, 1) * opacity
    out = np.clip(mixed * 255, 0, 255).round().astype(np.uint8)
    return out, {"op": "halftone", "cell": cell, "angle": angle, "opacity": opacity}


def _screen(h: int, w: int, cell: float, angle: float) -> np.ndarray:
    """The dot threshold pattern in [0, 1]: ink spreads from cell centres as darkness grows."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    u = (xs * np.cos(angle) + ys * np.sin(angle)) * np.float32(2 * np.pi / cell)
    v = (-xs * np.sin(angle) + ys * np.cos(angle)) * np.float32(2 * np.pi / cell)
    return (np.cos(u) + np.cos(v)) * np.float32(0.25) + np.float32(0.5)
