"""Scratch, crease and dust detection by grey-level morphology.

A scratch on a print is a thin line much brighter (emulsion gone, paper showing) or darker (dirt,
fibres) than what surrounds it. A top-hat transform with a structuring element a little wider than
the line isolates such thin features. What separates a scratch from an eyelash, a fence slat or
the skin between eyelid and brow is (a) contrast far above the grain and the local busyness,
(b) outshining *everything* broad nearby, not just its two sides (paper is whiter than the
picture), and (c) shape: long and thin. Small isolated blobs that stand out strongly are dust.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .denoise import estimate_noise_sigma
from .image import check_rgb, luma

#: Contrast threshold in units of the estimated grain σ.
K_SIGMA = 4.0
#: Contrast threshold in units of the local busyness (mean gradient of the defect-free image).
K_GRADIENT = 2.5
#: Contrast threshold in units of the local median top-hat response (how textured the area is).
K_TEXTURE = 4.0
#: Contrast (grey levels) no defect can be fainter than, whatever the noise estimate says.
MIN_CONTRAST = 12.0
#: Hysteresis: top-hat pixels above this fraction of the threshold extend a seeded component...
LOW_FRACTION = 0.35
#: ... provided they also clear this fraction of the grain floor, so that growth stops at the
#: noise instead of wandering off through it.
LOW_FLOOR_FRACTION = 0.6
#: Share of a component's pixels that must be seeds: a lone seed cannot annex a whole feature.
MIN_SEED_SHARE = 0.25
#: A line must be at least this many times longer than it is thick.
MIN_ELONGATION = 6.0
#: ... and at least this long, as a fraction of the short side of the image: petals, eyelashes and
#: glints are short, while creases and scratches run across a good part of the print.
MIN_LENGTH_FRACTION = 0.07
#: Dust must stand out this much more than a line does (blobs are rarer, and riskier to remove).
SPECK_BOOST = 2.0
#: ... and lie on a calm area, whose threshold is at most this multiple of the grain floor: a
#: white blob amid foliage is a flower, and the same blob on a cheek or a sky is dust.
CALM_FACTOR = 1.25
#: Bright defects show bare paper, which is near-neutral: components whose mean HSV saturation
#: exceeds this are coloured picture content (a yellow mast, a red stripe), not damage...
MAX_BRIGHT_SATURATION = 0.4
#: ... unless they are clearly less saturated than their surroundings (this fraction of them), as
#: paper is in a strongly toned sepia print.
PAPER_SATURATION_RATIO = 0.75
#: Dark defects need this much more contrast than bright ones: cracks in the emulsion show the
#: white paper, while dark thin strokes are mostly picture content (eyes, brows, lips, outlines).
DARK_PENALTY = 3.0


@dataclass(frozen=True)
class DetectionScale:
    """Sizes tied to the image resolution: defects scale with the scan, not with the pixel grid."""

    kernel: int  # structuring element (odd): widest line that still counts as a scratch
    context: int  # window (odd) over which busyness is measured
    surround: int  # window (odd) whose broad features a defect must outshine
    speck_area: int  # largest blob (pixels) that can be dust
    min_length: float  # shortest line (pixels) that can be a scratch

    @classmethod
    def for_shape(cls, height: int, width: int) -> DetectionScale:
        """Scale the element with the short side: 7 px up to ~700 px, 15 px from ~1200 px up."""
        short = min(height, width)
        kernel = int(np.clip(short / 80.0, 7, 15)) | 1
        return cls(
            kernel=kernel,
            context=3 * kernel | 1,
            surround=2 * kernel + 1,
            speck_area=3 * kernel * kernel // 4,
            min_length=max(12.0, MIN_LENGTH_FRACTION * short),
        )


def detect_scratches(rgb: np.ndarray, *, sensitivity: float = 1.0) -> np.ndarray:
    """Boolean H×W mask of scratches, creases and dust specks (True = damaged).

    ``sensitivity`` > 1 finds fainter defects (and more false alarms); < 1 is more conservative.
    """
    rgb = check_rgb(rgb)
    return detect_in_luma(luma(rgb), saturation=saturation(rgb), sensitivity=sensitivity)


def saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV saturation in [0, 1]: (max − min) / max of the three channels."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float32) / 255.0


def detect_in_luma(
    grey: np.ndarray, *, saturation: np.ndarray | None = None, sensitivity: float = 1.0
) -> np.ndarray:
    """Detection on a float32 luma plane: bright and dark defects, merged and slightly grown.

    With a ``saturation`` map (colour scans), strongly coloured bright features are left alone.
    """
    scale = DetectionScale.for_shape(*grey.shape)
    smooth = cv2.GaussianBlur(grey, (0, 0), 0.8)
    top, black = top_hats(smooth, scale.kernel)
    floor = max(K_SIGMA * estimate_noise_sigma(grey), MIN_CONTRAST)
    threshold = defect_threshold(smooth, np.maximum(top, black), floor, scale) / max(sensitivity, 1e-3)
    floor /= max(sensitivity, 1e-3)
    calm = threshold <= CALM_FACTOR * floor
    low = np.maximum(LOW_FRACTION * threshold, LOW_FLOOR_FRACTION * floor)
    bright, dark = outshine(smooth, top, black, scale)
    mask = select_defects(bright, top, threshold, low, calm, scale, saturation)
    mask |= select_defects(dark, black, DARK_PENALTY * threshold, DARK_PENALTY * low, calm, scale)
    return grow(mask, 1 if scale.kernel < 11 else 2)


def top_hats(grey: np.ndarray, kernel: int) -> tuple[np.ndarray, np.ndarray]:
    """White and black top-hats: how far each pixel rises above (dips below) every feature at
    least ``kernel`` wide around it. Edges and broad shapes give ~0; thin lines stand out."""
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel, kernel))
    top = cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, element)
    black = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, element)
    return top, black


def outshine(
    grey: np.ndarray, top: np.ndarray, black: np.ndarray, scale: DetectionScale
) -> tuple[np.ndarray, np.ndarray]:
    """How far a thin feature outshines the brightest (darkest) broad feature near it.

    A top-hat also fires on a thin highlight squeezed between two dark features (the skin
    between eyelid and brow, the lip line under a moustache, the rim of a frame). A crack shows
    the paper, which is brighter than any picture content nearby: so compare with the *brightest*
    broad feature within a few widths (the opening, dilated), not with the two sides only.
    """
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (scale.surround, scale.surround))
    broad_bright = cv2.dilate(grey - top, element)
    broad_dark = cv2.erode(grey + black, element)
    return np.clip(grey - broad_bright, 0, None), np.clip(broad_dark - grey, 0, None)


def defect_threshold(
    grey: np.ndarray, response: np.ndarray, floor: float, scale: DetectionScale
) -> np.ndarray:
    """Per-pixel contrast a defect must exceed: above the grain ``floor``, and above busyness.

    Two busyness measures, both blind to the defects themselves: the mean gradient of a
    median-filtered copy (thin defects vanish from it, while eyes, mouths and object outlines
    survive) and the local *median* of the top-hat response (high in hair, foliage and fabric,
    where thin bright and dark strokes are the texture; a scratch covers too few pixels of the
    window to move a median).
    """
    clean = cv2.medianBlur(np.clip(grey, 0, 255).astype(np.uint8), scale.kernel).astype(np.float32)
    gx = cv2.Sobel(clean, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(clean, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    busyness = cv2.blur(cv2.magnitude(gx, gy), (scale.context, scale.context))
    texture = _local_median(response, scale.context)
    return np.maximum(np.maximum(K_GRADIENT * busyness, K_TEXTURE * texture), floor)


def _local_median(values: np.ndarray, window: int, step: float = 0.25) -> np.ndarray:
    """Median over a window, via OpenCV's constant-time uint8 median on a grid of ``step``."""
    quantised = np.clip(np.rint(values / step), 0, 255).astype(np.uint8)
    return cv2.medianBlur(quantised, window).astype(np.float32) * step


