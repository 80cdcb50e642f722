"""How the pipeline calls a network, whatever runs it: PyTorch here, ONNX Runtime in onnx_engine.

A pipeline only sees :class:`Engine`: tensors in, one tensor out. Swapping the runtime (or the
device) therefore never touches restoration code, and every network a backend uses, including the
models we train ourselves, gets every runtime for free.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from oldphoto_cli.runtime.allocator import retain_freed_memory
from oldphoto_cli.runtime.attention import accelerate_attention
from oldphoto_cli.runtime.channels_last import channels_last, use_channels_last
from oldphoto_cli.runtime.denormals import flush_denormals
from oldphoto_cli.runtime.few_outputs import accelerate_few_output_convolutions
from oldphoto_cli.runtime.residual import fuse_residual_sums
from oldphoto_cli.runtime.winograd import DEFAULT_OPTIONS, WinogradOptions, accelerate_convolutions


class Engine(Protocol):
    """One network, ready to run: ``engine(*inputs) -> output`` on float32 NCHW tensors."""

    name: str

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor: ...


class TorchEngine:
    """A loaded ``nn.Module`` on a device, in eval mode; inputs are moved to that device.

    On the CPU its wide 3×3 convolutions are swapped for Winograd ones (runtime/winograd.py),
    which compute the same values with a fifth to a quarter of the multiplies, wide-kernel
    convolutions with few outputs become one product and shifted sums (runtime/few_outputs.py),
    the non-local attention takes oneDNN's products (runtime/attention.py), the network runs
    channels-last (runtime/channels_last.py), residual sums run inside the norms before them
    (runtime/residual.py), freed memory is kept for reuse (runtime/allocator.py) and denormal
    floats are flushed to zero (runtime/denormals.py); ``accelerate=False`` leaves all seven
    alone. ``winograd`` trades rounding for speed (see runtime/winograd.py): smaller tiles, split
    channel sums and norms computing their own moments for networks that amplify rounding.
    ``autocast`` (float16 or bfloat16) runs the forward under PyTorch's
    autocast (runtime/precision.py) and returns float32; the CPU replacements compute in float32
    only, so an autocast network keeps PyTorch's own layers.
    """

    def __init__(
        self,
        name: str,
        module: nn.Module,
        device: torch.device,
        accelerate: bool = True,
        winograd: WinogradOptions = DEFAULT_OPTIONS,
        autocast: torch.dtype | None = None,
    ) -> None:
        self.name = name
        self.module = module.to(device).eval()
        self.device = device
        self.autocast = autocast
        self.channels_last = accelerate and device.type == "cpu" and autocast is None
        if self.channels_last:
            flush_denormals()  # first: before any parallel operation starts PyTorch's threads
            accelerate_convolutions(self.module, winograd)
            accelerate_few_output_convolutions(self.module)
            accelerate_attention(self.module)
            use_channels_last(self.module)
            fuse_residual_sums(self.module)
            retain_freed_memory()

    @torch.inference_mode()
    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        inputs = tuple(x.to(self.device) for x in inputs)
        if self.channels_last:
            inputs = tuple(channels_last(x) for x in inputs)
        if self.autocast is None:
            return self.module(*inputs)
        with torch.autocast(self.device.type, dtype=self.autocast):
            return self.module(*inputs).float()
