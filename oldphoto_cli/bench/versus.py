"""End to end against another program: the same photo, the same mode, wall clock and peak memory.

Used to hold us to the published pipeline (``--versus "bash published_stage1.sh {mode} {input}
{output}"``): both sides run as fresh processes, start-up, weight loading and file writing
included, alternately ``repeat`` times; the best time of each side is kept. Each repeat's pair of
runs also gives a ratio of its own; their median says how far the best-of ratio can be trusted on a
machine whose speed drifts between runs.
"""

from __future__ import annotations

import shlex
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from oldphoto_cli.bench.runner import CommandTiming, time_command


@dataclass(frozen=True)
class Comparison:
    mode: str
    image: str
    megapixels: float
    ours: CommandTiming
    theirs: CommandTiming
    pair_speedups: tuple[float, ...] = ()  # theirs / ours for each repeat, in order

    @property
    def speedup(self) -> float:
        return self.theirs.wall_s / self.ours.wall_s

    @property
    def median_pair_speedup(self) -> float | None:
        return statistics.median(self.pair_speedups) if self.pair_speedups else None

    def to_json(self) -> dict:
        return {
            "mode": self.mode,
            "image": self.image,
            "megapixels": self.megapixels,
            "ours_s": self.ours.wall_s,
            "ours_peak_rss_bytes": self.ours.peak_rss_bytes,
            "theirs_s": self.theirs.wall_s,
            "theirs_peak_rss_bytes": self.theirs.peak_rss_bytes,
            "speedup": self.speedup,
            "pair_speedups": list(self.pair_speedups),
            "median_pair_speedup": self.median_pair_speedup,
            "ours_command": self.ours.argv,
            "theirs_command": self.theirs.argv,
        }


def our_command(
    mode: str, image: Path, output: Path, weights: str | None, runtime: str, device: str
) -> list[str]:
    argv = [sys.executable, "-m", "oldphoto_cli", "restore", str(image), "-o", str(output), "--overwrite"]
    argv += ["--model", "bopbtl", "--runtime", runtime, "--device", device]
    if mode != "quality":
        argv.append("--scratch")
    if mode == "scratch_hr":
        argv.append("--hr")
    if weights:
        argv += ["--weights", weights]
    return argv


def their_command(template: str, mode: str, image: Path, output_dir: Path) -> list[str]:
    """Fill ``{mode}``, ``{input}`` and ``{output}`` (a fresh folder) in the user's command line."""
    return [part.format(mode=mode, input=image, output=output_dir) for part in shlex.split(template)]


def compare(
    mode: str,
    image: Path,
    megapixels: float,
    template: str,
    workdir: Path,
    repeat: int,
    timeout: float,
    **ours: str,
) -> Comparison:
    best_ours: CommandTiming | None = None
    best_theirs: CommandTiming | None = None
    pairs: list[float] = []
    for i in range(repeat):
        out_dir = workdir / f"theirs_{mode}_{image.stem}_{i}"
        out_dir.mkdir(parents=True, exist_ok=True)
        theirs = time_command(their_command(template, mode, image, out_dir), timeout)
        mine = time_command(
            our_command(mode, image, workdir / f"ours_{mode}_{image.stem}.png", **ours), timeout
        )
        best_theirs = theirs if best_theirs is None or theirs.wall_s < best_theirs.wall_s else best_theirs
        best_ours = mine if best_ours is None or mine.wall_s < best_ours.wall_s else best_ours
        pairs.append(theirs.wall_s / mine.wall_s)
    assert best_ours is not None and best_theirs is not None
    return Comparison(mode, str(image), megapixels, best_ours, best_theirs, tuple(pairs))
