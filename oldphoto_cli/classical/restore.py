"""The classical pipeline: defects → inpainting → denoising → levels and colour → local contrast."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .denoise import denoise_grey, denoise_rgb, estimate_noise_sigma, nlm_strength
from .image import check_rgb, grey_to_rgb, is_greyscale, luma
from .inpaint import inpaint
from .scratches import detect_in_luma, saturation
from .tone import levels, local_contrast

#: Largest accepted ``strength``: beyond this the bounded corrections no longer scale sensibly.
MAX_STRENGTH = 2.0


@dataclass(frozen=True)
class ClassicalResult:
    """Output of :func:`restore_classical`.

    ``image`` is the restored H×W×3 uint8 picture; ``mask`` the H×W boolean defect map that was
    inpainted (detected, or the one supplied), or None when defects were not handled at all.
    """

    image: np.ndarray
    mask: np.ndarray | None


def restore_classical(
    rgb: np.ndarray, *, scratch: bool = True, mask: np.ndarray | None = None, strength: float = 1.0
) -> ClassicalResult:
    """Restore an old photo scan without any learned weights.

    ``rgb`` is H×W×3 uint8. With ``scratch`` the defects are detected (see
    :func:`~oldphoto_cli.classical.scratches.detect_scratches`); a ``mask`` (True = damaged)
    replaces detection. ``strength`` (0–2) scales denoising, levels, cast removal and local
    contrast: 0 only inpaints defects, 1 is the default, gentle correction.
    Scans whose channels are nearly identical are processed as greyscale and come back with three
    identical channels.
    """
    rgb = check_rgb(rgb)
    strength = _check_strength(strength)
    grey = is_greyscale(rgb)
    work = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if grey else rgb
    defects = _defect_mask(rgb, work, scratch, mask)
    if defects is not None:
        work = inpaint(work, defects)
    work = _denoise(work, strength)
    work = local_contrast(levels(work, strength), strength)
    image = grey_to_rgb(work) if grey else work
    return ClassicalResult(image=np.ascontiguousarray(image), mask=defects)


def _check_strength(strength: float) -> float:
    """Reject NaN, negative or huge strengths up front, with a clear message."""
    value = float(strength)
    if not math.isfinite(value) or not 0.0 <= value <= MAX_STRENGTH:
        raise ValueError(f"strength must be between 0 and {MAX_STRENGTH}, got {strength!r}")
    return value


def _defect_mask(
    rgb: np.ndarray, work: np.ndarray, scratch: bool, mask: np.ndarray | None
) -> np.ndarray | None:
    """The supplied mask if any (it overrides detection), else detection if asked for."""
    if mask is not None:
        given = np.asarray(mask)
        if given.shape != rgb.shape[:2]:
            raise ValueError(f"mask shape {given.shape} does not match image {rgb.shape[:2]}")
        return given.astype(bool)
    if not scratch:
        return None
    if work.ndim == 2:
        return detect_in_luma(work.astype(np.float32))
    return detect_in_luma(luma(rgb), saturation=saturation(rgb))


def _denoise(work: np.ndarray, strength: float) -> np.ndarray:
    """NLM with a strength set by the scan's own grain level."""
    grey = work if work.ndim == 2 else cv2.cvtColor(work, cv2.COLOR_RGB2GRAY)
    h = nlm_strength(estimate_noise_sigma(grey), strength)
    return denoise_grey(work, h) if work.ndim == 2 else denoise_rgb(work, h)
