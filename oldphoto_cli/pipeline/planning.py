"""Deciding, before running, how a photo is restored within a memory budget.

Three ways to run stage 1, from most to least faithful to the published pipeline:

1. the whole image at once (with the full non-local block in scratch mode: exact, but its time
   grows with the square of the pixel count, so it is reserved for images up to about 2 MP);
2. the whole image with the patch-attention mapping (scratch mode, when its checkpoint is here):
   attention between patches only, for mid-sized scans;
3. overlapping tiles with feathered seams (pipeline/tiling.py): any size in bounded memory. The
   tiles share the instance-norm statistics of a preview, the photo scaled down to fit the budget
   (pipeline/tile_statistics.py); the plan says the preview's size.

Estimates are per pixel, measured with the stage-1 networks on the CPU (``oldphoto bench`` reports
the real peaks): activations of the VAEs and the 512-channel mapping network cost about 1,000 bytes
per image pixel (a 1024² quality restore peaks 1.14 GB above the loaded weights), counted as 1,100;
the non-local block adds its blocks of attention rows. On runtimes that hold whole
similarity matrices (ONNX) the attention is counted here too, and nowhere else: this estimate alone
decides whether a photo runs whole, with patch attention or in tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

from oldphoto_cli.errors import InsufficientMemoryError
from oldphoto_cli.networks.nonlocal_mapping import ATTENTION_CHUNK_BYTES
from oldphoto_cli.runtime.memory import format_bytes

ACTIVATION_BYTES_PER_PIXEL = 1100
FIXED_BYTES = 64 * 2**20
WHOLE_IMAGE_BYTES_PER_PIXEL = 32  # input, mask, detector map, accumulators: never tiled
MAX_NONLOCAL_PIXELS = 2_200_000  # beyond this the full non-local block takes minutes per photo
MAX_TILE = {"quality": 1024, "scratch": 512, "scratch_hr": 1024}
OVERLAP = 128  # pixels shared by neighbouring tiles: 32 latent positions
MIN_TILE = OVERLAP + 64  # a tile must be wider than what it shares (tiling.tile_boxes refuses else)
MIN_PREVIEW = 128  # the preview's shorter side, at least
# N×N float32 similarity matrices alive at once in the exported (ONNX) mapping graphs, as measured
# (peak resident memory) with ONNX Runtime's CPU provider. Non-local block: the L1 renormalisation's
# Div reads the masked softmax and its row norms Expand-ed to N×N while it writes its output (softmax
# input and output, two, are alive before that). Patch attention: ``masked_fill`` is a Where, which
# holds the similarity, a broadcast buffer and its output.
WHOLE_MATRIX_COPIES = 3
# Blocks of attention rows counted for the PyTorch non-local block: a 512² and a 640² scratch-mode
# restore peaked 1.44 and 1.42 GB above the loaded weights, which three blocks put at 1.11 and 1.26.
ROW_BLOCK_COPIES = 4
# The preview's pixels, at most: enough for stable statistics, a few seconds of work. It never has
# more pixels than a tile either, so it never needs more memory than the tiles do.
MAX_PREVIEW_PIXELS = 1_000_000
# Photos stacked into one batch hold this many pixels at most: a batch exists to keep a GPU busy
# with photos too small to do so alone, and one 2 MP photo already does.
MAX_STACK_PIXELS = 2_000_000


@dataclass(frozen=True)
class RunPlan:
    """How one photo is run: mapping ``mode``, whole image (``tile`` None) or tiles of ``tile``²,
    with the norm statistics of a ``preview`` (height, width) of the photo."""

    mode: str
    tile: int | None
    peak_bytes: int
    reason: str
    preview: tuple[int, int] | None = None

    @property
    def tiled(self) -> bool:
        return self.tile is not None


def estimate_bytes(height: int, width: int, mode: str, blocked_attention: bool = True) -> int:
    """Working memory of one stage-1 pass over a ``height × width`` region, on top of the weights.

    ``blocked_attention=False`` for runtimes that hold the whole attention matrix (ONNX).
    """
    pixels = height * width
    return (
        FIXED_BYTES
        + ACTIVATION_BYTES_PER_PIXEL * pixels
        + attention_scratch_bytes(height, width, mode, blocked_attention)
    )


def attention_scratch_bytes(height: int, width: int, mode: str, blocked_attention: bool) -> int:
    """The similarity matrices of ``mode``'s attention over a ``height × width`` region.

    They grow with the square of the pixels, so they are what decides between whole image and tiles.
    """
    latent = (height // 4) * (width // 4)
    if mode == "scratch":
        matrix = 4 * latent * latent  # every latent position against every other
        whole = WHOLE_MATRIX_COPIES * matrix
        # blocks of rows never hold more than the whole matrix would (small images: one block)
        return min(ROW_BLOCK_COPIES * ATTENTION_CHUNK_BYTES, whole) if blocked_attention else whole
    if mode == "scratch_hr":
        matrix = latent * latent // 4  # 4 bytes × P² for the P = latent/4 finest (2×2) patches
        # PyTorch compares damaged with clean patches only, one matrix at worst; ONNX every pair.
        return matrix if blocked_attention else WHOLE_MATRIX_COPIES * matrix
    return 0


def plan_run(
    height: int,
    width: int,
    mode: str,
    budget: int,
    hr_available: bool = False,
    blocked_attention: bool = True,
) -> RunPlan:
    """The most faithful way to run ``mode`` on this size whose estimate fits in ``budget`` bytes.

    ``budget`` is what the run may add to the memory already in use (weights, runtime).
    """
    pixels = height * width
    usable = budget - WHOLE_IMAGE_BYTES_PER_PIXEL * pixels
    whole = estimate_bytes(height, width, mode, blocked_attention)
    too_slow = mode == "scratch" and pixels > MAX_NONLOCAL_PIXELS
    if whole <= usable and not too_slow:
        return RunPlan(mode, None, whole, "whole image")
    if mode == "scratch" and hr_available:
        patch = estimate_bytes(height, width, "scratch_hr", blocked_attention)
        if patch <= usable:
            return RunPlan("scratch_hr", None, patch, "whole image, patch attention")
    tile = _largest_tile(mode, usable, blocked_attention)
    if tile is None:
        need = WHOLE_IMAGE_BYTES_PER_PIXEL * pixels + estimate_bytes(
            MIN_TILE, MIN_TILE, mode, blocked_attention
        )
        raise InsufficientMemoryError(
            f"restoring a {width}×{height} photo needs at least {format_bytes(need)} more memory, "
            f"but the budget allows {format_bytes(max(budget, 0))}; raise --max-memory or free memory"
        )
    why = "full attention would be too slow" if too_slow and whole <= usable else "memory"
    preview = preview_size(height, width, mode, max(usable, 0), blocked_attention, tile * tile)
    peak = estimate_bytes(tile, tile, mode, blocked_attention)
    return RunPlan(mode, tile, peak, f"tiles ({why})", preview)


def preview_size(
    height: int,
    width: int,
    mode: str,
    usable: int,
    blocked_attention: bool = True,
    max_pixels: int = MAX_PREVIEW_PIXELS,
) -> tuple[int, int]:
    """The largest scaled-down copy of the photo (same aspect) that fits ``usable`` bytes whole and
    has at most ``max_pixels`` (and MAX_PREVIEW_PIXELS); its norm statistics stand for the photo's."""
    limit = min(max_pixels, MAX_PREVIEW_PIXELS)
    scale = min(1.0, (limit / (height * width)) ** 0.5)
    while True:
        size = max(MIN_PREVIEW, round(height * scale)), max(MIN_PREVIEW, round(width * scale))
        if estimate_bytes(*size, mode, blocked_attention) <= usable or min(size) <= MIN_PREVIEW:
            return size
        scale *= 0.9


