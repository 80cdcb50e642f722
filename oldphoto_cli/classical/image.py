"""Small colour-space helpers shared by the classical restoration steps."""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli.colour import luma as bt601_luma

# Rec. 601 weights: the same ones OpenCV uses for its own grey conversion.

#: Mean absolute channel difference (grey levels) under which a scan counts as monochrome.
GREY_MEAN_DIFF = 2.0
#: 99th percentile of the channel difference under which a scan counts as monochrome.
GREY_P99_DIFF = 8.0


def check_rgb(rgb: np.ndarray) -> np.ndarray:
    """Validate an H×W×3 uint8 array early, so that OpenCV never sees a malformed buffer."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(
            f"expected an H×W×3 uint8 array, got {getattr(rgb, 'shape', None)} "
            f"{getattr(rgb, 'dtype', type(rgb))}"
        )
    if rgb.shape[0] < 8 or rgb.shape[1] < 8:
        raise ValueError(f"image too small to restore: {rgb.shape[1]}×{rgb.shape[0]}")
    return np.ascontiguousarray(rgb)


def luma(rgb: np.ndarray) -> np.ndarray:
    """Float32 luma in grey levels (0–255): defects show up in brightness, not in hue."""
    return bt601_luma(rgb.astype(np.float32))


def is_greyscale(rgb: np.ndarray) -> bool:
    """True when the three channels are (nearly) identical, i.e. a black-and-white scan.

    Such scans are processed on luma alone, so that the result stays exactly neutral instead of
    picking up colour noise from independent per-channel processing.
    """
    sample = rgb[:: max(1, rgb.shape[0] // 256), :: max(1, rgb.shape[1] // 256)].astype(np.int16)
    diff = np.maximum(np.abs(sample[..., 0] - sample[..., 1]), np.abs(sample[..., 2] - sample[..., 1]))
    return float(diff.mean()) < GREY_MEAN_DIFF and float(np.percentile(diff, 99)) < GREY_P99_DIFF


def grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    """Stack one uint8 channel into three identical ones."""
    return np.repeat(grey[..., None], 3, axis=2)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Round and clip float data back to uint8 pixels."""
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def ycrcb(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 → YCrCb uint8: separates brightness (denoised carefully) from chroma (smoothed)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)


def rgb_from_ycrcb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`ycrcb`."""
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
