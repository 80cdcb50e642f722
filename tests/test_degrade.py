"""``oldphoto_cli.degrade``: the paper preset's operation table, determinism, masks, speed."""

from __future__ import annotations

import io
import time
from collections import Counter
from dataclasses import replace

import cv2
import numpy as np
import pytest
from PIL import Image

from oldphoto_cli.degrade import FAMILIES, DegradeConfig, degrade, preset
from oldphoto_cli.degrade import unstructured as un
from oldphoto_cli.degrade.canvas import MASK_COVERAGE
from oldphoto_cli.degrade.dataset import plain_like
from oldphoto_cli.io import write_image

PAPER = preset("paper")
OLD = preset("old-print")
DRAWS = 200


def photo(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth synthetic photo with some detail: gradients plus a few discs."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w]
    img = np.stack([xs * 255 / w, ys * 255 / h, (xs + ys) * 127 / (h + w) + 64], axis=2)
    for _ in range(4):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(5, 20)
        img[(ys - cy) ** 2 + (xs - cx) ** 2 < r * r] = rng.integers(0, 255, 3)
    return img.astype(np.uint8)


def only(**strengths: float) -> DegradeConfig:
    """Structured families only (no unstructured ops), with the given strengths."""
    return replace(PAPER, unstructured=False).with_strengths(**strengths)


# ---- the paper's operation table ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(DRAWS))
def test_blur_parameters_in_range(seed: int) -> None:
    _, op = un.blur(photo(24, 24), np.random.default_rng(seed))
    assert op["kernel"] in (3, 5, 7) and 1.0 <= op["sigma"] <= 5.0


def test_each_paper_operation_stays_in_range_over_many_draws() -> None:
    img = photo(40, 50)
    kinds, kernels, upsamplers = Counter(), Counter(), Counter()
    qualities = []
    for seed in range(DRAWS):
        rng = np.random.default_rng(seed)
        _, b = un.blur(img, rng)
        kernels[b["kernel"]] += 1
        _, n = un.noise(img, rng)
        kinds[n["kind"]] += 1
        if n["kind"] == "salt_pepper":
            assert 0.0 <= n["amount"] <= 0.01 and 0.3 <= n["salt"] <= 0.8
        else:
            assert 5.0 <= n["sigma"] <= 50.0
        out, lr = un.low_resolution(img, rng)
        assert 25 <= lr["size"][0] <= 50 and 20 <= lr["size"][1] <= 40 and out.shape == img.shape
        upsamplers[lr["upsample"]] += 1
        out, j = un.jpeg(img, rng)
        assert 40 <= j["quality"] <= 100 and out.shape == img.shape
        qualities.append(j["quality"])
    assert set(kernels) == {3, 5, 7} and set(kinds) == set(un.NOISE_KINDS)
    assert min(kinds.values()) > DRAWS / 3 - 25
    assert abs(upsamplers["nearest"] - DRAWS / 2) < 30
    assert min(qualities) < 45 and max(qualities) > 95  # the whole range is used


def test_paper_ops_match_the_libraries_the_published_code_uses() -> None:
    img = photo()
    out, op = un.blur(img, np.random.default_rng(1))
    assert np.array_equal(out, cv2.GaussianBlur(img, (op["kernel"],) * 2, op["sigma"]))
    out, op = un.low_resolution(img, np.random.default_rng(2))
    resample = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR}[op["upsample"]]
    expected = Image.fromarray(img).resize(tuple(op["size"]), Image.BICUBIC).resize((128, 96), resample)
    assert np.array_equal(out, np.asarray(expected))
    out, op = un.jpeg(img, np.random.default_rng(3))
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="JPEG", quality=op["quality"])
    assert np.array_equal(out, np.asarray(Image.open(buffer).convert("RGB")))