def _largest_tile(mode: str, usable: int, blocked_attention: bool) -> int | None:
    """The largest tile side (a multiple of 64, at most MAX_TILE) whose estimate fits."""
    for side in range(MAX_TILE[mode], MIN_TILE - 1, -64):
        if estimate_bytes(side, side, mode, blocked_attention) <= usable:
            return side
    return None


def stack_count(
    plan: RunPlan, mode: str, height: int, width: int, budget: int, limit: int, blocked_attention: bool = True
) -> int:
    """How many ``height × width`` photos, each planned as ``plan`` for ``mode`` within ``budget``,
    may run as one batch (1: each on its own).

    Only photos that run whole with ``mode``'s own mapping are stacked, at most ``limit`` and
    MAX_STACK_PIXELS in all, and only as many as fit ``budget`` together: activations grow with
    the stack, the attention's blocks of rows do not (they are taken one photo at a time).
    """
    if plan.tiled or plan.mode != mode or limit < 2:
        return 1
    pixels = height * width
    attention = attention_scratch_bytes(height, width, mode, blocked_attention)
    per_photo = (ACTIVATION_BYTES_PER_PIXEL + WHOLE_IMAGE_BYTES_PER_PIXEL) * pixels
    if not blocked_attention:
        per_photo += attention  # whole matrices are held for every photo of the stack
    fits = (budget - FIXED_BYTES - (attention if blocked_attention else 0)) // per_photo
    return int(max(1, min(limit, MAX_STACK_PIXELS // pixels, fits)))


def halved_budget(plan: RunPlan, height: int, width: int) -> int:
    """A budget under which a ``height × width`` photo gets a plan with half of ``plan``'s working
    memory above the fixed part: for a second try when a run outgrew its estimate (on a GPU)."""
    whole_image = WHOLE_IMAGE_BYTES_PER_PIXEL * height * width
    return FIXED_BYTES + max(plan.peak_bytes - FIXED_BYTES, 0) // 2 + whole_image
