"""Channels-last networks on the CPU: every layer reads and writes N, H, W, C memory.

Winograd convolutions (runtime/winograd.py) work channels-last, because a pixel's channels are then
one contiguous row of their matrix products, and oneDNN's direct convolutions prefer it too. But a
network whose tensors are NCHW between those layers pays for two transposing copies per
convolution, and PyTorch's ``instance_norm`` turns any input back into NCHW. Measured on a 1 MP
quality restore (2 cores): 13.8 s with NCHW between the layers, 10.7 s channels-last, of which
transposing copies fell from 6.2 s to 0.7 s of CPU time.

:func:`use_channels_last` converts a loaded network in place: its 4-D weights, and its instance
norms, which become :class:`ChannelsLastInstanceNorm2d` (a subclass, so statistics hooks and
overrides such as pipeline/tile_statistics.py still find them). A ReLU right after a norm runs in
the norm's last pass, while each block of pixels is in cache, instead of in a pass of its own over
the feature map (its slot then holds an ``nn.Identity``). A norm that reads a Winograd
convolution's output takes that output's moments from the convolution, which gathered them while
writing it (runtime/moments.py), and only normalises: one pass over the feature map instead of
three. Parameters and state-dict keys do not change; values change only by float32 rounding,
since sums run in another order.
"""

from __future__ import annotations

import torch
from torch import nn

from oldphoto_cli.runtime.layers import children_with_predecessors
from oldphoto_cli.runtime.moments import MomentsHandoff
from oldphoto_cli.runtime.winograd import WinogradConv2d


class ChannelsLastInstanceNorm2d(nn.InstanceNorm2d):
    """Instance normalisation that keeps its input's memory layout, optionally in place.

    Three passes over the feature map: the mean; the squares about it, summed in cache-sized
    blocks of pixels; and ``(x − mean)·s`` written block by block (the subtraction first, so a
    mean that is large against the spread costs no precision). That is PyTorch's own order of
    arithmetic, which the reference vectors follow: sums about a shifted mean in one pass moved the
    masked non-local chain from 6.1e-4 to 9.2e-4 of them (the tolerance is 1e-3). PyTorch's
    instance norm turns channels-last input back into NCHW; its batch norm keeps the layout, but
    its channels-last statistics lose precision when a channel's mean is large against its spread
    (2.5e-5 with mean 5, deviation 3), which moved restored scans by up to 2 levels. ``inplace``
    (for norms that are the only reader of a convolution's output) writes into the input itself:
    on a 1 MP photo, no 256 MiB feature map is ever allocated (and page-faulted in) for a norm.
    Affine norms, norms with running statistics and other ranks take the inherited path. ``relu``
    applies the ReLU that followed the norm in its network (see :func:`use_channels_last`).
    ``handoff`` is where the convolution before the norm leaves its output's moments, which then
    spare the first two passes. ``residual``, a tensor of the input's shape, is added to the
    result in the last pass (runtime/residual.py): the same values as adding it afterwards.
    """

    inplace: bool = False
    relu: bool = False
    handoff: MomentsHandoff | None = None

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or self.affine or self.track_running_stats:
            return with_residual(with_fused_activation(self, super().forward(x)), residual)
        blocks = _pixel_blocks(x)
        handed = self.handoff.take(x) if self.handoff is not None else None
        mean, var = handed if handed is not None else _moments(x, blocks)
        scale = var.add_(self.eps).rsqrt_()
        out = x if self.inplace and not x.requires_grad else torch.empty_like(x)
        targets = blocks if out is x else _pixel_blocks(out)
        added = _pixel_blocks(residual) if _same_blocks(x, residual) else None
        for i, (source, target, m, s) in enumerate(zip(blocks, targets, mean, scale)):
            for j, (block, written) in enumerate(zip(source, target)):
                torch.sub(block, m, out=written).mul_(s)
                if self.relu:
                    written.relu_()
                if added is not None:
                    written.add_(added[i][j])
        return out if added is not None else with_residual(out, residual)


def with_residual(out: torch.Tensor, residual: torch.Tensor | None) -> torch.Tensor:
    """``out`` (a norm's own output) plus ``residual``, if any, in place."""
    return out if residual is None else out.add_(residual)


