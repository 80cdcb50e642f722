"""Channels-last networks on the CPU: every layer reads and writes N, H, W, C memory.

Winograd convolutions (runtime/winograd.py) work channels-last, because a pixel's channels are then
one contiguous row of their matrix products, and oneDNN's direct convolutions prefer it too. But a
network whose tensors are NCHW between those layers pays for two transposing copies per
convolution, and PyTorch's ``instance_norm`` turns any input back into NCHW. Measured on a 1 MP
quality restore (2 cores): 13.8 s with NCHW between the layers, 10.7 s channels-last, of which
transposing copies fell from 6.2 s to 0.7 s of CPU time.

:func:`use_channels_last` converts a loaded network in place: its 4-D weights, and its instance
norms, which become :class:`ChannelsLastInstanceNorm2d` (a subclass, so statistics hooks and
overrides such as pipeline/tile_statistics.py still find them). Parameters and state-dict keys do
not change; values change only by float32 rounding, since sums run in another order.
"""

from __future__ import annotations

import torch
from torch import nn

from oldphoto_cli.runtime.winograd import WinogradConv2d


class ChannelsLastInstanceNorm2d(nn.InstanceNorm2d):
    """Instance normalisation that keeps its input's memory layout, optionally in place.

    Two passes, the mean and then the mean square about it: as accurate as PyTorch's own instance
    norm (about 1e-6 on unit-variance outputs), in any layout. PyTorch's batch norm also keeps the
    layout, but its channels-last statistics lose precision when a channel's mean is large against
    its spread (2.5e-5 with mean 5, deviation 3), which moved restored scans by up to 2 levels.
    The squares are summed in cache-sized blocks, so the only full-size tensor made is the centred
    copy, and ``inplace`` (for norms that are the only reader of a convolution's output) centres
    the input itself: on a 1 MP photo, no 256 MiB feature map is ever allocated (and page-faulted
    in) for a norm. Affine norms, norms with running statistics and other ranks take the
    inherited path.
    """

    inplace: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or self.affine or self.track_running_stats:
            return super().forward(x)
        mean = x.mean((2, 3), keepdim=True)
        centred = x.sub_(mean) if self.inplace and not x.requires_grad else x - mean
        return centred.mul_(_mean_square(centred).add_(self.eps).rsqrt_())


SQUARE_BLOCK_BYTES = 4 * 2**20  # a block of pixels that stays in cache while it is squared and summed


def _mean_square(x: torch.Tensor) -> torch.Tensor:
    """Per image and channel, the mean of x² over H×W ((N, C, 1, 1)), summed over blocks of pixels
    so that no full-size temporary is made (for a channels-last ``x``; others are copied once)."""
    n, channels, height, width = x.shape
    pixels = x.permute(0, 2, 3, 1).reshape(n, height * width, channels)  # a view if channels-last
    rows = max(1, SQUARE_BLOCK_BYTES // (4 * channels))
    sums = torch.stack([sum(block.square().sum(0) for block in image.split(rows)) for image in pixels])
    return sums.div_(height * width).view(n, channels, 1, 1)


def use_channels_last(module: nn.Module) -> nn.Module:
    """Convert ``module`` in place (weights and instance norms); returns it for chaining."""
    module.to(memory_format=torch.channels_last)
    _swap_instance_norms(module)
    return module


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """A 4-D tensor in channels-last memory (no copy when it already is); others unchanged."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def _swap_instance_norms(module: nn.Module) -> None:
    children = list(module.named_children())
    for index, (name, child) in enumerate(children):
        if type(child) is nn.InstanceNorm2d:
            before = children[index - 1][1] if index and isinstance(module, nn.Sequential) else None
            setattr(module, name, _channels_last_copy(child, inplace=_is_convolution(before)))
        else:
            _swap_instance_norms(child)


def _is_convolution(module: nn.Module | None) -> bool:
    """A layer whose output is a fresh tensor: in a Sequential, the next layer is its only reader."""
    return isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, WinogradConv2d))


def _channels_last_copy(norm: nn.InstanceNorm2d, inplace: bool) -> ChannelsLastInstanceNorm2d:
    swapped = ChannelsLastInstanceNorm2d(
        norm.num_features, norm.eps, norm.momentum, norm.affine, norm.track_running_stats
    )
    swapped.inplace = inplace
    swapped.load_state_dict(norm.state_dict())  # affine weights or running statistics, if any
    return swapped.train(norm.training)
