"""Tiles with feathered seams, and the plan that picks whole image, patch attention or tiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from stage_one import stage_one_pipeline

from oldphoto_cli.errors import InsufficientMemoryError
from oldphoto_cli.pipeline.planning import (
    MAX_NONLOCAL_PIXELS,
    MAX_PREVIEW_PIXELS,
    MIN_TILE,
    OVERLAP,
    RunPlan,
    estimate_bytes,
    plan_run,
)
from oldphoto_cli.pipeline.tiling import feather, run_tiled, tile_boxes

GIB = 2**30


@pytest.mark.parametrize(
    ("height", "width", "tile", "overlap", "align"),
    [(1000, 700, 256, 64, 1), (300, 300, 512, 64, 1), (257, 1025, 128, 32, 1), (692, 1000, 384, 128, 4)],
)
def test_tiles_cover_the_image_with_at_least_the_overlap(height, width, tile, overlap, align):
    boxes = tile_boxes(height, width, tile, overlap, align)
    assert all(b.top % align == 0 and b.left % align == 0 for b in boxes)
    covered = np.zeros((height, width), int)
    for b in boxes:
        assert b.bottom - b.top <= tile and b.right - b.left <= tile
        covered[b.top : b.bottom, b.left : b.right] += 1
    assert covered.min() >= 1
    tops = sorted({b.top for b in boxes})
    bottoms = sorted({b.bottom for b in boxes})
    for upper_bottom, lower_top in zip(bottoms[:-1], tops[1:], strict=True):
        assert upper_bottom - lower_top >= overlap - align + 1


def test_feather_ramps_only_where_tiles_meet():
    boxes = tile_boxes(300, 300, 200, 50)
    corner = feather(boxes[0], 300, 300, 50)
    assert corner[0, 0] == 1.0  # image border: full weight
    assert corner[-1, -1] == 0.0 and corner[100, -1] == 0.0  # cut edges get no weight
    assert np.all(np.diff(corner[100, 150:]) <= 0)


def photo(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_pointwise_function_is_reproduced_exactly():
    rgb = photo(300, 410)
    tiled = run_tiled(rgb, lambda t, m: t.astype(np.float32) / 255.0, 128, 32)
    assert np.abs(tiled - rgb / 255.0).max() < 1e-6


def test_local_filter_shows_no_seams():
    """A 9×9 blur is wrong within 4 px of a cut edge; the guard band drops exactly those pixels."""
    rgb = photo(300, 410)

    def blur(tile: np.ndarray, _mask: np.ndarray | None) -> np.ndarray:
        x = torch.from_numpy(tile.astype(np.float32)).permute(2, 0, 1)[None]
        x = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, (4, 4, 4, 4), mode="reflect"), 9, 1)
        return x[0].permute(1, 2, 0).numpy()

    whole = blur(rgb, None)
    tiled = run_tiled(rgb, blur, 128, 48)
    inner = (slice(8, -8), slice(8, -8))  # the image border is reflected the same way in both
    assert np.abs(tiled[inner] - whole[inner]).max() < 1e-3


def test_tiles_receive_their_share_of_the_mask():
    rgb = photo(200, 260)
    mask = np.zeros((200, 260), bool)
    mask[50:60, :] = True
    tiled = run_tiled(rgb, lambda t, m: np.repeat(m[..., None], 3, axis=2).astype(np.float32), 96, 32, mask)
    assert np.array_equal(tiled[..., 0] > 0.5, mask)


def test_small_photos_run_whole_with_full_attention():
    plan = plan_run(448, 688, "scratch", budget=8 * GIB)
    assert not plan.tiled and plan.mode == "scratch"


def test_large_scratch_scans_prefer_patch_attention_when_it_is_here():
    plan = plan_run(1600, 1600, "scratch", budget=16 * GIB, hr_available=True)
    assert plan.mode == "scratch_hr" and not plan.tiled
    plan = plan_run(1600, 1600, "scratch", budget=16 * GIB, hr_available=False)
    assert plan.mode == "scratch" and plan.tiled  # full attention over 2.5 MP would take too long


@pytest.mark.parametrize("mode", ["quality", "scratch", "scratch_hr"])
def test_24_megapixels_fit_a_3_gib_budget_in_tiles(mode):
    plan = plan_run(4000, 6000, mode, budget=3 * GIB)
    assert plan.tiled
    assert plan.peak_bytes + 32 * 24_000_000 <= 3 * GIB
    preview_h, preview_w = plan.preview
    assert preview_h * preview_w <= min(MAX_PREVIEW_PIXELS, plan.tile**2)
    assert abs(preview_w / preview_h - 1.5) < 0.01
    assert estimate_bytes(preview_h, preview_w, mode) + 32 * 24_000_000 <= 3 * GIB


def test_estimates_grow_with_size_and_attention():
    assert estimate_bytes(512, 512, "quality") < estimate_bytes(1024, 1024, "quality")
    assert estimate_bytes(512, 512, "quality") < estimate_bytes(512, 512, "scratch")
    assert 1024 * 1024 < MAX_NONLOCAL_PIXELS


def test_a_budget_too_small_for_any_tile_is_refused_with_advice():
    with pytest.raises(InsufficientMemoryError, match=r"6000×4000.*--max-memory"):
        plan_run(4000, 6000, "quality", budget=100 * 2**20)


@pytest.mark.parametrize("mode", ["quality", "scratch", "scratch_hr"])
@pytest.mark.parametrize("side", [192, 512, 1024])
def test_whole_similarity_matrices_cost_at_least_blocks_of_rows(mode, side):
    """ONNX holds every matrix whole, so its estimate is never below the blocked PyTorch one."""
    onnx = estimate_bytes(side, side, mode, blocked_attention=False)
    assert onnx >= estimate_bytes(side, side, mode, blocked_attention=True)
    if mode != "quality" and side >= 512:
        assert onnx > estimate_bytes(side, side, mode, blocked_attention=True)


@pytest.mark.parametrize("mode", ["scratch", "scratch_hr"])
def test_onnx_tiles_are_the_largest_whose_own_estimate_fits(mode):
    budget = 2 * GIB
    usable = budget - 32 * 3000 * 2000
    plan = plan_run(3000, 2000, mode, budget, blocked_attention=False)
    assert plan.tiled and plan.peak_bytes == estimate_bytes(plan.tile, plan.tile, mode, False)
    assert plan.peak_bytes <= usable < estimate_bytes(plan.tile + 64, plan.tile + 64, mode, False)
    assert plan.tile < plan_run(3000, 2000, mode, budget).tile  # whole matrices: smaller tiles


@pytest.mark.parametrize("mode", ["scratch", "scratch_hr"])
@pytest.mark.parametrize("budget", [1 * GIB, 2 * GIB, 4 * GIB, 16 * GIB])
@pytest.mark.parametrize(("height", "width"), [(600, 800), (1600, 1600), (3000, 2000)])
def test_every_onnx_plan_fits_the_budget_by_the_onnx_estimate(mode, budget, height, width):
    """Whatever the planner picks for ONNX (whole, patch attention, tiles), the ONNX estimate of
    that very run fits: nothing else checks it later."""
    plan = plan_run(height, width, mode, budget, hr_available=True, blocked_attention=False)
    region = (height, width) if plan.tile is None else (plan.tile, plan.tile)
    assert plan.peak_bytes == estimate_bytes(*region, plan.mode, blocked_attention=False)
    assert plan.peak_bytes + 32 * height * width <= budget


def test_onnx_takes_patch_attention_only_when_its_whole_matrices_fit():
    """At 1600² the patch-attention matrices fit 16 GiB in PyTorch's blocked form, not whole."""
    blocked = plan_run(1600, 1600, "scratch", budget=16 * GIB, hr_available=True)
    whole = plan_run(1600, 1600, "scratch", 16 * GIB, hr_available=True, blocked_attention=False)
    assert blocked.mode == "scratch_hr" and not blocked.tiled
    assert estimate_bytes(1600, 1600, "scratch_hr", blocked_attention=False) > 16 * GIB
    assert whole.tiled and whole.peak_bytes + 32 * 1600 * 1600 <= 16 * GIB


