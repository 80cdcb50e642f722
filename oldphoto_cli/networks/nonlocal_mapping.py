"""Mapping network with a masked non-local block, for structured damage (scratches, dust).

The published ``Mapping_Model_with_mask`` with ``NonLocalBlock2D_with_mask_Res`` in the setting
stage 1 uses (``combine`` fusion, renormalised correlation). Every latent position attends only to
positions outside the (downsampled) scratch mask; inside the mask the attended features replace the
original ones.

The attention matrix has (H·W)² entries. Its rows are independent (softmax, masking and the L1
renormalisation are all per row), so it is computed in blocks of rows: the result is the same as the
published full-matrix computation, but the memory is ``rows_per_chunk × H·W`` instead of ``(H·W)²``.
The block size depends on the tensor's shape, which a traced ONNX graph cannot follow; under
``torch.onnx.export`` the block computes the full matrix in one go (the same arithmetic), so the
exported graph serves every height and width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from oldphoto_cli.networks.blocks import mapping_head, mapping_tail, resnet_blocks

ATTENTION_CHUNK_BYTES = 256 * 2**20  # default budget for one block of attention rows


def valid_positions(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Latent positions far enough from any scratch to serve as attention keys (1) or not (0).

    Mirrors the published rule: a position is valid when the bilinearly downsampled mask is exactly
    zero there and the nearest-neighbour downsampled mask is zero too.
    """
    touched = F.interpolate(mask, size, mode="bilinear", align_corners=False)
    touched = (touched > 0).to(mask.dtype)
    clean_nearest = F.interpolate(1 - mask, size, mode="nearest")
    return (1 - touched) * clean_nearest


def attend_rows(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, valid: torch.Tensor, chunk_bytes: int
) -> torch.Tensor:
    """softmax(QK) · valid, L1-renormalised per row, times V; computed a block of rows at a time.

    ``queries`` and ``values`` are B×N×C, ``keys`` B×C×N, ``valid`` B×1×N; at most ``chunk_bytes``
    of scores at once.
    """
    rows = attention_rows(queries.shape, keys.shape[-1], chunk_bytes)
    out = torch.empty_like(values)
    for start in range(0, queries.shape[1], rows):
        scores = torch.matmul(queries[:, start : start + rows], keys)
        weights = F.softmax(scores, dim=2).mul_(valid)
        del scores  # two blocks of scores alive at most, not three
        weights = F.normalize(weights, p=1, dim=2)
        out[:, start : start + rows] = torch.matmul(weights, values)
        del weights  # freed before the next block's scores are made
    return out


def attention_rows(query_shape: torch.Size, keys: int, chunk_bytes: int) -> int:
    """Query rows per block so that one block of float32 scores stays within ``chunk_bytes``."""
    batch, count = query_shape[0], query_shape[1]
    return max(1, min(count, chunk_bytes // (4 * keys * max(1, batch))))


class MaskedNonLocalBlock(nn.Module):
    """Non-local attention restricted to unmasked keys, followed by three residual blocks."""

    def __init__(self, channels: int = 512, chunk_bytes: int = ATTENTION_CHUNK_BYTES) -> None:
        super().__init__()
        self.channels = channels
        self.chunk_bytes = chunk_bytes
        self.g = nn.Conv2d(channels, channels, kernel_size=1)
        self.W = nn.Conv2d(channels, channels, kernel_size=1)
        self.theta = nn.Conv2d(channels, channels, kernel_size=1)
        self.phi = nn.Conv2d(channels, channels, kernel_size=1)
        self.res_block = nn.Sequential(*resnet_blocks(channels, 3))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        valid = valid_positions(mask, (h, w))  # B×1×H×W
        values = self.g(x).flatten(2).transpose(1, 2)  # B×N×C
        queries = self.theta(x).flatten(2).transpose(1, 2)  # B×N×C
        keys = self.phi(x).flatten(2)  # B×C×N
        attended = self._attend(queries, keys, values, valid.flatten(2))  # B×N×C
        y = attended.transpose(1, 2).reshape(b, c, h, w)
        y = self.res_block(self.W(y))
        return valid * x + (1 - valid) * y

    def _attend(
        self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, valid: torch.Tensor
    ) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            return attend_full(queries, keys, values, valid)
        return self.attention(queries, keys, values, valid, self.chunk_bytes)

    # How the attention is computed outside ONNX export: the published arithmetic, a block of rows at
    # a time. A runtime may set a faster equivalent on an instance (runtime/attention.py).
    attention = staticmethod(attend_rows)


def attend_full(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """The published full-matrix form of ``MaskedNonLocalBlock._attend``: (H·W)² entries at once.

    Used for ONNX export only, where a loop sized from the input shape cannot be traced.
    """
    weights = F.softmax(torch.matmul(queries, keys), dim=2) * valid
    return torch.matmul(F.normalize(weights, p=1, dim=2), values)


class NonLocalMappingNetwork(nn.Module):
    """The published ``Mapping_Model_with_mask``: lift, masked non-local block, six res blocks, drop."""

    def __init__(self, channels: int = 64, inner: int = 512, n_blocks: int = 6) -> None:
        super().__init__()
        self.before_NL = nn.Sequential(*mapping_head(channels, inner))
        self.NL = MaskedNonLocalBlock(inner)
        self.after_NL = nn.Sequential(*resnet_blocks(inner, n_blocks), *mapping_tail(channels, inner))

    def forward(self, latent: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.after_NL(self.NL(self.before_NL(latent), mask))


def attention_bytes(height: int, width: int) -> int:
    """Memory of the published full attention matrix for an input image of ``height × width``."""
    n = (height // 4) * (width // 4)
    return 4 * n * n
