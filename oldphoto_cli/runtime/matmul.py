"""Matrix products on the CPU, through whichever of PyTorch's two libraries is faster on this CPU.

PyTorch's CPU build sends float32 ``mm``/``bmm`` to Intel MKL, whose kernels on AMD processors stay
far below the hardware's speed: on the 2-core AMD EPYC (Zen 5) we benchmark on, a 512-channel
product runs at about 150 GFLOP/s through MKL and 340 GFLOP/s through oneDNN, the library PyTorch
already uses for its convolutions (``torch.ops.mkldnn._linear_pointwise``, the dense oneDNN linear
that PyTorch's own compiler emits). On Intel processors it is the other way round: on a 2-core Xeon
(Ice Lake), the 64 products of a Winograd block (768 × 512 by 512 × 512) took 0.127 s as one MKL
``bmm`` written in place, against 0.164 s through oneDNN, whose result must then be copied into
place. So oneDNN is used on every CPU but Intel's (:func:`products_library`).

Both accumulate in float32. oneDNN sums each dot product in one long run, which rounds about twice
as much as MKL over 512 terms; callers that need MKL's accuracy split long sums and let
``accumulate`` add the parts (fused into the product, no extra pass). Where oneDNN is not built in,
or for other devices and dtypes, ``torch.addmm``/``torch.mm`` is used.
"""

from __future__ import annotations

import functools
import os
import platform

import torch

from oldphoto_cli.runtime.cpu_info import cpuinfo_field

LIBRARY_VARIABLE = "OLDPHOTO_CPU_MATMUL"  # "mkl" or "onednn": overrides the choice by CPU maker
LIBRARIES = ("mkl", "onednn")


@functools.cache
def onednn_available() -> bool:
    """Whether this PyTorch has the dense oneDNN linear (CPU builds with MKL-DNN)."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


@functools.cache
def products_library() -> str:
    """The library float32 CPU products go to, "onednn" or "mkl" (see the module's docstring).

    ``OLDPHOTO_CPU_MATMUL`` overrides the choice, for benchmarks and for testing both paths.
    """
    chosen = os.environ.get(LIBRARY_VARIABLE, "").strip().lower()
    if chosen not in LIBRARIES:
        chosen = "mkl" if cpu_vendor() == "GenuineIntel" else "onednn"
    return "onednn" if chosen == "onednn" and onednn_available() else "mkl"


@functools.cache
def cpu_vendor() -> str:
    """The CPU's vendor string ("GenuineIntel", "AuthenticAMD", …), or "" where it is not known."""
    vendor = cpuinfo_field("vendor_id")
    if vendor is not None:
        return vendor
    processor = platform.processor()  # Windows: "Intel64 Family 6 Model 106 Stepping 6, GenuineIntel"
    return next((v for v in ("GenuineIntel", "AuthenticAMD") if v in processor), "")


def _use_onednn(a: torch.Tensor) -> bool:
    return a.device.type == "cpu" and a.dtype == torch.float32 and products_library() == "onednn"


def matmul_nt(a: torch.Tensor, b: torch.Tensor, accumulate: torch.Tensor | None = None) -> torch.Tensor:
    """``a @ b.T (+ accumulate)`` for 2-D float32 ``a`` (M×K), ``b`` (N×K) and ``accumulate`` (M×N).

    For oneDNN, ``b`` may be contiguous or the transpose of a contiguous matrix; ``a`` is made
    contiguous, since oneDNN's kernel for strided rows is a hundred times slower than the copy.
    """
    if not _use_onednn(a):
        return torch.mm(a, b.t()) if accumulate is None else torch.addmm(accumulate, a, b.t())
    a = a.contiguous()
    if not (b.is_contiguous() or b.t().is_contiguous()):
        b = b.contiguous()
    if accumulate is None:
        return torch.ops.mkldnn._linear_pointwise(a, b, None, "none", [], "")
    return torch.ops.mkldnn._linear_pointwise.binary(a, accumulate, b, None, "add")


def writes_in_place() -> bool:
    """Whether CPU float32 products can write into memory of the caller's (MKL's can)."""
    return products_library() == "mkl"


def sum_of_products_(out: torch.Tensor, pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """``out[k] = Σ a[k] @ b[k].T`` over the ``(a, b)`` pairs, for every k: 3-D float32 tensors,
    ``out`` contiguous, each ``a[k]`` and ``b[k]`` with contiguous rows.

    MKL writes the whole batch in place, one call per pair; oneDNN adds the pairs' products into
    one new tensor per k, which is copied into ``out``.
    """
    if not _use_onednn(out):
        for i, (a, b) in enumerate(pairs):
            if i:
                out.baddbmm_(a, b.transpose(1, 2))
            else:
                torch.bmm(a, b.transpose(1, 2), out=out)
        return
    for k in range(out.shape[0]):
        product = None
        for a, b in pairs:
            product = matmul_nt(a[k], b[k], product)
        out[k] = product