def test_the_smallest_tile_is_wider_than_the_overlap():
    """A budget that only fits the smallest tile still gets tiles that tiling.py can lay out."""
    smallest = estimate_bytes(MIN_TILE, MIN_TILE, "scratch", blocked_attention=False)
    plan = plan_run(1000, 800, "scratch", smallest + 32 * 800_000, blocked_attention=False)
    assert plan.tile == MIN_TILE > OVERLAP
    assert tile_boxes(1000, 800, plan.tile, OVERLAP, align=4)


def test_tiled_bopbtl_equals_whole_when_one_tile_covers_the_photo(pipeline_checkpoints, realworld_dir):
    """The tiled path itself adds nothing: one tile over the whole photo is the whole-photo result."""
    pipe = stage_one_pipeline(pipeline_checkpoints, "quality", need_detector=False)
    with Image.open(realworld_dir / "old" / "g.png") as img:
        rgb = np.asarray(img.convert("RGB").resize((160, 120)))
    whole = pipe.restore(rgb).image
    tiled = run_tiled(rgb, lambda t, m: pipe._translate(t, m, pipe.networks.mapping), 256, 64)
    assert np.abs(tiled - whole).max() < 1e-6


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def test_tiles_with_shared_statistics_agree_with_the_whole_photo(pipeline_checkpoints, realworld_dir):
    """Quality mode on a photo small enough to run whole, cut into 2×2 tiles of 256².

    With the preview's norm statistics the tiles agree with the whole-photo result (measured:
    43 dB, under a level on average); each tile normalised on its own does not (12 dB), which is
    what the shared statistics are for.
    """
    pipe = stage_one_pipeline(pipeline_checkpoints, "quality", need_detector=False)
    with Image.open(realworld_dir / "old" / "g.png") as img:
        rgb = np.asarray(img.convert("RGB").resize((400, 300)))
    whole = pipe.run(RunPlan("quality", None, 0, "whole image"), rgb, None)
    shared = pipe.run(RunPlan("quality", 256, 0, "tiles", preview=(300, 400)), rgb, None)
    assert _psnr(shared, whole) > 38 and np.abs(shared - whole).mean() * 255 < 1.5
    alone = pipe.run(RunPlan("quality", 256, 0, "tiles", preview=None), rgb, None)
    assert _psnr(alone, whole) < 25