def select_defects(
    strict: np.ndarray,
    loose: np.ndarray,
    threshold: np.ndarray,
    low: np.ndarray,
    calm: np.ndarray,
    scale: DetectionScale,
    saturation: np.ndarray | None = None,
) -> np.ndarray:
    """Hysteresis selection, then keep only the components shaped like defects.

    Seeds are pixels whose ``strict`` response (the outshine measure) clears the threshold;
    each seeded component then takes in the connected pixels whose ``loose`` top-hat response
    clears the ``low`` threshold, so a crack is recovered where it passes next to something bright.
    Lines must be long and thin; blobs count as dust only if small, very strong and on a
    ``calm`` background. With a ``saturation`` map, strongly coloured components are dropped.
    """
    seeds = strict > threshold
    region = (seeds | (loose > low)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
    if count <= 1:
        return np.zeros(strict.shape, dtype=bool)
    flat = labels.ravel()
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    seed_share = np.bincount(flat, weights=seeds.ravel(), minlength=count) / area
    peak = _component_max(flat, (strict / threshold).ravel(), count)
    thickness = _component_thickness(region, flat, count)
    length = area / np.maximum(thickness, 1.0)
    # The span (bounding-box diagonal) must be long too: a flower or a curl of hair is a tangle
    # of thin strokes with plenty of stroke length packed into a small box.
    span = np.hypot(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    line = (thickness < scale.kernel) & (length >= MIN_ELONGATION * thickness) & (span >= scale.min_length)
    calm_share = np.bincount(flat, weights=calm.ravel(), minlength=count) / area
    speck = (area <= scale.speck_area) & (peak > SPECK_BOOST) & (calm_share > 0.5)
    keep = (seed_share >= MIN_SEED_SHARE) & (line | speck)
    if saturation is not None:
        keep &= _paper_coloured(saturation, flat, area, count, scale)
    keep[0] = False
    return keep[labels]


def _paper_coloured(
    saturation: np.ndarray, labels: np.ndarray, area: np.ndarray, count: int, scale: DetectionScale
) -> np.ndarray:
    """Per component: is it about as neutral as bare paper, or at least paler than around it?"""
    surround = cv2.blur(saturation, (scale.context, scale.context)).ravel()
    own = np.bincount(labels, weights=saturation.ravel(), minlength=count) / area
    around = np.bincount(labels, weights=surround, minlength=count) / area
    return (own <= MAX_BRIGHT_SATURATION) | (own <= PAPER_SATURATION_RATIO * around)


def _component_max(labels: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """Per-component maximum of ``values`` (linear time)."""
    peak = np.zeros(count, dtype=np.float64)
    np.maximum.at(peak, labels, values)
    return peak


def _component_thickness(mask: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Typical stroke width of each component, from the distance transform on its ridge.

    On the ridge (local maxima of the distance to the background) the distance is half the
    local width. Averaging over the ridge, not taking the maximum, keeps a long thin crack with
    one wide junction classified as thin.
    """
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    ridge = (dist > 0) & (dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8)) - 1e-3)
    r = ridge.ravel()
    n = np.bincount(labels[r], minlength=count)
    s = np.bincount(labels[r], weights=dist.ravel()[r], minlength=count)
    return 2.0 * s / np.maximum(n, 1) - 1.0


def grow(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilate a mask slightly: scratch edges are soft, and inpainting needs clean borders."""
    if radius <= 0 or not mask.any():
        return mask
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), element).astype(bool)
