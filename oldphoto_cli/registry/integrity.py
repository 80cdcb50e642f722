"""sha256 checks for the weight files we trained ourselves.

The published checkpoints are pinned by the Hub revision; our own files carry a sha256 in the
manifest, so a truncated download or a file from another training run is caught before loading.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from oldphoto_cli.errors import ChecksumMismatchError

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    """The file's sha256 as hex, read in chunks (weight files can be hundreds of megabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str | None) -> None:
    """Fail with ChecksumMismatchError when ``expected`` is given and the file differs."""
    if expected is None:
        return
    actual = sha256_of(path)
    if actual != expected.lower():
        raise ChecksumMismatchError(
            f"{path}: sha256 {actual[:16]}... differs from the manifest's {expected[:16]}...; "
            "the file is corrupt or another version: delete it and fetch it again"
        )
