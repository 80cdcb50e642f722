"""Restoration backends by name; the CLI's ``--model`` choices come from this registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from oldphoto_cli.backends.base import Backend, BackendSettings, Restoration
from oldphoto_cli.errors import UnknownModelError, WeightsNotFoundError

AUTO = "auto"


@dataclass(frozen=True)
class BackendEntry:
    name: str
    summary: str
    factory: Callable[[BackendSettings], Backend]


def _bopbtl(settings: BackendSettings) -> Backend:
    from oldphoto_cli.backends.bopbtl import BopbtlBackend

    return BopbtlBackend(settings)


def _classical(settings: BackendSettings) -> Backend:
    from oldphoto_cli.backends.classical import ClassicalBackend

    return ClassicalBackend(settings)


BACKENDS: dict[str, BackendEntry] = {
    "bopbtl": BackendEntry("bopbtl", "published Bringing-Old-Photos-Back-to-Life networks", _bopbtl),
    "classical": BackendEntry(
        "classical", "morphology, inpainting, denoising, levels; no weights", _classical
    ),
}


def backend_names() -> list[str]:
    return [AUTO, *BACKENDS]


def create_backend(name: str, settings: BackendSettings) -> Backend:
    """Build a backend; ``auto`` is bopbtl when its weights are at hand, else classical."""
    if name == AUTO:
        return _auto(settings)
    if name not in BACKENDS:
        raise UnknownModelError(f"unknown model {name!r}; choose one of {', '.join(backend_names())}")
    return BACKENDS[name].factory(settings)


def _auto(settings: BackendSettings) -> Backend:
    """Prefer the published networks when present locally or cached; never fail for lack of them."""
    from oldphoto_cli.backends.bopbtl import required_keys
    from oldphoto_cli.registry.manifest import get_model
    from oldphoto_cli.registry.resolve import resolve_files

    try:
        resolve_files(get_model("bopbtl"), required_keys(settings), settings.weights_dir, download=False)
    except WeightsNotFoundError:
        return BACKENDS["classical"].factory(settings)
    return BACKENDS["bopbtl"].factory(settings)


__all__ = ["BACKENDS", "Backend", "BackendSettings", "Restoration", "backend_names", "create_backend"]
