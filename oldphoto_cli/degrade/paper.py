"""Procedural paper texture blended into the print, standing in for the paper's 55 scanned textures.

The published pipeline blends scanned paper and scratch textures with screen, lighten or multiply at
random opacity. Shipping scans would add data files and licences, so ours are generated: noise at
several scales for the mottled base, a few low-frequency blotches, and short random fibres. For
multiply the texture is white with darker features; for screen and lighten it is dark with bright
features, so each mode darkens or lightens the print the way the scanned textures do.
"""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli.degrade.noise import fractal_field, smooth_field
from oldphoto_cli.degrade.strokes import walk

BLEND_MODES = ("multiply", "screen", "lighten")


def paper_texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A float32 H×W map in [0, 1] of texture features (0 = none): mottling, blotches, fibres."""
    h, w = shape
    scale = max(h, w)
    mottle = fractal_field(rng, shape, (scale / 8, scale / 40, 6.0, 1.5), falloff=0.7)
    features = np.clip(0.5 + 0.18 * mottle, 0, 1)
    blotch = np.clip(smooth_field(rng, shape, scale / 5) - 1.2, 0, None)
    features = np.clip(features + 0.4 * blotch, 0, 1)
    fibres = np.zeros(shape, np.uint8)
    for _ in range(int(rng.integers(40, 160) * max(1.0, h * w / 1e6))):
        pts = walk(
            rng, rng.uniform((0, 0), (w, h)), rng.uniform(0, 2 * np.pi), 8, rng.uniform(2, 6), 0.3, 0.05
        )
        cv2.polylines(
            fibres, [np.round(pts).astype(np.int32)], False, int(rng.integers(60, 160)), 1, cv2.LINE_AA
        )
    return np.clip(features + fibres.astype(np.float32) / 255, 0, 1)


def paper(rgb: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, dict]:
    """Blend a fresh texture with a random mode at random opacity."""
    mode = str(rng.choice(BLEND_MODES, p=(0.5, 0.3, 0.2)))
    opacity = float(min(1.0, rng.uniform(0.15, 0.5) * strength))
    texture = paper_texture(rgb.shape[:2], rng)
    x = rgb.astype(np.float32) / 255
    if mode == "multiply":
        blended = x * (1 - 0.6 * texture)[:, :, None]
    else:  # only the strongest features (fibres, fine mottling) lighten, as on a scanned texture
        bright = (np.clip(texture - 0.6, 0, 1) * 1.5)[:, :, None] * np.float32([1.0, 0.97, 0.9])
        blended = 1 - (1 - x) * (1 - bright) if mode == "screen" else np.maximum(x, bright)
    out = x * (1 - opacity) + blended * opacity
    return np.clip(out * 255, 0, 255).round().astype(np.uint8), {
        "op": "paper",
        "mode": mode,
        "opacity": opacity,
    }
