"""The one table of which extensions we read, which we write, and what each output extension means.

Reading, writing and planning all consult it, so the planner can never promise an output name the
writer cannot produce, and a folder walk picks exactly the files the reader is meant for.
"""

from __future__ import annotations

from pathlib import Path

#: Extensions a folder walk treats as photos (compared case-insensitively).
READ_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"})

#: Output extension -> Pillow format name. The writer follows the target's extension, nothing else.
WRITE_FORMATS: dict[str, str] = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".webp": "WEBP",
}

_KEEP_EXTENSION = frozenset({".jpg", ".jpeg"})


def is_image_name(path: Path) -> bool:
    """True when the file's extension is one we read; decides what a folder walk picks up."""
    return path.suffix.lower() in READ_EXTENSIONS


def output_suffix(source: Path) -> str:
    """The extension a restored copy of ``source`` gets.

    JPEG stays JPEG with its own spelling (``.JPG`` stays ``.JPG``) because re-encoding a camera
    JPEG as PNG would multiply its size for no gain; WEBP stays WEBP; every other input (PNG, TIFF,
    BMP, unknown) becomes PNG, which is lossless, keeps alpha and 16-bit grey, and opens everywhere.
    """
    ext = source.suffix
    if ext.lower() in _KEEP_EXTENSION:
        return ext
    if ext.lower() == ".webp":
        return ".webp"
    return ".png"


def write_format(path: Path) -> str | None:
    """The Pillow format for writing ``path``, or None when we cannot write that extension."""
    return WRITE_FORMATS.get(path.suffix.lower())
