"""Our networks against the published implementation's conformance vectors (../shared/reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oldphoto_cli.networks import (
    VAE,
    MappingNetwork,
    NonLocalMappingNetwork,
    PatchAttentionMappingNetwork,
    ScratchDetectionUNet,
)
from oldphoto_cli.networks.nonlocal_mapping import MaskedNonLocalBlock, attend_full
from oldphoto_cli.networks.patch_attention import swap_patches, swap_patches_dense
from oldphoto_cli.registry.checkpoint import load_into

TOLERANCE = 1e-3
MAPPINGS = {
    "quality": MappingNetwork,
    "scratch": NonLocalMappingNetwork,
    "scratch_hr": PatchAttentionMappingNetwork,
}


@pytest.fixture(scope="module")
def vectors(reference_dir):
    with np.load(reference_dir / "vectors_64x96.npz") as data:
        return {k: torch.from_numpy(data[k]) for k in data.files}


@pytest.fixture(scope="module")
def build(layout, ref_state_dict):
    def make(network: torch.nn.Module, section: str) -> torch.nn.Module:
        assert set(network.state_dict()) == set(layout[section]), "parameter names differ from the checkpoint"
        return load_into(network, ref_state_dict(layout[section]), section)

    return make


def chain(build, mode: str):
    return (
        build(VAE(), f"{mode}/vae_a"),
        build(MAPPINGS[mode](), f"{mode}/mapping_net"),
        build(VAE(), f"{mode}/vae_b"),
    )


def run_chain(nets, x, mask=None):
    vae_a, mapping, vae_b = nets
    latent = vae_a.encode(x)
    mapped = mapping(latent) if mask is None else mapping(latent, mask)
    return latent, vae_b.decode(mapped)


@torch.inference_mode()
@pytest.mark.parametrize("mode", list(MAPPINGS))
def test_restoration_chain_reproduces_vectors(build, vectors, mode):
    nets = chain(build, mode)
    mask = None if mode == "quality" else vectors[f"{mode}.mask"]
    latent, output = run_chain(nets, vectors[f"{mode}.input"], mask)
    assert (latent - vectors[f"{mode}.latent_a"]).abs().max().item() < TOLERANCE
    assert output.shape == vectors[f"{mode}.output"].shape
    assert (output - vectors[f"{mode}.output"]).abs().max().item() < TOLERANCE


@torch.inference_mode()
def test_detector_reproduces_vectors(build, vectors):
    unet = build(ScratchDetectionUNet(), "detection/unet")
    logits = unet(vectors["detection.input"])
    assert (logits - vectors["detection.output"]).abs().max().item() < TOLERANCE
    assert logits.abs().max().item() > 0.1  # a real signal, not a collapsed output


@torch.inference_mode()
@pytest.mark.parametrize("mode", list(MAPPINGS))
def test_chain_runs_at_another_size(build, mode):
    """48×80 (latent 12×20, not a multiple of the 8-wide attention patches): shapes and values sane."""
    nets = chain(build, mode)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 48, 80, generator=g) * 2 - 1
    mask = torch.zeros(1, 1, 48, 80)
    mask[..., 10:30, 20:60] = 1
    latent, output = run_chain(nets, x, None if mode == "quality" else mask)
    assert latent.shape == (1, 64, 12, 20)
    assert output.shape == (1, 3, 48, 80)
    assert torch.isfinite(output).all() and output.abs().max() <= 1


@torch.inference_mode()
def test_detector_runs_at_another_size(build):
    unet = build(ScratchDetectionUNet(), "detection/unet")
    assert unet(torch.rand(2, 1, 80, 48) * 2 - 1).shape == (2, 1, 80, 48)


@torch.inference_mode()
def test_chunked_attention_equals_full_matrix(build):
    """Row blocks of the non-local attention give the full-matrix result (at a new size, too)."""
    _, mapping, _ = chain(build, "scratch")
    g = torch.Generator().manual_seed(2)
    latent = torch.randn(1, 64, 20, 28, generator=g)
    mask = (torch.rand(1, 1, 80, 112, generator=g) > 0.8).float()
    mapping.NL.chunk_bytes = 1 << 40
    full = mapping(latent, mask)
    mapping.NL.chunk_bytes = 4 * 20 * 28 * 7  # seven rows per block
    chunked = mapping(latent, mask)
    assert (full - chunked).abs().max().item() < 1e-4


def test_wrong_checkpoint_is_refused_with_the_keys(build, layout, ref_state_dict):
    from oldphoto_cli.errors import WeightsError

    with pytest.raises(
        WeightsError, match=r"mapping.pth: does not fit MappingNetwork; missing: model.0.bias.*unexpected: NL"
    ):
        load_into(MappingNetwork(), ref_state_dict(layout["scratch/mapping_net"]), "mapping.pth")


@pytest.mark.parametrize("k", [2, 4, 8])
@pytest.mark.parametrize("size", [(16, 24), (12, 20), (9, 11), (8, 17)])
def test_dense_patch_swap_equals_the_subset_form(k, size):
    """The export-friendly swap (every patch against every patch) gives the subset form's result."""
    g = torch.Generator().manual_seed(k * 100 + size[0])
    x = torch.randn(1, 6, *size, generator=g)
    x[..., : size[0] // 2, : size[1] // 2] = 0.5  # ties: identical clean patches, first one wins
    for density in (0.0, 0.3, 0.7, 1.0):  # nothing damaged, some, most, everything
        mask = (torch.rand(1, 1, *size, generator=g) < density).float()
        assert torch.equal(swap_patches_dense(x, mask, k), swap_patches(x.clone(), mask, k))


def test_full_attention_equals_row_blocks():
    """The export form of the masked non-local attention (one full matrix) equals the row blocks."""
    g = torch.Generator().manual_seed(3)
    b, n, c = 1, 20 * 28, 16
    queries, values = torch.randn(b, n, c, generator=g), torch.randn(b, n, c, generator=g)
    keys = torch.randn(b, c, n, generator=g)
    valid = (torch.rand(b, 1, n, generator=g) > 0.3).float()
    block = MaskedNonLocalBlock(c, chunk_bytes=4 * n * 7)  # seven rows per block
    blocks = block._attend(queries, keys, values, valid)
    assert (attend_full(queries, keys, values, valid) - blocks).abs().max().item() < 1e-5


@pytest.mark.parametrize("zip_format", [True, False])
def test_checkpoint_files_in_either_format_load_into_the_network_dtype(tmp_path, zip_format):
    """Zip checkpoints are memory-mapped, legacy ones read; both load the same values, and a
    float64 file still gives a float32 network (the loaded tensors are adopted, not copied)."""
    from torch import nn

    from oldphoto_cli.registry.checkpoint import load_checkpoint

    source = nn.Conv2d(4, 6, 3)
    path = tmp_path / "conv.pth"
    saved = {"module." + k: v.double() for k, v in source.state_dict().items()}  # DataParallel keys
    torch.save({"model_state": saved}, path, _use_new_zipfile_serialization=zip_format)
    loaded = load_checkpoint(nn.Conv2d(4, 6, 3), path)
    assert loaded.weight.dtype == torch.float32 and not loaded.training
    assert torch.equal(loaded.weight, source.weight.detach()) and torch.equal(
        loaded.bias, source.bias.detach()
    )


@pytest.mark.parametrize("damage", ["truncated", "text"])
def test_a_damaged_checkpoint_is_refused_naming_the_file(tmp_path, damage):
    from torch import nn

    from oldphoto_cli.errors import WeightsError
    from oldphoto_cli.registry.checkpoint import load_checkpoint

    path = tmp_path / "conv.pth"
    torch.save(nn.Conv2d(4, 6, 3).state_dict(), path)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2] if damage == "truncated" else b"not a checkpoint\n")
    with pytest.raises(WeightsError, match=r"conv\.pth: not a readable checkpoint"):
        load_checkpoint(nn.Conv2d(4, 6, 3), path)
    with pytest.raises(WeightsError, match=r"missing\.pth: weight file not found"):
        load_checkpoint(nn.Conv2d(4, 6, 3), tmp_path / "missing.pth")
