"""The published networks as plain ``nn.Module``s, with the published state-dict keys."""

from oldphoto_cli.networks.mapping import MappingNetwork
from oldphoto_cli.networks.nonlocal_mapping import NonLocalMappingNetwork
from oldphoto_cli.networks.patch_attention import PatchAttentionMappingNetwork
from oldphoto_cli.networks.scratch_unet import ScratchDetectionUNet
from oldphoto_cli.networks.vae import VAE

__all__ = [
    "VAE",
    "MappingNetwork",
    "NonLocalMappingNetwork",
    "PatchAttentionMappingNetwork",
    "ScratchDetectionUNet",
]
