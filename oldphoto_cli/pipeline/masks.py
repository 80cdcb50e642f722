"""Finding the user's scratch mask for each photo (``--mask FILE`` or ``--mask FOLDER``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from oldphoto_cli.errors import OldPhotoError

MASK_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg", ".webp")


def mask_lookup(input: Path, mask: Path | None) -> Callable[[Path], Path | None] | None:
    """A function from a photo to its mask file, or None when no masks are given.

    A file INPUT takes a mask file. A folder INPUT takes a folder holding, at the same relative path,
    a file with the same stem (any image extension), or the ``STEM_mask.png`` that ``--save-mask``
    writes.
    """
    if mask is None:
        return None
    if not mask.exists():
        raise OldPhotoError(f"{mask}: mask not found")
    if input.is_dir() != mask.is_dir():
        raise OldPhotoError(f"{mask}: --mask must be a folder when INPUT is a folder, and a file otherwise")
    if not mask.is_dir():
        return lambda _source: mask
    return lambda source: _mask_in_folder(input, mask, source)


def _mask_in_folder(root: Path, masks: Path, source: Path) -> Path | None:
    rel = source.relative_to(root)
    folder = masks / rel.parent
    names = [rel.name] + [rel.stem + s for s in MASK_SUFFIXES] + [rel.stem + "_mask.png"]
    return next((folder / n for n in names if (folder / n).is_file()), None)
