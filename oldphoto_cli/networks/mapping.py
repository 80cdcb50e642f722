"""The latent mapping network for unstructured damage (the published ``Mapping_Model``).

Translates VAE_A latents of a degraded photo into VAE_B latents of a clean one: lift to 512
channels, six residual blocks, back down to 64.
"""

from __future__ import annotations

import torch
from torch import nn

from oldphoto_cli.networks.blocks import mapping_head, mapping_tail, resnet_blocks


class MappingNetwork(nn.Module):
    def __init__(self, channels: int = 64, inner: int = 512, n_blocks: int = 6) -> None:
        super().__init__()
        self.model = nn.Sequential(
            *mapping_head(channels, inner),
            *resnet_blocks(inner, n_blocks),
            *mapping_tail(channels, inner),
        )

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.model(latent)
