"""Behaviour of the weight-free classical restoration backend on real pixel data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from oldphoto_cli.classical import ClassicalResult, detect_scratches, estimate_noise_sigma, restore_classical
from oldphoto_cli.classical.image import luma

REALWORLD = Path(__file__).resolve().parents[1].parent / "shared" / "realworld"
SIZE = 384


def clean_image() -> np.ndarray:
    """A smooth, full-range, roughly neutral picture: gradients, a disc, a bar and a soft blob."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    base = 2 + 250 * (0.6 * x + 0.4 * y)
    img = np.stack([base, base * 0.97 + 4, base * 0.94 + 8], axis=2)
    cv2.circle(img, (250, 130), 60, (210, 190, 160), -1)
    cv2.rectangle(img, (40, 250), (170, 330), (60, 80, 110), -1)
    blob = np.exp(-(((x - 0.3) ** 2 + (y - 0.3) ** 2) / 0.01))[..., None] * np.array([40, 20, -20])
    img = cv2.GaussianBlur(img + blob, (0, 0), 2.0)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def damage(clean: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Thin bright and dark scratches and a few dust specks, plus Gaussian grain.

    Returns the damaged image and the boolean map of the drawn defects."""
    rng = np.random.default_rng(seed)
    img = clean.astype(np.float32)
    drawn = np.zeros(clean.shape[:2], np.uint8)
    lines = [
        ((20, 40), (360, 120), 2, 235),
        ((60, 370), (300, 10), 1, 240),
        ((200, 360), (370, 200), 2, 230),
        ((30, 200), (220, 230), 1, 10),
        ((330, 30), (280, 370), 2, 15),
    ]
    for start, end, width, value in lines:
        layer = np.zeros_like(drawn)
        cv2.line(layer, start, end, 1, width)
        img[layer > 0] = value
        drawn |= layer
    for cx, cy in [(100, 90), (320, 300), (150, 180), (60, 330), (240, 250)]:
        layer = np.zeros_like(drawn)
        cv2.circle(layer, (cx, cy), 2, 1, -1)
        img[layer > 0] = 245
        drawn |= layer
    img += rng.normal(0.0, 4.0, img.shape[:2])[..., None]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), drawn.astype(bool)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


@pytest.fixture(scope="module")
def synthetic() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    clean = clean_image()
    damaged, drawn = damage(clean)
    return clean, damaged, drawn


def test_detection_finds_drawn_scratches_and_little_else(synthetic):
    _, damaged, drawn = synthetic
    mask = detect_scratches(damaged)
    assert mask.shape == drawn.shape and mask.dtype == bool
    recall = (mask & drawn).sum() / drawn.sum()
    # Pixels next to a drawn defect are allowed: the mask is deliberately grown a little.
    near = cv2.dilate(drawn.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    false_positive_rate = (mask & ~near).sum() / (~near).sum()
    assert recall > 0.7, recall
    assert false_positive_rate < 0.02, false_positive_rate


def test_restore_improves_psnr_over_damaged(synthetic):
    clean, damaged, _ = synthetic
    result = restore_classical(damaged)
    assert psnr(result.image, clean) >= psnr(damaged, clean) + 3.0


def test_clean_image_passes_nearly_unchanged():
    clean = clean_image()
    result = restore_classical(clean)
    assert psnr(result.image, clean) > 30.0
    assert result.mask is not None and result.mask.mean() < 0.005


def test_output_shape_dtype_and_result_type(synthetic):
    _, damaged, _ = synthetic
    odd = np.ascontiguousarray(damaged[:301, :257])
    result = restore_classical(odd, scratch=False)
    assert isinstance(result, ClassicalResult)
    assert result.image.shape == odd.shape and result.image.dtype == np.uint8
    assert result.mask is None
    with pytest.raises(AttributeError):
        result.image = odd  # frozen


def test_greyscale_in_gives_equal_channels_out(synthetic):
    _, damaged, _ = synthetic
    grey = np.repeat(cv2.cvtColor(damaged, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    out = restore_classical(grey).image
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


def test_given_mask_replaces_detection(synthetic):
    clean, damaged, drawn = synthetic
    box = np.zeros(drawn.shape, bool)
    box[100:110, 100:200] = True
    result = restore_classical(damaged, mask=box, scratch=True)
    assert np.array_equal(result.mask, box)
    # The drawn scratches outside the given mask are left in place (not detected and filled).
    far = drawn & ~cv2.dilate(box.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    detected = restore_classical(damaged).image
    left = np.abs(result.image.astype(int) - clean)[far].mean()
    filled = np.abs(detected.astype(int) - clean)[far].mean()
    assert left > 2 * filled
    # And with scratch=False a given mask is still used.
    assert np.array_equal(restore_classical(damaged, mask=box, scratch=False).mask, box)


def test_bad_inputs_are_rejected(synthetic):
    _, damaged, _ = synthetic
    with pytest.raises(ValueError):
        restore_classical(damaged.astype(np.float32))
    with pytest.raises(ValueError):
        restore_classical(damaged, mask=np.zeros((5, 5), bool))
    with pytest.raises(ValueError):
        restore_classical(damaged, strength=-1.0)


def test_noise_estimate_tracks_added_noise():
    clean = clean_image()
    rng = np.random.default_rng(1)
    base = estimate_noise_sigma(luma(clean))
    noisy = np.clip(clean + rng.normal(0, 6.0, clean.shape[:2])[..., None], 0, 255).astype(np.uint8)
    assert base < 1.0
    assert 4.5 < estimate_noise_sigma(luma(noisy)) < 7.5


def _realworld_scans() -> list[Path]:
    return sorted(REALWORLD.glob("*/*.png")) if REALWORLD.is_dir() else []


@pytest.mark.skipif(not _realworld_scans(), reason="shared/realworld scans not available")
def test_realworld_scans_get_less_noisy_and_stay_recognisable():
    for path in _realworld_scans():
        rgb = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGBA"))[..., :3])
        out = restore_classical(rgb, scratch="scratch" in path.parent.name).image
        before, after = luma(rgb), luma(out)
        # Compare noise relative to the tonal range, since levels stretch grain along with detail.
        span_before = np.subtract(*np.percentile(before, [99, 1]))
        span_after = np.subtract(*np.percentile(after, [99, 1]))
        snr_before = estimate_noise_sigma(before) / span_before
        snr_after = estimate_noise_sigma(after) / span_after
        assert snr_after < snr_before, path
        assert span_after >= span_before - 1.0, path
        assert np.abs(out.astype(np.int16) - rgb).mean() < 30.0, path


@pytest.mark.parametrize("value", [0, 128, 255])
def test_flat_image_is_left_alone(value):
    flat = np.full((40, 64, 3), value, np.uint8)
    assert np.array_equal(restore_classical(flat).image, flat)
