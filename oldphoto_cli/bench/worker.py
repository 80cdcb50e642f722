"""One benchmark case in a fresh process, so that its peak memory is its own.

``python -m oldphoto_cli.bench.worker CASE_JSON`` builds the backend, restores the image once (or
``batch`` copies of it together) and prints one JSON line: seconds to load, seconds to restore, and
the process's peak resident memory. On a GPU the timed pass follows an untimed one, which pays for
CUDA's start and cuDNN's choice of kernels.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from oldphoto_cli.backends.base import Backend
    from oldphoto_cli.pipeline.planning import RunPlan

DEGRADE = "degrade:"  # ``--model degrade:old-print`` times making damage instead of repairing it


def run_case(case: dict) -> dict:
    if case["model"].startswith(DEGRADE):
        return run_degrade_case(case)
    from oldphoto_cli.backends import BackendSettings, create_backend
    from oldphoto_cli.io.images import read_image

    start = time.perf_counter()
    settings = BackendSettings(
        scratch=case["mode"] != "quality",
        hr=case["mode"] == "scratch_hr",
        weights_dir=Path(case["weights"]) if case.get("weights") else None,
        device=case["device"],
        runtime=case["runtime"],
        max_memory=case.get("max_memory"),
        exact=case.get("exact", False),
        precision=case.get("precision", "fp32"),
        batch_size=case.get("batch", 1),
    )
    backend = create_backend(case["model"], settings)
    loaded = time.perf_counter()
    rgb = read_image(Path(case["image"])).rgb
    photos = [rgb] * case.get("batch", 1)
    if _on_gpu(case):
        restore_all(backend, photos)  # the first pass on a GPU also pays for cuDNN's kernel search
    begin = time.perf_counter()
    restore_all(backend, photos)
    end = time.perf_counter()
    plan = getattr(getattr(backend, "pipeline", None), "last_plan", None)
    plan_json = None if plan is None else _plan_json(plan)
    return _result(backend.name, loaded - start, end - begin, plan_json)


def restore_all(backend: Backend, photos: list[np.ndarray]) -> None:
    """One photo through ``restore``, several through ``restore_batch`` (as a batch run would)."""
    from oldphoto_cli.backends.base import BatchingBackend

    if len(photos) > 1 and isinstance(backend, BatchingBackend):
        backend.restore_batch(photos, [None] * len(photos))
    else:
        for rgb in photos:
            backend.restore(rgb)


def _on_gpu(case: dict) -> bool:
    """Whether the case's networks run on a CUDA GPU (ONNX Runtime's sessions warm up on load)."""
    from oldphoto_cli.runtime.device import pick_device

    return case["runtime"] == "torch" and pick_device(case["device"]).type == "cuda"


def _plan_json(plan: RunPlan) -> dict:
    """What the planner chose, and its estimate, to set beside the measured peak."""
    preview = None if plan.preview is None else list(plan.preview)
    return {
        "mode": plan.mode,
        "tile": plan.tile,
        "reason": plan.reason,
        "preview": preview,
        "estimated_bytes": plan.peak_bytes,
    }


def run_degrade_case(case: dict) -> dict:
    """One ``degrade`` of the image with a preset, on one thread (the issue's "one core")."""
    import cv2
    import numpy as np

    from oldphoto_cli.degrade import degrade
    from oldphoto_cli.degrade.presets import preset
    from oldphoto_cli.io.images import read_image

    cv2.setNumThreads(1)
    start = time.perf_counter()
    config = preset(case["model"].removeprefix(DEGRADE))
    rgb = read_image(Path(case["image"])).rgb
    begin = time.perf_counter()
    degrade(rgb, np.random.default_rng(0), config)
    end = time.perf_counter()
    return _result(case["model"], begin - start, end - begin, None)


def _result(name: str, load_s: float, restore_s: float, plan: dict | None) -> dict:
    """What the parent reads: times, and this process's peak resident memory so far."""
    return {
        "backend": name,
        "load_s": load_s,
        "restore_s": restore_s,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "plan": plan,
    }


def main() -> None:
    case = json.loads(sys.argv[1])
    try:
        result = run_case(case)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as this case's outcome
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
