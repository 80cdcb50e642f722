"""Named configurations: ``paper`` reproduces the published training degradation, ``old-print`` adds
the structured damage a real box of old prints shows."""

from __future__ import annotations

from oldphoto_cli.degrade.config import FAMILIES, DegradeConfig

PAPER = DegradeConfig()
OLD_PRINT = DegradeConfig(**{name: 1.0 for name in FAMILIES})

PRESETS: dict[str, DegradeConfig] = {"paper": PAPER, "old-print": OLD_PRINT}
DEFAULT_PRESET = "old-print"


def preset(name: str) -> DegradeConfig:
    """The config named ``name``; a ValueError lists the known names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})") from None
