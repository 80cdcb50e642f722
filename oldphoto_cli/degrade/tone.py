"""Fading and colour casts: the whole print's tone ages before any mark is made on it.

Old prints lose contrast (blacks lift to brown-grey, whites dull), unevenly (edges and one side more
than the centre), and their dyes drift: silver prints tone to sepia, paper yellows, colour prints of
the 60s-70s go cyan or magenta as one dye layer fades faster than the others.
"""

from __future__ import annotations

import numpy as np

from oldphoto_cli.colour import luma
from oldphoto_cli.degrade.noise import smooth_field

CASTS = ("sepia", "yellowing", "cyan", "magenta", "none")
_CAST_WEIGHTS = (0.4, 0.25, 0.1, 0.1, 0.15)
#: Per-channel gains of each cast at full amount (sepia also desaturates first).
_GAINS = {
    "sepia": (1.08, 0.92, 0.70),
    "yellowing": (1.02, 0.97, 0.80),
    "cyan": (0.80, 0.98, 1.02),
    "magenta": (1.02, 0.82, 0.98),
    "none": (1.0, 1.0, 1.0),
}


def fading(rgb: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, dict]:
    """Colour cast, then uneven contrast loss; returns the image and the record."""
    cast = str(rng.choice(CASTS, p=_CAST_WEIGHTS))
    amount = float(min(1.0, rng.uniform(0.5, 1.0) * strength))
    x = rgb.astype(np.float32) / 255
    if cast == "sepia":
        lum = luma(x)
        x = x + amount * (lum[:, :, None] - x)
    gains = 1 + amount * (np.float32(_GAINS[cast]) - 1)
    x = x * gains
    fade = float(min(0.6, rng.uniform(0.1, 0.4) * strength))
    x = _fade(x, rng, fade)
    edges = float(min(0.8, rng.uniform(0.0, 0.5) * strength))
    x = _worn_edges(x, edges)
    out = np.clip(x * 255, 0, 255).round().astype(np.uint8)
    return out, {"op": "fading", "cast": cast, "cast_amount": amount, "fade": fade, "edges": edges}


def _fade(x: np.ndarray, rng: np.random.Generator, fade: float) -> np.ndarray:
    """Pull values toward a warm paper grey by ``fade`` on average, more in some regions than others."""
    h, w = x.shape[:2]
    uneven = 1 + 0.5 * smooth_field(rng, (h, w), max(h, w) / 2)
    local = np.clip(fade * uneven, 0, 0.9)[:, :, None]
    paper = np.float32([0.78, 0.72, 0.62]) if rng.random() < 0.7 else np.float32([0.75, 0.75, 0.75])
    lifted = x * (1 - local) + paper * local * np.float32(0.6) + x * local * np.float32(0.4)
    return lifted


def _worn_edges(x: np.ndarray, amount: float) -> np.ndarray:
    """Darken and brown the border, as handling and light age an old print from its edges in."""
    h, w = x.shape[:2]
    ys = np.minimum(np.arange(h), np.arange(h)[::-1]).astype(np.float32) / (0.12 * h)
    xs = np.minimum(np.arange(w), np.arange(w)[::-1]).astype(np.float32) / (0.12 * w)
    near = np.exp(-np.minimum(ys[:, None], xs[None, :]))
    darken = 1 - amount * near[:, :, None] * np.float32([0.45, 0.55, 0.7])
    return x * darken
