"""Photos of one size restored as one batch (``restore --batch-size``): same results, bounded stacks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from stage_one import stage_one_pipeline

from oldphoto_cli.pipeline.bopbtl import BopbtlPipeline
from oldphoto_cli.pipeline.planning import (
    ACTIVATION_BYTES_PER_PIXEL,
    MAX_STACK_PIXELS,
    WHOLE_IMAGE_BYTES_PER_PIXEL,
    estimate_bytes,
    plan_run,
    stack_count,
)

GIB = 2**30


def stack_of(height: int, width: int, mode: str, budget: int, limit: int) -> int:
    """``stack_count`` for photos planned as the pipeline plans them, within ``budget``."""
    return stack_count(plan_run(height, width, mode, budget), mode, height, width, budget, limit)


class CountsBatches:
    """Wraps a real engine and records the batch size of every call."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.name = engine.name
        self.batches: list[int] = []

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        self.batches.append(inputs[0].shape[0])
        return self.engine(*inputs)


def pipeline(checkpoints, mode: str, need_detector: bool = True, accelerate: bool = True) -> BopbtlPipeline:
    """The stage-1 pipeline, its encoder counting the batches it is given."""
    pipe = stage_one_pipeline(checkpoints, mode, need_detector, accelerate)
    pipe.networks = replace(pipe.networks, encode=CountsBatches(pipe.networks.encode))
    return pipe


def crops(realworld_dir, names: list[str], size: tuple[int, int]) -> list[np.ndarray]:
    """Real scans scaled to ``size`` (width, height)."""
    out = []
    for name in names:
        with Image.open(realworld_dir / name) as img:
            out.append(np.asarray(img.convert("RGB").resize(size)))
    return out


@pytest.mark.parametrize("accelerate", [True, False], ids=["cpu-kernels", "pytorch-layers"])
def test_quality_stacks_by_size_and_equals_one_by_one(pipeline_checkpoints, realworld_dir, accelerate):
    """Both the CPU replacements and PyTorch's own layers (what a GPU runs) take stacks."""
    pipe = pipeline(pipeline_checkpoints, "quality", accelerate=accelerate)
    wide = crops(realworld_dir, ["old/a.png", "old/b.png", "old/c.png"], (128, 96))
    tall = crops(realworld_dir, ["old/d.png"], (96, 128))
    photos = [wide[0], tall[0], wide[1], wide[2]]

    stacked = pipe.restore_batch(photos, [None] * 4, limit=8)

    assert pipe.networks.encode.batches == [3, 1]  # the three 128×96 together, the other alone
    alone = [pipe.restore(rgb).image for rgb in photos]
    for s, a, rgb in zip(stacked, alone, photos):
        assert s.image.shape == rgb.shape and s.mask is None
        assert np.abs(s.image - a).max() < 0.5 / 255


def test_scratch_stacks_detect_each_photo_and_equal_one_by_one(pipeline_checkpoints, realworld_dir):
    pipe = pipeline(pipeline_checkpoints, "scratch")
    photos = crops(realworld_dir, ["old_w_scratch/a.png", "old_w_scratch/b.png"], (160, 128))

    stacked = pipe.restore_batch(photos, [None, None], limit=8)

    assert pipe.networks.encode.batches == [2]
    for s, rgb in zip(stacked, photos):
        alone = pipe.restore(rgb)
        assert np.array_equal(s.mask, alone.mask) and s.mask.any()
        difference = np.abs(s.image - alone.image) * 255
        assert difference.max() < 1.5 and difference.mean() < 0.05


def test_given_masks_are_used_and_the_limit_splits_a_stack(pipeline_checkpoints, realworld_dir):
    pipe = pipeline(pipeline_checkpoints, "scratch", need_detector=False)
    photos = crops(realworld_dir, ["old_w_scratch/c.png"] * 3, (128, 96))
    masks = [np.zeros((96, 128), bool) for _ in photos]
    masks[1][40:44, :] = True

    stacked = pipe.restore_batch(photos, masks, limit=2)

    assert pipe.networks.encode.batches == [2, 1]
    assert [s.mask.sum() for s in stacked] == [0, 4 * 128, 0]
    assert np.abs(stacked[0].image - stacked[2].image).max() < 1.5 / 255  # same photo, same mask
    assert np.abs(stacked[0].image - stacked[1].image).max() > 0.1  # the given scratch was filled


