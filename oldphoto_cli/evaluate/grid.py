"""The comparison figure: one row per photo, columns input | each backend | ground truth.

Thumbnails share one height and keep their aspect ratio; each column is as wide as its widest
thumbnail, and a missing cell (a backend that failed on that photo) stays blank, so the columns
always line up with their headers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from oldphoto_cli.errors import ImageWriteError
from oldphoto_cli.io.atomic import atomic_write

HEADER_PX = 24
LABEL_PX = 18
GAP_PX = 4
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)


def thumbnail(rgb: np.ndarray, height: int) -> np.ndarray:
    """Resize to ``height`` pixels tall (Lanczos), keeping the aspect ratio."""
    h, w = rgb.shape[:2]
    width = max(1, round(w * height / h))
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize((width, height), Image.LANCZOS))


def make_grid(cells: dict[str, dict[str, np.ndarray]], columns: list[str], height: int) -> Image.Image:
    """Lay out ``cells[photo][column]`` under labelled headers, one row per photo, photo names above."""
    widths = [max((row[c].shape[1] for row in cells.values() if c in row), default=height) for c in columns]
    row_px = LABEL_PX + height + GAP_PX
    size = (sum(widths) + GAP_PX * (len(columns) + 1), HEADER_PX + row_px * len(cells) + GAP_PX)
    canvas = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    lefts = [GAP_PX + sum(widths[:i]) + GAP_PX * i for i in range(len(columns))]
    for column, left in zip(columns, lefts):
        draw.text((left, 6), column, fill=INK, font=font)
    for index, (photo, row) in enumerate(cells.items()):
        top = HEADER_PX + index * row_px
        draw.text((GAP_PX, top + 3), photo, fill=INK, font=font)
        for column, left in zip(columns, lefts):
            if column in row:
                canvas.paste(Image.fromarray(row[column]), (left, top + LABEL_PX))
    return canvas


def save_grid(path: Path, image: Image.Image) -> None:
    """Write the grid as JPEG, atomically; a failure is an ``ImageWriteError``."""
    try:
        with atomic_write(path) as handle:
            image.save(handle, format="JPEG", quality=90)
    except OSError as exc:
        raise ImageWriteError(path, exc.strerror or str(exc)) from exc
