"""Option choices as ``str`` enums, and the option-value parsers more than one command uses."""

from __future__ import annotations

from enum import Enum

import typer

from oldphoto_cli.runtime.device import DEVICE_CHOICES

# Kept in step with oldphoto_cli.backends.backend_names() (a test checks); an Enum built from it
# would import the backends, and with them torch, before --help could answer.
ModelChoice = Enum("ModelChoice", {name: name for name in ("auto", "bopbtl", "classical")}, type=str)
DeviceChoice = Enum("DeviceChoice", {name: name for name in DEVICE_CHOICES}, type=str)
RuntimeChoice = Enum("RuntimeChoice", {name: name for name in ("torch", "onnx")}, type=str)
# Kept in step with runtime.precision.PRECISIONS (a test checks), for the same reason.
PrecisionChoice = Enum("PrecisionChoice", {name: name for name in ("fp32", "fp16", "bf16")}, type=str)
ExportFormat = Enum("ExportFormat", {name: name for name in ("onnx",)}, type=str)


def comma_list(text: str) -> list[str]:
    """``"a, b,,a"`` → ``["a", "b"]``: stripped, without empties or repeats, in order."""
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def memory_cap(text: str | None) -> int | None:
    """``--max-memory`` in bytes; a bad value is a usage error naming the option."""
    from oldphoto_cli.runtime.memory import parse_size

    if text is None:
        return None
    try:
        return parse_size(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--max-memory") from None
