"""Fill detected defects from their surroundings."""

from __future__ import annotations

import cv2
import numpy as np

#: Neighbourhood radius (pixels) OpenCV's inpainting draws from; a bit more than a crack's width.
INPAINT_RADIUS = 5


def inpaint(image: np.ndarray, mask: np.ndarray, radius: int = INPAINT_RADIUS) -> np.ndarray:
    """Fill ``mask`` (True = damaged) in a uint8 grey or RGB image with Telea's fast marching.

    Telea propagates a smooth continuation of the surrounding colours inward along the isophotes;
    for cracks a few pixels wide that is indistinguishable from the missing picture, and it runs
    in time proportional to the number of masked pixels, so large scans stay cheap.
    """
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image {image.shape[:2]}")
    if not mask.any():
        return image
    filled = cv2.inpaint(image, mask.astype(np.uint8), radius, cv2.INPAINT_TELEA)
    return filled.reshape(image.shape)
