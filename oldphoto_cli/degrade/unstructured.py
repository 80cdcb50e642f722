"""The published unstructured degradation (preset ``paper``), operation for operation.

Microsoft's "Bringing Old Photos Back to Life" trains on clean photos degraded on the fly: the four
operations blur, noise, low resolution and JPEG, in a random order, each with probability 0.7,
then greyscale with probability 0.1. The parameter ranges, the libraries (OpenCV's Gaussian blur,
Pillow's resampling and JPEG encoder) and even the rounding (noise results are truncated to uint8,
not rounded) follow that code, so a network trained on our pairs sees the same distribution. Only
the random source differs: one numpy Generator, so a seed gives the same bytes every time.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

Operation = dict[str, object]

BLUR_KERNELS = (3, 5, 7)
BLUR_SIGMA = (1.0, 5.0)
NOISE_KINDS = ("gaussian", "speckle", "salt_pepper")
NOISE_SIGMA = (5.0, 50.0)  # on the 0-255 scale
SALT_PEPPER_AMOUNT = (0.0, 0.01)
SALT_SHARE = (0.3, 0.8)
JPEG_QUALITY = (40, 100)  # inclusive
UPSAMPLERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR}
#: The operations in the published code's numbering (the permutation of 0..3 picks their order).
OPERATION_NAMES = ("blur", "noise", "low_resolution", "jpeg")


def blur(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Operation]:
    """Gaussian blur with a 3, 5 or 7 pixel kernel and sigma uniform in [1, 5]."""
    kernel = int(rng.choice(BLUR_KERNELS))
    sigma = float(rng.uniform(*BLUR_SIGMA))
    out = cv2.GaussianBlur(rgb, (kernel, kernel), sigma)
    return out, {"op": "blur", "kernel": kernel, "sigma": sigma}


def noise(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Operation]:
    """One of Gaussian, speckle (both sigma 5-50 of 255) or salt-and-pepper, chosen evenly."""
    kind = NOISE_KINDS[int(rng.integers(0, 3))]
    if kind == "salt_pepper":
        amount, salt = float(rng.uniform(*SALT_PEPPER_AMOUNT)), float(rng.uniform(*SALT_SHARE))
        return salt_pepper(rgb, rng, amount, salt), {
            "op": "noise",
            "kind": kind,
            "amount": amount,
            "salt": salt,
        }
    sigma = float(rng.uniform(*NOISE_SIGMA))
    x = rgb.astype(np.float32) / np.float32(255)
    gauss = rng.standard_normal(rgb.shape, dtype=np.float32) * np.float32(sigma / 255)
    noisy = x + gauss * x if kind == "speckle" else x + gauss
    return _truncate(noisy), {"op": "noise", "kind": kind, "sigma": sigma}


def salt_pepper(rgb: np.ndarray, rng: np.random.Generator, amount: float, salt: float) -> np.ndarray:
    """Flip each channel value with probability ``amount``: to 255 with share ``salt``, else to 0.

    Per channel, as the published code does, so flipped pixels are mostly coloured, not grey.
    """
    flipped = rng.random(rgb.shape, dtype=np.float32) < amount
    salted = rng.random(rgb.shape, dtype=np.float32) < salt
    out = rgb.copy()
    out[flipped & salted] = 255
    out[flipped & ~salted] = 0
    return out


def _truncate(x: np.ndarray) -> np.ndarray:
    """Back to uint8 the published way: clip to [0, 1], scale, truncate (not round)."""
    return (np.clip(x, 0, 1) * np.float32(255)).astype(np.uint8)


def low_resolution(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Operation]:
    """Bicubic down to a size between half and full (each side drawn alone), back up nearest/bilinear."""
    h, w = rgb.shape[:2]
    small = (int(rng.integers(w // 2, w + 1)), int(rng.integers(h // 2, h + 1)))
    upsampler = "nearest" if rng.random() < 0.5 else "bilinear"
    image = Image.fromarray(rgb).resize(small, Image.BICUBIC).resize((w, h), UPSAMPLERS[upsampler])
    return np.asarray(image), {"op": "low_resolution", "size": list(small), "upsample": upsampler}


def jpeg(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Operation]:
    """Encode and decode as JPEG with quality 40-100, Pillow's default settings (4:2:0)."""
    quality = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        out = np.asarray(decoded.convert("RGB"))
    return out, {"op": "jpeg", "quality": quality}


OPERATIONS = (blur, noise, low_resolution, jpeg)


def apply_unstructured(
    rgb: np.ndarray, rng: np.random.Generator, probability: float = 0.7
) -> tuple[np.ndarray, list[Operation]]:
    """The four operations in a random order, each kept with ``probability``; returns what ran."""
    done: list[Operation] = []
    for index in rng.permutation(len(OPERATIONS)):
        if rng.random() < probability:
            rgb, record = OPERATIONS[index](rgb, rng)
            done.append(record)
    return np.ascontiguousarray(rgb), done


def to_greyscale(rgb: np.ndarray) -> np.ndarray:
    """Pillow's L conversion repeated into three channels, so clean and degraded pairs stay H×W×3."""
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
