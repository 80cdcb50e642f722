"""Restoring every sample with every backend and scoring each result: the evaluation loop.

Backends are the outer loop (each is built once; one that cannot be built, e.g. for lack of
weights, is reported and skipped while the others go on), photos the inner one, in sorted order,
so a run is deterministic given the dataset (apart from time and memory). Each restoration is
saved under ``REPORT_DIR/<backend>/<name>`` so its numbers can be checked by eye.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oldphoto_cli.backends import Backend, BackendSettings, Restoration, create_backend
from oldphoto_cli.errors import OldPhotoError
from oldphoto_cli.evaluate import perceptual
from oldphoto_cli.evaluate.brisque import BrisqueModel
from oldphoto_cli.evaluate.dataset import Sample
from oldphoto_cli.evaluate.grid import thumbnail
from oldphoto_cli.evaluate.measure import measure
from oldphoto_cli.evaluate.metrics import full_reference, mask_counts
from oldphoto_cli.evaluate.niqe import NiqeModel
from oldphoto_cli.evaluate.noreference import no_reference_scores
from oldphoto_cli.io import read_image, write_image
from oldphoto_cli.io.formats import output_suffix

INPUT = "input"
TRUTH = "ground truth"
Row = dict[str, object]


@dataclass(frozen=True)
class EvalOptions:
    """What to compute: reference metrics or not, which NIQE model, how many grid rows and how tall."""

    report_dir: Path
    settings: BackendSettings
    no_reference: bool = False
    niqe_model: NiqeModel | None = None
    brisque_model: BrisqueModel | None = None
    grid_rows: int = 8
    grid_height: int = 256


@dataclass
class Evaluation:
    """Everything a report needs: per-image rows, per-backend extras, what was skipped and why."""

    backends: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    backend_extras: dict[str, Row] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    grid: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


Advance = Callable[[str], None]
Problem = Callable[[str], None]
Scorer = Callable[[np.ndarray, np.ndarray], float]


def evaluate(
    samples: list[Sample], models: list[str], options: EvalOptions, advance: Advance, problem: Problem
) -> Evaluation:
    """Run every backend over every sample; ``advance`` is called once per (backend, photo)."""
    result = Evaluation()
    lpips_score = _perceptual_setup(options, result)
    grid_names = [s.name for s in samples[: options.grid_rows]]
    if options.no_reference:
        result.rows += _input_rows(samples, options, problem)
    for name in models:
        try:
            backend = create_backend(name, options.settings)
        except OldPhotoError as exc:
            result.skipped[name] = str(exc)
            problem(f"{name}: skipped: {exc}")
            for _ in samples:
                advance(name)
            continue
        result.backends.append(name)
        _run_backend(backend, name, samples, options, result, grid_names, lpips_score, advance, problem)
    return result


def _perceptual_setup(options: EvalOptions, result: Evaluation) -> Scorer | None:
    """Note which learned scores are skipped; return an LPIPS scorer when it can run offline."""
    if options.no_reference:
        return None
    if note := perceptual.fid_unavailable():
        result.notes.append(f"FID {note}")
    lpips_note = perceptual.lpips_unavailable()
    if lpips_note:
        result.notes.append(f"LPIPS {lpips_note}")
        return None
    return perceptual.lpips_scorer()


def _input_rows(samples: list[Sample], options: EvalOptions, problem: Problem) -> list[Row]:
    """No-reference scores of the unrestored photos: the baseline each backend is compared with."""
    rows = []
    for sample in samples:
        try:
            rgb = read_image(sample.source).rgb
        except OldPhotoError as exc:
            problem(str(exc))
            continue
        rows.append(
            {
                "backend": INPUT,
                "photo": sample.name,
                **no_reference_scores(rgb, options.niqe_model, options.brisque_model),
            }
        )
    return rows


def _run_backend(
    backend: Backend,
    name: str,
    samples: list[Sample],
    options: EvalOptions,
    result: Evaluation,
    grid_names: list[str],
    lpips_score: Scorer | None,
    advance: Advance,
    problem: Problem,
) -> None:
    """One backend over all samples, collecting rows, grid thumbnails and (if possible) FID sets."""
    fid_sets: tuple[list, list] | None = (
        ([], []) if not options.no_reference and not any(n.startswith("FID") for n in result.notes) else None
    )
    for sample in samples:
        try:
            row, restored, clean = _score_sample(backend, name, sample, options, lpips_score)
        except OldPhotoError as exc:
            problem(f"{name}: {exc}")
        else:
            result.rows.append(row)
            if sample.name in grid_names:
                _keep_for_grid(result, sample, name, restored, clean, options)
            if fid_sets is not None:
                fid_sets[0].append(restored)
                fid_sets[1].append(clean)
        advance(name)
    if fid_sets is not None:
        result.backend_extras[name] = {"fid": perceptual.fid(*fid_sets)}


def _score_sample(
    backend: Backend, name: str, sample: Sample, options: EvalOptions, lpips_score: Scorer | None
) -> tuple[Row, np.ndarray, np.ndarray | None]:
    """Restore one photo, save the result, and score it; returns the row and the two images."""
    photo = read_image(sample.source)
    measured = measure(lambda: backend.restore(photo.rgb, None))
    restoration: Restoration = measured.value  # type: ignore[assignment]
    target = options.report_dir / name / sample.name
    write_image(target.with_suffix(output_suffix(target)), restoration.image, like=photo)
    row: Row = {"backend": name, "photo": sample.name}
    clean = None
    if options.no_reference:
        row.update(no_reference_scores(restoration.image, options.niqe_model, options.brisque_model))
    else:
        clean = _read_clean(sample, restoration.image.shape)
        row.update(full_reference(restoration.image, clean))
        if lpips_score is not None:
            row["lpips"] = lpips_score(restoration.image, clean)
        row.update(_mask_columns(restoration.mask, sample))
    row.update({"seconds": measured.seconds, "peak_mib": measured.peak_mib})
    return row, restoration.image, clean


def _read_clean(sample: Sample, shape: tuple[int, ...]) -> np.ndarray:
    """The clean original, which must match the restoration's size (backends keep the input's)."""
    assert sample.clean is not None
    clean = read_image(sample.clean).rgb
    if clean.shape != shape:
        raise OldPhotoError(f"{sample.clean}: size {clean.shape[:2]} differs from the restored {shape[:2]}")
    return clean


def _mask_columns(predicted: np.ndarray | None, sample: Sample) -> Row:
    """Precision, recall, IoU and raw counts when both a predicted and a true mask exist."""
    if predicted is None or sample.mask is None:
        return {}
    truth = read_image(sample.mask).rgb[..., 0] >= 128
    if truth.shape != predicted.shape:
        raise OldPhotoError(f"{sample.mask}: size {truth.shape} differs from the photo's {predicted.shape}")
    counts = mask_counts(predicted, truth)
    return {
        "mask_precision": counts.precision,
        "mask_recall": counts.recall,
        "mask_iou": counts.iou,
        "mask_tp": counts.tp,
        "mask_fp": counts.fp,
        "mask_fn": counts.fn,
    }


def _keep_for_grid(
    result: Evaluation,
    sample: Sample,
    name: str,
    restored: np.ndarray,
    clean: np.ndarray | None,
    options: EvalOptions,
) -> None:
    """Thumbnails for the comparison grid: the input and truth once, each backend's result."""
    cells = result.grid.setdefault(sample.name, {})
    if INPUT not in cells:
        cells[INPUT] = thumbnail(read_image(sample.source).rgb, options.grid_height)
        if clean is not None:
            cells[TRUTH] = thumbnail(clean, options.grid_height)
    cells[name] = thumbnail(restored, options.grid_height)


def available_models(settings: BackendSettings) -> list[str]:
    """The default ``--model`` list: classical always, bopbtl only if its weights are already here."""
    from oldphoto_cli.backends import BACKENDS
    from oldphoto_cli.backends.bopbtl import required_keys
    from oldphoto_cli.errors import WeightsNotFoundError
    from oldphoto_cli.registry.manifest import get_model
    from oldphoto_cli.registry.resolve import resolve_files

    names = []
    for name in BACKENDS:
        if name == "bopbtl":
            try:
                resolve_files(get_model(name), required_keys(settings), settings.weights_dir, download=False)
            except WeightsNotFoundError:
                continue
        names.append(name)
    return names
