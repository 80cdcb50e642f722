"""Exports made on first use, kept in oldphoto's cache and reused while they are current.

One folder per checkpoint file, named by the first 16 hex digits of its sha256
(``<cache>/onnx/<sha256[:16]>/<network>.onnx``), with the ``onnx_manifest.json`` of what is in it.
Keying by content, not by path, means a moved weights folder still hits the cache and a replaced
checkpoint never reuses a stale export. An export is current when its manifest record matches the
one this installation would write, the exporter's torch version aside (same checkpoint hash, opset,
oldphoto version and export revision).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from oldphoto_cli.export.manifest import read_manifest, write_manifest
from oldphoto_cli.export.stage_one_export import STAGE_ONE_EXPORTS, export_networks, record_for
from oldphoto_cli.registry.cache import cache_dir
from oldphoto_cli.registry.integrity import sha256_of


def onnx_cache_dir() -> Path:
    return cache_dir() / "onnx"


def cached_exports(files: dict[str, Path], keys: list[str], root: Path | None = None) -> dict[str, Path]:
    """The ONNX file of each checkpoint key, exporting the missing or stale ones first."""
    root = onnx_cache_dir() if root is None else root
    shas = {key: sha256_of(files[key]) for key in keys}
    folders = {key: root / shas[key][:16] for key in keys}
    stale = {key: folders[key] for key in keys if not is_current(folders[key], key, shas[key])}
    for record in export_networks(files, stale, shas):
        write_manifest(folders[record.source], [record])
    return {key: folders[key] / STAGE_ONE_EXPORTS[key].file for key in keys}


def is_current(folder: Path, key: str, sha: str) -> bool:
    """Whether ``folder`` holds an export of ``key`` that this installation would make the same."""
    record = read_manifest(folder).get(STAGE_ONE_EXPORTS[key].name)
    if record is None or not (folder / record.file).is_file():
        return False
    expected = record_for(key, sha)
    return replace(record, torch=expected.torch) == expected
