"""Turning network outputs into 8-bit pixels, explicitly.

The published pipeline saves with torchvision's ``save_image(normalize=True)``, which stretches
every output so its darkest value becomes 0 and its brightest 255. That changes each photo's tones
by a different amount, so oldphoto does not do it by default; ``upstream_levels=True`` reproduces it
for byte-level comparison with the published code.
"""

from __future__ import annotations

import numpy as np


def stretch_min_max(image: np.ndarray) -> np.ndarray:
    """The published save's min-max stretch over the whole image (all channels together)."""
    low, high = float(image.min()), float(image.max())
    return (np.clip(image, low, high) - low) / max(high - low, 1e-5)


def to_uint8(image01: np.ndarray, *, upstream_levels: bool = False) -> np.ndarray:
    """[0, 1] floats to uint8 with round-half-up, as torchvision saves; optionally stretched first."""
    if upstream_levels:
        image01 = stretch_min_max(image01)
    return np.clip(image01 * 255.0 + 0.5, 0, 255).astype(np.uint8)
