"""Expected failures of ``degrade``, as ``OldPhotoError``s so the CLI prints one line and exits 2."""

from __future__ import annotations

from oldphoto_cli.errors import OldPhotoError


class DegradeError(OldPhotoError):
    """A degrade run that cannot go ahead as asked (an output exists, a folder holds no photos)."""
