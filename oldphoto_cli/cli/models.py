"""``oldphoto models``: every model of the registry, whether its weights are here, and where."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from oldphoto_cli.cli.console import out

if TYPE_CHECKING:
    from oldphoto_cli.registry.manifest import ModelSpec
    from oldphoto_cli.registry.resolve import FileStatus


def models_command(
    weights: Annotated[
        Path | None,
        typer.Option(
            envvar="OLDPHOTO_WEIGHTS", help="Check this local weights folder instead of the Hub cache."
        ),
    ] = None,
) -> None:
    """List the models, their weights per mode (present or not) and where they live. No network."""
    from rich.table import Table

    from oldphoto_cli.registry.manifest import load_manifest
    from oldphoto_cli.registry.resolve import describe_availability

    table = Table(title="oldphoto models", show_lines=True)
    for column in ("model", "title and licence", "weights per mode", "where"):
        table.add_column(column, overflow="fold")
    for spec in load_manifest().values():
        statuses = {s.key: s for s in describe_availability(spec, weights)}
        table.add_row(
            spec.name,
            f"{spec.title}\n[dim]{spec.licence}[/dim]",
            "\n".join(_mode_line(spec, mode, statuses) for mode in spec.modes) or "no weights needed",
            _where(spec, statuses, weights),
        )
    out.print(table)


def _mode_line(spec: ModelSpec, mode: str, statuses: dict[str, FileStatus]) -> str:
    """'quality: ready', or what is missing and how to get it."""
    from oldphoto_cli.registry.resolve import Availability

    keys = spec.keys_for(mode)
    missing = [k for k in keys if statuses[k].path is None]
    if not missing:
        return f"{mode}: [green]ready[/green]"
    manual = [k for k in missing if statuses[k].status is Availability.MANUAL]
    hint = f"{', '.join(manual)} not on the Hub" if manual else "`oldphoto download`"
    return f"{mode}: [yellow]{len(missing)} of {len(keys)} missing[/yellow] ({hint})"


def _where(spec: ModelSpec, statuses: dict[str, FileStatus], weights: Path | None) -> str:
    """The folder the present files share, else where they would come from."""
    from oldphoto_cli.registry.local import weights_dir_from

    present = [str(s.path.parent) for s in statuses.values() if s.path is not None]
    folder = weights_dir_from(weights)
    if not spec.files:
        return "-"
    if present:
        return os.path.commonpath(present)
    if folder is not None:
        return f"{folder} (none found)"
    if spec.hub is None:
        return "a local folder (--weights)"
    return f"Hub: {spec.hub.repo_id} @ {spec.hub.revision[:12]} (not downloaded)"
