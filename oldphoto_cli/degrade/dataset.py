"""A folder of clean photos becomes a paired training set: ``clean/``, ``degraded/``, ``mask/`` and
``manifest.jsonl``.

Each pair's seed is derived from (global seed, relative path, copy index) by hashing, so adding or
removing photos never changes the damage of the others and a dataset can be grown or regenerated
file by file. All three images of a pair have the same relative name (always ``.png``: lossless,
so the degraded image holds exactly the damage we made) and the same size. Every file is written
atomically and the manifest is written last, sorted, in one go: a run that stops half-way leaves no
manifest that promises pairs which are not there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oldphoto_cli.degrade.config import DegradeConfig
from oldphoto_cli.degrade.errors import DegradeError
from oldphoto_cli.degrade.pipeline import Degraded, degrade
from oldphoto_cli.degrade.unstructured import to_greyscale
from oldphoto_cli.errors import OldPhotoError
from oldphoto_cli.io import Photo, read_image, write_image, write_mask
from oldphoto_cli.io.atomic import atomic_write
from oldphoto_cli.io.formats import READ_EXTENSIONS, is_image_name

SUBFOLDERS = ("clean", "degraded", "mask")
MANIFEST = "manifest.jsonl"


@dataclass(frozen=True)
class Pair:
    """One planned pair: the source photo, its name inside the dataset, and its copy index."""

    source: Path
    name: str
    copy: int


def derive_seed(seed: int, relative: str, copy: int) -> int:
    """A 63-bit seed for one pair, independent of every other file in the folder."""
    digest = hashlib.sha256(f"{seed}\0{relative}\0{copy}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def plan_pairs(root: Path, copies: int, exclude: Path | None = None) -> list[Pair]:
    """Photos under ``root`` (recursive, sorted, hidden skipped, ``exclude`` not entered) × ``copies``.

    Two photos whose names differ only by extension (``a.jpg``, ``a.png``) would both become
    ``a.png``; the later one in sorted order keeps its extension in the name (``a_png.png``).
    """
    pairs: list[Pair] = []
    taken: set[str] = set()
    for source in _photos(root, exclude):
        stem = source.relative_to(root).with_suffix("").as_posix()
        if stem.lower() in taken:
            stem = f"{stem}_{source.suffix.lstrip('.').lower()}"
        taken.add(stem.lower())
        for copy in range(copies):
            name = stem if copies == 1 else f"{stem}_{copy:02d}"
            pairs.append(Pair(source, name + ".png", copy))
    return pairs


def _photos(root: Path, exclude: Path | None) -> Iterator[Path]:
    """Image files below ``root`` in sorted order, skipping hidden names and the ``exclude`` folder."""
    skip = exclude.resolve() if exclude is not None else None
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if skip is not None and path.resolve().is_relative_to(skip):
            continue
        if path.is_file() and is_image_name(path):
            yield path


def plain_like() -> Photo:
    """A ``Photo`` template for writing plain 8-bit RGB PNGs (no grey mode, alpha or metadata)."""
    return Photo(np.zeros((1, 1, 3), np.uint8), None, False, "PNG", None, None, 8)


def make_pair(pair: Pair, root: Path, out: Path, seed: int, config: DegradeConfig) -> dict:
    """Degrade one photo, write its three files, return its manifest record."""
    relative = pair.source.relative_to(root).as_posix()
    pair_seed = derive_seed(seed, relative, pair.copy)
    clean = read_image(pair.source).rgb
    result: Degraded = degrade(clean, np.random.default_rng(pair_seed), config)
    if result.greyscale:  # the published code converts the clean image too
        clean = to_greyscale(clean)
    write_image(out / "clean" / pair.name, clean, like=plain_like())
    write_image(out / "degraded" / pair.name, result.image, like=plain_like())
    write_mask(out / "mask" / pair.name, result.mask)
    return {
        "name": pair.name,
        "source": relative,
        "copy": pair.copy,
        "seed": pair_seed,
        "size": [clean.shape[1], clean.shape[0]],
        "greyscale": result.greyscale,
        "mask_fraction": round(float(result.mask.mean()), 6),
        "operations": result.operations,
    }


def build_dataset(
    root: Path,
    out: Path,
    seed: int,
    config: DegradeConfig,
    copies: int = 1,
    on_pair: Callable[[Pair, dict | None, Exception | None], None] | None = None,
) -> list[dict]:
    """Build the whole dataset; unreadable photos are reported through ``on_pair`` and skipped."""
    pairs = plan_pairs(root, copies, exclude=out)
    if not pairs:
        raise DegradeError(f"{root}: no photos found (looked for {' '.join(sorted(READ_EXTENSIONS))})")
    records = []
    for pair in pairs:
        for sub in SUBFOLDERS:
            (out / sub / pair.name).parent.mkdir(parents=True, exist_ok=True)
        try:
            record = make_pair(pair, root, out, seed, config)
        except OldPhotoError as exc:
            if on_pair:
                on_pair(pair, None, exc)
            continue
        records.append(record)
        if on_pair:
            on_pair(pair, record, None)
    write_manifest(out / MANIFEST, records, seed, config)
    return records


def write_manifest(path: Path, records: list[dict], seed: int, config: DegradeConfig) -> None:
    """One JSON line per pair, sorted by name; each also carries the global seed and the config."""
    lines = []
    for record in sorted(records, key=lambda r: r["name"]):
        full = {**record, "global_seed": seed, "config": config.as_dict()}
        lines.append(json.dumps(full, sort_keys=True, separators=(",", ":")) + "\n")
    with atomic_write(path) as handle:
        handle.write("".join(lines).encode())
