"""Finding the photos to evaluate: degraded/clean/mask triplets, or a plain folder of real photos.

A dataset made by ``oldphoto degrade`` has ``clean/``, ``degraded/`` and ``mask/`` holding the same
relative names. The files are paired by relative path, never by sorted position; a partner with the
same relative stem but another extension is accepted too (a JPEG degraded copy of a PNG original,
a PNG mask beside a JPEG photo).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from oldphoto_cli.io.formats import READ_EXTENSIONS, is_image_name


@dataclass(frozen=True)
class Sample:
    """One photo to restore and score; ``clean`` and ``mask`` are None where there are none."""

    name: str
    source: Path
    clean: Path | None = None
    mask: Path | None = None


def list_images(root: Path, exclude: Path | None = None) -> list[Path]:
    """Every photo under ``root``, sorted for determinism; hidden files and ``exclude`` skipped."""
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not is_image_name(path):
            continue
        if exclude is not None and path.resolve().is_relative_to(exclude.resolve()):
            continue
        if path.is_file():
            found.append(path)
    return found


def partner(folder: Path, rel: Path) -> Path | None:
    """The file at ``rel`` inside ``folder``, or the one with the same stem and another extension."""
    exact = folder / rel
    if exact.is_file():
        return exact
    for ext in sorted(READ_EXTENSIONS):
        for candidate in (exact.with_suffix(ext), exact.with_suffix(ext.upper())):
            if candidate.is_file():
                return candidate
    return None


def is_dataset(root: Path) -> bool:
    """A folder laid out like ``oldphoto degrade``'s output."""
    return (root / "degraded").is_dir() and (root / "clean").is_dir()


def dataset_samples(root: Path) -> tuple[list[Sample], list[str]]:
    """Triplets from a dataset, and one problem line per degraded photo without a clean original."""
    samples, problems = [], []
    mask_dir = root / "mask"
    for source in list_images(root / "degraded"):
        rel = source.relative_to(root / "degraded")
        clean = partner(root / "clean", rel)
        if clean is None:
            problems.append(f"{source}: no clean original in {root / 'clean'}; skipped")
            continue
        mask = partner(mask_dir, rel) if mask_dir.is_dir() else None
        samples.append(Sample(rel.as_posix(), source, clean, mask))
    return samples, problems


def folder_samples(root: Path, exclude: Path | None = None) -> list[Sample]:
    """Real photos for no-reference scoring: every image under ``root``."""
    return [Sample(p.relative_to(root).as_posix(), p) for p in list_images(root, exclude)]
