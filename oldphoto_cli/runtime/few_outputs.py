"""Wide-kernel convolutions with few output channels, as one product and shifted sums, on the CPU.

The VAE decoder ends in a 7×7 convolution from 64 channels to 3, over the whole photo. oneDNN's
direct kernel runs such a layer far below its usual speed (3 outputs fill none of its vector
blocks): 0.27 s on a 1 MP photo, 2 cores, more than any other decoder layer. The same numbers
come from one well-shaped product, every tap's 3 filters times each pixel's 64 channels
((49·3) × 64 by 64 × pixels), then 49 shifted sums of 3-channel planes, a band of rows at a time
so the planes stay in cache. Only float32 rounding changes (the taps are summed in another order).
A ``ReflectionPad2d`` right before such a layer (the decoder has one of 3 pixels) is folded into
it: each band of rows is padded as it is needed, straight into the matrix the product reads, so
the padded photo, a second 256 MiB copy of the feature map on a 1 MP photo, is never made. The
whole layer then takes 0.16 s on a 1 MP photo (0.35 s when the bands were padded with ``F.pad``).
:func:`accelerate_few_output_convolutions` swaps eligible layers of a loaded network; the
weights, and so the state-dict keys, stay.
"""

from __future__ import annotations

import torch
from torch import nn

from oldphoto_cli.runtime.layers import children_with_predecessors
from oldphoto_cli.runtime.matmul import matmul_nt

MAX_OUTPUTS = 4  # more outputs fill oneDNN's vectors well enough
MIN_KERNEL = 5  # below this, the shifted sums cost more than they save
BAND_ROWS = 16  # output rows per product: the taps' planes (49·3 × 22 rows × W floats) stay in cache


class FewOutputConv2d(nn.Module):
    """Drop-in for an unpadded, stride-1 ``nn.Conv2d`` with few outputs; same parameters and keys.

    ``reflect`` > 0 stands for ``ReflectionPad2d(reflect)`` followed by ``conv``.
    """

    def __init__(self, conv: nn.Conv2d, reflect: int = 0) -> None:
        super().__init__()
        if not is_eligible(conv):
            raise ValueError(f"not an unpadded stride-1 convolution with few outputs: {conv}")
        self.weight = conv.weight
        self.bias = conv.bias
        self.reflect = reflect

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, channels, kh, kw = self.weight.shape
        n, _, height, width = x.shape
        p = self.reflect
        if p and min(height, width) <= p:
            raise ValueError(
                f"reflection padding of {p} needs more than {p}×{p} pixels, got {height}×{width}"
            )
        out = x.new_empty(n, outputs, height + 2 * p - kh + 1, width + 2 * p - kw + 1)
        taps = self.weight.detach().permute(2, 3, 0, 1).reshape(kh * kw * outputs, channels)
        for image, target in zip(x, out):
            for top in range(0, target.shape[1], BAND_ROWS):
                rows = min(BAND_ROWS, target.shape[1] - top)
                band = _padded_rows(image, p, top, top + rows + kh - 1)
                pixels = band.permute(1, 2, 0).reshape(-1, channels)  # a view if channels-last
                _band(pixels, taps, target, top, (kh, kw), band.shape[2])
        if self.bias is not None:
            out += self.bias.view(1, outputs, 1, 1)
        return out

    def extra_repr(self) -> str:
        shape = f"{self.weight.shape[1]}, {self.weight.shape[0]}, kernel_size={tuple(self.weight.shape[2:])}"
        return shape + (f", reflect={self.reflect}" if self.reflect else "")


def _padded_rows(image: torch.Tensor, p: int, start: int, stop: int) -> torch.Tensor:
    """Rows ``start:stop`` of the C×H×W ``image`` padded by reflection of ``p`` pixels on every
    side: C×(stop − start)×(W + 2p), channels-last whatever the image's layout (a copy), so the
    band's pixels are the rows of one matrix; a view of the image when ``p`` is 0.

    The band is filled with plain copies: ``F.pad`` returns channels-first planes here, which cost
    two copies (the pad, then the matrix of pixels) and took 0.2 s a 1 MP photo, 2 cores.
    """
    if not p:
        return image[:, start:stop]
    pixels = image.permute(1, 2, 0)  # H×W×C
    height, width = pixels.shape[:2]
    band = pixels.new_empty(stop - start, width + 2 * p, pixels.shape[2])
    first, last = max(0, start - p), min(height, stop - p)  # the image rows the band holds as they are
    band[first + p - start : last + p - start, p : p + width] = pixels[first:last]
    for row in range(start, stop):  # rows above or below the image mirror rows inside it
        source = row - p
        if source < 0 or source >= height:
            mirrored = -source if source < 0 else 2 * (height - 1) - source
            band[row - start, p : p + width] = pixels[mirrored]
    band[:, :p] = band[:, p + 1 : 2 * p + 1].flip(1)  # column −i mirrors column i
    band[:, width + p :] = band[:, width - 1 : width + p - 1].flip(1)  # column W−1+i mirrors W−1−i
    return band.permute(2, 0, 1)


def _band(
    pixels: torch.Tensor,
    taps: torch.Tensor,
    target: torch.Tensor,
    top: int,
    kernel: tuple[int, int],
    width: int,
) -> None:
    """Output rows ``top``… of one image (``target``: O×H'×W') from ``pixels``, the band of input
    rows they need (R·W × C): each tap's product, shifted and summed."""
    kh, kw = kernel
    outputs, out_h, out_w = target.shape
    rows = min(BAND_ROWS, out_h - top)
    planes = matmul_nt(taps, pixels).view(kh, kw, outputs, rows + kh - 1, width)
    acc = target[:, top : top + rows]
    acc.copy_(planes[0, 0, :, :rows, :out_w])
    for ky in range(kh):
        for kx in range(kw):
            if ky or kx:
                acc += planes[ky, kx, :, ky : ky + rows, kx : kx + out_w]


def is_eligible(conv: nn.Module) -> bool:
    """A plain unpadded, stride-1 convolution with at most MAX_OUTPUTS outputs and a wide kernel."""
    return (
        type(conv) is nn.Conv2d
        and conv.out_channels <= MAX_OUTPUTS
        and min(conv.kernel_size) >= MIN_KERNEL
        and conv.stride == (1, 1)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.padding == (0, 0)
    )


def accelerate_few_output_convolutions(module: nn.Module) -> int:
    """Swap every eligible convolution of ``module`` in place; returns how many were swapped.

    In an ``nn.Sequential``, an even ``ReflectionPad2d`` right before an eligible convolution
    becomes ``nn.Identity`` and the convolution pads itself (the indices, so the keys, stay).
    """
    swapped = 0
    for name, child, before in children_with_predecessors(module):
        if not is_eligible(child):
            swapped += accelerate_few_output_convolutions(child)
            continue
        reflect = _foldable_pad(before[1], child) if before is not None else 0
        if reflect:
            setattr(module, before[0], nn.Identity())
        setattr(module, name, FewOutputConv2d(child, reflect))
        swapped += 1
    return swapped


def _foldable_pad(module: nn.Module, conv: nn.Conv2d) -> int:
    """The padding of a ``ReflectionPad2d`` that pads every side alike by less than half ``conv``'s
    kernel (so every band holds the rows it reflects), else 0."""
    if type(module) is not nn.ReflectionPad2d or len(set(module.padding)) != 1:
        return 0
    pad = int(module.padding[0])
    return pad if 2 * pad < min(conv.kernel_size) else 0