@pytest.mark.parametrize(
    ("side", "limit", "expected"),
    [(256, 8, 8), (256, 3, 3), (256, 1, 1), (700, 8, MAX_STACK_PIXELS // 700**2), (1024, 8, 1)],
)
def test_stacks_hold_at_most_the_limit_and_the_pixel_cap(side, limit, expected):
    assert stack_of(side, side, "quality", 16 * GIB, limit) == expected


@pytest.mark.parametrize("mode", ["quality", "scratch"])
def test_stacks_fit_the_memory_budget(mode):
    """One photo's whole estimate plus two more photos' activations: a stack of three, not eight
    (the attention's blocks of rows are counted once: they are taken one photo at a time)."""
    per_photo = (ACTIVATION_BYTES_PER_PIXEL + WHOLE_IMAGE_BYTES_PER_PIXEL) * 256 * 256
    budget = estimate_bytes(256, 256, mode) + WHOLE_IMAGE_BYTES_PER_PIXEL * 256 * 256 + 2 * per_photo
    assert stack_of(256, 256, mode, budget, 8) == 3
    assert stack_of(256, 256, mode, budget - per_photo // 2, 8) == 2


def test_photos_that_would_be_tiled_are_never_stacked():
    assert stack_of(2000, 2000, "quality", estimate_bytes(1024, 1024, "quality") * 2, 8) == 1


def test_cli_batch_size_restores_a_folder_like_one_by_one(pipeline_checkpoints, realworld_dir, tmp_path):
    """Four photos, three of one size: every output written, each as the one-by-one run's (up to
    float32 rounding, which a batched product may order differently)."""
    from cli_runner import oldphoto

    folder = tmp_path / "in"
    folder.mkdir()
    sizes = [(128, 96), (128, 96), (96, 128), (128, 96)]
    for index, (name, size) in enumerate(zip(["a", "b", "c", "d"], sizes)):
        with Image.open(realworld_dir / "old" / f"{name}.png") as img:
            img.convert("RGB").resize(size).save(folder / f"p{index}.png")
    common = ("--model", "bopbtl", "--weights", pipeline_checkpoints)
    for batch in ("1", "3"):
        result = oldphoto("restore", folder, "-o", tmp_path / f"out{batch}", "--batch-size", batch, *common)
        assert result.returncode == 0, result.stderr
    for index, size in enumerate(sizes):
        one, stacked = (Image.open(tmp_path / f"out{b}" / f"p{index}.png") for b in ("1", "3"))
        assert one.size == stacked.size == size
        difference = np.abs(np.asarray(one).astype(int) - np.asarray(stacked))
        assert difference.max() <= 1 and (difference > 0).mean() < 0.01  # rounding: the odd level


def test_a_stack_that_outgrows_the_gpu_runs_photo_by_photo(pipeline_checkpoints, realworld_dir):
    pipe = pipeline(pipeline_checkpoints, "quality")
    counting = pipe.networks.encode

    def refuses_stacks(*inputs: torch.Tensor) -> torch.Tensor:
        if inputs[0].shape[0] > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return counting(*inputs)

    refuses_stacks.name = counting.name
    refuses_stacks.module = counting.engine.module
    pipe.networks = type(pipe.networks)(**{**pipe.networks.__dict__, "encode": refuses_stacks})
    photos = crops(realworld_dir, ["old/a.png", "old/b.png"], (128, 96))

    results = pipe.restore_batch(photos, [None, None], limit=8)

    assert counting.batches == [1, 1]  # the stack of two was refused, then each ran alone
    for result, rgb in zip(results, photos):
        assert result.image.shape == rgb.shape
