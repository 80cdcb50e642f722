"""The model registry, read from ``weights/manifest.json``.

Which files a model needs, where they come from and under which licence is data, not code: the
manifest is the single list, and everything else (resolution, download, ``oldphoto models``) reads
it through the frozen dataclasses below. The top-level ``weights/`` folder is installed as the
package ``oldphoto_cli.weights``, so a regular ``pip install`` carries the manifest along.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from oldphoto_cli.errors import UnknownModelError

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class HubSource:
    """Where a model's files live on the Hugging Face Hub; the revision is pinned to a commit."""

    repo_id: str
    revision: str
    prefix: str = ""

    def filename(self, path: str) -> str:
        """The file's name inside the Hub repo (the repo keeps the release tree under a prefix)."""
        return self.prefix + path


@dataclass(frozen=True)
class FileSpec:
    """One weight file, named by a key that modes refer to.

    ``path`` is relative to the checkpoints folder, so the same entry fits the Hub repo and the
    upstream release zip. ``sha256`` is given only for files we trained ourselves: the published
    files are pinned by the Hub revision instead.
    """

    key: str
    path: str
    on_hub: bool = True
    how_to_get: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A model: its provenance, its files, and which files each mode of it needs."""

    name: str
    title: str
    licence: str
    origin: str
    hub: HubSource | None
    files: dict[str, FileSpec] = field(default_factory=dict)
    modes: dict[str, list[str]] = field(default_factory=dict)

    def downloadable(self, key: str) -> bool:
        """Whether file ``key`` can come from the Hub (else only from a local folder)."""
        return self.hub is not None and self.files[key].on_hub

    def keys_for(self, mode: str) -> list[str]:
        """The file keys that ``mode`` needs, failing with the modes there are."""
        if mode not in self.modes:
            known = ", ".join(self.modes) or "none"
            raise UnknownModelError(f"model {self.name!r} has no mode {mode!r} (its modes: {known})")
        return list(self.modes[mode])


def load_manifest() -> dict[str, ModelSpec]:
    """All models of the registry by name (a fresh dict; the specs themselves are shared)."""
    return dict(_load_cached())


def get_model(name: str) -> ModelSpec:
    """The model called ``name``; an unknown name fails with the list of known ones."""
    models = _load_cached()
    if name not in models:
        raise UnknownModelError(f"unknown model {name!r}; known models: {', '.join(sorted(models))}")
    return models[name]


@functools.cache
def _load_cached() -> dict[str, ModelSpec]:
    """Parse the manifest once per process: it cannot change while we run."""
    raw = json.loads(_manifest_text())
    if raw.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"{MANIFEST_NAME}: schema {raw.get('schema')!r}, expected {SCHEMA_VERSION}")
    return {name: _parse_model(name, entry) for name, entry in raw["models"].items()}


def _manifest_text() -> str:
    """The manifest from the installed package, or from the source tree when run from a checkout.

    In a checkout that is not installed, ``oldphoto_cli.weights`` does not exist (``weights/`` sits
    beside the package, and only the build maps it inside), so we read the file next to it.
    """
    try:
        return resources.files("oldphoto_cli.weights").joinpath(MANIFEST_NAME).read_text(encoding="utf-8")
    except ModuleNotFoundError:
        return (Path(__file__).resolve().parents[2] / "weights" / MANIFEST_NAME).read_text(encoding="utf-8")


def _parse_model(name: str, entry: dict[str, Any]) -> ModelSpec:
    """Build a ModelSpec, checking that every mode names files the model has."""
    files = {key: _parse_file(key, spec) for key, spec in entry.get("files", {}).items()}
    modes = {mode: list(keys) for mode, keys in entry.get("modes", {}).items()}
    for mode, keys in modes.items():
        unknown = [k for k in keys if k not in files]
        if unknown:
            raise ValueError(f"{MANIFEST_NAME}: model {name!r} mode {mode!r} names unknown files {unknown}")
    hub = entry.get("hub")
    return ModelSpec(
        name=name,
        title=entry["title"],
        licence=entry["licence"],
        origin=entry["origin"],
        hub=HubSource(hub["repo_id"], hub["revision"], hub.get("prefix", "")) if hub else None,
        files=files,
        modes=modes,
    )


def _parse_file(key: str, spec: dict[str, Any]) -> FileSpec:
    return FileSpec(
        key=key,
        path=spec["path"],
        on_hub=spec.get("on_hub", True),
        how_to_get=spec.get("how_to_get"),
        sha256=spec.get("sha256"),
    )
