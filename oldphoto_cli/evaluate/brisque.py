"""BRISQUE (Mittal, Moorthy and Bovik, 2012): a no-reference quality score, lower is better.

OpenCV's contrib ``quality`` module (in ``opencv-contrib-python-headless``, our OpenCV package)
computes it; the trained model is two YAML files that OpenCV does not put in its wheels. Debian
and Ubuntu ship them in ``opencv-data`` (``/usr/share/opencv4/quality``); elsewhere point
``--brisque-model`` or ``OLDPHOTO_BRISQUE_MODEL`` at a folder holding them (they are in the
opencv_contrib repository, ``modules/quality/samples``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

MODEL_FILE = "brisque_model_live.yml"
RANGE_FILE = "brisque_range_live.yml"
SYSTEM_FOLDERS = (
    Path("/usr/share/opencv4/quality"),
    Path("/usr/local/share/opencv4/quality"),
    Path("/usr/share/opencv/quality"),
)
UNAVAILABLE = (
    "BRISQUE unavailable: install Debian/Ubuntu's opencv-data or pass --brisque-model DIR "
    f"(a folder with {MODEL_FILE} and {RANGE_FILE})"
)


@dataclass(frozen=True)
class BrisqueModel:
    model: Path
    range: Path

    @property
    def source(self) -> Path:
        return self.model.parent


def _in(folder: Path) -> BrisqueModel | None:
    model, limits = folder / MODEL_FILE, folder / RANGE_FILE
    return BrisqueModel(model, limits) if model.is_file() and limits.is_file() else None


def find_brisque_model(folder: Path | None = None) -> BrisqueModel | None:
    """The model in ``folder`` (which must hold it), else ``OLDPHOTO_BRISQUE_MODEL``, else the system's."""
    if not hasattr(cv2, "quality"):
        return None
    explicit = folder or (
        Path(os.environ["OLDPHOTO_BRISQUE_MODEL"]) if os.environ.get("OLDPHOTO_BRISQUE_MODEL") else None
    )
    if explicit is not None:
        found = _in(explicit)
        if found is None:
            raise FileNotFoundError(f"{explicit}: no {MODEL_FILE} and {RANGE_FILE} there")
        return found
    return next((m for m in map(_in, SYSTEM_FOLDERS) if m is not None), None)


def brisque(rgb: np.ndarray, model: BrisqueModel) -> float:
    """BRISQUE score of an H×W×3 uint8 RGB photo (about 0 to 100; lower is better)."""
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    return float(cv2.quality.QualityBRISQUE_compute(bgr, str(model.model), str(model.range))[0])
