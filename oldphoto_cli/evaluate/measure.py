"""Timing and peak memory of one ``backend.restore`` call.

Time is the wall clock of ``restore`` alone: reading, scoring and writing are excluded.

Memory is the peak resident set size (RSS) of this process during the call minus its RSS just
before, sampled every 2 ms from ``/proc/self/statm`` by a background thread. We sample because
``getrusage``'s ``ru_maxrss`` only ever grows, so it cannot tell a later backend's peak from an
earlier one's, and tracemalloc does not see torch's or OpenCV's native allocations. Sampling can
miss a spike shorter than the interval, and memory a backend keeps between photos (weights,
caches) counts only on the photo where it was first allocated. Where ``/proc`` is absent (macOS,
Windows) memory is reported as None.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from oldphoto_cli.runtime.memory import resident_bytes

T = TypeVar("T")
INTERVAL_S = 0.002


@dataclass(frozen=True)
class Measured:
    """What a measured call returned, how long it took, and its peak extra memory in MiB."""

    value: object
    seconds: float
    peak_mib: float | None


class _PeakSampler(threading.Thread):
    """Polls RSS until stopped, keeping the highest value seen."""

    def __init__(self, baseline: int) -> None:
        super().__init__(daemon=True)
        self.peak = baseline
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(INTERVAL_S):
            self.peak = max(self.peak, resident_bytes() or 0)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return max(self.peak, resident_bytes() or 0)


def measure(call: Callable[[], T]) -> Measured:
    """Run ``call`` once, timing it and sampling memory alongside."""
    baseline = resident_bytes()
    sampler = _PeakSampler(baseline) if baseline is not None else None
    if sampler is not None:
        sampler.start()
    start = time.perf_counter()
    try:
        value = call()
    finally:
        seconds = time.perf_counter() - start
        peak = sampler.stop() if sampler is not None else None
    extra = None if peak is None or baseline is None else max(peak - baseline, 0) / 2**20
    return Measured(value, seconds, extra)
