"""Winograd F(4×4, 3×3) convolution for the CPU: the same 3×3 convolution with 4× fewer multiplies.

Nearly all of stage 1's time on a CPU goes into 3×3 convolutions with 512 channels in the mapping
networks, and PyTorch's CPU kernels compute those directly. Winograd's minimal filtering (Lavin &
Gray, "Fast Algorithms for Convolutional Neural Networks", 2016) computes each 4×4 output tile from
a 6×6 input tile with 36 multiplies per channel pair instead of 144; what remains is 36 large matrix
products, which oneDNN runs at full speed (runtime/matmul.py). The result equals the direct
convolution up to float32 rounding (about 1e-5 relative), well inside the 1e-3 the reference
vectors allow.

The swap is a runtime choice, not part of the networks: :func:`accelerate_convolutions` replaces
eligible ``nn.Conv2d`` layers in a loaded network with :class:`WinogradConv2d`, which keeps the same
``weight`` and ``bias`` parameters (so state-dict keys do not change). CUDA already picks Winograd
kernels itself, so only CPU networks are converted.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from oldphoto_cli.runtime.matmul import matmul_nt

TILE = 4  # output tile side
WINDOW = TILE + 2  # input tile side for a 3×3 kernel
CHUNK_BYTES = 32 * 2**20  # transformed input per block of tile rows; bounds the extra memory
MIN_CHANNELS = 128  # the wide mapping convolutions: most of the time, and the rounding stays ~1e-4
# Input channels per partial sum of the products. oneDNN sums a dot product in one run; over 512
# channels that took the scratch-mode chain from 4.4e-4 (MKL) to 1.1e-3 against the reference
# vectors, whose tolerance is 1e-3. Two sums of 256, added by the product itself, give 6.8e-4 and
# cost 10 % of a 512-channel convolution (0.39 s against 0.35 s at 256², 2 cores; 128: 0.43 s).
CHANNELS_PER_SUM = 256

# Transform matrices for the interpolation points 0, 1, -1, 2, -2 and infinity.
_BT = [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
]
_G = [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
]
_AT = [
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 0],
    [0, 1, 1, 4, 4, 0],
    [0, 1, -1, 8, -8, 1],
]


def transform_weight(weight: torch.Tensor) -> torch.Tensor:
    """G·g·Gᵀ for every filter as one product with G⊗G: (O, I, 3, 3) → (36, P, O, I/P).

    The input channels come in ``P = channel_parts(I)`` groups, each summed on its own (see
    CHANNELS_PER_SUM). 24·G has small integer entries, so (24G)⊗(24G) is exact in float32 and the
    only rounding is in the sums and the final division by 576: as accurate as float64, at float32
    speed. Cheap enough to redo on every call, which keeps memory at the checkpoint's size, not four
    times it.
    """
    out_ch, in_ch = weight.shape[:2]
    parts = channel_parts(in_ch)
    grouped = weight.detach().reshape(out_ch, parts, in_ch // parts, 9).transpose(0, 1)
    gg = _weight_kernel(weight.dtype, weight.device)
    u = torch.mm(gg, grouped.reshape(-1, 9).t())
    return u.div_(_G_SCALE**2).view(WINDOW * WINDOW, parts, out_ch, in_ch // parts)


def channel_parts(channels: int) -> int:
    """How many groups of input channels are summed separately: groups of CHANNELS_PER_SUM."""
    return channels // CHANNELS_PER_SUM if channels % CHANNELS_PER_SUM == 0 else 1


def winograd_conv3x3(
    x: torch.Tensor, u: torch.Tensor, bias: torch.Tensor | None, padding: int
) -> torch.Tensor:
    """3×3 convolution, stride 1, zero ``padding``, of N×C×H×W ``x`` with pre-transformed filters ``u``.

    The work happens channels-last (N, H, W, C in memory): a tile's channels are then one
    contiguous row, so the 36 products are plain (tiles × C)·(C × O) matrices that oneDNN takes as
    they are (runtime/matmul.py). The result is a channels-last N×C×H×W tensor, which the next
    layers (and the next Winograd convolution, without a copy) accept like any other.
    """
    n, channels, height, width = x.shape
    out_h, out_w = height + 2 * padding - 2, width + 2 * padding - 2
    tiles_h, tiles_w = -(-out_h // TILE), -(-out_w // TILE)
    pad_bottom = tiles_h * TILE + 2 - height - padding
    pad_right = tiles_w * TILE + 2 - width - padding
    x = x.contiguous(memory_format=torch.channels_last)
    if padding or pad_right or pad_bottom:  # after a reflection pad the tiles often fit already
        x = F.pad(x, (padding, pad_right, padding, pad_bottom))
    pixels = x.permute(0, 2, 3, 1).contiguous()  # N, H, W, C: a view when x is channels-last
    out = torch.empty(n, out_h, out_w, u.shape[2], dtype=x.dtype, device=x.device)
    rows = max(1, CHUNK_BYTES // (4 * WINDOW * WINDOW * channels * tiles_w))
    kb, ka = _kernels(x.dtype, x.device)
    for i in range(n):
        for top in range(0, tiles_h, rows):
            _tile_rows(pixels[i], u, kb, ka, out[i], top, min(tiles_h, top + rows), tiles_w)
    if bias is not None:
        out += bias
    return out.permute(0, 3, 1, 2)


def _tile_rows(
    x: torch.Tensor,
    u: torch.Tensor,
    kb: torch.Tensor,
    ka: torch.Tensor,
    out: torch.Tensor,
    top: int,
    bottom: int,
    tiles_w: int,
) -> None:
    """Tile rows ``top:bottom`` of one H×W×C image: gather, transform, 36 products, transform back."""
    width, channels = x.shape[1:]
    parts, part = u.shape[1], u.shape[3]
    out_ch, rows = u.shape[2], bottom - top
    count = rows * tiles_w
    base = x[top * TILE :]
    # d[(i, j), p, ty, tx, c] = x[4·ty + i, 4·tx + j, p·part + c]: every 6×6 window, in channel
    # groups, without copying x first
    windows = base.as_strided(
        (WINDOW, WINDOW, parts, rows, tiles_w, part),
        (width * channels, channels, part, TILE * width * channels, TILE * channels, 1),
    )
    v = matmul_nt(kb, windows.reshape(WINDOW * WINDOW, -1).t()).view(WINDOW * WINDOW, parts, count, part)
    m = torch.empty(WINDOW * WINDOW, count, out_ch, dtype=x.dtype, device=x.device)
    for k in range(WINDOW * WINDOW):  # tiles × C by C × O, once per position in the 6×6 window
        product = None
        for p in range(parts):
            product = matmul_nt(v[k, p], u[k, p], product)
        m[k] = product
    y = matmul_nt(ka, m.view(WINDOW * WINDOW, count * out_ch).t())
    y = y.view(TILE, TILE, rows, tiles_w, out_ch).permute(2, 0, 3, 1, 4)  # (ty, i, tx, j, O)
    start, stop = top * TILE, min(out.shape[0], bottom * TILE)
    target = out[start:stop]
    if stop - start == rows * TILE and out.shape[1] == tiles_w * TILE:
        target.view(rows, TILE, tiles_w, TILE, out_ch).copy_(y)  # whole tiles: one copy, no reshape
    else:
        y = y.reshape(rows * TILE, tiles_w * TILE, out_ch)
        target.copy_(y[: stop - start, : out.shape[1]])


_G_SCALE = 24  # 24·G is an integer matrix


@functools.cache
def _weight_kernel(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(24G)⊗(24G) (36×9, integers): the filter transform as a single exact matrix."""
    g = torch.tensor(_G, dtype=torch.float64) * _G_SCALE
    return torch.kron(g, g).round().to(dtype=dtype, device=device)


