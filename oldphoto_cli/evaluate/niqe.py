"""NIQE (Mittal, Soundararajan and Bovik, "Making a completely blind image quality analyzer", 2013).

NIQE measures how far a photo's local statistics lie from those of a corpus of pristine natural
images: lower is more natural. The corpus is summarised by a 36-dimensional mean and covariance
(the "pristine parameters") that we do not ship: they are read from a file the user has, by
default the ``niqe_pris_params.npz`` inside an installed ``basicsr`` package (found on disk,
never imported, since importing basicsr drags in torchvision), or any .npz with the arrays
``mu_pris_param`` (1×36) and ``cov_pris_param`` (36×36) named by ``--niqe-params`` or
``OLDPHOTO_NIQE_PARAMS``.

The computation follows the authors' MATLAB release (``computequality.m``): MATLAB's rgb2gray,
crop to whole 96×96 blocks, two scales (the second by MATLAB's antialiased bicubic ``imresize``
to half size), MSCN coefficients with a 7×7 Gaussian of sigma 7/6 and replicated borders, 18
AGGD features per block and scale, and the Mahalanobis-like distance with the averaged covariance.
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

BLOCK = 96
ENV_VAR = "OLDPHOTO_NIQE_PARAMS"
_GAMMAS = np.arange(0.2, 10.001, 0.001)
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


@dataclass(frozen=True)
class NiqeModel:
    """The pristine corpus statistics and the file they came from (reported for provenance)."""

    mu: np.ndarray
    cov: np.ndarray
    source: Path


def find_niqe_params(explicit: Path | None = None) -> Path | None:
    """The parameter file to use: the explicit one, the environment's, else basicsr's; or None."""
    if explicit is not None:
        return explicit
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return _basicsr_params()


def _basicsr_params() -> Path | None:
    """basicsr's copy of the MATLAB parameters, located without executing the package."""
    try:
        spec = importlib.util.find_spec("basicsr")
    except (ImportError, ValueError):
        return None
    for root in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(root) / "metrics" / "niqe_pris_params.npz"
        if candidate.is_file():
            return candidate
    return None


def load_niqe_model(path: Path) -> NiqeModel:
    """Read the two arrays without unpickling anything; a malformed file raises ``ValueError``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            mu = np.asarray(data["mu_pris_param"], np.float64).reshape(-1)
            cov = np.asarray(data["cov_pris_param"], np.float64)
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: not a NIQE parameter file ({exc})") from exc
    if mu.shape != (36,) or cov.shape != (36, 36):
        raise ValueError(f"{path}: expected a 36-vector and a 36×36 matrix, got {mu.shape}, {cov.shape}")
    return NiqeModel(mu, cov, Path(path))


def niqe(rgb: np.ndarray, model: NiqeModel) -> float | None:
    """NIQE of an RGB (or grey) uint8 photo; None when it holds fewer than two 96×96 blocks."""
    grey = _matlab_gray(rgb)
    rows, cols = (s // BLOCK * BLOCK for s in grey.shape)
    if (rows // BLOCK) * (cols // BLOCK) < 2:
        return None
    image = grey[:rows, :cols]
    features = np.hstack([_scale_features(image, BLOCK), _scale_features(_half(image), BLOCK // 2)])
    return _distance(features, model)


def _matlab_gray(rgb: np.ndarray) -> np.ndarray:
    """MATLAB's rgb2gray on uint8, rounded as MATLAB does, as float64."""
    array = np.asarray(rgb, np.float64)
    if array.ndim == 2:
        return array
    return np.round(array[..., :3] @ np.array([0.298936021293775, 0.587043074451121, 0.114020904255103]))


def _scale_features(image: np.ndarray, block: int) -> np.ndarray:
    """18 features for every block of the MSCN map, one row per block (row-major order)."""
    mscn = _mscn(image)
    rows = []
    for top in range(0, image.shape[0], block):
        for left in range(0, image.shape[1], block):
            rows.append(_block_features(mscn[top : top + block, left : left + block]))
    return np.array(rows)