def _same_blocks(x: torch.Tensor, other: torch.Tensor | None) -> bool:
    """Whether ``other`` splits into pixel blocks matching ``x``'s (same shape and layout)."""
    return (
        other is not None
        and other.shape == x.shape
        and other.is_contiguous(memory_format=torch.channels_last)
        == x.is_contiguous(memory_format=torch.channels_last)
    )


def with_fused_activation(norm: nn.Module, out: torch.Tensor) -> torch.Tensor:
    """``out`` after the ReLU fused into ``norm``, if any: for code that normalises in a norm's
    stead (pipeline/tile_statistics.py), which must then apply it too."""
    return out.relu_() if getattr(norm, "relu", False) else out


BLOCK_BYTES = 2 * 2**20  # a block of pixels that stays in cache between its two operations


def _pixel_blocks(x: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
    """Per image, ``x``'s pixels (rows of C channels) in blocks of about BLOCK_BYTES: views into
    a channels-last ``x``; any other layout comes as one block per image, a view as well."""
    n, channels, height, width = x.shape
    if not x.is_contiguous(memory_format=torch.channels_last):
        return [(image.permute(1, 2, 0),) for image in x]  # H×W×C views: the same arithmetic
    pixels = x.permute(0, 2, 3, 1).view(n, height * width, channels)
    rows = max(1, BLOCK_BYTES // (x.element_size() * channels))
    return [image.split(rows) for image in pixels]


def _moments(x: torch.Tensor, blocks: list[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image and channel, the mean and (biased) variance over H×W, both (N, C); ``blocks``
    are ``x``'s pixel blocks (:func:`_pixel_blocks`)."""
    pixel_count = x.shape[2] * x.shape[3]
    means = x.mean((2, 3))
    variances = []
    for image_blocks, mean in zip(blocks, means):
        squares = torch.zeros_like(mean)
        for block in image_blocks:
            squares += (block - mean).reshape(-1, x.shape[1]).square_().sum(0)
        variances.append(squares.div_(pixel_count))
    return means, torch.stack(variances)


def use_channels_last(module: nn.Module) -> nn.Module:
    """Convert ``module`` in place (weights and instance norms); returns it for chaining.

    Winograd convolutions keep their filters as loaded: they transform them on every call from
    the checkpoint's (O, I, 3, 3) order, so a channels-last copy would cost memory and a reorder.
    """
    for layer in module.modules():
        if isinstance(layer, WinogradConv2d):
            continue
        for parameter in layer.parameters(recurse=False):
            if parameter.dim() == 4:
                parameter.data = parameter.data.contiguous(memory_format=torch.channels_last)
    _swap_instance_norms(module)
    return module


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """A 4-D tensor in channels-last memory (no copy when it already is); others unchanged."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def _swap_instance_norms(module: nn.Module) -> None:
    for name, child, before in children_with_predecessors(module):
        previous = None if before is None else getattr(module, before[0])  # as swapped so far
        if type(child) is nn.InstanceNorm2d:
            inplace = previous is not None and _is_convolution(previous)
            norm = _channels_last_copy(child, inplace=inplace)
            if _hands_moments(previous, norm):
                previous.handoff = norm.handoff = MomentsHandoff()
            setattr(module, name, norm)
        elif type(child) is nn.ReLU and isinstance(previous, ChannelsLastInstanceNorm2d):
            previous.relu = True  # the norm's output has no other reader: the ReLU may overwrite it
            setattr(module, name, nn.Identity())
        else:
            _swap_instance_norms(child)


def _hands_moments(previous: nn.Module | None, norm: ChannelsLastInstanceNorm2d) -> bool:
    """Whether ``norm`` may take its input's moments from ``previous`` (see WinogradOptions)."""
    plain = not (norm.affine or norm.track_running_stats)
    return plain and isinstance(previous, WinogradConv2d) and previous.options.hand_moments


def _is_convolution(module: nn.Module) -> bool:
    """A layer whose output is a fresh tensor: in a Sequential, the next layer is its only reader."""
    return isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, WinogradConv2d))


def _channels_last_copy(norm: nn.InstanceNorm2d, inplace: bool) -> ChannelsLastInstanceNorm2d:
    swapped = ChannelsLastInstanceNorm2d(
        norm.num_features, norm.eps, norm.momentum, norm.affine, norm.track_running_stats
    )
    swapped.inplace = inplace
    swapped.load_state_dict(norm.state_dict())  # affine weights or running statistics, if any
    return swapped.train(norm.training)
