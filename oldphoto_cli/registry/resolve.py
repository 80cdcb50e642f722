"""From a model's file keys to paths on disk, with one fixed order of sources.

1. A weights folder (``--weights DIR``, else ``$OLDPHOTO_WEIGHTS``). Naming a folder means local files
   only: a file missing there is an error, never a silent download from elsewhere, so that what
   runs is what the user pointed to.
2. Otherwise the Hugging Face Hub at the pinned revision, through its cache (``hub.py``).

Files that are not on the Hub (the ``--hr`` mapping network) can only come from a folder; the error
for them says where to get them. Files with a sha256 in the manifest are checked whenever resolved.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import NamedTuple

from oldphoto_cli.errors import WeightsNotFoundError
from oldphoto_cli.registry import hub
from oldphoto_cli.registry.integrity import verify_sha256
from oldphoto_cli.registry.local import find_local, searched_folders, weights_dir_from
from oldphoto_cli.registry.manifest import FileSpec, HubSource, ModelSpec


class Availability(str, Enum):
    """Where a weight file stands, as ``oldphoto models`` reports it."""

    LOCAL = "local"  # in the weights folder
    CACHED = "cached"  # in the Hugging Face cache at the pinned revision
    MISSING = "missing"  # downloadable with `oldphoto download`, not there yet
    MANUAL = "manual"  # not on the Hub and not in a weights folder: see FileSpec.how_to_get


class FileStatus(NamedTuple):
    """One row of ``describe_availability``: a file key, its availability, its path if present."""

    key: str
    status: Availability
    path: Path | None


def resolve_files(
    model: ModelSpec,
    keys: list[str],
    weights_dir: Path | None = None,
    *,
    download: bool = True,
    progress: bool = False,
) -> dict[str, Path]:
    """Paths of the files ``keys`` of ``model``, downloading the ones missing from the Hub cache.

    ``download=False`` uses the cache only (no network). A weights folder disables the Hub.
    """
    folder = weights_dir_from(weights_dir)
    return {key: _resolve_one(model, _spec(model, key), folder, download, progress) for key in keys}


def download_files(
    model: ModelSpec, keys: list[str], weights_dir: Path | None = None, *, progress: bool = True
) -> dict[str, Path]:
    """Fetch ``keys`` for offline use: into the Hub cache, or into the weights folder if there is one.

    A folder gets the Hub repo's layout (``DIR/Global/checkpoints/...``), which ``resolve_files``
    finds; files already in it are kept. Files not on the Hub must already be in the folder.
    """
    folder = weights_dir_from(weights_dir)
    paths: dict[str, Path] = {}
    for key in keys:
        spec = _spec(model, key)
        local = find_local(folder, spec.path) if folder is not None else None
        if local is None:
            hub_source = _hub_source(model, spec, folder)
            local = hub.download_file(hub_source, spec, local_dir=folder, progress=progress)
        verify_sha256(local, spec.sha256)
        paths[key] = local
    return paths


def describe_availability(model: ModelSpec, weights_dir: Path | None = None) -> list[FileStatus]:
    """Each file of ``model`` with where it is, looked up exactly as ``resolve_files`` would, offline.

    No network and no hashing: this is what ``oldphoto models`` shows, and it must be instant.
    """
    folder = weights_dir_from(weights_dir)
    return [_status(model, spec, folder) for spec in model.files.values()]


def _resolve_one(
    model: ModelSpec, spec: FileSpec, folder: Path | None, download: bool, progress: bool
) -> Path:
    if folder is not None:
        path = find_local(folder, spec.path)
        if path is None:
            raise WeightsNotFoundError(_not_in_folder(spec, folder))
    else:
        path = hub.download_file(
            _hub_source(model, spec, None), spec, local_only=not download, progress=progress
        )
    verify_sha256(path, spec.sha256)
    return path


def _status(model: ModelSpec, spec: FileSpec, folder: Path | None) -> FileStatus:
    if folder is not None:
        path, found = find_local(folder, spec.path), Availability.LOCAL
    else:
        path = hub.cached_file(model.hub, spec) if model.hub and model.downloadable(spec.key) else None
        found = Availability.CACHED
    if path is not None:
        return FileStatus(spec.key, found, path)
    return FileStatus(
        spec.key, Availability.MISSING if model.downloadable(spec.key) else Availability.MANUAL, None
    )


def _spec(model: ModelSpec, key: str) -> FileSpec:
    """The file ``key`` of ``model``; an unknown key is a bug in the caller, not a user error."""
    if key not in model.files:
        raise KeyError(f"model {model.name!r} has no file {key!r} (its files: {', '.join(model.files)})")
    return model.files[key]


def _hub_source(model: ModelSpec, spec: FileSpec, folder: Path | None) -> HubSource:
    """The Hub repo to fetch ``spec`` from, or the error that says where the file comes from instead."""
    if model.hub is None or not model.downloadable(spec.key):
        where = f" in {folder} (looked in {searched_folders(folder)})" if folder is not None else ""
        how = spec.how_to_get or "get it from the model's authors and pass its folder with --weights DIR"
        raise WeightsNotFoundError(f"{spec.key} ({spec.path}) is missing{where}. {how}")
    return model.hub


def _not_in_folder(spec: FileSpec, folder: Path) -> str:
    """A file missing from the user's weights folder: what was searched and what to do."""
    if not folder.is_dir():
        problem = f"the weights folder {folder} does not exist"
    else:
        problem = f"{spec.key} ({spec.path}) not found in {folder} (looked in {searched_folders(folder)})"
    if spec.on_hub:
        hint = (
            "A weights folder (--weights or OLDPHOTO_WEIGHTS) means local files only: add the file, "
            "fill the folder with `oldphoto download --weights DIR`, or leave the folder out to use the Hub"
        )
    else:
        hint = spec.how_to_get or "This file is not on the Hub."
    return f"{problem}. {hint}"
