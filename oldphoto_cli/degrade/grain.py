"""Film grain: silver-halide clumps show as noise that is strongest in the mid-tones and is
larger than one pixel, unlike the paper's per-pixel sensor noise."""

from __future__ import annotations

import cv2
import numpy as np


def grain(rgb: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, dict]:
    """Add mid-tone weighted, slightly blurred noise, monochrome or (rarely) per channel."""
    h, w = rgb.shape[:2]
    sigma = float(rng.uniform(4.0, 14.0) * strength)
    size = float(rng.uniform(0.6, 1.6))
    coloured = bool(rng.random() < 0.2)
    shape = (h, w, 3) if coloured else (h, w)
    field = rng.standard_normal(shape, dtype=np.float32)
    field = cv2.GaussianBlur(field, (0, 0), size) * np.float32(size * 1.8)
    if not coloured:
        field = field[:, :, None]
    x = rgb.astype(np.float32)
    lum = x.mean(axis=2, keepdims=True) / 255
    weight = 0.35 + 2.6 * lum * (1 - lum)
    out = np.clip(x + field * weight * np.float32(sigma), 0, 255).round().astype(np.uint8)
    return out, {"op": "grain", "sigma": sigma, "size": size, "coloured": coloured}
