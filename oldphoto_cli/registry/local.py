"""Weight files in a folder the user points to with ``--weights DIR`` or ``OLDPHOTO_WEIGHTS``.

People get the published checkpoints in three shapes, and each should just work: a copy of the Hub
repo (``DIR/Global/checkpoints/...``), the unpacked release zip ``global_checkpoints.zip``
(``DIR/checkpoints/...``), or that tree's contents (``DIR/...``).
"""

from __future__ import annotations

import os
from pathlib import Path

WEIGHTS_ENV = "OLDPHOTO_WEIGHTS"
LAYOUT_PREFIXES = ("Global/checkpoints", "checkpoints", "")


def weights_dir_from(explicit: Path | None) -> Path | None:
    """The folder to read weights from: the explicit one, else ``$OLDPHOTO_WEIGHTS``, else none.

    The environment is read at call time so that a test or a wrapper script can set it late.
    """
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(WEIGHTS_ENV)
    return Path(env).expanduser() if env else None


def candidate_paths(weights_dir: Path, path: str) -> list[Path]:
    """Where a file with checkpoints-relative ``path`` may sit in ``weights_dir``, in search order."""
    return [weights_dir / prefix / path if prefix else weights_dir / path for prefix in LAYOUT_PREFIXES]


def find_local(weights_dir: Path, path: str) -> Path | None:
    """The first existing candidate for ``path`` in ``weights_dir``, or None."""
    return next((p for p in candidate_paths(weights_dir, path) if p.is_file()), None)


def searched_folders(weights_dir: Path) -> str:
    """The folders ``find_local`` looks in, for error messages."""
    return ", ".join(str(weights_dir / prefix) if prefix else str(weights_dir) for prefix in LAYOUT_PREFIXES)
