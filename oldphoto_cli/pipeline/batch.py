"""Restoring many files: read, restore, write, one outcome per file, nothing lost.

A bad file is recorded with its reason and the batch goes on; only the caller decides how to
report. Outputs are written atomically by the I/O layer, so an interrupted run leaves either the
old state or a complete file at every target.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oldphoto_cli.backends.base import Backend
from oldphoto_cli.errors import ImageReadError, OldPhotoError
from oldphoto_cli.io.images import read_image, write_image, write_mask
from oldphoto_cli.io.paths import Job, mask_path_for

DONE, SKIPPED, FAILED = "done", "skipped", "failed"
MaskLookup = Callable[[Path], Path | None]


@dataclass(frozen=True)
class Outcome:
    job: Job
    status: str
    reason: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class BatchOptions:
    save_mask: bool = False
    mask_for: MaskLookup | None = None  # given masks: source → mask file
    debug: bool = False  # re-raise unexpected errors instead of recording them


def run_batch(
    jobs: Iterable[Job],
    backend: Backend,
    options: BatchOptions = BatchOptions(),
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    outcomes = []
    for job in jobs:
        outcome = _run_one(job, backend, options)
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    return outcomes


def _run_one(job: Job, backend: Backend, options: BatchOptions) -> Outcome:
    if job.skip_reason:
        return Outcome(job, SKIPPED, job.skip_reason)
    start = time.perf_counter()
    try:
        restore_file(job, backend, options)
    except OldPhotoError as exc:
        return Outcome(job, FAILED, _without_path(str(exc), job.source))
    except MemoryError:
        return Outcome(job, FAILED, "out of memory")
    except Exception as exc:  # an unexpected bug must not sink the other files of the batch
        if options.debug:
            raise
        return Outcome(job, FAILED, f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)")
    return Outcome(job, DONE, seconds=time.perf_counter() - start)


def restore_file(job: Job, backend: Backend, options: BatchOptions) -> None:
    photo = read_image(job.source)
    mask = _given_mask(job.source, photo.rgb.shape[:2], options.mask_for)
    result = backend.restore(photo.rgb, mask)
    job.target.parent.mkdir(parents=True, exist_ok=True)
    write_image(job.target, result.image, like=photo)
    if options.save_mask and result.mask is not None:
        write_mask(mask_path_for(job.target), result.mask)


def _given_mask(source: Path, shape: tuple[int, int], mask_for: MaskLookup | None) -> np.ndarray | None:
    """The user's mask for ``source`` as H×W bool (≥ 128 is damage); it must match the photo's size."""
    if mask_for is None:
        return None
    path = mask_for(source)
    if path is None:
        raise ImageReadError(source, "no mask given for this file")
    mask = read_image(path).rgb[..., 0] >= 128
    if mask.shape != shape:
        raise ImageReadError(path, f"mask is {mask.shape[1]}×{mask.shape[0]}, photo is {shape[1]}×{shape[0]}")
    return mask


def _without_path(message: str, path: Path) -> str:
    """Errors name their file; the report names it once, so drop a leading repeat."""
    return message.removeprefix(f"{path}: ")


def summarize(outcomes: list[Outcome]) -> dict[str, float]:
    done = [o for o in outcomes if o.status == DONE]
    return {
        DONE: len(done),
        SKIPPED: sum(o.status == SKIPPED for o in outcomes),
        FAILED: sum(o.status == FAILED for o in outcomes),
        "seconds_per_image": sum(o.seconds for o in done) / len(done) if done else 0.0,
    }
