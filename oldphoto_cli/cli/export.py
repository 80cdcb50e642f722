"""``oldphoto export``: a model's networks as ONNX files, for ONNX Runtime or any other runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oldphoto_cli.cli.choices import ExportFormat
from oldphoto_cli.cli.console import DebugFlag, err, out


def export_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder to write the networks into.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model whose networks to export (names: `oldphoto models`).")
    ] = "bopbtl",
    fmt: Annotated[ExportFormat, typer.Option("--format", help="File format.")] = ExportFormat.onnx,
    mode: Annotated[
        list[str] | None,
        typer.Option(
            "--mode",
            help="A mode to export (bopbtl: quality, scratch, scratch_hr); repeatable. "
            "Default: every mode whose weights are here.",
        ),
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(
            envvar="OLDPHOTO_WEIGHTS", help="Local folder with the checkpoints (Hub or release-zip layout)."
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """Export a model's networks with free height and width, plus onnx_manifest.json."""
    from oldphoto_cli.export.model_export import export_model

    DebugFlag.enabled = debug
    err.print(f"exporting {model} as {fmt.value} into {output}", soft_wrap=True)
    for path in export_model(model, output, mode, weights):
        out.print(str(path), soft_wrap=True)
