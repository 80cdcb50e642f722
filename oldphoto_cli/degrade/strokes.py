"""Scratches, cracks and hairs: thin, curved, tapering lines drawn into the damage canvas.

A stroke is a random walk of its heading: small steady turns make a long smooth scratch, a large
zig-zag on top of a slow drift makes the jagged crack of a bent emulsion, and cracks fork. Width
and opacity taper to the ends (a sine profile), as real scratches start and end in a point.
"""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli.degrade.canvas import SHIFT, DamageCanvas, fixed

#: Coverage never drops below this share of the stroke's opacity along the core of a stroke, so the
#: faint tips still count as damage (see canvas.MASK_COVERAGE).
TIP_FLOOR = 0.3


def walk(
    rng: np.random.Generator,
    start: np.ndarray,
    heading: float,
    steps: int,
    step: float,
    drift: float,
    zigzag: float,
) -> np.ndarray:
    """Points of a walk: the heading drifts by ``drift`` per step (radians) plus ``zigzag`` jitter."""
    turns = np.cumsum(rng.normal(0.0, drift, steps)) + rng.normal(0.0, zigzag, steps) + heading
    moves = step * np.stack([np.cos(turns), np.sin(turns)], axis=1)
    return np.vstack([start, start + np.cumsum(moves, axis=0)])


def draw_tapered(layer: np.ndarray, points: np.ndarray, width: float, opacity: float) -> None:
    """Draw a polyline whose width and coverage follow a sine profile from tip to tip."""
    n = len(points) - 1
    if n < 1:
        return
    profile = np.sin(np.pi * (np.arange(n) + 0.5) / n) ** 0.6
    widths = width * profile
    thickness = np.maximum(1, np.round(widths)).astype(int)
    # Under one pixel wide, thin further by coverage instead of by thickness.
    cover = opacity * np.clip(np.minimum(widths, 1.0), TIP_FLOOR, 1.0)
    values = np.clip(np.round(255 * cover), 1, 255).astype(int)
    pts = fixed(points)
    for i in range(n):
        p0, p1 = (int(pts[i, 0]), int(pts[i, 1])), (int(pts[i + 1, 0]), int(pts[i + 1, 1]))
        cv2.line(layer, p0, p1, int(values[i]), int(thickness[i]), cv2.LINE_AA, SHIFT)


def _scale(shape: tuple[int, int]) -> float:
    """Widths and lengths grow with the print: 1 for a 512-pixel short side."""
    return max(0.5, min(shape) / 512)


def scratches(canvas: DamageCanvas, rng: np.random.Generator, strength: float) -> dict:
    """Long, thin, gently curved scratches, mostly bright, at random opacity."""
    h, w = canvas.bright.shape
    diag, scale = float(np.hypot(h, w)), _scale((h, w))
    count = 1 + int(rng.poisson(3.0 * strength))
    bright = 0
    for _ in range(count):
        is_bright = bool(rng.random() < 0.8)
        bright += is_bright
        length = rng.uniform(0.15, 0.9) * diag
        step = 4.0 * scale
        start = rng.uniform((0, 0), (w, h))
        pts = walk(rng, start, rng.uniform(0, 2 * np.pi), int(length / step), step, 0.02, 0.01)
        opacity = min(1.0, rng.uniform(0.35, 0.95) * max(strength, 0.5))
        draw_tapered(canvas.layer(is_bright), pts, rng.uniform(0.6, 2.2) * scale, opacity)
    return {"op": "scratches", "count": count, "bright": bright}


def cracks(canvas: DamageCanvas, rng: np.random.Generator, strength: float) -> dict:
    """A network of jagged, forking cracks, as in a print that was bent or rolled: bright lines."""
    h, w = canvas.bright.shape
    diag, scale = float(np.hypot(h, w)), _scale((h, w))
    count = 2 + int(rng.poisson(4.0 * strength))
    opacity = min(1.0, rng.uniform(0.55, 1.0) * max(strength, 0.5))
    branches = 0
    for _ in range(count):
        start = rng.uniform((0, 0), (w, h))
        branches += _crack(
            canvas.bright,
            rng,
            start,
            rng.uniform(0, 2 * np.pi),
            rng.uniform(0.12, 0.5) * diag,
            rng.uniform(0.8, 2.5) * scale,
            opacity,
            depth=2,
        )
    return {"op": "cracks", "count": count, "branches": branches, "opacity": opacity}


def _crack(
    layer: np.ndarray,
    rng: np.random.Generator,
    start: np.ndarray,
    heading: float,
    length: float,
    width: float,
    opacity: float,
    depth: int,
) -> int:
    """One crack and, recursively, its forks; returns how many forks were drawn."""
    step = max(2.0, 5.0 * width / 2)
    steps = max(2, int(length / step))
    pts = walk(rng, start, heading, steps, step, 0.06, 0.45)
    draw_tapered(layer, pts, width, opacity)
    if depth == 0:
        return 0
    forks = int(rng.poisson(1.2))
    for _ in range(forks):
        i = int(rng.integers(1, steps))
        turn = rng.choice((-1.0, 1.0)) * rng.uniform(0.4, 1.2)
        _crack(
            layer,
            rng,
            pts[i],
            heading + turn,
            length * rng.uniform(0.2, 0.5),
            width * 0.7,
            opacity,
            depth - 1,
        )
    return forks


def hairs(canvas: DamageCanvas, rng: np.random.Generator, count: int) -> None:
    """Short curly fibres and hairs lying on the print or the scanner glass, mostly dark."""
    h, w = canvas.bright.shape
    scale = _scale((h, w))
    for _ in range(count):
        steps = int(rng.integers(6, 30))
        pts = walk(
            rng, rng.uniform((0, 0), (w, h)), rng.uniform(0, 2 * np.pi), steps, 2.0 * scale, 0.25, 0.05
        )
        draw_tapered(
            canvas.layer(bool(rng.random() < 0.3)), pts, rng.uniform(0.6, 1.4) * scale, rng.uniform(0.5, 0.95)
        )
