"""One error hierarchy for the whole tool.

Library code raises these; the CLI turns each into a one-line message and an exit status, and only
shows a traceback with ``--debug``. Every error that concerns a file carries its path.
"""

from __future__ import annotations

from pathlib import Path


class OldPhotoError(Exception):
    """Base class: an expected failure with a message fit for the user."""


class ImageReadError(OldPhotoError):
    """A file could not be read as an image (missing, truncated, not an image, too large)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ImageWriteError(OldPhotoError):
    """An output could not be written."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class WeightsError(OldPhotoError):
    """Weights are missing, unreachable, corrupt or do not fit the network."""


class WeightsNotFoundError(WeightsError):
    """The files a model needs are neither local nor downloadable right now."""


class ChecksumMismatchError(WeightsError):
    """A weight file's sha256 differs from the manifest's."""


class InsufficientMemoryError(OldPhotoError):
    """A run would need more memory than is available; the message says what to do instead."""


class UnknownModelError(OldPhotoError):
    """A model name that is not in the registry."""


class ExportError(OldPhotoError):
    """A network could not be exported (to ONNX): the message names the file and the cause."""


class ProviderUnavailableError(OldPhotoError):
    """The runtime cannot run on the device asked for (e.g. ONNX Runtime without its CUDA provider)."""
