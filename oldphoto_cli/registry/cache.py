"""oldphoto's own cache folder, for files derived from the weights (e.g. ONNX exports).

The published checkpoints live in the Hugging Face cache (hub.py); what we compute from them lives
here: ``$OLDPHOTO_CACHE``, else ``$XDG_CACHE_HOME/oldphoto``, else ``~/.cache/oldphoto``. Like the
other locations, the environment is read at call time, so a test or a wrapper can set it late.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "OLDPHOTO_CACHE"


def cache_dir() -> Path:
    """The root of oldphoto's cache (not created here: only writers create what they need)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(os.path.expandvars(explicit)).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(os.path.expandvars(base)).expanduser() / "oldphoto"
