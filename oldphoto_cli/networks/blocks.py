"""Building blocks shared by the published restoration networks.

Layer positions inside each ``nn.Sequential`` are part of the checkpoint format: the published state
dicts name parameters by index (``conv_block.1.weight``), so padding, normalisation and activation
layers keep their slots even though they have no parameters.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn


def conv_in_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    """3×3 convolution, instance norm, ReLU: the mapping networks' basic unit (three slots)."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1),
        nn.InstanceNorm2d(out_channels, affine=False),
        nn.ReLU(inplace=True),
    ]


class ResnetBlock(nn.Module):
    """Residual block: reflect-pad, 3×3 conv, instance norm, ReLU, reflect-pad, 3×3 conv, instance norm.

    Parameters live at ``conv_block.1`` and ``conv_block.5``, as in the published checkpoints.
    """

    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(dilation),
            nn.Conv2d(channels, channels, kernel_size=3, padding=0, dilation=dilation),
            nn.InstanceNorm2d(channels, affine=False),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3, padding=0),
            nn.InstanceNorm2d(channels, affine=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def resnet_blocks(channels: int, count: int) -> list[nn.Module]:
    """``count`` residual blocks of ``channels`` channels."""
    return [ResnetBlock(channels) for _ in range(count)]


def mapping_head(channels: int = 64, inner: int = 512) -> list[nn.Module]:
    """64 → 128 → 256 → 512 → 512 channels: how every mapping network lifts the VAE latent."""
    widths = [channels, 128, 256, inner, inner]
    layers: list[nn.Module] = []
    for c_in, c_out in pairwise(widths):
        layers += conv_in_relu(c_in, c_out)
    return layers


def mapping_tail(channels: int = 64, inner: int = 512) -> list[nn.Module]:
    """512 → 512 → 256 → 128 → 64 channels back to the VAE latent; the last conv has no norm."""
    widths = [inner, inner, 256, 128]
    layers: list[nn.Module] = []
    for c_in, c_out in pairwise(widths):
        layers += conv_in_relu(c_in, c_out)
    layers.append(nn.Conv2d(128, channels, kernel_size=3, stride=1, padding=1))
    return layers
