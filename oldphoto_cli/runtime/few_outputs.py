"""Wide-kernel convolutions with few output channels, as one product and shifted sums, on the CPU.

The VAE decoder ends in a 7×7 convolution from 64 channels to 3, over the whole photo. oneDNN's
direct kernel runs such a layer far below its usual speed (3 outputs fill none of its vector
blocks): 0.27 s on a 1 MP photo, 2 cores, more than any other decoder layer. The same numbers
come from one well-shaped product, every tap's 3 filters times each pixel's 64 channels
((49·3) × 64 by 64 × pixels), then 49 shifted sums of 3-channel planes, a band of rows at a time
so the planes stay in cache: 0.17 s. Only float32 rounding changes (the taps are summed in another
order). :func:`accelerate_few_output_convolutions` swaps eligible layers of a loaded network;
the weights, and so the state-dict keys, stay.
"""

from __future__ import annotations

import torch
from torch import nn

from oldphoto_cli.runtime.matmul import matmul_nt

MAX_OUTPUTS = 4  # more outputs fill oneDNN's vectors well enough
MIN_KERNEL = 5  # below this, the shifted sums cost more than they save
BAND_ROWS = 16  # output rows per product: the taps' planes (49·3 × 22 rows × W floats) stay in cache


class FewOutputConv2d(nn.Module):
    """Drop-in for an unpadded, stride-1 ``nn.Conv2d`` with few outputs; same parameters and keys."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if not is_eligible(conv):
            raise ValueError(f"not an unpadded stride-1 convolution with few outputs: {conv}")
        self.weight = conv.weight
        self.bias = conv.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, channels, kh, kw = self.weight.shape
        n, _, height, width = x.shape
        out = x.new_empty(n, outputs, height - kh + 1, width - kw + 1)
        taps = self.weight.detach().permute(2, 3, 0, 1).reshape(kh * kw * outputs, channels)
        for image, target in zip(x, out):
            pixels = image.permute(1, 2, 0).reshape(height * width, channels)  # a view if channels-last
            for top in range(0, target.shape[1], BAND_ROWS):
                _band(pixels, taps, target, top, (kh, kw), width)
        if self.bias is not None:
            out += self.bias.view(1, outputs, 1, 1)
        return out

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, kernel_size={tuple(self.weight.shape[2:])}"


def _band(
    pixels: torch.Tensor,
    taps: torch.Tensor,
    target: torch.Tensor,
    top: int,
    kernel: tuple[int, int],
    width: int,
) -> None:
    """Output rows ``top``… of one image (``target``: O×H'×W'): each tap's product, shifted and summed."""
    kh, kw = kernel
    outputs, out_h, out_w = target.shape
    rows = min(BAND_ROWS, out_h - top)
    band = pixels[top * width : (top + rows + kh - 1) * width]
    planes = matmul_nt(taps, band).view(kh, kw, outputs, rows + kh - 1, width)
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
    """Swap every eligible convolution of ``module`` in place; returns how many were swapped."""
    swapped = 0
    for name, child in module.named_children():
        if is_eligible(child):
            setattr(module, name, FewOutputConv2d(child))
            swapped += 1
        else:
            swapped += accelerate_few_output_convolutions(child)
    return swapped
