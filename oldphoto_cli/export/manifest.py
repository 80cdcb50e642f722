"""``onnx_manifest.json``: which checkpoint each exported file came from, and how it was made.

Every folder of exports (an ``oldphoto export`` target, or one cache folder) carries one. It lets a
user trace a file back to its weights (by sha256), and lets the cache tell a reusable export from a
stale one: a record is current only when its source hash, opset, oldphoto version and export
revision all match what this installation would produce.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from oldphoto_cli.io.atomic import atomic_write

MANIFEST_NAME = "onnx_manifest.json"
SCHEMA = 1


@dataclass(frozen=True)
class ExportRecord:
    """One exported network: its file in the folder, its inputs, its source and its exporter."""

    name: str
    file: str
    inputs: tuple[str, ...]
    source: str  # the checkpoint's key in the weights manifest
    source_sha256: str
    opset: int
    torch: str
    oldphoto: str
    revision: int  # bumped when a network's exported form changes; see stage_one_export.py


def read_manifest(folder: Path) -> dict[str, ExportRecord]:
    """The folder's records by network name; none for a missing or unreadable manifest."""
    try:
        raw = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        if raw.get("schema") != SCHEMA:
            return {}
        return {
            name: ExportRecord(**{**entry, "name": name, "inputs": tuple(entry["inputs"])})
            for name, entry in raw["networks"].items()
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # a cache entry we cannot read is one we re-export


def write_manifest(folder: Path, records: list[ExportRecord]) -> Path:
    """Add ``records`` to the folder's manifest (replacing same-named ones); written atomically."""
    merged = {**read_manifest(folder), **{r.name: r for r in records}}
    networks = {}
    for name, record in sorted(merged.items()):
        entry = asdict(record)
        del entry["name"]
        networks[name] = {**entry, "inputs": list(record.inputs)}
    path = folder / MANIFEST_NAME
    with atomic_write(path) as fh:
        fh.write((json.dumps({"schema": SCHEMA, "networks": networks}, indent=2) + "\n").encode("utf-8"))
    return path
