"""Where the CLI writes: reports to stdout, progress and problems to stderr."""

from __future__ import annotations

from rich.console import Console

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class DebugFlag:
    """Set by commands that take ``--debug``; read by the top-level error handler."""

    enabled = False
