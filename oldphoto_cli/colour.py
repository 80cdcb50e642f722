"""Colour facts shared by restoration, degradation and evaluation."""

from __future__ import annotations

import numpy as np

#: ITU-R BT.601 luma weights (JPEG's full-range Y'): what the eye mostly judges brightness by.
BT601 = (0.299, 0.587, 0.114)


def luma(rgb: np.ndarray) -> np.ndarray:
    """Y' of a float H×W×3 array, in the array's own dtype and scale (0–1 in, 0–1 out; 0–255 likewise)."""
    return rgb[..., :3] @ np.asarray(BT601, dtype=rgb.dtype)
