"""Running a batch under a Rich progress bar, then a one-table summary."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from oldphoto_cli.backends.base import Backend
from oldphoto_cli.cli.console import err, out
from oldphoto_cli.io.paths import Job
from oldphoto_cli.pipeline.batch import FAILED, BatchOptions, MaskLookup, Outcome, run_batch, summarize


def run_with_progress(
    jobs: list[Job], backend: Backend, mask_for: MaskLookup | None, save_mask: bool, debug: bool
) -> list[Outcome]:
    options = BatchOptions(save_mask=save_mask, mask_for=mask_for, debug=debug)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("restoring", total=len(jobs))

        def report(outcome: Outcome) -> None:
            if outcome.status == FAILED:
                line = Text.assemble(("failed ", "red"), f"{outcome.job.source}: {outcome.reason}")
                progress.console.print(line, soft_wrap=True)
            progress.advance(task)

        follow_tiles(backend, progress)
        outcomes = run_batch(jobs, backend, options, report)
    print_summary(outcomes)
    return outcomes


def follow_tiles(backend: Backend, progress: Progress) -> None:
    """A second bar for the tiles of a large scan, for backends that run in tiles."""
    pipeline = getattr(backend, "pipeline", None)
    if pipeline is None or not hasattr(pipeline, "on_tile"):
        return
    task = progress.add_task("  tiles", total=None, visible=False)

    def on_tile(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total, visible=done < total)

    pipeline.on_tile = on_tile


def print_summary(outcomes: list[Outcome]) -> None:
    counts = summarize(outcomes)
    table = Table(show_header=True, header_style="bold")
    for column in ("done", "skipped", "failed", "s / image"):
        table.add_column(column, justify="right")
    table.add_row(
        str(int(counts["done"])),
        str(int(counts["skipped"])),
        str(int(counts["failed"])),
        f"{counts['seconds_per_image']:.2f}",
    )
    out.print(table)
