"""How much memory this machine can give a run right now."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def available_bytes() -> int:
    """Memory available to new allocations: MemAvailable on Linux, else physical pages."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def resident_bytes() -> int | None:
    """This process's resident memory now, or None where /proc is not available (macOS, Windows)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str) -> int:
    """``4G``, ``3.5GiB``, ``800M``, ``512MB`` → bytes (binary units, as memory is counted)."""
    cleaned = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = cleaned, ""
    if cleaned and cleaned[-1] in _UNITS:
        number, unit = cleaned[:-1], cleaned[-1]
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"not a memory size: {text!r} (examples: 4G, 3.5GiB, 800M)") from None
    if value <= 0:
        raise ValueError(f"memory size must be positive: {text!r}")
    return int(value * _UNITS[unit])


def run_budget(max_memory: int | None, device: torch.device | None = None) -> int:
    """Bytes a run may add to this process: under ``max_memory`` (a cap on the whole process's
    resident memory) and under 80 % of what the machine has free; for networks on a CUDA
    ``device``, also under 80 % of what that GPU can still give."""
    free = int(0.8 * available_bytes())
    budget = free if max_memory is None else min(free, max_memory - (resident_bytes() or 0))
    if device is not None and device.type == "cuda":
        budget = min(budget, int(0.8 * gpu_available_bytes(device)))
    return budget  # weights and runtime count too


def gpu_available_bytes(device: torch.device) -> int:
    """What a CUDA device can still give: its free memory, plus what PyTorch's cache holds unused."""
    import torch

    free, _total = torch.cuda.mem_get_info(device)
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
