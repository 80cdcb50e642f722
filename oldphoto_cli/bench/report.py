"""Benchmark results as a Rich table and as JSON, with the machine they were measured on."""

from __future__ import annotations

import os
import platform
import statistics
from typing import TYPE_CHECKING

from rich.table import Table

from oldphoto_cli.runtime.memory import format_bytes

if TYPE_CHECKING:
    from oldphoto_cli.bench.runner import Case, CaseResult
    from oldphoto_cli.bench.versus import Comparison


def machine() -> dict:
    """What the numbers depend on: CPU, cores, library versions."""
    import onnxruntime
    import torch

    from oldphoto_cli.runtime.cpu_info import cpuinfo_field

    cpu = cpuinfo_field("model name") or platform.processor() or platform.machine()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def results_table(results: list[CaseResult]) -> Table:
    table = Table(title="oldphoto bench")
    for column in ("case", "size", "MP", "load s", "restore s", "MP/s", "peak RSS", "plan"):
        table.add_column(column, justify="left" if column in {"case", "plan"} else "right")
    for r in results:
        c = r.case
        table.add_row(
            f"{r.backend or c.model} {c.runtime}{_variant(c)} {c.device} {c.mode}",
            f"{c.width}×{c.height}" + (f" ×{c.batch}" if c.batch > 1 else ""),
            _fmt(c.megapixels),
            _fmt(r.load_s, 1),
            _fmt(r.restore_s, 1),
            _fmt(r.megapixels_per_s, 3),
            "-" if r.peak_rss_bytes is None else format_bytes(r.peak_rss_bytes),
            r.error or ("-" if r.plan is None else _plan_text(r.plan)),
        )
    return table


def _variant(case: Case) -> str:
    """What sets a case apart from the default run: ``exact``, a reduced precision."""
    return (" exact" if case.exact else "") + (f" {case.precision}" if case.precision != "fp32" else "")


def _plan_text(plan: dict) -> str:
    tiles = f"tiles {plan['tile']}²" if plan.get("tile") else "whole"
    if plan.get("preview"):
        tiles += f", preview {plan['preview'][1]}×{plan['preview'][0]}"
    return f"{plan['mode']}, {tiles}"


def comparison_table(comparisons: list[Comparison]) -> Table:
    table = Table(title="end to end, best of the repeats")
    columns = (
        "mode",
        "MP",
        "ours s",
        "theirs s",
        "speed-up",
        "pairs: median (range)",
        "ours peak",
        "theirs peak",
    )
    for column in columns:
        table.add_column(column)
    for c in comparisons:
        table.add_row(
            c.mode,
            _fmt(c.megapixels),
            _fmt(c.ours.wall_s, 1),
            _fmt(c.theirs.wall_s, 1),
            f"{c.speedup:.2f}×",
            _pairs_text(c.pair_speedups),
            format_bytes(c.ours.peak_rss_bytes),
            format_bytes(c.theirs.peak_rss_bytes),
        )
    return table


def _pairs_text(ratios: tuple[float, ...]) -> str:
    """The repeats' own ratios: median, and lowest to highest when there are several."""
    if not ratios:
        return "-"
    median = f"{statistics.median(ratios):.2f}×"
    return median if len(ratios) == 1 else f"{median} ({min(ratios):.2f}–{max(ratios):.2f})"


def report_json(results: list[CaseResult], comparisons: list[Comparison]) -> dict:
    return {
        "machine": machine(),
        "results": [r.to_json() for r in results],
        "comparisons": [c.to_json() for c in comparisons],
    }
