"""Atomic file writes: an output name holds either the old file, or the complete new one.

A restoration run over a folder can be interrupted at any moment (Ctrl-C, a full disk, a killed
process). Writing straight to the output name would leave a half-written photo that looks finished
and would be skipped as "exists" by the next run. So we write to a hidden temporary file in the same
folder (same file system, so the final rename is atomic), flush it to disk, and only then rename it
over the target.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

#: Every temporary file ends with this; folder walks skip them (they also start with a dot).
TEMP_SUFFIX = ".part"

# Room for the dot, the random tag and the suffix inside a 255-byte file name limit.
_MAX_NAME_CHARS = 64
_CREATE_ATTEMPTS = 8


def temp_path_for(target: Path) -> Path:
    """A fresh hidden name beside ``target``: ``.<name>.<random>.part``.

    Same folder so ``os.replace`` is a rename, never a copy; hidden and ``.part`` so nobody mistakes
    it for a result; random so two processes writing the same target cannot collide.
    """
    name = target.name[:_MAX_NAME_CHARS]
    return target.with_name(f".{name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def _create_temp(target: Path) -> tuple[Path, BinaryIO]:
    """Create the temporary file exclusively, with normal permissions (0666 minus the umask)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_CREATE_ATTEMPTS):
        temp = temp_path_for(target)
        try:
            fd = os.open(temp, flags, 0o666)
        except FileExistsError:
            continue
        return temp, os.fdopen(fd, "wb")
    raise FileExistsError(f"could not create a temporary file beside {target}")


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; best effort, as Windows cannot open folders for this."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_write(target: Path) -> Iterator[BinaryIO]:
    """Yield a binary file; when the block ends normally it replaces ``target`` in one step.

    The target's folder is created if needed. If the block raises (anything, Ctrl-C included) the
    temporary file is removed and the exception propagates unchanged; ``target`` is untouched.
    OSErrors from creating, syncing or renaming propagate as they are: callers attach the path.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temp, handle = _create_temp(target)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)
