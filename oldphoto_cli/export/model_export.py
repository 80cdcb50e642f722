"""``oldphoto export``'s one call: a model's networks, for some of its modes, into a folder.

Which function exports a model is a small registry (:data:`EXPORTERS`), so a model we train later
adds one entry. Without ``modes``, every mode whose weight files are already here is exported:
that needs no network access and never fails for a file the user did not ask about (``--hr``'s
mapping network is not on the Hub).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from oldphoto_cli.errors import ExportError, WeightsNotFoundError
from oldphoto_cli.registry.manifest import ModelSpec, get_model
from oldphoto_cli.registry.resolve import describe_availability, resolve_files


def _bopbtl(files: dict[str, Path], modes: Iterable[str], out_dir: Path) -> list[Path]:
    from oldphoto_cli.export.stage_one_export import export_stage_one

    return export_stage_one(files, modes, out_dir)


EXPORTERS: dict[str, Callable[[dict[str, Path], Iterable[str], Path], list[Path]]] = {"bopbtl": _bopbtl}


def export_model(
    name: str, out_dir: Path, modes: list[str] | None = None, weights_dir: Path | None = None
) -> list[Path]:
    """Export model ``name`` as ONNX into ``out_dir``; returns the files written."""
    spec = get_model(name)
    if name not in EXPORTERS:
        raise ExportError(f"model {name!r} has no networks to export (exportable: {', '.join(EXPORTERS)})")
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise ExportError(f"{out_dir}: exists and is not a folder; -o names the folder to export into")
    chosen = list(dict.fromkeys(modes)) if modes else available_modes(spec, weights_dir)
    keys = list(dict.fromkeys(key for mode in chosen for key in spec.keys_for(mode)))
    return EXPORTERS[name](resolve_files(spec, keys, weights_dir), chosen, Path(out_dir))


def available_modes(spec: ModelSpec, weights_dir: Path | None = None) -> list[str]:
    """The modes whose files are all local or cached (no network, no hashing)."""
    present = {s.key for s in describe_availability(spec, weights_dir) if s.path is not None}
    modes = [mode for mode in spec.modes if set(spec.keys_for(mode)) <= present]
    if not modes:
        raise WeightsNotFoundError(
            f"no mode of {spec.name} has all its weight files here; run `oldphoto download`, "
            "pass --weights DIR, or name the modes with --mode to download what they need"
        )
    return modes
