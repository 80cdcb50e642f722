"""Synthetic old-photo damage: turn clean photos into realistic damaged prints, with exact masks.

``degrade`` damages one image with a numpy Generator and a ``DegradeConfig`` (presets: ``paper``,
the published training degradation; ``old-print``, that plus scratches, cracks, dust, tears,
creases, stains, fading, grain, halftone and paper texture). ``build_dataset`` turns a folder into
paired ``clean/``, ``degraded/``, ``mask/`` folders with a ``manifest.jsonl``; ``preview_grid`` shows
a few seeds side by side.
"""

from oldphoto_cli.degrade.config import FAMILIES, DegradeConfig
from oldphoto_cli.degrade.pipeline import Degraded, degrade
from oldphoto_cli.degrade.presets import DEFAULT_PRESET, PRESETS, preset

__all__ = ["DEFAULT_PRESET", "FAMILIES", "PRESETS", "DegradeConfig", "Degraded", "degrade", "preset"]
