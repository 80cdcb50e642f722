"""The classical pipeline as a backend: needs no weights, so it works on any fresh machine."""

from __future__ import annotations

import numpy as np

from oldphoto_cli.backends.base import BackendSettings, Restoration
from oldphoto_cli.classical import restore_classical


class ClassicalBackend:
    name = "classical"
    runtime_label = None  # no networks: --runtime does not apply

    def __init__(self, settings: BackendSettings) -> None:
        self.scratch = settings.scratch

    def restore(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> Restoration:
        result = restore_classical(rgb, scratch=self.scratch, mask=mask)
        return Restoration(result.image, result.mask)
