"""``oldphoto download``: fetch a model's weights now, so later runs work offline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from oldphoto_cli.cli.console import DebugFlag, err, out

if TYPE_CHECKING:
    from oldphoto_cli.registry.manifest import ModelSpec


def download_command(
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model whose weights to fetch (names: `oldphoto models`).")
    ] = "bopbtl",
    hr: Annotated[
        bool,
        typer.Option(
            "--hr",
            help="Also require the --hr patch-attention mapping. It is not on the Hub: it comes from the "
            "upstream release zip, and must already be in the weights folder.",
        ),
    ] = False,
    weights: Annotated[
        Path | None,
        typer.Option(
            envvar="OLDPHOTO_WEIGHTS",
            help="Download into this folder (Hub layout) instead of the Hugging Face cache; "
            "restore --weights DIR then reads it.",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """Fetch the weights for every mode of a model, only the files it needs."""
    from oldphoto_cli.registry.manifest import get_model
    from oldphoto_cli.registry.resolve import download_files

    DebugFlag.enabled = debug
    spec = get_model(model)
    from_hub, not_on_hub = _split_keys(spec)
    if not from_hub and not not_on_hub:
        out.print(f"{spec.name}: no weight files to download")
        return
    if from_hub:
        err.print(f"{spec.name}: {len(from_hub)} files from {_source(spec)} into {_destination(weights)}")
        _report(download_files(spec, from_hub, weights, progress=True))
    if not hr:
        for key in not_on_hub:
            err.print(f"skipped {key}: not on the Hub; `oldphoto download --hr` says how to get it")
        return
    _report(download_files(spec, not_on_hub, weights, progress=False))  # a folder check, or the how-to


def _split_keys(spec: ModelSpec) -> tuple[list[str], list[str]]:
    """The files of all the model's modes, in manifest order: those the Hub has, and the others."""
    used = {key for keys in spec.modes.values() for key in keys}
    keys = [key for key in spec.files if key in used]
    return [k for k in keys if spec.downloadable(k)], [k for k in keys if not spec.downloadable(k)]


def _source(spec: ModelSpec) -> str:
    assert spec.hub is not None  # only called when some file is on the Hub
    return f"{spec.hub.repo_id} (revision {spec.hub.revision[:12]})"


def _destination(weights: Path | None) -> str:
    from oldphoto_cli.registry.hub import hub_cache_dir
    from oldphoto_cli.registry.local import weights_dir_from

    folder = weights_dir_from(weights)
    return str(folder) if folder is not None else f"the Hugging Face cache {hub_cache_dir()}"


def _report(paths: dict[str, Path]) -> None:
    for key, path in paths.items():
        out.print(f"{key}: {path}", soft_wrap=True)
