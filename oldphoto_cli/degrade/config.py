"""What a degradation run may do: the paper's unstructured operations and the structured families.

A frozen dataclass, so a config can be shared between worker processes, hashed, and written into a
manifest without anyone changing it half-way through a dataset. A family's strength scales how
much of it there is (count, opacity, amplitude); 0 turns it off.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

#: Structured families in the order they are applied: ageing of the whole print first, then the
#: marks on its surface. Tears and holes come last (after the unstructured operations), so they stay
#: pure white, as the published pipeline fills them.
FAMILIES: tuple[str, ...] = (
    "fading",
    "stains",
    "paper",
    "halftone",
    "grain",
    "creases",
    "scratches",
    "dust",
    "tears",
)

#: The largest strength accepted; beyond it the defects stop looking like a photo print.
MAX_STRENGTH = 3.0


@dataclass(frozen=True)
class DegradeConfig:
    """Which damage to apply and how strongly.

    ``unstructured`` switches the paper's four operations (blur, noise, low resolution, JPEG, each
    with ``op_probability``) and the greyscale conversion (``greyscale_probability``). Each family
    field is a strength, 0 = off, 1 = the default look.
    """

    unstructured: bool = True
    op_probability: float = 0.7
    greyscale_probability: float = 0.1
    fading: float = 0.0
    stains: float = 0.0
    paper: float = 0.0
    halftone: float = 0.0
    grain: float = 0.0
    creases: float = 0.0
    scratches: float = 0.0
    dust: float = 0.0
    tears: float = 0.0

    def __post_init__(self) -> None:
        for name in FAMILIES:
            value = getattr(self, name)
            if not 0.0 <= value <= MAX_STRENGTH:
                raise ValueError(f"{name} strength must be between 0 and {MAX_STRENGTH}, got {value}")
        for name in ("op_probability", "greyscale_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")

    def strength(self, family: str) -> float:
        """The strength of one family (0 when it is off)."""
        if family not in FAMILIES:
            raise KeyError(family)
        return float(getattr(self, family))

    def with_strengths(self, **strengths: float) -> DegradeConfig:
        """A copy with some family strengths changed, e.g. ``with_strengths(scratches=0)``."""
        unknown = set(strengths) - set(FAMILIES)
        if unknown:
            raise KeyError(f"unknown families: {sorted(unknown)}")
        return replace(self, **strengths)

    def as_dict(self) -> dict[str, float | bool]:
        """Plain values for a manifest line."""
        return asdict(self)
