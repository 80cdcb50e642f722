"""Multi-scale patch-attention mapping network (the published ``--HR`` mode, inference form).

The published ``Mapping_Model_with_mask_2`` with ``Patch_Attention_4`` blocks, run through their
memory-saving ``inference_forward``: the latent is cut into non-overlapping patches (8, 4, then 2
latent pixels wide); every patch that is mostly scratch (more than 60 % of its mask) is replaced by
the most similar (cosine) patch that is not; a 3×3 convolution fuses the original features, the
composed ones and the mask. Attention is between patches, so memory grows with the square of the
number of *damaged* patches only, which is what makes large scans feasible.
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
        """One image: swap damaged patches for their nearest clean ones.

        Like the published code, positions not covered by whole patches (when a side is not a
        multiple of the patch size) come out as zeros once any patch is swapped.
        """
        k = self.patch_size
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
