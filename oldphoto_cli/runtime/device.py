"""Choosing where the networks run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from oldphoto_cli.errors import OldPhotoError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` prefers CUDA, then Apple's MPS, then the CPU; an explicit choice must be available."""
    import torch

    if name not in DEVICE_CHOICES:
        raise OldPhotoError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise OldPhotoError("--device cuda was asked for, but this PyTorch build sees no CUDA GPU")
    if name == "mps" and not _mps_available():
        raise OldPhotoError("--device mps was asked for, but MPS is not available here")
    return torch.device(name)


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())
