"""Denormal floats flushed to zero on the CPU, for the accelerated networks.

A softmax over the 19,264 latent positions of a 0.3 MP scan gives most weights below float32's
smallest normal number (1.2e-38). Intel CPUs compute with such denormals through a microcode
assist, about a hundred times slower: on a 2-core Xeon (Ice Lake) the attention's products ran at
13 GFLOP/s instead of 200, and a 688×448 scratch restore took 42 s instead of 15. The AMD EPYC
(Zen 5) we had measured on showed no such slowdown (8.9 s end to end for the same restore).
Flushing changes values below 1.2e-38 to zero, far below anything that reaches the 8-bit result.

The flags (x86's FTZ and DAZ) belong to each thread, and a new thread starts with its creator's.
So they must be set before PyTorch starts its OpenMP threads at its first parallel operation:
threads started earlier keep computing with denormals, correctly but slowly.
"""

from __future__ import annotations

import torch


def flush_denormals() -> bool:
    """Flush denormals to zero in this thread and in the threads it starts from now on; False
    where the CPU cannot (then nothing changes)."""
    return torch.set_flush_denormal(True)
