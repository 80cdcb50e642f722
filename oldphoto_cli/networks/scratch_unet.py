"""The scratch-detection U-Net (the published detector, ``FT_Epoch_latest.pt``).

A four-level U-Net on a greyscale image in [-1, 1] with batch norm, leaky ReLU, anti-aliased
(blur-pooled) downsampling and bilinear upsampling; it outputs one logit per pixel. The published
pipeline thresholds ``sigmoid(logit) >= 0.4``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BlurPool(nn.Module):
    """Anti-aliased stride-2 downsampling: reflect-pad by 1, depthwise 3×3 blur, stride 2.

    The blur kernel is a buffer named ``filt`` because the published checkpoint stores it; it is
    loaded, not recomputed.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = taps[:, None] * taps[None, :]
        self.register_buffer("filt", (kernel / kernel.sum()).expand(channels, 1, 3, 3).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


def _conv_bn_lrelu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.ReflectionPad2d(1),
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=0),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.2, inplace=True),
    ]


class ConvBlock(nn.Module):
    """Two (pad, 3×3 conv, batch norm, leaky ReLU) units; parameters at ``block.1/2/5/6``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            *_conv_bn_lrelu(in_channels, out_channels), *_conv_bn_lrelu(out_channels, out_channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class UpBlock(nn.Module):
    """Bilinear ×2, 3×3 conv to halve the channels, concatenate the skip, ConvBlock."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=0),
        )
        self.conv_block = ConvBlock(in_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.up(x)
        dy = (skip.shape[2] - up.shape[2]) // 2
        dx = (skip.shape[3] - up.shape[3]) // 2
        skip = skip[:, :, dy : dy + up.shape[2], dx : dx + up.shape[3]]
        return self.conv_block(torch.cat([up, skip], dim=1))


class ScratchDetectionUNet(nn.Module):
    """Input B×1×H×W (H, W multiples of 16), output B×1×H×W logits."""

    def __init__(self, depth: int = 4, base_channels: int = 64) -> None:
        super().__init__()
        widths = [base_channels * 2**i for i in range(depth + 1)]  # 64 … 1024
        self.first = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(1, widths[0], kernel_size=7), nn.LeakyReLU(0.2, inplace=True)
        )
        self.down_sample = nn.ModuleList(
            nn.Sequential(*_conv_bn_lrelu(widths[i], widths[i]), BlurPool(widths[i])) for i in range(depth)
        )
        self.down_path = nn.ModuleList(ConvBlock(widths[i], widths[i + 1]) for i in range(depth))
        self.up_path = nn.ModuleList(UpBlock(widths[i + 1], widths[i]) for i in reversed(range(depth)))
        self.last = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(widths[0], 1, kernel_size=3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first(x)
        skips = []
        for down, block in zip(self.down_sample, self.down_path):
            skips.append(x)
            x = block(down(x))
        for up, skip in zip(self.up_path, reversed(skips)):
            x = up(x, skip)
        return self.last(x)
