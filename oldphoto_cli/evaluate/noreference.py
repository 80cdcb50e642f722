"""No-reference scores, for real photos that have no clean original to compare with.

Two learned scores, each when its model files are at hand: NIQE (see ``niqe``) and BRISQUE (see
``brisque``). Whatever is available, four simple indicators are always reported, each cheap,
deterministic and easy to read:

- ``noise_sigma``: Immerkær's fast noise estimate (1996) on luma, in grey levels; grain and
  sensor noise raise it, denoising lowers it (over-smoothing too, so read it with sharpness).
- ``sharpness``: variance of the Laplacian of luma; blur lowers it, noise raises it.
- ``colourfulness``: Hasler and Süsstrunk (2003); fading and colour casts lower it.
- ``dynamic_range``: 99th minus 1st percentile of luma; faded prints span less of 0–255.

They are indicators of *change*, not of quality: compare them between an input and its
restorations, never across unrelated photos.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from oldphoto_cli.evaluate.brisque import BrisqueModel, brisque
from oldphoto_cli.evaluate.metrics import luma
from oldphoto_cli.evaluate.niqe import NiqeModel, niqe

_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)


def noise_sigma(rgb: np.ndarray) -> float:
    """Immerkær's estimate: a Laplacian-difference kernel cancels smooth image content."""
    y = luma(rgb)
    height, width = y.shape
    response = cv2.filter2D(y, cv2.CV_64F, _IMMERKAER)[1:-1, 1:-1]
    return float(math.sqrt(math.pi / 2) * np.sum(np.abs(response)) / (6 * (width - 2) * (height - 2)))


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian of luma: the classic focus measure."""
    return float(np.var(cv2.Laplacian(luma(rgb), cv2.CV_64F)))


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler–Süsstrunk M = σ_rgyb + 0.3 μ_rgyb over the opponent channels rg and yb."""
    r, g, b = (np.asarray(rgb, np.float64)[..., c] for c in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    spread = math.hypot(float(np.std(rg)), float(np.std(yb)))
    return spread + 0.3 * math.hypot(float(np.mean(rg)), float(np.mean(yb)))


def dynamic_range(rgb: np.ndarray) -> float:
    """Span of luma between the 1st and 99th percentiles, robust to a few specks."""
    low, high = np.percentile(luma(rgb), [1, 99])
    return float(high - low)


def no_reference_scores(
    rgb: np.ndarray, model: NiqeModel | None, brisque_model: BrisqueModel | None = None
) -> dict[str, float | None]:
    """Every no-reference score of one photo, by report column; a learned score is None without its model."""
    return {
        "niqe": niqe(rgb, model) if model is not None else None,
        "brisque": brisque(rgb, brisque_model) if brisque_model is not None else None,
        "noise_sigma": noise_sigma(rgb),
        "sharpness": sharpness(rgb),
        "colourfulness": colourfulness(rgb),
        "dynamic_range": dynamic_range(rgb),
    }
