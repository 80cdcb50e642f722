"""LPIPS and FID, the learned perceptual scores, used only when their weights are already here.

Both need ImageNet backbones (AlexNet for LPIPS, the TF-ported InceptionV3 for FID) that this tool
cannot ship or fetch. We never download: each scorer is offered only when its package imports and
its weight file is already in torch's hub cache (``$TORCH_HOME/hub/checkpoints``); otherwise the
results carry a note saying it was skipped and why. FID compares distributions, so it is computed
once per backend over all its restorations against all clean images (and is noisy with few).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"


def _cached(name: str) -> Path | None:
    """The weight file in torch's hub cache, if a previous download left it there."""
    import torch

    path = Path(torch.hub.get_dir()) / "checkpoints" / name
    return path if path.is_file() else None


def _missing(package: str, weights: str) -> str | None:
    """Why a scorer cannot run, or None when it can."""
    if importlib.util.find_spec(package) is None:
        return f"skipped: package {package!r} not installed"
    if _cached(weights) is None:
        return f"skipped: weights not available ({weights} not in torch's hub cache; not downloaded)"
    return None


def lpips_unavailable() -> str | None:
    """None when LPIPS (AlexNet) can run offline, else the note to report."""
    return _missing("lpips", ALEXNET_FILE) or _missing("torchvision", ALEXNET_FILE)


def fid_unavailable() -> str | None:
    """None when FID can run offline, else the note to report."""
    return _missing("pytorch_fid", INCEPTION_FILE)


def _to_tensor(rgb: np.ndarray):
    """H×W×3 uint8 → 1×3×H×W float in [0, 1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0


def lpips_scorer() -> Callable[[np.ndarray, np.ndarray], float]:
    """A function scoring two photos with LPIPS-Alex (lower = closer); call only when available."""
    import lpips
    import torch

    model = lpips.LPIPS(net="alex", verbose=False).eval()

    def score(a: np.ndarray, b: np.ndarray) -> float:
        with torch.no_grad():
            return float(model(_to_tensor(a) * 2 - 1, _to_tensor(b) * 2 - 1).item())

    return score


def fid(restored: list[np.ndarray], clean: list[np.ndarray]) -> float | None:
    """Fréchet Inception distance between two photo sets; None with fewer than two of each."""
    if min(len(restored), len(clean)) < 2:
        return None
    from pytorch_fid.fid_score import calculate_frechet_distance
    from pytorch_fid.inception import InceptionV3

    model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    stats = [_activation_stats(model, photos) for photos in (restored, clean)]
    return float(calculate_frechet_distance(*stats[0], *stats[1]))


def _activation_stats(model, photos: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the pool-3 features of a photo set."""
    import torch

    with torch.no_grad():
        features = np.stack([model(_to_tensor(p))[0].reshape(-1).numpy() for p in photos])
    return features.mean(axis=0), np.cov(features, rowvar=False)
