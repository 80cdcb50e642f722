"""The published networks ("Bringing Old Photos Back to Life", stage 1) as a backend."""

from __future__ import annotations

import numpy as np

from oldphoto_cli.backends.base import BackendSettings, Restoration
from oldphoto_cli.pipeline.bopbtl import BopbtlPipeline, mode_for, torch_networks
from oldphoto_cli.pipeline.levels import to_uint8
from oldphoto_cli.registry.manifest import get_model
from oldphoto_cli.registry.resolve import resolve_files
from oldphoto_cli.runtime.device import pick_device

MODEL_NAME = "bopbtl"


def required_keys(settings: BackendSettings) -> list[str]:
    """The checkpoint files a run with these settings reads (no detector when masks are given)."""
    keys = get_model(MODEL_NAME).keys_for(mode_for(settings.scratch, settings.hr))
    return [k for k in keys if not (settings.given_masks and k == "detection")]


class BopbtlBackend:
    name = MODEL_NAME

    def __init__(self, settings: BackendSettings) -> None:
        files = resolve_files(get_model(MODEL_NAME), required_keys(settings), settings.weights_dir)
        self.mode = mode_for(settings.scratch, settings.hr)
        self.upstream_levels = settings.upstream_levels
        networks = torch_networks(
            files, self.mode, pick_device(settings.device), need_detector=not settings.given_masks
        )
        self.pipeline = BopbtlPipeline(networks, self.mode)

    def restore(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> Restoration:
        result = self.pipeline.restore(rgb, mask)
        return Restoration(to_uint8(result.image, upstream_levels=self.upstream_levels), result.mask)
