"""``degrade``: one clean photo in, a damaged print, its damage mask and the list of operations out.

Order: the print ages (fading, stains, paper, halftone, grain), gets marked (creases, scratches,
cracks, dust, composited at once), is scanned badly (the paper's unstructured operations and
greyscale), and finally torn pieces are white, as in the published pipeline.

Every family draws from its own Generator, seeded from the caller's one up front, so turning one
family off or changing its strength leaves every other family's damage exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oldphoto_cli.degrade.canvas import DamageCanvas
from oldphoto_cli.degrade.config import FAMILIES, DegradeConfig
from oldphoto_cli.degrade.creases import creases
from oldphoto_cli.degrade.grain import grain
from oldphoto_cli.degrade.halftone import halftone
from oldphoto_cli.degrade.paper import paper
from oldphoto_cli.degrade.specks import dust
from oldphoto_cli.degrade.stains import stains
from oldphoto_cli.degrade.strokes import cracks, scratches
from oldphoto_cli.degrade.tears import tears
from oldphoto_cli.degrade.tone import fading
from oldphoto_cli.degrade.unstructured import apply_unstructured, to_greyscale

#: Chance that a family with strength > 0 appears on a given image; a real box of prints does not
#: show every defect on every print. Strength scales how much, this how often.
FAMILY_PROBABILITY: dict[str, float] = {
    "fading": 0.85,
    "stains": 0.3,
    "paper": 0.7,
    "halftone": 0.08,
    "grain": 0.6,
    "creases": 0.3,
    "scratches": 0.85,
    "dust": 0.8,
    "tears": 0.3,
}
_GLOBAL = {"fading": fading, "paper": paper, "halftone": halftone, "grain": grain}


@dataclass(frozen=True, eq=False)
class Degraded:
    """The damaged image (H×W×3 uint8), its mask (H×W bool, True = damaged) and what was done.

    ``greyscale`` says the paper's greyscale step ran: a training pair then uses the greyscale
    clean image too, as the published code converts both.
    """

    image: np.ndarray
    mask: np.ndarray
    operations: list[dict]
    greyscale: bool


def degrade(rgb: np.ndarray, rng: np.random.Generator, config: DegradeConfig) -> Degraded:
    """Damage an H×W×3 uint8 photo as ``config`` says, drawing every random choice from ``rng``."""
    _check(rgb)
    streams = dict(zip(("unstructured", *FAMILIES), rng.spawn(len(FAMILIES) + 1), strict=True))
    active = {name for name in FAMILIES if _appears(config.strength(name), streams[name], name)}
    ops: list[dict] = []
    image, mask = _age(np.ascontiguousarray(rgb), active, streams, config, ops)
    image, marked = _mark(image, active, streams, config, ops)
    mask |= marked
    grey = False
    if config.unstructured:
        image, done = apply_unstructured(image, streams["unstructured"], config.op_probability)
        ops.extend(done)
        if streams["unstructured"].random() < config.greyscale_probability:
            image, grey = to_greyscale(image), True
            ops.append({"op": "greyscale"})
    if "tears" in active:
        holes, record = tears(image.shape[:2], streams["tears"], config.tears)
        image = image.copy()
        image[holes] = 255
        mask |= holes
        ops.append(record)
    return Degraded(np.ascontiguousarray(image), mask, ops, grey)


def _appears(strength: float, rng: np.random.Generator, name: str) -> bool:
    """Whether a family shows on this image; always one draw, so the stream is the same either way."""
    draw = rng.random()
    return strength > 0 and draw < FAMILY_PROBABILITY[name]


def _age(
    image: np.ndarray, active: set[str], streams: dict, config: DegradeConfig, ops: list[dict]
) -> tuple[np.ndarray, np.ndarray]:
    """Whole-print ageing: fading, stains (masked), paper texture, halftone, grain."""
    mask = np.zeros(image.shape[:2], bool)
    for name in ("fading", "stains", "paper", "halftone", "grain"):
        if name not in active:
            continue
        if name == "stains":
            image, stain_mask, record = stains(image, streams[name], config.stains)
            mask |= stain_mask
        else:
            image, record = _GLOBAL[name](image, streams[name], config.strength(name))
        ops.append(record)
    return image, mask


def _mark(
    image: np.ndarray, active: set[str], streams: dict, config: DegradeConfig, ops: list[dict]
) -> tuple[np.ndarray, np.ndarray]:
    """Surface marks drawn into one canvas and composited once: creases, scratches or cracks, dust."""
    canvas = DamageCanvas.blank(image.shape[:2], streams["scratches"])
    if "creases" in active:
        image, record = creases(image, canvas, streams["creases"], config.creases)
        ops.append(record)
    if "scratches" in active:
        rng = streams["scratches"]
        use_cracks = rng.random() < 0.5
        ops.append(scratches(canvas, rng, config.scratches))
        if use_cracks:
            ops.append(cracks(canvas, rng, config.scratches))
    if "dust" in active:
        ops.append(dust(canvas, streams["dust"], config.dust))
    return canvas.composite(image)


def _check(rgb: np.ndarray) -> None:
    """A wrong array is a programming error; say so before any work."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(
            f"expected an H×W×3 uint8 array, got {getattr(rgb, 'dtype', None)} {getattr(rgb, 'shape', None)}"
        )
    if min(rgb.shape[:2]) < 8:
        raise ValueError(f"image too small to degrade: {rgb.shape[1]}×{rgb.shape[0]}")