def _mscn(image: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients: what natural scenes make Gaussian-like."""
    window = _gaussian_window()
    mu = cv2.filter2D(image, cv2.CV_64F, window, borderType=cv2.BORDER_REPLICATE)
    var = cv2.filter2D(image * image, cv2.CV_64F, window, borderType=cv2.BORDER_REPLICATE) - mu * mu
    return (image - mu) / (np.sqrt(np.abs(var)) + 1.0)


def _gaussian_window() -> np.ndarray:
    """MATLAB's fspecial('gaussian', 7, 7/6)."""
    axis = np.arange(-3, 4, dtype=np.float64)
    g = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * (7 / 6) ** 2))
    return g / g.sum()


def _block_features(block: np.ndarray) -> list[float]:
    """AGGD shape and scale of the coefficients and of their four neighbour products."""
    alpha, left, right = _aggd(block)
    features = [alpha, (left + right) / 2]
    for shift in _SHIFTS:
        alpha, left, right = _aggd(block * np.roll(block, shift, axis=(0, 1)))
        mean = (right - left) * math.exp(math.lgamma(2 / alpha) - math.lgamma(1 / alpha))
        features += [alpha, mean, left, right]
    return features


def _aggd(values: np.ndarray) -> tuple[float, float, float]:
    """Moment-matching fit of an asymmetric generalised Gaussian, on MATLAB's 0.001 grid of shapes."""
    v = values.ravel()
    left_std = math.sqrt(np.mean(v[v < 0] ** 2))
    right_std = math.sqrt(np.mean(v[v > 0] ** 2))
    gamma_hat = left_std / right_std
    r_hat = np.mean(np.abs(v)) ** 2 / np.mean(v**2)
    r_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    alpha = float(_GAMMAS[np.argmin((_r_table() - r_norm) ** 2)])
    scale = math.sqrt(math.exp(math.lgamma(1 / alpha) - math.lgamma(3 / alpha)))
    return alpha, left_std * scale, right_std * scale


_R_TABLE: list[np.ndarray] = []


def _r_table() -> np.ndarray:
    """Γ(2/a)² / (Γ(1/a) Γ(3/a)) over the grid of shapes, computed once."""
    if not _R_TABLE:
        lg = np.vectorize(math.lgamma)
        _R_TABLE.append(np.exp(2 * lg(2 / _GAMMAS) - lg(1 / _GAMMAS) - lg(3 / _GAMMAS)))
    return _R_TABLE[0]


def _half(image: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(im, 0.5)``: bicubic (a = -0.5) widened to 8 taps to antialias, mirrored edges."""
    return _half_axis(_half_axis(image, 0), 1)


def _half_axis(image: np.ndarray, axis: int) -> np.ndarray:
    """Half-size along one axis: output j sits at input 2j + 0.5, taps at distances ±0.5 … ±3.5."""
    distances = np.arange(3.5, -4.0, -1.0)  # taps at input indices 2j-3 … 2j+4
    weights = _cubic(distances / 2)
    weights /= weights.sum()
    moved = np.moveaxis(image, axis, 0)
    padded = np.concatenate([moved[3::-1], moved, moved[:-5:-1]], axis=0)  # MATLAB's symmetric pad
    count = moved.shape[0] // 2
    out = sum(w * padded[k + 1 : k + 1 + 2 * count : 2] for k, w in enumerate(weights))
    return np.moveaxis(out, 0, axis)


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5, as MATLAB's imresize uses."""
    ax = np.abs(x)
    near = 1.5 * ax**3 - 2.5 * ax**2 + 1
    far = -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2
    return np.where(ax <= 1, near, np.where(ax <= 2, far, 0.0))


def _distance(features: np.ndarray, model: NiqeModel) -> float:
    """sqrt((μp − μd)ᵀ pinv((Σp + Σd)/2) (μp − μd)), ignoring NaN features as MATLAB's nanmean does."""
    mu = np.nanmean(features, axis=0)
    cov = np.cov(features[~np.isnan(features).any(axis=1)], rowvar=False)
    diff = model.mu - mu
    return float(math.sqrt(diff @ np.linalg.pinv((model.cov + cov) / 2) @ diff))
