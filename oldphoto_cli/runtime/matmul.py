"""Matrix products through oneDNN on the CPU, where PyTorch's ``torch.mm`` would call MKL.

PyTorch's CPU build sends float32 ``mm``/``bmm`` to Intel MKL, whose kernels on AMD processors stay
far below the hardware's speed: on the 2-core AMD EPYC (Zen 5) we benchmark on, a 512-channel
product runs at about 150 GFLOP/s through MKL and 340 GFLOP/s through oneDNN, the library PyTorch
already uses for its convolutions (``torch.ops.mkldnn._linear_pointwise``, the dense oneDNN linear
that PyTorch's own compiler emits). Both accumulate in float32. oneDNN sums each dot product in one
long run, which rounds about twice as much as MKL over 512 terms; callers that need MKL's accuracy
split long sums and let ``accumulate`` add the parts (fused into the product, no extra pass).
Where oneDNN is not built in, or for other devices and dtypes, ``torch.addmm``/``torch.mm`` is used.
"""

from __future__ import annotations

import functools

import torch


@functools.cache
def onednn_available() -> bool:
    """Whether this PyTorch has the dense oneDNN linear (CPU builds with MKL-DNN)."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def matmul_nt(a: torch.Tensor, b: torch.Tensor, accumulate: torch.Tensor | None = None) -> torch.Tensor:
    """``a @ b.T (+ accumulate)`` for 2-D float32 ``a`` (M×K), ``b`` (N×K) and ``accumulate`` (M×N).

    ``b`` may be contiguous or the transpose of a contiguous matrix; ``a`` is made contiguous,
    since oneDNN's kernel for strided rows is a hundred times slower than the copy.
    """
    if not (a.device.type == "cpu" and a.dtype == torch.float32 and onednn_available()):
        return torch.mm(a, b.t()) if accumulate is None else torch.addmm(accumulate, a, b.t())
    a = a.contiguous()
    if not (b.is_contiguous() or b.t().is_contiguous()):
        b = b.contiguous()
    if accumulate is None:
        return torch.ops.mkldnn._linear_pointwise(a, b, None, "none", [], "")
    return torch.ops.mkldnn._linear_pointwise.binary(a, accumulate, b, None, "add")
