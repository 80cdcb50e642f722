"""Restoring many files: read, restore, write, one outcome per file, nothing lost.

Decoding and encoding overlap compute: while the backend restores file i on the calling thread,
one worker thread already decodes file i+1 and another encodes file i-1's outputs. Each stage
holds at most one file ahead (one decoded photo read ahead, one result being written), so memory
stays bounded by a few photos however long the batch. A backend that stacks photos (a GPU, with
``--batch-size``) is handed groups of consecutive files instead, and each stage then holds one
group.

A bad file is recorded with its reason and the batch goes on; only the caller decides how to
report. Outcomes are reported in job order, and a file counts as done only once its output is on
disk. Outputs are written atomically by the I/O layer, so an interrupted run leaves either the old
state or a complete file at every target.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np

from oldphoto_cli.backends.base import Backend, BatchingBackend, Restoration
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

    ``backend.restore`` runs here, on the calling thread (torch and the progress callbacks expect
    that); only file I/O moves to the workers. A backend with a ``batch_size`` above 1 is handed
    that many consecutive photos at a time (see :func:`_compute_group`); the reader then keeps a
    group ahead and the writer a group behind.
    """
    jobs = list(jobs)
    group_size = backend.batch_size if isinstance(backend, BatchingBackend) else 1
    ordered = _InOrder(options, on_outcome, max_writes=group_size)
    with _workers() as (reader, writer):
        reads = _read_ahead(jobs, reader, options, ahead=group_size)
        for group in _groups(jobs, group_size):
            if group[0].skip_reason:
                ordered.add(Outcome(group[0], SKIPPED, group[0].skip_reason))
                continue
            for job, restored in zip(
                group, _compute_group(group, [next(reads) for _ in group], backend, options)
            ):
                if isinstance(restored, Outcome):
                    ordered.add(restored)
                else:
                    ordered.add(_Writing(job, writer.submit(_write, restored, options), restored.seconds))
        ordered.flush(block=True)
    return ordered.outcomes


def _groups(jobs: Sequence[Job], size: int) -> Iterator[list[Job]]:
    """Runs of at most ``size`` consecutive jobs to restore; a skipped job is a group of its own,
    so outcomes still come in job order."""
    group: list[Job] = []
    for job in jobs:
        if job.skip_reason:
            if group:
                yield group
                group = []
            yield [job]
            continue
        group.append(job)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


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
    jobs: Sequence[Job], reader: ThreadPoolExecutor, options: BatchOptions, ahead: int = 1
) -> Iterator[Future[_Decoded]]:
    """The reads of the jobs to restore, in order, each handed out once ``ahead`` more are queued.

    So the reader decodes the next files while one is restored, and never more than ``ahead``
    files ahead of the one handed out last.
    """
    pending: deque[Future[_Decoded]] = deque()
    for job in jobs:
        if job.skip_reason:
            continue
        pending.append(reader.submit(_read, job, options))
        if len(pending) > ahead:
            yield pending.popleft()
    while pending:
        yield pending.popleft()


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
    return _attempt(job, options, lambda: _restore_one(job, read.result(), backend))


def _restore_one(job: Job, decoded: _Decoded, backend: Backend) -> _Restored:
    start = time.perf_counter()
    result = backend.restore(decoded.photo.rgb, decoded.mask)
    return _Restored(job, decoded.photo, result, decoded.seconds + time.perf_counter() - start)


def _compute_group(
    jobs: list[Job], reads: list[Future[_Decoded]], backend: Backend, options: BatchOptions
) -> list[_Restored | Outcome]:
    """Restore a group of photos, in one call when the backend batches; one outcome per job.

    A file that cannot be read fails alone. When the batched call fails, every photo of the
    group is restored again on its own, so the one at fault gets its own reason and the others
    their results.
    """
    if len(jobs) == 1 or not isinstance(backend, BatchingBackend):
        return [_compute(job, read, backend, options) for job, read in zip(jobs, reads)]
    decoded = [_attempt(job, options, read.result) for job, read in zip(jobs, reads)]
    readable = [d for d in decoded if isinstance(d, _Decoded)]
    start = time.perf_counter()
    try:
        results = iter(backend.restore_batch([d.photo.rgb for d in readable], [d.mask for d in readable]))
    except Exception as exc:  # retried one by one below, where each failure is the file's own
        if options.debug and not isinstance(exc, (OldPhotoError, MemoryError)):
            raise
        return [
            _attempt(job, options, partial(_restore_one, job, d, backend)) if isinstance(d, _Decoded) else d
            for job, d in zip(jobs, decoded)
        ]
    share = (time.perf_counter() - start) / max(len(readable), 1)
    return [
        _Restored(job, d.photo, next(results), d.seconds + share) if isinstance(d, _Decoded) else d
        for job, d in zip(jobs, decoded)
    ]


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

    At most ``max_writes`` writes are outstanding (one per photo of a group): adding another first
    waits for the oldest, which keeps results waiting to be written (and their memory) bounded.
    """

    def __init__(
        self, options: BatchOptions, on_outcome: OutcomeCallback | None, max_writes: int = 1
    ) -> None:
        self.outcomes: list[Outcome] = []
        self._options = options
        self._on_outcome = on_outcome
        self._max_writes = max_writes
        self._waiting: deque[Outcome | _Writing] = deque()

    def add(self, entry: Outcome | _Writing) -> None:
        """Queue an outcome or a write behind earlier ones, and report what is already settled."""
        if isinstance(entry, _Writing):
            while sum(isinstance(w, _Writing) for w in self._waiting) >= self._max_writes:
                self._report_head()
        self._waiting.append(entry)
        self.flush(block=False)

    def flush(self, block: bool) -> None:
        """Report settled outcomes from the front; with ``block``, wait for writes until none is left."""
        while self._waiting:
            head = self._waiting[0]
            if isinstance(head, _Writing) and not (block or head.future.done()):
                return
            self._report_head()

    def _report_head(self) -> None:
        """Report the oldest entry, waiting for its write if it is one."""
        head = self._waiting.popleft()
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
    torch = sys.modules.get("torch")  # only a backend that imported it can raise its errors
    if torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError):
        return Outcome(job, FAILED, "out of GPU memory")
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
