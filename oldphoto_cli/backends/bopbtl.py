"""The published networks ("Bringing Old Photos Back to Life", stage 1) as a backend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from oldphoto_cli.backends.base import BackendSettings, Restoration
from oldphoto_cli.errors import OldPhotoError, WeightsError
from oldphoto_cli.pipeline.bopbtl import (
    BopbtlPipeline,
    StageOneNetworks,
    StageOneResult,
    mode_for,
    torch_networks,
)
from oldphoto_cli.pipeline.levels import to_uint8
from oldphoto_cli.registry.manifest import get_model
from oldphoto_cli.registry.resolve import resolve_files
from oldphoto_cli.runtime.device import pick_device
from oldphoto_cli.runtime.precision import autocast_dtype

if TYPE_CHECKING:
    import torch

MODEL_NAME = "bopbtl"
GPU_BATCH_SIZE = 8  # photos of one size stacked on a GPU, at most (planning.MAX_STACK_PIXELS too)


def required_keys(settings: BackendSettings) -> list[str]:
    """The checkpoint files a run with these settings reads (no detector when masks are given)."""
    keys = get_model(MODEL_NAME).keys_for(mode_for(settings.scratch, settings.hr))
    return [k for k in keys if not (settings.given_masks and k == "detection")]


class BopbtlBackend:
    name = MODEL_NAME

    def __init__(self, settings: BackendSettings) -> None:
        files = resolve_files(get_model(MODEL_NAME), required_keys(settings), settings.weights_dir)
        self.mode = mode_for(settings.scratch, settings.hr)
        if self.mode == "scratch" and settings.runtime == "torch":
            files.update(patch_attention_if_present(settings))
        self.upstream_levels = settings.upstream_levels
        networks, self.runtime_label = build_networks(files, self.mode, settings)
        self.batch_size = batch_size_for(settings, getattr(networks.encode, "device", None))
        self.pipeline = BopbtlPipeline(networks, self.mode, settings.max_memory)

    def restore(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> Restoration:
        return self._finished(self.pipeline.restore(rgb, mask))

    def restore_batch(
        self, rgbs: Sequence[np.ndarray], masks: Sequence[np.ndarray | None]
    ) -> list[Restoration]:
        return [self._finished(r) for r in self.pipeline.restore_batch(rgbs, masks, self.batch_size)]

    def _finished(self, result: StageOneResult) -> Restoration:
        return Restoration(to_uint8(result.image, upstream_levels=self.upstream_levels), result.mask)


def batch_size_for(settings: BackendSettings, device: torch.device | None) -> int:
    """The asked-for batch size; by default GPU_BATCH_SIZE when the networks run on a GPU
    (``device``: where they were put) and 1 (no stacking) on the CPU.

    On 2 CPU cores stacking gains little: eight 256² photos took 3.1–3.3 s stacked against 3.6 s
    one by one, four 512² photos the same either way; a batch also waits for all its photos before
    the first is written. ONNX graphs take one photo at a time.
    """
    if settings.runtime == "onnx":
        if settings.batch_size not in (None, 1):
            raise OldPhotoError("--batch-size applies to --runtime torch; the ONNX graphs take one photo")
        return 1
    if settings.batch_size is not None:
        if settings.batch_size < 1:
            raise OldPhotoError(f"--batch-size must be at least 1, not {settings.batch_size}")
        return settings.batch_size
    return 1 if device is None or device.type == "cpu" else GPU_BATCH_SIZE


def patch_attention_if_present(settings: BackendSettings) -> dict[str, Path]:
    """The patch-attention checkpoint if it is already here (it is not on the Hub): with it, the
    planner can repair scans too large for full attention without cutting them into tiles."""
    try:
        return resolve_files(get_model(MODEL_NAME), ["mapping_hr"], settings.weights_dir, download=False)
    except WeightsError:
        return {}


def build_networks(
    files: dict[str, Path], mode: str, settings: BackendSettings
) -> tuple[StageOneNetworks, str]:
    """The mode's engines on the chosen runtime, and a label saying what runs them."""
    need_detector = not settings.given_masks
    if settings.runtime == "onnx":
        from oldphoto_cli.export.stage_one_onnx import active_providers, onnx_networks

        if settings.precision != "fp32":
            raise OldPhotoError("--precision applies to --runtime torch; the ONNX graphs are float32")

        networks = onnx_networks(files, mode, settings.device, need_detector)
        return networks, f"onnx ({', '.join(active_providers(networks))})"
    if settings.runtime != "torch":
        raise OldPhotoError(f"unknown runtime {settings.runtime!r}; choose torch or onnx")
    device = pick_device(settings.device)
    precision = autocast_dtype(settings.precision, device)
    networks = torch_networks(files, mode, device, need_detector, not settings.exact, precision)
    details = (
        [str(device)] + (["exact"] if settings.exact else []) + ([settings.precision] if precision else [])
    )
    return networks, f"torch ({', '.join(details)})"
