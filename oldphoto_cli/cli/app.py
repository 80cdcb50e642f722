"""The ``oldphoto`` command: a root Typer app mounting one small function per command.

Commands import torch and the pipelines inside their bodies, so ``--help`` and ``--version`` answer
at once. Every expected failure is an ``OldPhotoError``: it becomes one line on stderr and exit
status 2 (1 is kept for "some files of a batch failed"); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Annotated, NoReturn

import typer

from oldphoto_cli import __version__
from oldphoto_cli.cli.bench import bench_command
from oldphoto_cli.cli.console import DebugFlag, err
from oldphoto_cli.cli.degrade import degrade_command
from oldphoto_cli.cli.download import download_command
from oldphoto_cli.cli.evaluate import evaluate_command
from oldphoto_cli.cli.export import export_command
from oldphoto_cli.cli.models import models_command
from oldphoto_cli.cli.restore import restore_command

app = typer.Typer(
    name="oldphoto",
    help="Bring damaged photo prints back to life.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("restore")(restore_command)
app.command("download")(download_command)
app.command("models")(models_command)
app.command("degrade")(degrade_command)
app.command("evaluate")(evaluate_command)
app.command("export")(export_command)
app.command("bench")(bench_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"oldphoto {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Bring damaged photo prints back to life."""


def _click_exceptions() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """(usage errors, aborts) from click and from the copy of click that typer ≥ 0.29 vendors."""
    import click

    usage = {click.ClickException} | {c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"}
    aborts = {click.exceptions.Abort, typer.Abort}
    return tuple(usage), tuple(aborts)


def main() -> None:
    """The ``oldphoto`` command: run it, then leave without the interpreter's teardown."""
    _leave(_run())


def _run() -> int:
    from rich.text import Text

    from oldphoto_cli.errors import OldPhotoError

    usage_errors, aborts = _click_exceptions()
    try:
        status = app(standalone_mode=False)
    except usage_errors as exc:  # bad usage: click's own message and status 2
        exc.show()
        return exc.exit_code
    except OldPhotoError as exc:
        if DebugFlag.enabled:
            raise
        err.print(Text.assemble(("error: ", "red"), str(exc)), soft_wrap=True)
        return 2
    except aborts:
        err.print("aborted")
        return 130
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return status if isinstance(status, int) else 0


def _leave(status: int) -> NoReturn:
    """Exit with ``status`` once exit handlers have run and the standard streams are flushed.

    Every output file is written and closed (atomically) before the command returns, so what is
    left is Python and PyTorch tearing down modules and libraries: 0.7 s after a 1 MP restore on
    our 2-core machine, for nothing a finished run needs. ``os._exit`` skips it; the exit
    handlers (logging, thread pools, temporary folders) still run first.
    """
    getattr(atexit, "_run_exitfuncs", lambda: None)()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(status)
