"""Building the stage-1 pipeline from checkpoint files, as the tests of tiling, stacking and
precision need it (the backend would also resolve weights, pick a device and read settings)."""

from __future__ import annotations

from pathlib import Path

import torch

from oldphoto_cli.pipeline.bopbtl import BopbtlPipeline, torch_networks
from oldphoto_cli.registry.manifest import get_model
from oldphoto_cli.registry.resolve import resolve_files

CPU = torch.device("cpu")


def stage_one_pipeline(
    checkpoints: Path,
    mode: str,
    need_detector: bool = True,
    accelerate: bool = True,
    precision: torch.dtype | None = None,
    device: torch.device = CPU,
) -> BopbtlPipeline:
    """The pipeline for ``mode`` over the checkpoint files in ``checkpoints`` (local only)."""
    model = get_model("bopbtl")
    keys = [k for k in model.keys_for(mode) if need_detector or k != "detection"]
    files = resolve_files(model, keys, checkpoints, download=False)
    networks = torch_networks(files, mode, device, need_detector, accelerate, precision)
    return BopbtlPipeline(networks, mode)
