"""How the pipeline calls a network, whatever runs it: PyTorch here, ONNX Runtime in onnx_engine.

A pipeline only sees :class:`Engine`: tensors in, one tensor out. Swapping the runtime (or the
device) therefore never touches restoration code, and every network a backend uses, including the
models we train ourselves, gets every runtime for free.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn


class Engine(Protocol):
    """One network, ready to run: ``engine(*inputs) -> output`` on float32 NCHW tensors."""

    name: str

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor: ...


class TorchEngine:
    """A loaded ``nn.Module`` on a device, in eval mode; inputs are moved to that device."""

    def __init__(self, name: str, module: nn.Module, device: torch.device) -> None:
        self.name = name
        self.module = module.to(device).eval()
        self.device = device

    @torch.inference_mode()
    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.module(*(x.to(self.device) for x in inputs))
