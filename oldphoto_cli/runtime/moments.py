"""Per-channel moments of a feature map, taken while a convolution writes it.

An instance norm after a convolution needs its input's mean and variance per channel, and
computing them takes two passes over a feature map that has just left the cache: on the 2-core
Xeon (Sapphire Rapids kind), 21 of the 31 ms of a norm over a 512-channel 256² map. The Winograd
convolution (runtime/winograd.py) writes its output one tile row at a time, so it can take the
moments of each row while the row is still in cache and hand them to the norm
(:class:`MomentsHandoff`), which then only normalises.

Each block is centred on its own mean, as float32 gives it, and the sums of the centred values and
of their squares are taken in float32 (matrix-vector products with a vector of ones); the first
corrects the block's mean for float32's rounding. The blocks are combined in float64 by the
parallel form of the variance (Chan, Golub and LeVeque, 1979): the total of squares about the
overall mean is the blocks' own totals plus each block's count times its mean's squared distance
from the overall mean. No sum of squares about zero is ever formed, so a mean that is large
against the spread costs no precision, as in the norm's own passes (runtime/channels_last.py).
"""

from __future__ import annotations

import weakref

import torch


class BlockMoments:
    """Mean and biased variance per channel of one image's pixels, given a block at a time."""

    def __init__(self, channels: int, largest_block: int, like: torch.Tensor) -> None:
        self._scratch = like.new_empty(largest_block, channels)
        self._ones: dict[int, torch.Tensor] = {}
        self._counts: list[int] = []
        self._centres: list[torch.Tensor] = []
        self._sums: list[torch.Tensor] = []
        self._squares: list[torch.Tensor] = []

    def add(self, pixels: torch.Tensor) -> None:
        """Take the moments of ``pixels`` (n × C, contiguous), best while they are in cache."""
        count = pixels.shape[0]
        ones = self._ones.get(count)
        if ones is None:
            ones = self._ones[count] = pixels.new_ones(1, count)
        centre = torch.mm(ones, pixels).div_(count)  # the block's mean, to float32's rounding
        centred = torch.sub(pixels, centre, out=self._scratch[:count])
        self._counts.append(count)
        self._centres.append(centre)
        self._sums.append(torch.mm(ones, centred))  # what that rounding left: Σ(x − centre)
        self._squares.append(torch.mm(ones, centred.square_()))

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, variance), each (C,) in the pixels' dtype."""
        counts = torch.tensor(self._counts, dtype=torch.float64, device=self._scratch.device)[:, None]
        sums = torch.cat(self._sums).double()
        means = torch.cat(self._centres).double() + sums / counts  # each block's own mean
        squares = torch.cat(self._squares).double() - sums * sums / counts  # about that mean
        total = counts.sum()
        mean = (counts * means).sum(0) / total
        spread = squares.sum(0) + (counts * (means - mean).square()).sum(0)
        dtype = self._scratch.dtype
        return mean.to(dtype), (spread / total).to(dtype)


class MomentsHandoff:
    """Where a convolution leaves its output's moments for the norm that reads that output next.

    The moments are kept with a weak reference to the tensor they describe, in one tuple (so a
    network run from two threads at once can never pair one tensor with another's moments), and
    handed out only for that very tensor: a norm given anything else (a tile, a preview, a tensor
    some other code made) computes its own, as before.
    """

    def __init__(self) -> None:
        self._left: tuple[weakref.ref[torch.Tensor], torch.Tensor, torch.Tensor] | None = None
        self.paused = False  # the norm takes its statistics from elsewhere: none to gather

    def put(self, tensor: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> None:
        """Leave ``tensor``'s per-image, per-channel mean and variance, each (N, C)."""
        self._left = (weakref.ref(tensor), mean, var)

    def take(self, tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The moments left for ``tensor``, or None; either way the handoff is empty after."""
        left, self._left = self._left, None
        if left is None or left[0]() is not tensor:
            return None
        return left[1], left[2]

    def __getstate__(self) -> dict:
        """Copied or pickled (with the network holding it) empty: a weak reference cannot be."""
        return {"_left": None, "paused": self.paused}