@functools.cache
def _kernels(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Bᵀ⊗Bᵀ (36×36, input tiles) and Aᵀ⊗Aᵀ (16×36, output tiles), as 2-D matrices."""
    bt = torch.tensor(_BT, dtype=torch.float64)
    at = torch.tensor(_AT, dtype=torch.float64)
    return torch.kron(bt, bt).to(dtype=dtype, device=device), torch.kron(at, at).to(
        dtype=dtype, device=device
    )


class WinogradConv2d(nn.Module):
    """Drop-in for a 3×3, stride-1, zero-padded ``nn.Conv2d``; same parameters, same keys."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if not is_compatible(conv):
            raise ValueError(f"not a 3×3 stride-1 convolution with zero padding: {conv}")
        self.weight = conv.weight
        self.bias = conv.bias
        self.padding = int(conv.padding[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return winograd_conv3x3(x, transform_weight(self.weight), self.bias, self.padding)


def is_compatible(conv: nn.Module) -> bool:
    """3×3 kernel, stride 1, no dilation, one group, zero padding of 0 or 1 on both sides."""
    return (
        type(conv) is nn.Conv2d
        and conv.kernel_size == (3, 3)
        and conv.stride == (1, 1)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and conv.padding in ((0, 0), (1, 1))
    )


def is_eligible(conv: nn.Module) -> bool:
    """Compatible and wide enough to be worth swapping (see MIN_CHANNELS)."""
    return is_compatible(conv) and min(conv.in_channels, conv.out_channels) >= MIN_CHANNELS


def accelerate_convolutions(module: nn.Module) -> int:
    """Swap every eligible convolution of ``module`` in place; returns how many were swapped."""
    swapped = 0
    for name, child in list(module.named_children()):
        if is_eligible(child):
            setattr(module, name, WinogradConv2d(child))
            swapped += 1
        else:
            swapped += accelerate_convolutions(child)
    return swapped
