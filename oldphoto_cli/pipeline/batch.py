"""Restoring many files: read, restore, write, one outcome per file, nothing lost.

Decoding and encoding overlap compute: while the backend restores file i on the calling thread,
one worker thread already decodes file i+1 and another encodes file i-1's outputs. Each stage
holds at most one file ahead (one decoded photo read ahead, one result being written), so memory
stays bounded by a few photos however long the batch.

A bad file is recorded with its reason and the batch goes on; only the caller decides how to
report. Outcomes are reported in job order, and a file counts as done only once its output is on
disk. Outputs are written atomically by the I/O layer, so an interrupted run leaves either the old
state or a complete file at every target.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from oldphoto_cli.backends.base import Backend, Restoration
from oldphoto_cli.errors import ImageReadError, OldPhotoError
from oldphoto_cli.io.images import Photo, read_image, write_image, write_mask
from oldphoto_cli.io.paths import Job, mask_path_for

DONE, SKIPPED, FAILED = "done", "skipped", "failed"
MaskLookup = Callable[[Path], Path | None]
OutcomeCallback = Callable[["Outcome"], None]
_T = TypeVar("_T")


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


@dataclass(frozen=True)
class _Decoded:
    """A photo and its given mask, decoded on the reader thread; ``seconds`` is the decode time."""

    photo: Photo
    mask: np.ndarray | None
    seconds: float


@dataclass(frozen=True)
class _Restored:
    """What the writer thread needs to save one result, and the time the file has taken so far."""

    job: Job
    photo: Photo
    result: Restoration
    seconds: float


@dataclass(frozen=True)
class _Writing:
    """A result handed to the writer: its outcome is known only when ``future`` (write seconds) ends."""

    job: Job
    future: Future[float]
    seconds: float


def run_batch(
    jobs: Iterable[Job],
    backend: Backend,
    options: BatchOptions = BatchOptions(),
    on_outcome: OutcomeCallback | None = None,
) -> list[Outcome]:
    """Restore every job, decoding ahead and encoding behind on worker threads; outcomes in job order.

    ``backend.restore`` runs here, on the calling thread, one photo at a time (torch and the progress
    callbacks expect that); only file I/O moves to the workers.
    """
    jobs = list(jobs)
    ordered = _InOrder(options, on_outcome)
    with _workers() as (reader, writer):
        reads = _read_ahead(jobs, reader, options)
        for job in jobs:
            if job.skip_reason:
                ordered.add(Outcome(job, SKIPPED, job.skip_reason))
                continue
            restored = _compute(job, next(reads), backend, options)
            if isinstance(restored, Outcome):
                ordered.add(restored)
            else:
                ordered.add(_Writing(job, writer.submit(_write, restored, options), restored.seconds))
        ordered.flush(block=True)
    return ordered.outcomes


@contextmanager
def _workers() -> Iterator[tuple[ThreadPoolExecutor, ThreadPoolExecutor]]:
    """One reader and one writer thread that never outlive the batch, even when it is interrupted.

    On the way out, a read not yet started is dropped, and the write handed over (at most one) is
    finished, so a photo already restored is not lost; writes are atomic, so none is ever
    half-visible. Then both threads are joined.
    """
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oldphoto-read")
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oldphoto-write")
    try:
        yield reader, writer
    finally:
        reader.shutdown(wait=False, cancel_futures=True)
        writer.shutdown(wait=True)
        reader.shutdown(wait=True)


def _read_ahead(
    jobs: Sequence[Job], reader: ThreadPoolExecutor, options: BatchOptions
) -> Iterator[Future[_Decoded]]:
    """The reads of the jobs to restore, in order, each handed out once the next one is queued.

    So the reader decodes file i+1 while file i is restored, and never more than one file ahead.
    """
    pending: Future[_Decoded] | None = None
    for job in jobs:
        if job.skip_reason:
            continue
        upcoming = reader.submit(_read, job, options)
        if pending is not None:
            yield pending
        pending = upcoming
    if pending is not None:
        yield pending


def _read(job: Job, options: BatchOptions) -> _Decoded:
    """Decode a photo and its given mask (reader thread); errors travel in the future."""
    start = time.perf_counter()
    photo = read_image(job.source)
    mask = _given_mask(job.source, photo.rgb.shape[:2], options.mask_for)
    return _Decoded(photo, mask, time.perf_counter() - start)


def _compute(
    job: Job, read: Future[_Decoded], backend: Backend, options: BatchOptions
) -> _Restored | Outcome:
    """Wait for the decoded photo, then restore it on this thread; a read or restore failure is FAILED."""

    def restore() -> _Restored:
        decoded = read.result()
        start = time.perf_counter()
        result = backend.restore(decoded.photo.rgb, decoded.mask)
        return _Restored(job, decoded.photo, result, decoded.seconds + time.perf_counter() - start)

    return _attempt(job, options, restore)


def _write(restored: _Restored, options: BatchOptions) -> float:
    """Save the result like its source, and its mask when asked (writer thread); returns the seconds."""
    start = time.perf_counter()
    _save(restored.job, restored.photo, restored.result, options)
    return time.perf_counter() - start


def _save(job: Job, photo: Photo, result: Restoration, options: BatchOptions) -> None:
    """The outputs of one file: the image in the source's kind of file, then the mask if asked.

    The I/O layer makes the target's folder, so a folder it cannot make is a write error naming it.
    """
    write_image(job.target, result.image, like=photo)
    if options.save_mask and result.mask is not None:
        write_mask(mask_path_for(job.target), result.mask)


class _InOrder:
    """Reports outcomes in job order, though a restored file's outcome waits for its write.

    At most one write is outstanding: adding a new one first waits for the previous, which keeps
    results waiting to be written (and their memory) bounded.
    """

    def __init__(self, options: BatchOptions, on_outcome: OutcomeCallback | None) -> None:
        self.outcomes: list[Outcome] = []
        self._options = options
        self._on_outcome = on_outcome
        self._waiting: deque[Outcome | _Writing] = deque()

    def add(self, entry: Outcome | _Writing) -> None:
        """Queue an outcome or a write behind earlier ones, and report what is already settled."""
        if isinstance(entry, _Writing):
            self.flush(block=True)
        self._waiting.append(entry)
        self.flush(block=False)

    def flush(self, block: bool) -> None:
        """Report settled outcomes from the front; with ``block``, wait for writes until none is left."""
        while self._waiting:
            head = self._waiting[0]
            if isinstance(head, _Writing) and not (block or head.future.done()):
                return
            self._waiting.popleft()
            self._report(head if isinstance(head, Outcome) else self._written(head))

    def _written(self, writing: _Writing) -> Outcome:
        """DONE once the file is on disk; a failed write is FAILED like any other step."""
        seconds = _attempt(writing.job, self._options, writing.future.result)
        if isinstance(seconds, Outcome):
            return seconds
        return Outcome(writing.job, DONE, seconds=writing.seconds + seconds)

    def _report(self, outcome: Outcome) -> None:
        """Keep the outcome for the caller's list and tell the progress display at once."""
        self.outcomes.append(outcome)
        if self._on_outcome:
            self._on_outcome(outcome)


def _attempt(job: Job, options: BatchOptions, step: Callable[[], _T]) -> _T | Outcome:
    """Run one step of a file; its failure becomes the file's FAILED outcome, not the batch's end."""
    try:
        return step()
    except Exception as exc:  # an unexpected bug must not sink the other files of the batch
        if options.debug and not isinstance(exc, (OldPhotoError, MemoryError)):
            raise
        return _failed(job, exc)


def _failed(job: Job, exc: Exception) -> Outcome:
    """The reason shown for a failed file: the error's own words, or what kind of bug it was."""
    if isinstance(exc, OldPhotoError):
        return Outcome(job, FAILED, _without_path(str(exc), job.source))
    if isinstance(exc, MemoryError):
        return Outcome(job, FAILED, "out of memory")
    return Outcome(job, FAILED, f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)")


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
