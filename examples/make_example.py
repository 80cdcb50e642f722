"""Rebuilds examples/astronaut_1995_print.jpg, the bundled demo photo.

Source: "astronaut" (Eileen Collins, NASA, public domain) as shipped inside the scikit-image wheel
(skimage/data/astronaut.png). Usage:

    pip download scikit-image --no-deps -d /tmp/sk && unzip -o /tmp/sk/*.whl 'skimage/data/astronaut.png' -d /tmp/sk
    python examples/make_example.py /tmp/sk/skimage/data/astronaut.png

Damage is drawn with a fixed seed: fading to sepia, blur, film grain, a few scratches and dust.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

SEED = 1995
SIZE = 384


def age(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    img = rgb.astype(np.float32) / 255.0
    img = cv2.GaussianBlur(img, (5, 5), 1.2)
    luma = img @ np.array([0.299, 0.587, 0.114], np.float32)
    sepia = np.stack([luma * 1.07, luma * 0.86, luma * 0.62], axis=-1)
    img = 0.25 * img + 0.75 * sepia
    img = 0.18 + 0.68 * img  # faded: lifted blacks, dull whites
    img += rng.normal(0, 0.02, img.shape[:2])[..., None].astype(np.float32)
    for _ in range(7):
        x0, y0 = rng.integers(0, SIZE, 2)
        pts = np.cumsum(rng.normal(0, 6, (14, 2)), axis=0) + [x0, y0]
        pts[:, 1] += np.linspace(0, rng.integers(120, 300), 14)
        shade = 0.95 if rng.random() < 0.7 else 0.1
        cv2.polylines(img, [pts.astype(np.int32)], False, (shade,) * 3, int(rng.integers(1, 3)), cv2.LINE_AA)
    for _ in range(60):
        x, y = rng.integers(0, SIZE, 2)
        cv2.circle(img, (int(x), int(y)), int(rng.integers(1, 3)), (0.92,) * 3, -1, cv2.LINE_AA)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def main(source: str) -> None:
    rgb = np.asarray(Image.open(source).convert("RGB").resize((SIZE, SIZE), Image.LANCZOS))
    out = Path(__file__).with_name("astronaut_1995_print.jpg")
    Image.fromarray(age(rgb, np.random.default_rng(SEED))).save(out, quality=88)
    print(out)


if __name__ == "__main__":
    main(sys.argv[1])