def test_tilings_that_share_a_scaled_preview_agree_with_each_other(pipeline_checkpoints, realworld_dir):
    """With a preview smaller than the photo (every photo above 1 MP), the stand-in weights move
    far from the whole-photo result (17 dB, measured), but every tile normalises alike, so two
    different tilings agree (measured: 37.7 dB): seams do not show."""
    pipe = stage_one_pipeline(pipeline_checkpoints, "quality", need_detector=False)
    with Image.open(realworld_dir / "old" / "g.png") as img:
        rgb = np.asarray(img.convert("RGB").resize((400, 300)))
    small = pipe.run(RunPlan("quality", 192, 0, "tiles", preview=(240, 320)), rgb, None)
    large = pipe.run(RunPlan("quality", 256, 0, "tiles", preview=(240, 320)), rgb, None)
    assert _psnr(small, large) > 34


def test_scratch_mode_tiles_agree_with_the_whole_photo_outside_scratches(pipeline_checkpoints, realworld_dir):
    """Attention inside a scratch sees one tile, not the photo; with no scratches, nothing differs
    but the tiles' cut receptive fields."""
    pipe = stage_one_pipeline(pipeline_checkpoints, "scratch", need_detector=False)
    with Image.open(realworld_dir / "old_w_scratch" / "a.png") as img:
        rgb = np.asarray(img.convert("RGB").resize((400, 304)))
    clean = np.zeros(rgb.shape[:2], bool)
    whole = pipe.run(RunPlan("scratch", None, 0, "whole image"), rgb, clean)
    tiled = pipe.run(RunPlan("scratch", 256, 0, "tiles", preview=(304, 400)), rgb, clean)
    assert _psnr(tiled, whole) > 38


def test_tiles_of_a_photo_off_the_networks_grid_come_back_at_its_size(pipeline_checkpoints, realworld_dir):
    """Sides that are not multiples of 4 are padded once for the tiles and cropped back; the
    preview is taken of the photo itself."""
    pipe = stage_one_pipeline(pipeline_checkpoints, "quality", need_detector=False)
    with Image.open(realworld_dir / "old" / "c.png") as img:
        rgb = np.asarray(img.convert("RGB").resize((250, 203)))
    whole = pipe.run(RunPlan("quality", None, 0, "whole image"), rgb, None)
    tiled = pipe.run(RunPlan("quality", 192, 0, "tiles", preview=(203, 250)), rgb, None)
    assert tiled.shape == whole.shape == (203, 250, 3)
    assert _psnr(tiled, whole) > 35


class RunsOutOfGpuMemory:
    """Wraps a real engine; raises PyTorch's CUDA out-of-memory error for inputs above ``pixels``
    (how a GPU whose memory the estimates overrated fails), and counts those failures."""

    def __init__(self, engine, pixels: int) -> None:
        self.engine, self.name, self.pixels, self.failures = engine, engine.name, pixels, 0
        self.module = engine.module  # so tiles still share the preview's norm statistics

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        if inputs[0].shape[-2] * inputs[0].shape[-1] > self.pixels:
            self.failures += 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.engine(*inputs)


def _short_of_gpu_memory(pipe, pixels: int):
    from dataclasses import replace

    encode = RunsOutOfGpuMemory(pipe.networks.encode, pixels)
    pipe.networks = replace(pipe.networks, encode=encode)
    return encode


def test_a_photo_that_outgrows_the_gpu_runs_again_in_smaller_tiles(pipeline_checkpoints, realworld_dir):
    """Planned whole, refused by the 'GPU': the photo comes back as a plain run of a tiled plan
    for half the memory would give it."""
    from dataclasses import replace

    pipe = stage_one_pipeline(pipeline_checkpoints, "quality", need_detector=False)
    with Image.open(realworld_dir / "old" / "g.png") as img:
        rgb = np.asarray(img.convert("RGB").resize((400, 300)))
    assert not pipe.plan(300, 400).tiled
    real = pipe.networks
    encode = _short_of_gpu_memory(pipe, 260 * 260)
    result = pipe.restore(rgb).image
    plan = pipe.last_plan
    assert encode.failures == 1 and plan.tiled and plan.tile <= 256
    pipe.networks = replace(real)
    assert np.array_equal(result, pipe.run(plan, rgb, None))


def test_when_no_tile_fits_the_gpu_the_error_says_so(pipeline_checkpoints, realworld_dir):
    from oldphoto_cli.errors import InsufficientMemoryError

    pipe = stage_one_pipeline(pipeline_checkpoints, "quality", need_detector=False)
    with Image.open(realworld_dir / "old" / "g.png") as img:
        rgb = np.asarray(img.convert("RGB").resize((400, 300)))
    _short_of_gpu_memory(pipe, 64 * 64)
    with pytest.raises(InsufficientMemoryError, match="GPU ran out of memory"):
        pipe.restore(rgb)
