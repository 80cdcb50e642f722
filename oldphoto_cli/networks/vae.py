"""The VAE shared by the three domains (VAE_A for old photos, VAE_B for clean ones).

The published generator ``GlobalGenerator_DCDCv2`` with the options stage 1 uses (64 channels,
kernel 4, two stride-2 stages, latent at a quarter of the input size). The encoder maps an RGB image
in [-1, 1] to a 64-channel latent; the decoder maps it back through a tanh.
"""

from __future__ import annotations

import torch
from torch import nn

from oldphoto_cli.networks.blocks import ResnetBlock

LATENT_CHANNELS = 64
DOWNSCALE = 4  # the latent is H/4 × W/4


def _down(channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(channels, channels, kernel_size=4, stride=2, padding=1),
        nn.InstanceNorm2d(channels, affine=False),
        nn.ReLU(inplace=True),
    ]


def _up(channels: int) -> list[nn.Module]:
    return [
        nn.ConvTranspose2d(channels, channels, kernel_size=4, stride=2, padding=1, output_padding=0),
        nn.InstanceNorm2d(channels, affine=False),
        nn.ReLU(inplace=True),
    ]


class VAE(nn.Module):
    """Encoder/decoder pair; ``encode`` and ``decode`` are used separately by the pipeline."""

    def __init__(self, channels: int = LATENT_CHANNELS) -> None:
        super().__init__()
        c = channels
        self.encoder = nn.Sequential(
            nn.ReflectionPad2d(3),
            nn.Conv2d(3, c, kernel_size=7, padding=0),
            nn.InstanceNorm2d(c, affine=False),
            nn.ReLU(inplace=True),
            *_down(c),
            *_down(c),
            ResnetBlock(c),
            ResnetBlock(c),
            ResnetBlock(c),
            ResnetBlock(c),
        )
        self.decoder = nn.Sequential(
            ResnetBlock(c),
            ResnetBlock(c),
            ResnetBlock(c),
            ResnetBlock(c),
            *_up(c),
            *_up(c),
            nn.ReflectionPad2d(3),
            nn.Conv2d(c, 3, kernel_size=7, padding=0),
            nn.Tanh(),
        )

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        return self.encoder(image)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(image))
