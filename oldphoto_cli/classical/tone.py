"""Tone and colour: undo fading and colour casts, gently.

Old prints fade towards a low-contrast, tinted image: the darkest tones are no longer black, the
lightest no longer white, and each dye fades at its own rate, which leaves a cast. Stretching each
channel between its own black and white points removes both, but fully doing so would turn a
deliberately toned (sepia) print grey and blow out scans with little range, so every correction
here is partial and bounded.
"""

from __future__ import annotations

import cv2
import numpy as np

from .image import luma

#: Percentiles (of pixels) taken as the black and white points: ignores specks and glints.
P_BLACK, P_WHITE = 0.5, 99.5
#: Where those points are mapped to: not 0/255, so that the tails keep some gradation.
TARGET_BLACK, TARGET_WHITE = 6.0, 249.0
#: Share of the full levels correction applied at strength 1.
LEVELS_AMOUNT = 0.8
#: Share of each channel's own imbalance removed at strength 1: halves a cast, keeps sepia warm.
CAST_AMOUNT = 0.5
#: Bounds on the contrast gain: fading is undone up to ×1.6, and no channel is compressed much.
MIN_GAIN, MAX_GAIN = 0.9, 1.6
#: Strongest mid-tone lift (gamma) used to keep a low-key scan from darkening.
MIN_GAMMA = 0.75
#: CLAHE clip limit and tiles: a low limit only lifts local contrast in flat, faded areas.
CLAHE_CLIP = 1.5
CLAHE_TILES = 8
#: Share of the CLAHE result blended in at strength 1.
CLAHE_AMOUNT = 0.3
#: Under this tonal span (grey levels) an image is flat: nothing to stretch or equalise.
MIN_SPAN = 8.0
#: Smallest CLAHE tile side (pixels): smaller tiles equalise noise, not picture.
MIN_TILE = 32
#: Pixels sampled for the percentiles: plenty for stable statistics, and constant time.
_SAMPLE = 512


def levels(image: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Automatic levels and partial cast removal for a uint8 grey (H×W) or RGB (H×W×3) image."""
    if strength <= 0:
        return image
    planes = image[..., None] if image.ndim == 2 else image
    sample = _subsample(planes).reshape(-1, planes.shape[-1]).astype(np.float32)
    lows, highs = _channel_points(sample, CAST_AMOUNT * min(strength, 1.0))
    amount = min(LEVELS_AMOUNT * strength, 1.0)
    luts = [_levels_lut(lows[c], highs[c], amount) for c in range(planes.shape[-1])]
    luts = _keep_midtones(sample, luts)
    out = np.empty_like(planes)
    for c, lut in enumerate(luts):
        out[..., c] = cv2.LUT(planes[..., c], lut)
    return out.reshape(image.shape)


def _keep_midtones(sample: np.ndarray, luts: list[np.ndarray]) -> list[np.ndarray]:
    """Undo any darkening of the mid-tones that the black-point stretch caused.

    Stretching a low-key scan (mostly shadows) pushes its mid-tones down and makes it look murkier
    than before; a gamma lift restores the median brightness while keeping the new end points.
    Brightening is left alone: a faded, dull print is meant to come out lighter.
    """
    before = float(np.median(_sample_luma(sample)))
    mapped = np.stack([lut[sample[:, c].astype(np.uint8)] for c, lut in enumerate(luts)], axis=1)
    after = float(np.median(_sample_luma(mapped.astype(np.float32))))
    if not 1.0 < after < before:
        return luts
    gamma = max(np.log(before / 255.0) / np.log(after / 255.0), MIN_GAMMA)
    return [np.rint(255.0 * (lut / 255.0) ** gamma).astype(np.uint8) for lut in luts]


def _sample_luma(sample: np.ndarray) -> np.ndarray:
    """Luma of an N×C sample (C = 1 or 3)."""
    return sample[:, 0] if sample.shape[1] == 1 else luma(sample.reshape(-1, 1, 3)).ravel()


def _subsample(image: np.ndarray) -> np.ndarray:
    """A strided view of about ``_SAMPLE``² pixels."""
    step = max(1, int(np.sqrt(image.shape[0] * image.shape[1]) // _SAMPLE))
    return image[::step, ::step]


def _channel_points(sample: np.ndarray, cast: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel black and white points, pulled ``cast`` of the way from the common (luma)
    points towards each channel's own: 0 keeps colour balance, 1 neutralises the endpoints."""
    own_low = np.percentile(sample, P_BLACK, axis=0)
    own_high = np.percentile(sample, P_WHITE, axis=0)
    if sample.shape[1] == 1:
        return own_low, own_high
    y = _sample_luma(sample)
    common_low, common_high = np.percentile(y, [P_BLACK, P_WHITE])
    return common_low + cast * (own_low - common_low), common_high + cast * (own_high - common_high)


def _levels_lut(low: float, high: float, amount: float) -> np.ndarray:
    """A 256-entry map taking [low, high] towards [TARGET_BLACK, TARGET_WHITE], gain-bounded.

    When the gain is bounded the map is anchored at the middle of the range, so a scan with
    little range gains contrast symmetrically instead of being pushed darker or lighter.
    """
    x = np.arange(256, dtype=np.float32)
    span = high - low
    if span < MIN_SPAN:
        return np.arange(256, dtype=np.uint8)
    gain = float(np.clip((TARGET_WHITE - TARGET_BLACK) / span, MIN_GAIN, MAX_GAIN))
    centre_in = 0.5 * (low + high)
    centre_out = 0.5 * (TARGET_BLACK + TARGET_WHITE)
    if gain == MAX_GAIN:
        # Keep the output range inside the targets while using the bounded gain.
        half = 0.5 * gain * span
        centre_out = float(np.clip(centre_in, TARGET_BLACK + half, TARGET_WHITE - half))
    mapped = centre_out + gain * (x - centre_in)
    return np.clip(np.rint(x + amount * (mapped - x)), 0, 255).astype(np.uint8)


def local_contrast(image: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Mild CLAHE on lightness only, blended with the input: lifts detail in faded flat areas
    without shifting colours, and the low clip limit keeps grain from being amplified."""
    amount = min(CLAHE_AMOUNT * strength, 1.0)
    sample = _subsample(image)
    if amount <= 0 or np.subtract(*np.percentile(sample, [99, 1])) < MIN_SPAN:
        return image
    side = int(np.clip(min(image.shape[:2]) // MIN_TILE, 1, CLAHE_TILES))
    tiles = (side, side)
    clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=tiles)
    if image.ndim == 2:
        return _blend(image, clahe.apply(image), amount)
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    lab[..., 0] = _blend(lab[..., 0], clahe.apply(np.ascontiguousarray(lab[..., 0])), amount)
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def _blend(a: np.ndarray, b: np.ndarray, amount: float) -> np.ndarray:
    """``a + amount·(b − a)`` for uint8 arrays."""
    return cv2.addWeighted(a, 1.0 - amount, b, amount, 0.0)
