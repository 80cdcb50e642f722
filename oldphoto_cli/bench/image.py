"""A photo-like test image of any size, made from a seed: benchmarks need no files."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def synthetic_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth shading, a few soft shapes, fine grain and thin bright scratches (H×W×3 uint8).

    Content matters for speed only through scratch detection (how much is masked), so the image has
    some of everything a scan has, at every size.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 90 + 80 * (xx / max(1, width - 1)) + 40 * np.sin(yy / max(1, height) * 3.1)
    rgb = np.stack([base * 1.05, base, base * 0.85], axis=-1)
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        r = int(rng.integers(max(2, min(height, width) // 12), max(3, min(height, width) // 4)))
        draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=tuple(int(v) for v in rng.integers(30, 220, 3)))
    img = img.filter(ImageFilter.GaussianBlur(radius=max(1.0, min(height, width) / 200)))
    draw = ImageDraw.Draw(img)
    for _ in range(4):
        pts = [(int(rng.integers(0, width)), int(rng.integers(0, height))) for _ in range(3)]
        draw.line(pts, fill=(235, 235, 230), width=max(1, min(height, width) // 300))
    out = np.asarray(img, dtype=np.float32) + rng.normal(0, 6, (height, width, 1)).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)
