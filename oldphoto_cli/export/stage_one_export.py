"""Stage 1's checkpoints to ONNX files: one network per checkpoint file.

VAE_A's encoder, each VAE_B's decoder, the three mapping networks and the scratch detector. The
table below says, for each checkpoint key of the weights manifest, which part of the loaded network
is exported, under which name, and with which inputs; ``export_stage_one`` writes a mode's networks
to a folder with their ``onnx_manifest.json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from oldphoto_cli import __version__
from oldphoto_cli.export.manifest import ExportRecord, write_manifest
from oldphoto_cli.export.onnx_export import OPSET, export_module
from oldphoto_cli.pipeline.bopbtl import MODES, stage_one_modules
from oldphoto_cli.registry.checkpoint import load_checkpoint
from oldphoto_cli.registry.integrity import sha256_of

#: Bump when a network's exported form changes, so that cached exports are made again.
EXPORT_REVISION = 1

# Tracing runs each network once: a small example keeps the export fast. Sides are multiples of 16
# (the detector needs it) and differ, so that height and width cannot be confused in the graph.
_H, _W = 32, 48
IMAGE, GREY, MASK = (1, 3, _H, _W), (1, 1, _H, _W), (1, 1, _H, _W)
LATENT = (1, 64, _H // 4, _W // 4)


@dataclass(frozen=True)
class NetworkExport:
    """How one checkpoint becomes one ONNX network: its name, which part, its inputs' example shapes."""

    name: str
    part: str | None  # "encoder" or "decoder" of a VAE; None for the whole network
    inputs: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def file(self) -> str:
        return f"{self.name}.onnx"

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.inputs)

    def example_inputs(self) -> list[torch.Tensor]:
        """Values in the ranges the networks see: [-1, 1] images and latents, 0/1 masks."""
        g = torch.Generator().manual_seed(0)
        examples = [torch.rand(shape, generator=g) for _, shape in self.inputs]
        return [x.round() if name == "mask" else x * 2 - 1 for name, x in zip(self.input_names, examples)]


STAGE_ONE_EXPORTS = {  # checkpoint key → its network
    "vae_a_quality": NetworkExport("vae_a_encoder", "encoder", (("image", IMAGE),)),
    "vae_b_quality": NetworkExport("vae_b_quality_decoder", "decoder", (("latent", LATENT),)),
    "vae_b_scratch": NetworkExport("vae_b_scratch_decoder", "decoder", (("latent", LATENT),)),
    "mapping_quality": NetworkExport("mapping_quality", None, (("latent", LATENT),)),
    "mapping_scratch": NetworkExport("mapping_scratch", None, (("latent", LATENT), ("mask", MASK))),
    "mapping_hr": NetworkExport("mapping_hr", None, (("latent", LATENT), ("mask", MASK))),
    "detection": NetworkExport("detection", None, (("image", GREY),)),
}


def export_stage_one(files: dict[str, Path], modes: Iterable[str], out_dir: Path) -> list[Path]:
    """Export every network the ``modes`` use into ``out_dir``, with ``onnx_manifest.json``.

    Returns the written files: the networks, mode after mode, then the manifest.
    """
    out_dir = Path(out_dir)
    keys = list(dict.fromkeys(key for mode in modes for key in stage_one_keys(mode)))
    records = export_networks(files, {key: out_dir for key in keys}, {k: sha256_of(files[k]) for k in keys})
    manifest = write_manifest(out_dir, records)
    return [out_dir / r.file for r in records] + [manifest]


def stage_one_keys(mode: str, need_detector: bool = True, patch_attention: bool = False) -> list[str]:
    """The checkpoint keys of a mode's networks; built on the meta device, so nothing is allocated."""
    with torch.device("meta"):
        return list(stage_one_modules(mode, need_detector, patch_attention))


def export_networks(
    files: dict[str, Path], folders: dict[str, Path], shas: dict[str, str]
) -> list[ExportRecord]:
    """Load each checkpoint key of ``folders`` and export its network into that folder."""
    records = []
    for key, folder in folders.items():
        spec = STAGE_ONE_EXPORTS[key]
        network = load_checkpoint(empty_network(key), files[key])
        part = getattr(network, spec.part) if spec.part else network
        export_module(part, spec.example_inputs(), spec.input_names, folder / spec.file)
        records.append(record_for(key, shas[key]))
    return records


def empty_network(key: str) -> nn.Module:
    """The network that checkpoint ``key`` loads into, with uninitialised weights.

    Built on the meta device and given memory only now: the strict load that follows overwrites
    every parameter and buffer, so random initialisation would be wasted time.
    """
    with torch.device("meta"):
        networks = {k: m for mode in MODES for k, m in stage_one_modules(mode).items()}
    return networks[key].to_empty(device="cpu")


def record_for(key: str, sha: str) -> ExportRecord:
    """The manifest record this installation writes for an export of checkpoint ``key``."""
    spec = STAGE_ONE_EXPORTS[key]
    return ExportRecord(
        name=spec.name,
        file=spec.file,
        inputs=spec.input_names,
        source=key,
        source_sha256=sha,
        opset=OPSET,
        torch=torch.__version__,
        oldphoto=__version__,
        revision=EXPORT_REVISION,
    )
