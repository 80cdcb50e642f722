"""Option choices as ``str`` enums, built from the registries they name."""

from __future__ import annotations

from enum import Enum

from oldphoto_cli.runtime.device import DEVICE_CHOICES

# Kept in step with oldphoto_cli.backends.backend_names() (a test checks); an Enum built from it
# would import the backends, and with them torch, before --help could answer.
ModelChoice = Enum("ModelChoice", {name: name for name in ("auto", "bopbtl", "classical")}, type=str)
DeviceChoice = Enum("DeviceChoice", {name: name for name in DEVICE_CHOICES}, type=str)
RuntimeChoice = Enum("RuntimeChoice", {name: name for name in ("torch", "onnx")}, type=str)
ExportFormat = Enum("ExportFormat", {name: name for name in ("onnx",)}, type=str)
