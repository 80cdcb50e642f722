"""Reduced precision (``--precision fp16|bf16``): PyTorch's autocast around a network's forward.

Measured with the reference vectors (``../shared/reference``, 64×96, stand-in weights) under
PyTorch's autocast, largest and mean absolute error of each network's output against float32 on
[-1, 1]; the conformance tolerance is 1e-3:

=========================  ==================  ==================
network                    fp16                bf16
=========================  ==================  ==================
VAE_A encoder              1.7e-2 / 3.4e-3     1.6e-1 / 2.8e-2
quality mapping            1.7e-2 / 3.0e-3     1.5e-1 / 2.5e-2
masked non-local mapping   overflows (NaN)     9.5e-1 / 7.7e-2
patch-attention mapping    2.1e-2 / 3.0e-3     1.4e-1 / 2.5e-2
VAE_B decoder              5.7e-3 / 7.0e-4     3.7e-2 / 5.2e-3
scratch detector (logits)  3.0e-3 / 6.3e-4     2.8e-2 / 5.1e-3
whole quality chain        6.8e-2 / 8.3e-3     5.1e-1 / 6.6e-2
=========================  ==================  ==================

No network stays within the tolerance, so float32 is the default on every device and reduced
precision is something a user asks for. The attention mappings amplify any change in the latent or
the scratch mask they are given (the masked non-local block's attention even overflows in fp16),
so in the scratch modes only VAE_B's decoder runs reduced (``pipeline/bopbtl.FLOAT32_NETWORKS``).
Whole photos (a 160×128 crop of a real scan, stand-in weights, bf16 on the CPU), mean difference
from float32 in levels of 255: quality mode 8.2, scratch mode 0.64, patch attention 0.63; with
every network reduced, the scratch modes were 57 and 31 levels off. fp16 keeps three more bits
than bf16, and in the table its errors are eight to ten times smaller; whole photos in fp16 were
not measured (see below).

On the CPU reduced precision is no faster (bf16: 3.7 s against 3.5 s for a 512² quality restore on
our Zen 5, which has bf16 instructions), and PyTorch has no fast float16 kernels there (a 160×128
scratch restore took six minutes), so fp16 is refused on the CPU. Autocast keeps PyTorch's own choice
of which operations run reduced (matrix products and convolutions; softmax and sums in float32).

Float32 on a GPU means float32: PyTorch lets cuDNN run float32 convolutions in TF32 (10 bits of
mantissa) on Ampere and later GPUs by default, which would put fp32 runs as far from the
published arithmetic as fp16; :func:`use_ieee_float32` turns that off.
"""

from __future__ import annotations

import torch

from oldphoto_cli.errors import OldPhotoError

PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def autocast_dtype(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a ``--precision`` value on ``device``; None means float32 throughout."""
    if name not in PRECISIONS:
        raise OldPhotoError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    if name == "fp16" and device.type == "cpu":
        raise OldPhotoError(
            "--precision fp16 on the CPU: PyTorch has no fast float16 kernels there (minutes for a "
            "thumbnail); use fp32, or bf16, or a GPU"
        )
    return PRECISIONS[name]


def use_ieee_float32() -> None:
    """No TF32 in float32 convolutions and products on CUDA (a process-wide PyTorch setting).

    The legacy flags are set, not the newer ``fp32_precision`` ones: they exist in every PyTorch
    we support, and setting them raises no warning in 2.13.
    """
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
