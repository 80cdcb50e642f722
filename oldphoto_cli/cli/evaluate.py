"""``oldphoto evaluate``: restore a dataset with several backends and score the results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from oldphoto_cli.cli.choices import DeviceChoice
from oldphoto_cli.cli.console import DebugFlag, err, out

if TYPE_CHECKING:
    from oldphoto_cli.evaluate.dataset import Sample
    from oldphoto_cli.evaluate.runner import EvalOptions, Evaluation


def evaluate_command(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="A dataset from `oldphoto degrade` (clean/, degraded/, mask/), or with --no-reference "
            "any folder of photos."
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Comma-separated backends (default: classical, plus bopbtl if its weights are here).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Report folder (default: DATASET_evaluation beside it)."),
    ] = None,
    no_reference: Annotated[
        bool, typer.Option("--no-reference", help="Real photos without originals: no-reference scores only.")
    ] = False,
    scratch: Annotated[
        bool, typer.Option("--scratch/--no-scratch", help="Let backends detect and repair scratches.")
    ] = True,
    grid_rows: Annotated[int, typer.Option(min=0, help="Photos shown in grid.jpg (0: no grid).")] = 8,
    grid_height: Annotated[int, typer.Option(min=16, help="Thumbnail height in grid.jpg, pixels.")] = 256,
    niqe_params: Annotated[
        Path | None,
        typer.Option(
            envvar="OLDPHOTO_NIQE_PARAMS",
            help="NIQE pristine parameters (.npz) (default: the copy in an installed basicsr).",
        ),
    ] = None,
    brisque_model: Annotated[
        Path | None,
        typer.Option(
            envvar="OLDPHOTO_BRISQUE_MODEL",
            help="Folder with OpenCV's BRISQUE model files (default: Debian's opencv-data, if installed).",
        ),
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(envvar="OLDPHOTO_WEIGHTS", help="Local folder with the checkpoints."),
    ] = None,
    device: Annotated[DeviceChoice, typer.Option(help="Where the networks run.")] = DeviceChoice.auto,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """Score backends on a degraded dataset (PSNR, SSIM, mask IoU, time, memory) or on real photos."""
    from oldphoto_cli.backends import BackendSettings
    from oldphoto_cli.evaluate.runner import EvalOptions, available_models

    DebugFlag.enabled = debug
    report_dir = output or dataset.parent / f"{dataset.name}_evaluation"
    settings = BackendSettings(scratch=scratch, weights_dir=weights, device=device.value)
    models = _model_list(model) if model else available_models(settings)
    samples = _samples(dataset, no_reference, report_dir)
    options = EvalOptions(
        report_dir,
        settings,
        no_reference,
        _niqe_model(niqe_params, no_reference),
        _brisque_model(brisque_model, no_reference),
        grid_rows,
        grid_height,
    )
    evaluation = _run(samples, models, options)
    _write_reports(evaluation, options, dataset, models)
    if not evaluation.backends:
        raise typer.Exit(1)


def _model_list(text: str) -> list[str]:
    """Split and check ``--model`` up front, so a typo fails before any work is done."""
    from oldphoto_cli.backends import BACKENDS
    from oldphoto_cli.cli.choices import comma_list
    from oldphoto_cli.errors import UnknownModelError

    names = comma_list(text)
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise UnknownModelError(
            f"unknown model {', '.join(unknown) or text!r}; choose from {', '.join(BACKENDS)}"
        )
    return names


def _samples(dataset: Path, no_reference: bool, report_dir: Path) -> list[Sample]:
    """The photos to evaluate; a folder that is not a dataset is an error unless --no-reference."""
    from oldphoto_cli.errors import OldPhotoError
    from oldphoto_cli.evaluate.dataset import dataset_samples, folder_samples, is_dataset

    if not dataset.is_dir():
        raise OldPhotoError(f"{dataset}: not a folder")
    if no_reference:
        samples = folder_samples(dataset, exclude=report_dir)
    elif not is_dataset(dataset):
        raise OldPhotoError(f"{dataset}: needs clean/ and degraded/ (or use --no-reference for plain photos)")
    else:
        samples, problems = dataset_samples(dataset)
        for line in problems:
            err.print(line, soft_wrap=True)
    if not samples:
        raise OldPhotoError(f"{dataset}: no photos to evaluate")
    return samples


def _niqe_model(path: Path | None, no_reference: bool):
    """Load NIQE's parameters when scoring without reference; say so once when there are none."""
    from oldphoto_cli.errors import OldPhotoError
    from oldphoto_cli.evaluate.niqe import find_niqe_params, load_niqe_model

    if not no_reference:
        return None
    found = find_niqe_params(path)
    if found is None:
        return None
    try:
        return load_niqe_model(found)
    except ValueError as exc:
        raise OldPhotoError(str(exc)) from exc


def _brisque_model(folder: Path | None, no_reference: bool):
    """BRISQUE's model files when scoring without reference; a folder given must hold them."""
    from oldphoto_cli.errors import OldPhotoError
    from oldphoto_cli.evaluate.brisque import find_brisque_model

    if not no_reference:
        return None
    try:
        return find_brisque_model(folder)
    except FileNotFoundError as exc:
        raise OldPhotoError(str(exc)) from exc


def _run(samples: list[Sample], models: list[str], options: EvalOptions) -> Evaluation:
    """The evaluation loop under a progress bar over photos × backends, on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from oldphoto_cli.evaluate.runner import evaluate

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("evaluating", total=len(samples) * len(models))

        def advance(name: str) -> None:
            progress.update(task, advance=1, description=f"evaluating {name}")

        def problem(line: str) -> None:
            progress.console.print(line, soft_wrap=True, markup=False)

        return evaluate(samples, models, options, advance, problem)


def _write_reports(evaluation: Evaluation, options: EvalOptions, dataset: Path, models: list[str]) -> None:
    """results.json, results.csv, grid.jpg, then the table and notes on the terminal."""
    from oldphoto_cli.evaluate import report
    from oldphoto_cli.evaluate.brisque import UNAVAILABLE as BRISQUE_UNAVAILABLE
    from oldphoto_cli.evaluate.grid import make_grid, save_grid
    from oldphoto_cli.evaluate.runner import INPUT, TRUTH

    if options.no_reference:
        if options.brisque_model is None:
            evaluation.notes.append(BRISQUE_UNAVAILABLE)
        if options.niqe_model is None:
            evaluation.notes.append(
                "NIQE unavailable: no pristine parameters (install basicsr or --niqe-params)"
            )
    meta = {"dataset": str(dataset), "mode": "no-reference" if options.no_reference else "full-reference",
            "scratch": options.settings.scratch, "requested": models,
            "niqe_params": str(options.niqe_model.source) if options.niqe_model else None,
            "brisque_model": str(options.brisque_model.source) if options.brisque_model else None}  # fmt: skip
    report.write_text(options.report_dir / "results.json", report.results_json(evaluation, meta))
    report.write_text(options.report_dir / "results.csv", report.results_csv(evaluation))
    if evaluation.grid:
        truth = [] if options.no_reference else [TRUTH]
        grid = make_grid(evaluation.grid, [INPUT, *evaluation.backends, *truth], options.grid_height)
        save_grid(options.report_dir / "grid.jpg", grid)
    out.print(report.summary_table(evaluation))
    for note in evaluation.notes:
        out.print(f"note: {note}", markup=False, soft_wrap=True)
    out.print(f"report: {options.report_dir}", markup=False, soft_wrap=True)
