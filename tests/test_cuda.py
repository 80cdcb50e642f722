"""The GPU path, where one is present (skipped elsewhere): conformance in float32, reduced
precision within its measured bounds, stacks equal to photos one by one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from stage_one import stage_one_pipeline

from oldphoto_cli.networks import VAE, MappingNetwork, NonLocalMappingNetwork
from oldphoto_cli.registry.checkpoint import load_into
from oldphoto_cli.runtime.engines import TorchEngine
from oldphoto_cli.runtime.precision import use_ieee_float32

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
CUDA = torch.device("cuda")
MAPPINGS = {"quality": MappingNetwork, "scratch": NonLocalMappingNetwork}


def chain(layout, ref_state_dict, mode: str, autocast: torch.dtype | None) -> list[TorchEngine]:
    nets = [
        load_into(net, ref_state_dict(layout[f"{mode}/{section}"]), section)
        for net, section in ((VAE(), "vae_a"), (MAPPINGS[mode](), "mapping_net"), (VAE(), "vae_b"))
    ]
    modules = (nets[0].encoder, nets[1], nets[2].decoder)
    return [TorchEngine(str(i), m, CUDA, autocast=autocast) for i, m in enumerate(modules)]


@torch.inference_mode()
@pytest.mark.parametrize(("mode", "autocast", "tolerance"), [
    ("quality", None, 1e-3), ("scratch", None, 1e-3), ("quality", torch.float16, 0.15),
])  # fmt: skip
def test_chains_on_the_gpu_reproduce_the_vectors(
    layout, ref_state_dict, reference_dir, mode, autocast, tolerance
):
    """float32 (TF32 off) within the conformance tolerance; fp16 within twice its CPU error."""
    use_ieee_float32()
    with np.load(reference_dir / "vectors_64x96.npz") as data:
        x, expected = torch.from_numpy(data[f"{mode}.input"]), torch.from_numpy(data[f"{mode}.output"])
        mask = torch.from_numpy(data[f"{mode}.mask"]) if mode != "quality" else None
    encode, mapping, decode = chain(layout, ref_state_dict, mode, autocast)
    latent = encode(x)
    out = decode(mapping(latent) if mask is None else mapping(latent, mask)).cpu()
    assert torch.isfinite(out).all()
    assert (out - expected).abs().max().item() < tolerance


def test_gpu_stacks_and_fp16_photos(pipeline_checkpoints, realworld_dir):
    photos = []
    for name in ("a", "b", "c"):
        with Image.open(realworld_dir / "old_w_scratch" / f"{name}.png") as img:
            photos.append(np.asarray(img.convert("RGB").resize((256, 192))))
    full = stage_one_pipeline(pipeline_checkpoints, "scratch", device=CUDA)
    alone = [full.restore(rgb) for rgb in photos]
    stacked = full.restore_batch(photos, [None] * 3, limit=8)
    for s, a in zip(stacked, alone):
        assert np.array_equal(s.mask, a.mask)
        assert np.abs(s.image - a.image).max() * 255 < 1.5
    half = stage_one_pipeline(pipeline_checkpoints, "scratch", precision=torch.float16, device=CUDA)
    for rgb, a in zip(photos, alone):
        result = half.restore(rgb)
        assert np.array_equal(result.mask, a.mask)  # the detector stays float32
        assert np.isfinite(result.image).all() and np.abs(result.image - a.image).mean() * 255 < 2


def test_plans_on_the_gpu_keep_within_its_memory():
    from oldphoto_cli.runtime.memory import gpu_available_bytes, run_budget

    assert 0 < run_budget(None, CUDA) <= 0.8 * gpu_available_bytes(CUDA) + 1
