"""Keeping freed memory for reuse, so large tensors do not page-fault on every layer.

glibc serves every allocation above 32 MiB with a fresh ``mmap`` and returns it with ``munmap`` on
free. A network on a megapixel photo allocates and frees hundreds of such tensors, and the kernel
zero-fills every page of each one again: on a 1 MP restore that is several seconds of system time
(measured: 9.3 s of system time, 1.2 s with this setting, same output). Telling glibc never to use
``mmap`` and never to trim the heap keeps freed blocks for the next layer. The process's resident
memory then stays at its peak instead of shrinking between layers, which a one-shot CLI does not
mind. Elsewhere (macOS, Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
_applied = False


def retain_freed_memory() -> bool:
    """Ask glibc to keep freed memory in the heap; True if it agreed. Safe to call repeatedly."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = _libc().mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _applied = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    return _applied


def _libc() -> ctypes.CDLL:
    """The C library: glibc's soname first, since ``find_library`` runs ``ldconfig`` in a
    subprocess (15 ms, and a fork of a process that may already hold a gigabyte)."""
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return ctypes.CDLL(ctypes.util.find_library("c"))
