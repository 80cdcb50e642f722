"""Full-reference metrics: PSNR and SSIM on RGB and on luma, and scratch-mask agreement.

SSIM follows Wang et al. (2004) with the settings scikit-image uses for ``gaussian_weights=True``:
an 11×11 Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03, data range 255, population
(not sample) covariances, and the mean taken over the map with the 5-pixel border cropped, where
the window would reach past the image. Colour SSIM is the mean over the three channels.
Luma is ITU-R BT.601 full-range Y' = 0.299 R + 0.587 G + 0.114 B (JPEG's Y, 0–255), so the
same data range of 255 applies; this is not the studio-range (16–235) Y of MATLAB's rgb2ycbcr.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from oldphoto_cli.colour import luma as bt601_luma

DATA_RANGE = 255.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 Y' as float64 on 0–255: what the eye mostly judges sharpness and noise by."""
    return bt601_luma(np.asarray(rgb, dtype=np.float64))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """Peak signal-to-noise ratio in dB; ``math.inf`` for identical images."""
    _check_same_shape(a, b)
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """Mean structural similarity; an H×W×C image is scored per channel and averaged."""
    _check_same_shape(a, b)
    x = np.asarray(a, np.float64)
    y = np.asarray(b, np.float64)
    if x.ndim == 2:
        return _ssim_plane(x, y, data_range)
    return float(np.mean([_ssim_plane(x[..., c], y[..., c], data_range) for c in range(x.shape[2])]))


def _ssim_plane(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """SSIM of one plane: local Gaussian statistics, then the mean over the valid interior."""
    pad = (SSIM_WINDOW - 1) // 2
    if min(x.shape) <= 2 * pad:
        raise ValueError(f"SSIM needs images larger than {2 * pad}×{2 * pad}, got {x.shape}")
    mx, my = _blur(x), _blur(y)
    vx = _blur(x * x) - mx * mx
    vy = _blur(y * y) - my * my
    cxy = _blur(x * y) - mx * my
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    num = (2 * mx * my + c1) * (2 * cxy + c2)
    den = (mx * mx + my * my + c1) * (vx + vy + c2)
    return float(np.mean((num / den)[pad:-pad, pad:-pad]))


def _blur(plane: np.ndarray) -> np.ndarray:
    """The SSIM window as a separable Gaussian; mirrored borders only touch the cropped margin."""
    size = (SSIM_WINDOW, SSIM_WINDOW)
    return cv2.GaussianBlur(plane, size, SSIM_SIGMA, sigmaY=SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)


def _check_same_shape(a: np.ndarray, b: np.ndarray) -> None:
    """Comparing different sizes is a pairing bug in the dataset, never something to resize away."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"images differ in shape: {np.shape(a)} vs {np.shape(b)}")


@dataclass(frozen=True)
class MaskCounts:
    """Pixel counts of a predicted damage mask against the true one; they add up across photos."""

    tp: int
    fp: int
    fn: int

    def __add__(self, other: MaskCounts) -> MaskCounts:
        return MaskCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        """Share of flagged pixels that are damaged (1 when nothing is flagged and nothing is damaged)."""
        return _ratio(self.tp, self.tp + self.fp, other_empty=self.fn == 0)

    @property
    def recall(self) -> float:
        """Share of damaged pixels that were flagged (1 when nothing is damaged and nothing flagged)."""
        return _ratio(self.tp, self.tp + self.fn, other_empty=self.fp == 0)

    @property
    def iou(self) -> float:
        """Intersection over union (1 when both masks are empty)."""
        return _ratio(self.tp, self.tp + self.fp + self.fn, other_empty=True)


def _ratio(num: int, den: int, *, other_empty: bool) -> float:
    """An empty denominator is perfect agreement if the other set is empty too, else a miss (0)."""
    if den == 0:
        return 1.0 if other_empty else 0.0
    return num / den


def mask_counts(predicted: np.ndarray, truth: np.ndarray) -> MaskCounts:
    """Count agreement of two H×W masks (non-zero = damaged)."""
    _check_same_shape(predicted, truth)
    p = np.asarray(predicted) != 0
    t = np.asarray(truth) != 0
    return MaskCounts(int(np.sum(p & t)), int(np.sum(p & ~t)), int(np.sum(~p & t)))


def full_reference(restored: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    """All image metrics of one restored photo against its clean original, by report column."""
    return {
        "psnr": psnr(restored, clean),
        "psnr_y": psnr(luma(restored), luma(clean)),
        "ssim": ssim(restored, clean),
        "ssim_y": ssim(luma(restored), luma(clean)),
    }
