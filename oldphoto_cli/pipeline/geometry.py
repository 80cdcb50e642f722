"""Padding to the sizes the networks need, and cropping back: never stretch a photo."""

from __future__ import annotations

import numpy as np


def padding_for(size: int, multiple: int) -> int:
    return (-size) % multiple


def pad_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    """Pad H×W(×C) at the bottom and right by reflection so both sides are multiples of ``multiple``.

    The published code resizes instead, which shifts and blurs every pixel; padding keeps the
    original pixels where they were, and an input that already fits is returned untouched.
    """
    pad_h = padding_for(image.shape[0], multiple)
    pad_w = padding_for(image.shape[1], multiple)
    if pad_h == 0 and pad_w == 0:
        return image
    widths = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (image.ndim - 2)
    fits = pad_h < image.shape[0] and pad_w < image.shape[1]
    return np.pad(image, widths, mode="reflect" if fits else "symmetric")


def crop_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    return image[:height, :width]
