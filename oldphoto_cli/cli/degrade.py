"""``oldphoto degrade``: damage clean photos like old prints, one file or a folder into a dataset."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from oldphoto_cli.cli.console import DebugFlag, err, out

PresetChoice = Enum("PresetChoice", {name: name for name in ("old-print", "paper")}, type=str)

_STRENGTH = "(strength: 0 off, 1 default)"


def degrade_command(
    input: Annotated[Path, typer.Argument(help="A clean photo, or a folder of them (searched recursively).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Output image, or dataset folder (default: NAME_degraded beside the input).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Random seed; the same seed gives the same bytes.")] = 0,
    preset: Annotated[
        PresetChoice, typer.Option(help="paper = the published operations; old-print adds structured damage.")
    ] = PresetChoice["old-print"],
    mask_out: Annotated[
        Path | None, typer.Option("--mask-out", help="Also write the damage mask here (file input).")
    ] = None,
    copies: Annotated[int, typer.Option(min=1, help="Degraded copies of each photo (folder input).")] = 1,
    preview: Annotated[
        int | None,
        typer.Option(min=1, max=16, help="Write a grid of this many seeds (from --seed) instead."),
    ] = None,
    unstructured: Annotated[
        bool,
        typer.Option("--unstructured/--no-unstructured", help="Blur, noise, low resolution, JPEG, grey."),
    ] = True,
    scratches: Annotated[
        float | None, typer.Option(min=0.0, max=3.0, help=f"Scratches, cracks {_STRENGTH}.")
    ] = None,
    dust: Annotated[float | None, typer.Option(min=0.0, max=3.0, help=f"Dust, hairs {_STRENGTH}.")] = None,
    tears: Annotated[
        float | None, typer.Option(min=0.0, max=3.0, help=f"Torn corners, holes {_STRENGTH}.")
    ] = None,
    creases: Annotated[float | None, typer.Option(min=0.0, max=3.0, help=f"Fold lines {_STRENGTH}.")] = None,
    stains: Annotated[float | None, typer.Option(min=0.0, max=3.0, help=f"Water stains {_STRENGTH}.")] = None,
    fading: Annotated[
        float | None, typer.Option(min=0.0, max=3.0, help=f"Fading, colour casts {_STRENGTH}.")
    ] = None,
    grain: Annotated[float | None, typer.Option(min=0.0, max=3.0, help=f"Film grain {_STRENGTH}.")] = None,
    halftone: Annotated[
        float | None, typer.Option(min=0.0, max=3.0, help=f"Halftone dots {_STRENGTH}.")
    ] = None,
    paper_texture: Annotated[
        float | None, typer.Option("--paper-texture", min=0.0, max=3.0, help=f"Paper texture {_STRENGTH}.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace outputs that already exist.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """Damage clean photos like old prints: a file, or a folder into a paired dataset with masks."""
    from dataclasses import replace

    from oldphoto_cli.degrade.presets import preset as named_preset

    DebugFlag.enabled = debug
    overrides = {
        "scratches": scratches, "dust": dust, "tears": tears, "creases": creases, "stains": stains,
        "fading": fading, "grain": grain, "halftone": halftone, "paper": paper_texture,
    }  # fmt: skip
    config = named_preset(preset.value).with_strengths(
        **{k: v for k, v in overrides.items() if v is not None}
    )
    config = replace(config, unstructured=unstructured)
    if preview is not None:
        _preview(input, output, seed, preview, config, overwrite)
    elif input.is_dir():
        _folder(input, output, seed, copies, config, overwrite, mask_out)
    else:
        _file(input, output, seed, config, overwrite, mask_out)


def _default_output(input: Path, tag: str, suffix: str) -> Path:
    """``NAME_<tag><suffix>`` beside the input (a folder gets no suffix)."""
    return input.with_name(f"{input.stem if suffix else input.name}_{tag}{suffix}")


def _refuse_existing(path: Path, overwrite: bool) -> None:
    """Never replace a file silently: the same usage error ``restore`` gives."""
    from oldphoto_cli.degrade.errors import DegradeError

    if path.exists() and not overwrite:
        raise DegradeError(f"{path}: exists (use --overwrite)")


def _file(
    input: Path, output: Path | None, seed: int, config, overwrite: bool, mask_out: Path | None
) -> None:
    """One photo: write the degraded image (format from its extension) and optionally its mask."""
    import numpy as np

    from oldphoto_cli.degrade import degrade
    from oldphoto_cli.degrade.dataset import plain_like
    from oldphoto_cli.io import read_image, write_image, write_mask

    target = output or _default_output(input, "degraded", ".png")
    for path in (target, mask_out):
        if path is not None:
            _refuse_existing(path, overwrite)
    result = degrade(read_image(input).rgb, np.random.default_rng(seed), config)
    write_image(target, result.image, like=plain_like())
    if mask_out is not None:
        write_mask(mask_out, result.mask)
    ops = ", ".join(str(op["op"]) for op in result.operations) or "nothing"
    out.print(f"{target}: {ops}")


def _folder(input: Path, output: Path | None, seed: int, copies: int, config, overwrite: bool,
            mask_out: Path | None) -> None:  # fmt: skip
    """A folder: build ``clean/ degraded/ mask/ manifest.jsonl`` under the output folder."""
    from oldphoto_cli.degrade.dataset import MANIFEST, build_dataset

    if mask_out is not None:
        raise typer.BadParameter(
            "a dataset always has mask/; --mask-out is for a single file", param_hint="--mask-out"
        )
    target = output or _default_output(input, "degraded", "")
    _refuse_existing(target / MANIFEST, overwrite)
    failed = []

    def report(pair, record, error) -> None:
        if error is not None:
            failed.append(pair)
            err.print(f"[red]failed[/red] {error}", markup=True, soft_wrap=True)

    records = build_dataset(input, target, seed, config, copies, on_pair=report)
    out.print(f"{len(records)} pairs in {target}")
    if failed:
        raise typer.Exit(1)


def _preview(input: Path, output: Path | None, seed: int, count: int, config, overwrite: bool) -> None:
    """A grid: rows = the photo (or up to 4 from a folder), columns = clean then ``count`` seeds."""
    from oldphoto_cli.degrade.dataset import plain_like, plan_pairs
    from oldphoto_cli.degrade.errors import DegradeError
    from oldphoto_cli.degrade.preview import preview_grid
    from oldphoto_cli.io import read_image, write_image

    sources = [p.source for p in plan_pairs(input, 1)][:4] if input.is_dir() else [input]
    if not sources:
        raise DegradeError(f"{input}: no photos found")
    target = output or _default_output(input, "preview", ".jpg")
    _refuse_existing(target, overwrite)
    photos = [read_image(path).rgb for path in sources]
    grid = preview_grid(photos, range(seed, seed + count), config)
    write_image(target, grid, like=plain_like())
    out.print(f"{target}: {len(photos)} × {count} seeds")
