"""The damage canvas: scratches, cracks, creases and dust are drawn here, then composited at once.

Marks are drawn as coverage (0-255) into two single-channel layers, one for bright marks (emulsion
lost down to the white paper) and one for dark ones (dirt, fibres), each with one colour per image.
Drawing coverage rather than colour keeps every draw call cheap (uint8, anti-aliased by OpenCV),
and the same layers give the mask: a pixel is damaged where a mark covers it noticeably.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Coverage (0-1, after opacity) from which a mark counts as damage in the mask. Lower coverage only
#: occurs on anti-aliased edges, which lie within a pixel of a masked pixel.
MASK_COVERAGE = 0.05

#: One fixed-point bit count for every draw call: coordinates are multiplied by 2**SHIFT, so curves
#: are placed with sub-pixel precision.
SHIFT = 4


def fixed(points: np.ndarray) -> np.ndarray:
    """Float x,y points as OpenCV's fixed-point int32 (see ``SHIFT``)."""
    return np.round(points * (1 << SHIFT)).astype(np.int32)


@dataclass
class DamageCanvas:
    """Two coverage layers (bright, dark) and their colours, for one image."""

    bright: np.ndarray
    dark: np.ndarray
    bright_colour: tuple[int, int, int]
    dark_colour: tuple[int, int, int]
    records: list[dict] = field(default_factory=list)

    @classmethod
    def blank(cls, shape: tuple[int, int], rng: np.random.Generator) -> DamageCanvas:
        """Empty layers; the bright colour is paper white to cream, the dark one near black."""
        cream = int(rng.integers(0, 25))
        bright = (255 - cream // 4, 252 - cream // 2, 246 - cream)
        ink = int(rng.integers(15, 60))
        dark = (ink + 8, ink + 4, ink)
        return cls(np.zeros(shape, np.uint8), np.zeros(shape, np.uint8), bright, dark)

    def layer(self, bright: bool) -> np.ndarray:
        """The layer a mark of that kind is drawn into."""
        return self.bright if bright else self.dark

    def composite(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Blend both layers over ``rgb``; returns the image and the mask of covered pixels."""
        out = rgb
        for layer, colour in ((self.bright, self.bright_colour), (self.dark, self.dark_colour)):
            if layer.any():
                out = _over(out, layer, colour)
        mask = np.maximum(self.bright, self.dark) >= round(MASK_COVERAGE * 255)
        return out, mask


def _over(rgb: np.ndarray, coverage: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Alpha-blend a flat colour over the image with per-pixel coverage, only where it is non-zero."""
    out = rgb.copy()
    ys, xs = np.nonzero(coverage)
    alpha = coverage[ys, xs, None].astype(np.float32) / 255
    under = out[ys, xs].astype(np.float32)
    out[ys, xs] = np.round(under + (np.float32(colour) - under) * alpha).astype(np.uint8)
    return out
