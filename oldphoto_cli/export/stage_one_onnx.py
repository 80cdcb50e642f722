"""Stage 1 on ONNX Runtime: the engines ``restore --runtime onnx`` runs.

``onnx_networks`` is the ONNX counterpart of ``pipeline.bopbtl.torch_networks``: the same
``StageOneNetworks``, built from exports in the cache (made on first use, see onnx_cache.py).

The traced mapping networks form whole similarity matrices, since a graph that serves every size
cannot work in blocks of rows as the PyTorch networks do: (H·W)² entries for the masked non-local
block, P² for the finest patch attention (2×2 patches). ``blocked_attention=False`` tells the
planner (pipeline/planning.py), which alone decides from that whether a photo runs whole or in
tiles small enough for those matrices to fit.
"""

from __future__ import annotations

from pathlib import Path

from oldphoto_cli.export.onnx_cache import cached_exports
from oldphoto_cli.export.stage_one_export import stage_one_keys
from oldphoto_cli.pipeline.bopbtl import MAPPING_KEYS, StageOneNetworks, vae_b_key
from oldphoto_cli.runtime.onnx_engine import OnnxEngine, requested_providers


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
        mapping=OnnxEngine(MAPPING_KEYS[mode], paths[MAPPING_KEYS[mode]], device),
        decode=OnnxEngine("vae_b_decoder", paths[vae_b_key(mode)], device),
        detect=OnnxEngine("detection", paths["detection"], device) if "detection" in paths else None,
        hr_mapping=OnnxEngine("mapping_hr", paths["mapping_hr"], device) if with_hr else None,
        blocked_attention=False,
    )


def active_providers(networks: StageOneNetworks) -> list[str]:
    """The providers the engines really run on (all of them, in first-seen order)."""
    engines = [networks.encode, networks.mapping, networks.decode, networks.detect, networks.hr_mapping]
    found = [p for e in engines for p in getattr(e, "active_providers", [])]
    return list(dict.fromkeys(found))