def test_gaussian_noise_is_added_on_the_0_1_scale_and_truncated() -> None:
    img = photo()
    seed = next(s for s in range(100) if un.noise(img, np.random.default_rng(s))[1]["kind"] == "gaussian")
    out, op = un.noise(img, np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    rng.integers(0, 3), rng.uniform(5, 50)
    gauss = rng.standard_normal(img.shape, dtype=np.float32) * np.float32(op["sigma"] / 255)
    expected = (np.clip(img.astype(np.float32) / 255 + gauss, 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(out, expected)


def test_operation_frequencies_and_greyscale_share() -> None:
    img = photo(16, 16)
    counts: Counter = Counter()
    orders = set()
    n = 1000
    for seed in range(n):
        result = degrade(img, np.random.default_rng(seed), PAPER)
        names = [op["op"] for op in result.operations]
        counts.update(names)
        orders.add(tuple(x for x in names if x != "greyscale"))
        if result.greyscale:
            assert np.array_equal(result.image[..., 0], result.image[..., 2])
        assert not result.mask.any()  # the paper preset has no structured defects
    for name in un.OPERATION_NAMES:
        assert abs(counts[name] / n - 0.7) < 0.05, (name, counts[name])
    assert abs(counts["greyscale"] / n - 0.1) < 0.03
    assert len([o for o in orders if len(o) == 4]) == 24  # every order of the four occurs


# ---- determinism ----------------------------------------------------------------------------


def written(tmp_path, rgb: np.ndarray, name: str) -> bytes:
    path = tmp_path / name
    write_image(path, rgb, like=plain_like())
    return path.read_bytes()


@pytest.mark.parametrize("config", [PAPER, OLD], ids=["paper", "old-print"])
def test_same_seed_same_bytes_different_seed_different(tmp_path, config: DegradeConfig) -> None:
    img = photo(120, 160)
    a = degrade(img, np.random.default_rng(7), config)
    b = degrade(img, np.random.default_rng(7), config)
    c = degrade(img, np.random.default_rng(8), config)
    assert written(tmp_path, a.image, "a.png") == written(tmp_path, b.image, "b.png")
    assert np.array_equal(a.mask, b.mask) and a.operations == b.operations
    assert written(tmp_path, a.image, "a.png") != written(tmp_path, c.image, "c.png")


def test_turning_one_family_off_leaves_the_others_unchanged() -> None:
    img = photo(120, 160)
    seed = next(s for s in range(50) if _has(img, s, OLD, "dust") and _has(img, s, OLD, "scratches"))
    full = degrade(img, np.random.default_rng(seed), OLD.with_strengths(tears=0))
    no_dust = degrade(img, np.random.default_rng(seed), OLD.with_strengths(tears=0, dust=0))
    assert [op for op in full.operations if op["op"] != "dust"] == no_dust.operations


def _has(img: np.ndarray, seed: int, config: DegradeConfig, name: str) -> bool:
    return any(op["op"] == name for op in degrade(img, np.random.default_rng(seed), config).operations)


def test_output_is_three_channels_of_the_input_size() -> None:
    img = photo(77, 131)
    for seed in range(20):
        result = degrade(img, np.random.default_rng(seed), OLD)
        assert result.image.shape == img.shape and result.image.dtype == np.uint8
        assert result.mask.shape == img.shape[:2] and result.mask.dtype == bool


# ---- masks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["scratches", "dust", "creases"])
def test_marks_change_pixels_exactly_where_the_mask_says(family: str) -> None:
    flat = np.full((200, 260, 3), 128, np.uint8)
    config = only(**{family: 1.0})
    seeds = [s for s in range(40) if _has(flat, s, config, family)][:5]
    assert seeds
    for seed in seeds:
        result = degrade(flat, np.random.default_rng(seed), config)
        diff = np.abs(result.image.astype(int) - flat).max(axis=2)
        near_mask = cv2.dilate(result.mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        assert result.mask.any()
        if family == "creases":  # the fold's soft shading (under 40 levels) is not damage
            assert not (diff >= 40)[~near_mask].any()
            continue
        assert not (diff >= 3)[~near_mask].any()  # visible change only within 1 px of the mask
        # Every masked pixel changed, but where a bright and a dark mark cross they may cancel out.
        assert (diff[result.mask] >= MASK_COVERAGE * 100).mean() > 0.98


def test_tears_are_white_and_exactly_the_mask() -> None:
    img = photo(150, 200)
    config = only(tears=1.0)
    seed = next(s for s in range(40) if _has(img, s, config, "tears"))
    result = degrade(img, np.random.default_rng(seed), config)
    assert result.mask.any()
    assert (result.image[result.mask] == 255).all()
    assert np.array_equal(result.image[~result.mask], img[~result.mask])


def test_old_print_masks_stay_inside_the_image_and_are_not_everything() -> None:
    img = photo(120, 160)
    fractions = [degrade(img, np.random.default_rng(s), OLD).mask.mean() for s in range(30)]
    assert max(fractions) < 0.6 and sum(f > 0 for f in fractions) > 20


# ---- config and speed -----------------------------------------------------------------------


def test_config_validates_strengths_and_names() -> None:
    with pytest.raises(ValueError):
        DegradeConfig(scratches=-1)
    with pytest.raises(KeyError):
        OLD.with_strengths(sparkles=1.0)
    assert all(OLD.strength(f) == 1.0 for f in FAMILIES) and all(PAPER.strength(f) == 0 for f in FAMILIES)
    with pytest.raises(ValueError, match="known"):
        preset("new-print")


def test_one_megapixel_degrades_quickly() -> None:
    img = cv2.resize(photo(), (1155, 866))
    times = []
    for seed in range(3):
        start = time.perf_counter()
        degrade(img, np.random.default_rng(seed), OLD)
        times.append(time.perf_counter() - start)
    assert min(times) < 3.0, times
