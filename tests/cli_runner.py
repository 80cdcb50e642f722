"""Running the ``oldphoto`` command as a user would: a fresh process, offline, no weights folder set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def oldphoto(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    full_env.pop("OLDPHOTO_WEIGHTS", None)
    return subprocess.run(
        [sys.executable, "-m", "oldphoto_cli", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        env=full_env,
    )
