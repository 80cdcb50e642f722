"""Running benchmark cases and timed commands, each as a separate process.

Each case runs in a fresh interpreter (``bench/worker.py``) so its peak resident memory is its own
and nothing (weights, caches, allocator pools) carries over from the previous case. Commands for
an end-to-end comparison (``--versus``) are timed the same way, with the peak memory of the whole
process tree taken from ``wait4``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from PIL import Image

from oldphoto_cli.bench.image import synthetic_photo
from oldphoto_cli.errors import OldPhotoError
from oldphoto_cli.io.images import read_image


@dataclass(frozen=True)
class Case:
    model: str
    runtime: str
    device: str
    mode: str
    width: int
    height: int
    weights: str | None = None
    max_memory: int | None = None
    exact: bool = False
    precision: str = "fp32"
    batch: int = 1  # copies of the image restored together (restore --batch-size)

    @property
    def megapixels(self) -> float:
        return self.batch * self.width * self.height / 1e6


@dataclass(frozen=True)
class CaseResult:
    case: Case
    load_s: float | None = None
    restore_s: float | None = None
    peak_rss_bytes: int | None = None
    plan: dict | None = None
    backend: str | None = None
    error: str | None = None

    @property
    def megapixels_per_s(self) -> float | None:
        return self.case.megapixels / self.restore_s if self.restore_s else None

    def to_json(self) -> dict:
        return {**asdict(self), "megapixels": self.case.megapixels, "megapixels_per_s": self.megapixels_per_s}


def parse_shape(text: str) -> tuple[int, int]:
    """``1024`` (a square) or ``688x448`` (width × height)."""
    try:
        if "x" in text.lower():
            w, h = text.lower().split("x")
            return int(w), int(h)
        return int(text), int(text)
    except ValueError:
        raise OldPhotoError(f"not a size: {text!r} (examples: 1024, 688x448)") from None


def test_image(folder: Path, width: int, height: int, source: Path | None) -> Path:
    """The image a case restores: ``source`` resized, or a synthetic photo; written once per size."""
    path = folder / f"bench_{width}x{height}.png"
    if not path.exists():
        if source is None:
            Image.fromarray(synthetic_photo(height, width)).save(path)
        else:
            photo = Image.fromarray(read_image(source).rgb)  # a bad file is one line naming it
            photo.resize((width, height), Image.Resampling.LANCZOS).save(path)
    return path


def run_case(case: Case, image: Path, timeout: float) -> CaseResult:
    """Run one case in a fresh interpreter and collect what it measured."""
    payload = json.dumps({**asdict(case), "image": str(image)})
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "oldphoto_cli.bench.worker", payload],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return CaseResult(case, error=f"timed out after {timeout:.0f} s")
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return CaseResult(case, error=tail[0])
    data = json.loads(lines[-1])
    if "error" in data:
        return CaseResult(case, error=data["error"])
    return CaseResult(case, **data)


def run_cases(
    cases: Sequence[Case],
    image_for: Callable[[Case], Path],
    timeout: float,
    on_result: Callable[[CaseResult], None],
) -> list[CaseResult]:
    results = []
    for case in cases:
        result = run_case(case, image_for(case), timeout)
        results.append(result)
        on_result(result)
    return results


@dataclass(frozen=True)
class CommandTiming:
    """Wall clock and peak resident memory (largest process of the tree) of one command."""

    argv: list[str]
    wall_s: float
    peak_rss_bytes: int
    returncode: int


def time_command(argv: list[str], timeout: float, cwd: Path | None = None) -> CommandTiming:
    """Run ``argv`` to completion; its peak memory comes from ``wait4`` (children included)."""
    with tempfile.TemporaryFile() as stderr:
        return _time_process(argv, timeout, cwd, stderr)


def _time_process(argv: list[str], timeout: float, cwd: Path | None, stderr: IO[bytes]) -> CommandTiming:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            raise OldPhotoError(f"{argv[0]} ran longer than {timeout:.0f} s")
        time.sleep(0.05)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        stderr.seek(0)
        message = stderr.read().decode(errors="replace").strip()
        raise OldPhotoError(f"{' '.join(argv)} failed ({code}): {message[-300:]}")
    return CommandTiming(argv, wall, usage.ru_maxrss * 1024, code)
