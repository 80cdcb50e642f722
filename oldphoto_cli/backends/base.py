"""What every restoration backend offers the pipeline: one photo in, one photo (and mask) out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class BackendSettings:
    """Choices that shape how a backend is built; fixed for a whole batch.

    ``given_masks``: the caller supplies a scratch mask for every photo, so a backend need not load
    (or download) its detector. ``runtime``: what runs the networks, ``torch`` or ``onnx`` (ONNX
    Runtime); backends without networks ignore it.
    """

    scratch: bool = False
    hr: bool = False
    weights_dir: Path | None = None
    device: str = "auto"
    upstream_levels: bool = False
    given_masks: bool = False
    runtime: str = "torch"
    max_memory: int | None = None  # cap on the process's resident bytes; None = 80 % of free memory
    exact: bool = False  # direct convolutions: bit-for-bit the published arithmetic, slower on a CPU
    precision: str = "fp32"  # fp16 / bf16: autocast (runtime/precision.py), for GPUs
    batch_size: int | None = None  # photos of one size run together, at most; None = by device


@dataclass(frozen=True)
class Restoration:
    """A restored photo (H×W×3 uint8, the input's size) and the scratch mask used, if any."""

    image: np.ndarray
    mask: np.ndarray | None


class Backend(Protocol):
    name: str
    #: What runs the networks, for the CLI to report (``onnx (CPUExecutionProvider)``); None when
    #: the backend has no networks.
    runtime_label: str | None

    def restore(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> Restoration:
        """Restore an H×W×3 uint8 photo; ``mask`` (H×W bool, True = damaged) replaces detection."""
        ...


@runtime_checkable
class BatchingBackend(Backend, Protocol):
    """A backend that can restore several photos in one pass (a GPU is then kept busy)."""

    #: How many photos the batch runner hands over at once; 1 turns batching off.
    batch_size: int

    def restore_batch(
        self, rgbs: Sequence[np.ndarray], masks: Sequence[np.ndarray | None]
    ) -> list[Restoration]:
        """:meth:`restore` for each photo, in order; the backend decides which run together."""
        ...
