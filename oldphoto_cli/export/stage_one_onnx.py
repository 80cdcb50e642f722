"""Stage 1 on ONNX Runtime: the engines ``restore --runtime onnx`` runs.

``onnx_networks`` is the ONNX counterpart of ``pipeline.bopbtl.torch_networks``: the same
``StageOneNetworks``, built from exports in the cache (made on first use, see onnx_cache.py).

The traced mapping networks form whole similarity matrices, since a graph that serves every size
cannot work in blocks of rows as the PyTorch networks do: (H·W)² entries for the masked non-local
block, P² for the finest patch attention (2×2 patches). Their engines check, before each run, that
those matrices fit in free memory, and otherwise say what to do instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from oldphoto_cli.errors import InsufficientMemoryError
from oldphoto_cli.export.onnx_cache import cached_exports
from oldphoto_cli.export.stage_one_export import stage_one_keys
from oldphoto_cli.pipeline.bopbtl import MAPPING_KEYS, StageOneNetworks, vae_b_key
from oldphoto_cli.runtime.memory import available_bytes, format_bytes
from oldphoto_cli.runtime.onnx_engine import CUDA, OnnxEngine, requested_providers

MATRIX_COPIES = 3  # similarity matrices alive at once in the exported graphs, about
QUADRATIC_ENTRIES: dict[str, Callable[[int, int], int]] = {  # latent h, w → entries of one matrix
    "mapping_scratch": lambda h, w: (h * w) ** 2,
    "mapping_hr": lambda h, w: ((h // 2) * (w // 2)) ** 2,
}


def onnx_networks(
    files: dict[str, Path],
    mode: str,
    device: str = "auto",
    need_detector: bool = True,
    cache_dir: Path | None = None,
) -> StageOneNetworks:
    """The mode's networks as ONNX Runtime engines, exported into the cache on first use.

    As with ``torch_networks``, scratch mode also gets the patch-attention mapping when its
    checkpoint is among ``files``, for the planner to use on large scans.
    """
    requested_providers(device)  # an unusable device fails now, before any export
    keys = stage_one_keys(mode, need_detector, patch_attention="mapping_hr" in files)
    paths = cached_exports(files, keys, cache_dir)
    with_hr = mode == "scratch" and "mapping_hr" in keys  # an alternative, not the mapping itself
    return StageOneNetworks(
        encode=OnnxEngine("vae_a_encoder", paths["vae_a_quality"], device),
        mapping=mapping_engine(MAPPING_KEYS[mode], paths[MAPPING_KEYS[mode]], device),
        decode=OnnxEngine("vae_b_decoder", paths[vae_b_key(mode)], device),
        detect=OnnxEngine("detection", paths["detection"], device) if "detection" in paths else None,
        hr_mapping=mapping_engine("mapping_hr", paths["mapping_hr"], device) if with_hr else None,
        blocked_attention=False,
    )


def mapping_engine(name: str, path: Path, device: str) -> OnnxEngine | MemoryCheckedEngine:
    """A mapping network's engine; those with quadratic similarity matrices check memory first."""
    engine = OnnxEngine(name, path, device)
    return MemoryCheckedEngine(engine, QUADRATIC_ENTRIES[name]) if name in QUADRATIC_ENTRIES else engine


def active_providers(networks: StageOneNetworks) -> list[str]:
    """The providers the engines really run on (all of them, in first-seen order)."""
    engines = [networks.encode, networks.mapping, networks.decode, networks.detect, networks.hr_mapping]
    found = [p for e in engines for p in getattr(e, "active_providers", [])]
    return list(dict.fromkeys(found))


class MemoryCheckedEngine:
    """A mapping engine that refuses, with advice, latents whose similarity matrices cannot fit.

    Without the check ONNX Runtime fails with an allocation error deep in a run, or the machine
    swaps. Only CPU sessions are checked: on CUDA the memory that matters is the GPU's.
    """

    def __init__(self, engine: OnnxEngine, entries: Callable[[int, int], int]) -> None:
        self.engine = engine
        self.entries = entries
        self.name = engine.name
        self.active_providers = engine.active_providers

    def __call__(self, latent: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if CUDA not in self.active_providers:
            self.check(*latent.shape[-2:])
        return self.engine(latent, mask)

    def check(self, height: int, width: int, available: int | None = None) -> None:
        need = MATRIX_COPIES * 4 * self.entries(height, width)
        free = available_bytes() if available is None else available
        if need > free:
            raise InsufficientMemoryError(
                f"{self.name} on ONNX Runtime needs about {format_bytes(need)} for a "
                f"{4 * width}×{4 * height} image but only {format_bytes(free)} is free; "
                "use --runtime torch, which computes the attention in blocks"
            )
