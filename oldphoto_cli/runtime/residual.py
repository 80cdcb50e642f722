"""Residual blocks whose sum runs inside their last norm's final pass.

A residual block returns ``x + conv_block(x)``, whose last layer is an instance norm: the sum is one
more pass over three feature maps (two read, a new one written; 384 MB at 256² with 512 channels).
The channels-last norm (runtime/channels_last.py) can add ``x`` to each block of pixels while it
normalises them, in cache, into memory it writes anyway. Addition commutes exactly in floating
point, so the result is bit for bit the same.

:func:`fuse_residual_sums` swaps, in a converted network, each :class:`ResnetBlock` whose
conv_block ends in a :class:`ChannelsLastInstanceNorm2d` for a :class:`ResidualSumBlock` holding
the same ``conv_block`` (so the state-dict keys do not change).
"""

from __future__ import annotations

import torch
from torch import nn

from oldphoto_cli.networks.blocks import ResnetBlock
from oldphoto_cli.runtime.channels_last import ChannelsLastInstanceNorm2d


class ResidualSumBlock(nn.Module):
    """A :class:`ResnetBlock` computed as ``norm(body(x), residual=x)``."""

    def __init__(self, block: ResnetBlock) -> None:
        super().__init__()
        self.conv_block = block.conv_block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *body, norm = self.conv_block
        y = x
        for layer in body:
            y = layer(y)
        return norm(y, residual=x)


def fuse_residual_sums(module: nn.Module) -> int:
    """Swap every eligible residual block of ``module`` in place; returns how many were swapped."""
    swapped = 0
    for name, child in module.named_children():
        if type(child) is ResnetBlock and isinstance(child.conv_block[-1], ChannelsLastInstanceNorm2d):
            setattr(module, name, ResidualSumBlock(child))
            swapped += 1
        else:
            swapped += fuse_residual_sums(child)
    return swapped
