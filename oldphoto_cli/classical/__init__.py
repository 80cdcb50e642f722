"""Weight-free ("classical") restoration of scanned photo prints.

Morphological scratch and dust detection, OpenCV inpainting, noise-adaptive non-local means,
gentle automatic levels, partial colour-cast removal and mild local contrast. Needs only NumPy and
OpenCV, so it works where no model weights are installed, and serves as a baseline for the
learned backends.
"""

from .denoise import estimate_noise_sigma
from .restore import ClassicalResult, restore_classical
from .scratches import detect_scratches

__all__ = ["ClassicalResult", "detect_scratches", "estimate_noise_sigma", "restore_classical"]
