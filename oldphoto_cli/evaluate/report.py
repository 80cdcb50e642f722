"""Turning an evaluation into a terminal table, ``results.json`` and ``results.csv``.

Per-image rows and one mean row per backend. Means are over the photos a backend restored; mask
scores also get pooled values (precision, recall and IoU of the summed pixel counts, so large
photos weigh more); ``peak_mib`` is summarised by its maximum, not its mean.

JSON has no infinity: a PSNR of identical images is written as the string ``"inf"`` (a float
parser such as Python's ``float()`` reads it back), and a score that does not apply (no mask, no
NIQE model) is ``null``. The CSV writes ``inf`` and an empty cell likewise.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from pathlib import Path

from rich.table import Table

from oldphoto_cli.errors import ImageWriteError
from oldphoto_cli.evaluate.metrics import MaskCounts
from oldphoto_cli.evaluate.runner import Evaluation, Row
from oldphoto_cli.io.atomic import atomic_write

KEY_COLUMNS = ("backend", "photo")
MEAN_PHOTO = "(mean)"
_MAX_COLUMNS = ("peak_mib",)
_COUNT_COLUMNS = ("mask_tp", "mask_fp", "mask_fn")
TABLE_COLUMNS = (
    "psnr", "psnr_y", "ssim", "ssim_y", "lpips", "fid", "mask_precision", "mask_recall", "mask_iou",
    "niqe", "brisque", "noise_sigma", "sharpness", "colourfulness", "dynamic_range", "seconds", "peak_mib",
)  # fmt: skip


def summary_rows(evaluation: Evaluation) -> list[Row]:
    """One row per backend (and for the input, in no-reference mode), in evaluation order."""
    names = list(dict.fromkeys(str(r["backend"]) for r in evaluation.rows))
    return [_summarise(name, evaluation) for name in names]


def _summarise(name: str, evaluation: Evaluation) -> Row:
    """Means (maximum for memory), pooled mask scores and per-backend extras such as FID."""
    rows = [r for r in evaluation.rows if r["backend"] == name]
    summary: Row = {"backend": name, "photo": MEAN_PHOTO, "images": len(rows)}
    for column in _metric_columns(rows):
        values = [float(r[column]) for r in rows if r.get(column) is not None]
        if values and column not in _COUNT_COLUMNS:
            summary[column] = max(values) if column in _MAX_COLUMNS else sum(values) / len(values)
    if any("mask_tp" in r for r in rows):
        pooled = sum((MaskCounts(r["mask_tp"], r["mask_fp"], r["mask_fn"]) for r in rows if "mask_tp" in r),
                     MaskCounts(0, 0, 0))  # fmt: skip
        summary.update(mask_precision_pooled=pooled.precision, mask_recall_pooled=pooled.recall)
        summary["mask_iou_pooled"] = pooled.iou
    summary.update(evaluation.backend_extras.get(name, {}))
    return summary


def _metric_columns(rows: Iterable[Row]) -> list[str]:
    """Every non-key column present in any row, in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update((k, None) for k in row if k not in KEY_COLUMNS)
    return list(seen)


def _jsonable(value: object) -> object:
    """Floats JSON can hold: inf/-inf as strings, NaN as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def results_json(evaluation: Evaluation, meta: dict[str, object]) -> str:
    """The whole evaluation as JSON text: run settings, notes, skipped backends, means, images."""
    document = {
        **meta,
        "backends": evaluation.backends,
        "skipped": evaluation.skipped,
        "notes": evaluation.notes,
        "means": [{k: _jsonable(v) for k, v in r.items()} for r in summary_rows(evaluation)],
        "images": [{k: _jsonable(v) for k, v in r.items()} for r in evaluation.rows],
    }
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def results_csv(evaluation: Evaluation) -> str:
    """Per-image rows then mean rows, one column per score, as CSV text."""
    rows = evaluation.rows + summary_rows(evaluation)
    columns = [*KEY_COLUMNS, *_metric_columns(rows)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else _jsonable(v)) for k, v in row.items()})
    return buffer.getvalue()


def write_text(path: Path, text: str) -> None:
    """Write a report file atomically; a failure is an ``ImageWriteError`` naming it."""
    try:
        with atomic_write(path) as handle:
            handle.write(text.encode("utf-8"))
    except OSError as exc:
        raise ImageWriteError(path, exc.strerror or str(exc)) from exc


def summary_table(evaluation: Evaluation) -> Table:
    """The terminal view: one column per backend, one line per score, so it fits narrow terminals."""
    rows = summary_rows(evaluation)
    table = Table(title="oldphoto evaluate (means)", show_header=True, header_style="bold")
    table.add_column("score")
    for row in rows:
        table.add_column(str(row["backend"]), justify="right")
    table.add_row("images", *(str(r["images"]) for r in rows))
    for column in (c for c in TABLE_COLUMNS if any(c in r for r in rows)):
        label = "peak MiB (max)" if column == "peak_mib" else column
        table.add_row(label, *(_cell(r.get(column)) for r in rows))
    return table


def _cell(value: object) -> str:
    """Three significant decimals is plenty for a glance; the files keep full precision."""
    if value is None:
        return "-"
    number = float(value)  # type: ignore[arg-type]
    return "inf" if math.isinf(number) else f"{number:.3f}" if abs(number) < 1000 else f"{number:.0f}"
