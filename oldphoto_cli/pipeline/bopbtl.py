"""Stage 1 of "Bringing Old Photos Back to Life", composed in one process.

Quality mode: VAE_A encoder → mapping network → VAE_B decoder. Scratch mode: the U-Net finds
scratches (on a greyscale copy scaled to a 256-pixel short side, sigmoid ≥ 0.4), the scratches are
filled with white, and the masked non-local mapping (or, with ``hr``, the patch-attention mapping on
a mask dilated three times) translates the latent. The arithmetic follows the published code step by
step so that, with the same checkpoint files, the outputs agree; the one deliberate difference is
geometry: the published code resizes to multiples of 4 (16 with scratches), we pad and crop back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from oldphoto_cli.errors import InsufficientMemoryError
from oldphoto_cli.networks import (
    VAE,
    MappingNetwork,
    NonLocalMappingNetwork,
    PatchAttentionMappingNetwork,
    ScratchDetectionUNet,
)
from oldphoto_cli.pipeline.geometry import crop_to, pad_to_multiple
from oldphoto_cli.pipeline.planning import OVERLAP, RunPlan, halved_budget, plan_run, stack_count
from oldphoto_cli.pipeline.tile_statistics import recorded_statistics, shared_statistics
from oldphoto_cli.pipeline.tiling import run_tiled
from oldphoto_cli.registry.checkpoint import load_checkpoint, uninitialised
from oldphoto_cli.runtime.engines import Engine, TorchEngine
from oldphoto_cli.runtime.memory import run_budget
from oldphoto_cli.runtime.precision import use_ieee_float32
from oldphoto_cli.runtime.winograd import DEFAULT_OPTIONS, WinogradOptions

DETECTION_THRESHOLD = 0.4
DETECTION_SHORT_SIDE = 256
HR_MASK_DILATIONS = 3
QUALITY_MULTIPLE = 4
SCRATCH_MULTIPLE = 16

MODES = ("quality", "scratch", "scratch_hr")
# How each mode's mapping runs its Winograd convolutions on the CPU (runtime/winograd.py). The
# masked non-local block amplifies rounding: with 6×6 tiles its chain ends 1.4e-3 from the reference
# vectors (the tolerance is 1e-3), with 4×4 tiles and sums of 256 channels 6.3e-4 through oneDNN
# and 7.7e-4 through MKL (one sum, oneDNN: 9.3e-4). The other mappings take 6×6 tiles and one sum
# over all 512 channels (3.7e-4 at most, against 3.4e-4 with two sums; 4.1e-4 once the norms take
# their moments from the convolutions), which saves a tenth of their time.
MAPPING_WINOGRAD = {
    "quality": WinogradOptions(6, channels_per_sum=None),
    # the norms compute their own moments here: taken by the convolutions, the masked non-local
    # chain went from 7.7e-4 to 8.9e-4 of the reference vectors (MKL), too near the 1e-3 allowed
    "scratch": WinogradOptions(4, channels_per_sum=256, hand_moments=False),
    "scratch_hr": WinogradOptions(6, channels_per_sum=None),
}
# Networks that stay float32 under --precision fp16/bf16, by mode. Both attention mappings amplify
# any change in the latent or the mask they are given, so in the scratch modes the detector, VAE_A's
# encoder and the mappings stay float32 and only VAE_B's decoder runs reduced; besides, the masked
# non-local block's attention overflows in float16 (runtime/precision.py has the measurements).
_ATTENTION_CHAIN = frozenset({"detection", "vae_a_encoder", "mapping_scratch", "mapping_hr"})
FLOAT32_NETWORKS = {"quality": frozenset(), "scratch": _ATTENTION_CHAIN, "scratch_hr": _ATTENTION_CHAIN}


def mode_for(scratch: bool, hr: bool) -> str:
    if hr and not scratch:
        return "scratch_hr"  # --hr only makes sense with scratch repair; it implies it
    return "scratch_hr" if hr else ("scratch" if scratch else "quality")


@dataclass(frozen=True)
class StageOneResult:
    """The restored image in [0, 1] (H×W×3 float32) and the scratch mask used (H×W bool or None)."""

    image: np.ndarray
    mask: np.ndarray | None


@dataclass(frozen=True)
class StageOneNetworks:
    """The engines one mode needs: VAE_A's encoder, the mapping, VAE_B's decoder, the detector.

    ``mapping`` takes ``(latent)`` in quality mode and ``(latent, mask)`` in the scratch modes;
    ``detect`` is None when masks are given. ``hr_mapping`` is there in scratch mode when the
    patch-attention checkpoint is at hand, so the planner may pick it for large scans.
    """

    encode: Engine
    mapping: Engine
    decode: Engine
    detect: Engine | None
    hr_mapping: Engine | None = None  # patch attention, for scratch-mode scans too big for full attention
    blocked_attention: bool = True  # False when the runtime (ONNX) holds the whole attention matrix


def stage_one_modules(
    mode: str, need_detector: bool = True, patch_attention: bool = False
) -> dict[str, torch.nn.Module]:
    """Fresh networks for ``mode``, keyed by the manifest file each one loads from.

    ``patch_attention`` adds the patch-attention mapping to scratch mode, for the planner's use.
    """
    mapping_cls = {
        "quality": MappingNetwork,
        "scratch": NonLocalMappingNetwork,
        "scratch_hr": PatchAttentionMappingNetwork,
    }[mode]
    modules: dict[str, torch.nn.Module] = {
        "vae_a_quality": VAE(),
        vae_b_key(mode): VAE(),
        MAPPING_KEYS[mode]: mapping_cls(),
    }
    if mode != "quality" and need_detector:
        modules["detection"] = ScratchDetectionUNet()
    if mode == "scratch" and patch_attention:
        modules["mapping_hr"] = PatchAttentionMappingNetwork()
    return modules


MAPPING_KEYS = {"quality": "mapping_quality", "scratch": "mapping_scratch", "scratch_hr": "mapping_hr"}


def vae_b_key(mode: str) -> str:
    return "vae_b_quality" if mode == "quality" else "vae_b_scratch"


def torch_networks(
    files: dict[str, Path],
    mode: str,
    device: torch.device,
    need_detector: bool = True,
    accelerate: bool = True,
    precision: torch.dtype | None = None,
) -> StageOneNetworks:
    """Load the checkpoints once; the engines are reused for every photo of a batch.

    ``accelerate=False`` keeps direct convolutions (see TorchEngine): bit-for-bit the published
    arithmetic, slower on a CPU. ``precision`` (float16 or bfloat16) runs the networks under
    autocast (runtime/precision.py), but for FLOAT32_NETWORKS.
    """
    with uninitialised():  # every value comes from the checkpoints, loaded strictly below
        modules = stage_one_modules(mode, need_detector, patch_attention="mapping_hr" in files)
    loaded = {key: load_checkpoint(module, files[key]) for key, module in modules.items()}
    if device.type == "cuda":
        use_ieee_float32()

    def engine(name: str, module: torch.nn.Module, mapping_mode: str | None = None) -> TorchEngine:
        winograd = MAPPING_WINOGRAD[mapping_mode] if mapping_mode else DEFAULT_OPTIONS
        autocast = None if name in FLOAT32_NETWORKS[mode] else precision
        return TorchEngine(name, module, device, accelerate, winograd, autocast)

    detector = loaded.get("detection")
    hr_module = loaded.get("mapping_hr") if mode == "scratch" else None  # an alternative, not the mapping
    return StageOneNetworks(
        encode=engine("vae_a_encoder", loaded["vae_a_quality"].encoder),
        mapping=engine(MAPPING_KEYS[mode], loaded[MAPPING_KEYS[mode]], mode),
        decode=engine("vae_b_decoder", loaded[vae_b_key(mode)].decoder),
        detect=engine("detection", detector) if detector is not None else None,
        hr_mapping=engine("mapping_hr", hr_module, "scratch_hr") if hr_module is not None else None,
    )


class BopbtlPipeline:
    """Stage 1 for one mode over a set of engines (PyTorch or ONNX Runtime).

    Each photo is planned before it runs (pipeline/planning.py): whole image when it fits the
    memory budget, else patch attention or feathered tiles. ``max_memory`` caps the process's
    resident memory in bytes; ``on_tile(done, total)`` reports progress through tiles.
    """

    def __init__(
        self,
        networks: StageOneNetworks,
        mode: str,
        max_memory: int | None = None,
        on_tile: Callable[[int, int], None] | None = None,
    ) -> None:
        self.networks = networks
        self.mode = mode
        self.max_memory = max_memory
        self.on_tile = on_tile
        self.last_plan: RunPlan | None = None

    def plan(self, height: int, width: int, budget: int | None = None) -> RunPlan:
        """How a ``height × width`` photo will run, within ``budget`` bytes or, by default, the
        memory budget as it is now (on a GPU, its memory too)."""
        return plan_run(
            height,
            width,
            self.mode,
            self.budget() if budget is None else budget,
            hr_available=self.networks.hr_mapping is not None,
            blocked_attention=self.networks.blocked_attention,
        )

    def budget(self) -> int:
        return run_budget(self.max_memory, getattr(self.networks.encode, "device", None))

    def restore(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> StageOneResult:
        """Restore an H×W×3 uint8 photo; ``mask`` (H×W, True = scratch) replaces detection.

        The estimates behind each plan were measured on the CPU; should a GPU run out of memory
        all the same, the photo runs again with a plan for half the working memory (smaller tiles),
        until even the smallest tile does not fit.
        """
        height, width = rgb.shape[:2]
        detected = None
        if self.mode != "quality":
            detected = self.detect(rgb) if mask is None else mask.astype(bool)
        plan = self.last_plan = self.plan(height, width)
        while True:
            filled, scratches = prepared(rgb, detected, plan.mode)
            try:
                return StageOneResult(self.run(plan, filled, scratches), scratches)
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                plan = self.last_plan = self._smaller_plan(plan, height, width)

    def _smaller_plan(self, plan: RunPlan, height: int, width: int) -> RunPlan:
        """A plan for half of ``plan``'s working memory, or an error saying that none is left."""
        try:
            return self.plan(height, width, halved_budget(plan, height, width))
        except InsufficientMemoryError:
            raise InsufficientMemoryError(
                f"the GPU ran out of memory even for tiles of {plan.tile or min(height, width)} px; "
                "free GPU memory or use --device cpu"
            ) from None

    def restore_batch(
        self, rgbs: Sequence[np.ndarray], masks: Sequence[np.ndarray | None], limit: int
    ) -> list[StageOneResult]:
        """Restore several photos, in order; photos of one size run stacked, ``limit`` at most.

        A stack computes what its photos would one by one (instance norms and attention are per
        photo); it only keeps a GPU busier. Photos that would be tiled run on their own, and so do
        the photos of a stack that runs out of GPU memory.
        """
        results: dict[int, StageOneResult] = {}
        for indices, plan in self._stacks(rgbs, masks, limit):
            if len(indices) == 1:
                results[indices[0]] = self.restore(rgbs[indices[0]], masks[indices[0]])
                continue
            try:
                stacked = self._restore_stack([rgbs[i] for i in indices], [masks[i] for i in indices], plan)
            except torch.cuda.OutOfMemoryError:  # the stack outgrew its estimate: one by one
                torch.cuda.empty_cache()
                stacked = [self.restore(rgbs[i], masks[i]) for i in indices]
            results.update(zip(indices, stacked))
        return [results[i] for i in range(len(rgbs))]

    def _stacks(
        self, rgbs: Sequence[np.ndarray], masks: Sequence[np.ndarray | None], limit: int
    ) -> list[tuple[list[int], RunPlan]]:
        """Indices of photos that run together (same size, masks all given or all detected), each
        with the plan of one of its photos."""
        alike: dict[tuple[tuple[int, ...], bool], list[int]] = {}
        for index, (rgb, mask) in enumerate(zip(rgbs, masks)):
            alike.setdefault((rgb.shape, mask is None), []).append(index)
        budget = self.budget()
        stacks = []
        for (shape, _), indices in alike.items():
            plan = self.plan(shape[0], shape[1], budget)
            count = stack_count(
                plan, self.mode, shape[0], shape[1], budget, limit, self.networks.blocked_attention
            )
            stacks += [(indices[start : start + count], plan) for start in range(0, len(indices), count)]
        return stacks

    def _restore_stack(
        self, rgbs: list[np.ndarray], masks: list[np.ndarray | None], plan: RunPlan
    ) -> list[StageOneResult]:
        """Photos of one size, each of which runs whole as ``plan`` says: one pass of every
        network for all."""
        self.last_plan = plan
        if self.mode == "quality":
            detected: list[np.ndarray | None] = [None] * len(rgbs)
        else:
            detected = self.detect_many(rgbs) if masks[0] is None else [m.astype(bool) for m in masks]
        filled, scratches = zip(*(prepared(rgb, d, plan.mode) for rgb, d in zip(rgbs, detected)))
        images = self._translate_many(
            filled, None if self.mode == "quality" else scratches, self.networks.mapping
        )
        return [StageOneResult(image, s) for image, s in zip(images, scratches)]

    def run(self, plan: RunPlan, rgb: np.ndarray, scratches: np.ndarray | None) -> np.ndarray:
        """Encode, map, decode a photo whose scratches are already filled, as ``plan`` says."""
        mapping = self.networks.hr_mapping if plan.mode != self.mode else self.networks.mapping
        if not plan.tiled:
            return self._translate(rgb, scratches, mapping)
        height, width = rgb.shape[:2]
        multiple = QUALITY_MULTIPLE if scratches is None else SCRATCH_MULTIPLE
        padded = pad_to_multiple(rgb, multiple)  # every tile then sits on the networks' pixel grid
        padded_mask = None if scratches is None else pad_to_multiple(scratches, multiple)

        def restore_region(region: np.ndarray, region_mask: np.ndarray | None) -> np.ndarray:
            return self._translate(region, region_mask, mapping)

        with self._statistics_of_preview(plan, rgb, scratches, mapping):
            out = run_tiled(
                padded, restore_region, plan.tile, OVERLAP, padded_mask, self.on_tile, align=QUALITY_MULTIPLE
            )
        return crop_to(out, height, width)

    @contextmanager
    def _statistics_of_preview(
        self, plan: RunPlan, rgb: np.ndarray, scratches: np.ndarray | None, mapping: Engine
    ) -> Iterator[None]:
        """Inside, every tile normalises with the statistics of the plan's preview of the photo.

        Runtimes that do not expose their modules (ONNX) keep each tile's own statistics.
        """
        modules = [getattr(e, "module", None) for e in (self.networks.encode, mapping, self.networks.decode)]
        if plan.preview is None or not all(isinstance(m, torch.nn.Module) for m in modules):
            yield
            return
        preview, preview_mask = scaled_preview(rgb, scratches, plan.preview)
        with recorded_statistics(modules) as stats:
            self._translate(preview, preview_mask, mapping)
        with shared_statistics(stats):
            yield

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        """The published detector's mask (H×W bool) for an RGB photo of any size."""
        return self.detect_many([rgb])[0]

    def detect_many(self, rgbs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """:meth:`detect` for photos of one size, in one pass of the detector."""
        if self.networks.detect is None:
            raise RuntimeError("this pipeline was built without the scratch detector")
        height, width = rgbs[0].shape[:2]
        padded = [pad_to_multiple(rgb, SCRATCH_MULTIPLE) for rgb in rgbs]
        return [crop_to(m, height, width) for m in detect_scratches(self.networks.detect, padded)]

    def _translate(self, rgb: np.ndarray, scratches: np.ndarray | None, mapping: Engine) -> np.ndarray:
        """Encode, map, decode one region (holes already filled); pads to the networks' multiple."""
        return self._translate_many([rgb], None if scratches is None else [scratches], mapping)[0]

    @torch.inference_mode()
    def _translate_many(
        self, rgbs: Sequence[np.ndarray], scratches: Sequence[np.ndarray] | None, mapping: Engine
    ) -> list[np.ndarray]:
        """:meth:`_translate` for regions of one size, stacked into one batch."""
        height, width = rgbs[0].shape[:2]
        multiple = QUALITY_MULTIPLE if scratches is None else SCRATCH_MULTIPLE
        latent = self.networks.encode(stacked([to_network_input(pad_to_multiple(r, multiple)) for r in rgbs]))
        if scratches is None:
            mapped = mapping(latent)
        else:
            masks = [
                torch.from_numpy(pad_to_multiple(s, multiple).astype(np.float32))[None, None]
                for s in scratches
            ]
            mapped = mapping(latent, stacked(masks))
        out = self.networks.decode(mapped)
        images = ((out + 1.0) / 2.0).permute(0, 2, 3, 1).float().cpu().numpy()
        return [crop_to(image, height, width) for image in images]


def stacked(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Batches of one image each, as one batch (a single one as it is, without a copy)."""
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors)


def to_network_input(rgb: np.ndarray) -> torch.Tensor:
    """uint8 H×W×3 → 1×3×H×W float32 in [-1, 1] (ToTensor then Normalize(0.5, 0.5))."""
    x = torch.from_numpy(np.array(rgb, copy=True)).permute(2, 0, 1).float().div(255.0)
    return ((x - 0.5) / 0.5)[None]


def detection_size(height: int, width: int) -> tuple[int, int]:
    """The published detector's working size: short side 256, both sides rounded to 16."""
    if height < width:
        h, w = DETECTION_SHORT_SIDE, width / height * DETECTION_SHORT_SIDE
    else:
        h, w = height / width * DETECTION_SHORT_SIDE, DETECTION_SHORT_SIDE
    return int(round(h / 16) * 16), int(round(w / 16) * 16)


@torch.inference_mode()
def detect_scratches(detector: Engine, rgbs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Greyscale (PIL's luma), scale to the detector's size, sigmoid ≥ 0.4, nearest back: bool H×W.

    The photos share one size and go through the detector as one batch.
    """
    greys = [np.array(Image.fromarray(rgb).convert("L")) for rgb in rgbs]  # writable, for from_numpy
    x = torch.from_numpy(np.stack(greys)).float().div(255.0)
    x = ((x - 0.5) / 0.5)[:, None]
    height, width = greys[0].shape
    x = F.interpolate(x, detection_size(height, width), mode="bilinear", align_corners=False)
    prob = torch.sigmoid(detector(x))
    prob = F.interpolate(prob.float().cpu(), (height, width), mode="nearest")
    return list((prob[:, 0] >= DETECTION_THRESHOLD).numpy())


def prepared(
    rgb: np.ndarray, detected: np.ndarray | None, mapping_mode: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """The photo with its scratches filled, and the mask the mapping is given (dilated for patch
    attention); the photo as it is, and no mask, when nothing was detected (quality mode)."""
    if detected is None:
        return rgb, None
    scratches = dilate(detected, HR_MASK_DILATIONS) if mapping_mode == "scratch_hr" else detected
    return fill_holes(rgb, scratches), scratches


def dilate(mask: np.ndarray, iterations: int) -> np.ndarray:
    """3×3 square dilation repeated ``iterations`` times (the published ``--HR`` mask dilation)."""
    import cv2  # imported here: it takes 0.3 s, and a whole-image quality restore never needs it

    kernel = np.ones((3, 3), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel, iterations=iterations).astype(bool)


def scaled_preview(
    rgb: np.ndarray, scratches: np.ndarray | None, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray | None]:
    """The photo (area-averaged) and its scratch mask (any damage counts) at ``size`` (h, w)."""
    height, width = size
    if (height, width) == rgb.shape[:2]:
        return rgb, scratches
    import cv2  # see dilate

    small = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    if scratches is None:
        return small, None
    mask = cv2.resize(scratches.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
    return small, mask > 0


def fill_holes(rgb: np.ndarray, scratches: np.ndarray) -> np.ndarray:
    """Paint scratch pixels white, as the published pipeline does before encoding."""
    filled = rgb.copy()
    filled[scratches] = 255
    return filled
