"""Multi-scale patch-attention mapping network (the published ``--HR`` mode, inference form).

The published ``Mapping_Model_with_mask_2`` with ``Patch_Attention_4`` blocks, run through their
memory-saving ``inference_forward``: the latent is cut into non-overlapping patches (8, 4, then 2
latent pixels wide); every patch that is mostly scratch (more than 60 % of its mask) is replaced by
the most similar (cosine) patch that is not; a 3×3 convolution fuses the original features, the
composed ones and the mask. Attention is between patches, so memory grows with the square of the
number of *damaged* patches only, which is what makes large scans feasible.

Choosing those subsets (``nonzero``, indexing by the result) cannot be traced into an ONNX graph
that works for every size, so under ``torch.onnx.export`` the same swap is computed densely: every
patch against every patch, damaged keys excluded, a ``where`` to keep clean patches. The result is
the same (tests compare the two), at the cost of a P×P similarity matrix for P patches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from oldphoto_cli.networks.blocks import ResnetBlock, mapping_head, mapping_tail, resnet_blocks

MOSTLY_DAMAGED = 0.6


class PatchAttention(nn.Module):
    """Replace mostly-damaged patches by their best undamaged match, then fuse with a conv."""

    def __init__(self, channels: int = 512, patch_size: int = 8) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.F_Combine = nn.Conv2d(2 * channels + 1, channels, kernel_size=3, stride=1, padding=1)
        self.res_block = nn.Sequential(ResnetBlock(channels))

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.res_block(z)
        h, w = x.shape[-2:]
        mask = (F.interpolate(mask, (h, w), mode="bilinear", align_corners=False) > 0).to(x.dtype)
        composed = torch.cat([self._compose(x[i : i + 1], mask[i : i + 1]) for i in range(x.shape[0])])
        return self.F_Combine(torch.cat((z, composed, mask), dim=1))

    def _compose(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One image: swap damaged patches for their nearest clean ones."""
        if torch.onnx.is_in_onnx_export():
            return swap_patches_dense(x, mask, self.patch_size)
        return swap_patches(x, mask, self.patch_size)


def swap_patches(x: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """Replace each mostly-damaged k×k patch of ``x`` (1×C×H×W) by its most similar clean patch.

    Like the published code, positions not covered by whole patches (when a side is not a multiple
    of the patch size) come out as zeros once any patch is swapped.
    """
    h, w = x.shape[-2:]
    damaged = F.unfold(mask, kernel_size=k, stride=k).mean(dim=1)[0] > MOSTLY_DAMAGED
    query_idx = torch.nonzero(damaged, as_tuple=True)[0]
    key_idx = torch.nonzero(~damaged, as_tuple=True)[0]
    if len(query_idx) == 0 or len(key_idx) == 0:
        return x
    patches = F.unfold(x, kernel_size=k, stride=k)  # 1×(C·k·k)×P
    keys = patches[:, :, key_idx]
    queries = F.normalize(patches[:, :, query_idx].transpose(1, 2), dim=2)
    best = torch.bmm(queries, F.normalize(keys, dim=1)).argmax(dim=2)[0]
    patches[:, :, query_idx] = keys[:, :, best]
    return F.fold(patches, output_size=(h, w), kernel_size=k, stride=k)


def swap_patches_dense(x: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """:func:`swap_patches` without data-dependent shapes, for a traced (ONNX) graph.

    Damaged keys get a similarity of -inf, so the argmax picks the first best clean patch, as the
    subset form does (its keys are in ascending order). When nothing is damaged, or nothing is
    clean, ``x`` comes back unchanged; otherwise uncovered borders become zero, as the fold does.
    """
    damaged = to_patches(mask, k).mean(dim=1)[0] > MOSTLY_DAMAGED  # P
    patches = to_patches(x, k)  # 1×(C·k·k)×P
    unit = F.normalize(patches, dim=1)
    similarity = torch.matmul(unit.transpose(1, 2), unit).masked_fill(damaged, float("-inf"))
    best = similarity.argmax(dim=2)[0]  # P: for every patch, the best clean one
    composed = torch.where(damaged, torch.index_select(patches, 2, best), patches)
    swapped = from_patches(composed, k, x.shape[-2], x.shape[-1])
    return torch.where(damaged.any() & (~damaged).any(), swapped, x)


def to_patches(x: torch.Tensor, k: int) -> torch.Tensor:
    """``F.unfold(x, k, stride=k)`` by reshaping (B×(C·k·k)×P, patches in row-major order)."""
    b, c, h, w = x.shape
    rows, cols = h // k, w // k
    x = x[:, :, : rows * k, : cols * k].reshape(b, c, rows, k, cols, k)
    return x.permute(0, 1, 3, 5, 2, 4).reshape(b, c * k * k, rows * cols)


def from_patches(patches: torch.Tensor, k: int, h: int, w: int) -> torch.Tensor:
    """``F.fold`` of non-overlapping patches back to B×C×h×w; uncovered borders are zero."""
    b, d, _ = patches.shape
    rows, cols = h // k, w // k
    x = patches.reshape(b, d // (k * k), k, k, rows, cols).permute(0, 1, 4, 2, 5, 3)
    x = x.reshape(b, d // (k * k), rows * k, cols * k)
    return F.pad(x, (0, w - cols * k, 0, h - rows * k))


class PatchAttentionMappingNetwork(nn.Module):
    """Lift, then patch attention at scales 8, 4 and 2 with residual blocks between, then drop."""

    def __init__(self, channels: int = 64, inner: int = 512) -> None:
        super().__init__()
        self.before_NL = nn.Sequential(*mapping_head(channels, inner), *resnet_blocks(inner, 2))
        self.NL_scale_1 = PatchAttention(inner, 8)
        self.res_block_1 = nn.Sequential(*resnet_blocks(inner, 2))
        self.NL_scale_2 = PatchAttention(inner, 4)
        self.res_block_2 = nn.Sequential(*resnet_blocks(inner, 2))
        self.NL_scale_3 = PatchAttention(inner, 2)
        self.after_NL = nn.Sequential(*resnet_blocks(inner, 2), *mapping_tail(channels, inner))

    def forward(self, latent: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.NL_scale_1(self.before_NL(latent), mask)
        x = self.NL_scale_2(self.res_block_1(x), mask)
        x = self.NL_scale_3(self.res_block_2(x), mask)
        return self.after_NL(x)
