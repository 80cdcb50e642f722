"""Grain and noise: estimate how noisy a scan is, then remove about that much and no more."""

from __future__ import annotations

import cv2
import numpy as np

from .image import rgb_from_ycrcb, to_uint8, ycrcb

#: Block size (pixels) for the flat-patch noise estimate.
_BLOCK = 16
#: Scale of the high-pass that isolates grain: keeps detail up to ~3 px, where film grain lives.
_HIGHPASS_SIGMA = 1.5
#: The flattest blocks measure noise; this percentile of block std picks them without being the
#: very minimum (which clipped or blank margins would drag to zero).
_FLAT_PERCENTILE = 20.0
#: Calibration: for white Gaussian noise of std σ the statistic above comes out at ≈0.91σ.
_CALIBRATION = 1.0 / 0.91
#: Blocks this close to black or white are ignored: clipping hides the noise there.
_CLIP_MARGIN = 16.0

#: NLM filter strength per unit of estimated noise σ. Below 1 on purpose: leaves some grain.
H_PER_SIGMA = 1.0
#: Largest NLM strength ever used: beyond this skin turns to plastic whatever the estimate says.
H_MAX = 12.0
#: Under this estimated σ (grey levels) a scan is treated as clean and not filtered at all.
SIGMA_CLEAN = 1.5
#: Share of the removed residual that is added back, so that texture keeps a film-like grain.
GRAIN_KEEP = 0.15
#: NLM windows: 7×7 patches; a 15×15 search keeps a megapixel at about half a second.
_TEMPLATE = 7
_SEARCH = 15


def estimate_noise_sigma(grey: np.ndarray) -> float:
    """Estimate the grain/noise std (grey levels) of a single-channel image.

    Scanned prints carry grain that is correlated over a few pixels, which pixel-scale estimators
    (Immerkær, wavelet MAD) miss almost entirely. Instead, take a band-pass high-pass that keeps
    structures up to ~3 px and measure its std in the flattest 16×16 blocks: there the only
    thing left is grain. Blocks near black or white are skipped since clipping hides the noise.
    """
    g = grey.astype(np.float32)
    highpass = g - cv2.GaussianBlur(g, (0, 0), _HIGHPASS_SIGMA)
    rows, cols = g.shape[0] // _BLOCK, g.shape[1] // _BLOCK
    if rows * cols < 4:
        return float(highpass.std() * _CALIBRATION)
    shape = (rows, _BLOCK, cols, _BLOCK)
    block_std = highpass[: rows * _BLOCK, : cols * _BLOCK].reshape(shape).std(axis=(1, 3))
    block_mean = g[: rows * _BLOCK, : cols * _BLOCK].reshape(shape).mean(axis=(1, 3))
    usable = (block_mean > _CLIP_MARGIN) & (block_mean < 255.0 - _CLIP_MARGIN)
    if usable.sum() < 4:
        usable = np.ones_like(usable)
    return float(np.percentile(block_std[usable], _FLAT_PERCENTILE) * _CALIBRATION)


def nlm_strength(sigma: float, strength: float = 1.0) -> float:
    """NLM ``h`` for an estimated σ: proportional, capped, and zero for scans that look clean."""
    if sigma < SIGMA_CLEAN or strength <= 0:
        return 0.0
    return float(min(H_PER_SIGMA * sigma * strength, H_MAX))


def denoise_grey(grey: np.ndarray, h: float) -> np.ndarray:
    """Non-local means on one uint8 channel, keeping a little grain."""
    if h <= 0:
        return grey
    smooth = cv2.fastNlMeansDenoising(grey, None, h, _TEMPLATE, _SEARCH)
    return _keep_grain(grey, smooth)


def denoise_rgb(rgb: np.ndarray, h: float) -> np.ndarray:
    """Denoise a colour scan: NLM on luma, and a cheaper half-resolution NLM on chroma.

    Chroma noise is blotchy and carries little detail, so filtering it at half resolution is
    nearly free and roughly halves the run time of OpenCV's full colour NLM.
    """
    if h <= 0:
        return rgb
    ycc = ycrcb(rgb)
    out = np.empty_like(ycc)
    out[..., 0] = denoise_grey(np.ascontiguousarray(ycc[..., 0]), h)
    out[..., 1:] = _denoise_chroma(np.ascontiguousarray(ycc[..., 1:]), h)
    return rgb_from_ycrcb(out)


def _denoise_chroma(chroma: np.ndarray, h: float) -> np.ndarray:
    """Half-resolution NLM on the two chroma planes, upsampled back."""
    height, width = chroma.shape[:2]
    small = cv2.resize(chroma, (max(1, width // 2), max(1, height // 2)), interpolation=cv2.INTER_AREA)
    small = cv2.fastNlMeansDenoising(small, None, h, _TEMPLATE, _SEARCH)
    up = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return up.reshape(chroma.shape)


def _keep_grain(noisy: np.ndarray, smooth: np.ndarray) -> np.ndarray:
    """Blend a fraction of the removed residual back in, so skin does not look waxy."""
    mixed = smooth.astype(np.float32) + GRAIN_KEEP * (noisy.astype(np.float32) - smooth)
    return to_uint8(mixed)
