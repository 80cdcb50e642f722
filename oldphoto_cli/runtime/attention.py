"""The masked non-local attention for the CPU: oneDNN products and one normalisation per row.

In scratch mode the non-local block's two products (queries × keys and weights × values, each
2·N²·C operations for N latent positions) are most of the time. This computes what
``networks.nonlocal_mapping.attend_rows`` computes, a block of rows at a time, with two
differences that change only float32 rounding:

- the products go through oneDNN (runtime/matmul.py) instead of MKL, twice as fast on AMD CPUs;
- the L1 renormalisation divides each row of the (rows × C) result instead of the (rows × N)
  weights, which is the same by linearity and saves two passes over the largest tensor.

The softmax overwrites the scores (:func:`softmax_rows_`), which changes nothing in the result
but halves the block's memory, and each block's scores are freed before the next block's are
made. With a new tensor for the softmax, and the last block still held, glibc (whose aligned
allocations leave freed blocks unmerged, see README) gave every block fresh memory: a 688×448
scratch restore's heap grew by 1.3 GB in the non-local block alone, and on the 2-core test
machine every fresh page is a fault that costs as much as some of the arithmetic.

It is set on each block by :func:`accelerate_attention`; ``--exact`` keeps the published order.
"""

from __future__ import annotations

import torch
from torch import nn

from oldphoto_cli.networks.nonlocal_mapping import MaskedNonLocalBlock, attention_rows
from oldphoto_cli.runtime.matmul import matmul_nt

L1_EPS = 1e-12  # F.normalize's default: rows with no valid key come out as zeros, as there


def attend_rows_fast(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, valid: torch.Tensor, chunk_bytes: int
) -> torch.Tensor:
    """``attend_rows`` (same arguments, same result up to rounding) for float32 CPU tensors."""
    rows = attention_rows(queries.shape, keys.shape[-1], chunk_bytes)
    out = torch.empty_like(values)
    for i in range(queries.shape[0]):
        keys_by_position = keys[i].t()  # N×C, contiguous when the network runs channels-last
        values_t = values[i].t()  # C×N
        for start in range(0, queries.shape[1], rows):
            weights = softmax_rows_(matmul_nt(queries[i, start : start + rows], keys_by_position))
            weights.mul_(valid[i])
            norms = weights.sum(dim=1, keepdim=True).clamp_min_(L1_EPS)  # weights ≥ 0: the L1 norm
            out[i, start : start + rows] = matmul_nt(weights, values_t).div_(norms)
            del weights  # before the next block's scores are made, so that they take its memory
    return out


def softmax_rows_(scores: torch.Tensor) -> torch.Tensor:
    """``scores.softmax(dim=1)`` written over ``scores`` (2-D, contiguous): the same values.

    PyTorch's CPU softmax over the last dimension reads each row for its maximum and then
    writes every element from the element at the same place, so its ``out`` may be its input.
    Should a PyTorch refuse that, a new tensor is made as before.
    """
    try:
        return torch.ops.aten._softmax.out(scores, 1, False, out=scores)
    except RuntimeError:
        return scores.softmax(dim=1)


def accelerate_attention(module: nn.Module) -> int:
    """Give every masked non-local block of ``module`` the fast attention; returns how many."""
    blocks = [m for m in module.modules() if isinstance(m, MaskedNonLocalBlock)]
    for block in blocks:
        block.attention = attend_rows_fast
    return len(blocks)
