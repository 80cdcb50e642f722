"""Winograd convolution: the same numbers as a direct convolution, and the same network outputs."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from oldphoto_cli.networks import (
    VAE,
    MappingNetwork,
    NonLocalMappingNetwork,
    PatchAttentionMappingNetwork,
    ScratchDetectionUNet,
)
from oldphoto_cli.pipeline.bopbtl import MAPPING_WINOGRAD
from oldphoto_cli.registry.checkpoint import load_into
from oldphoto_cli.runtime.engines import TorchEngine
from oldphoto_cli.runtime.winograd import (
    DEFAULT_OPTIONS,
    TILES,
    WinogradConv2d,
    WinogradOptions,
    accelerate_convolutions,
    is_eligible,
    transform_weight,
    transforms,
)

MAPPINGS = {
    "quality": MappingNetwork,
    "scratch": NonLocalMappingNetwork,
    "scratch_hr": PatchAttentionMappingNetwork,
}


@pytest.mark.parametrize(
    ("in_ch", "out_ch", "height", "width", "padding"),
    [
        (64, 128, 37, 53, 1),
        (512, 256, 20, 31, 0),
        (32, 64, 5, 6, 1),
        (48, 32, 3, 3, 0),
        (32, 32, 9, 4, 1),
        (64, 32, 14, 8, 0),  # whole 6×6 tiles, nothing to pad: the rows are read in place
    ],
)
@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_equals_direct_convolution(in_ch, out_ch, height, width, padding, tile, layout, products_library):
    torch.manual_seed(height * width)
    conv = nn.Conv2d(in_ch, out_ch, 3, padding=padding)
    x = torch.randn(2, in_ch, height, width).contiguous(memory_format=layout)
    with torch.inference_mode():
        fast = WinogradConv2d(conv, WinogradOptions(tile))(x)
        exact = F.conv2d(x.double(), conv.weight.double(), conv.bias.double(), padding=padding)
    assert fast.shape == exact.shape
    assert (fast.double() - exact).abs().max().item() < 1e-4 * max(1.0, exact.abs().max().item())


@pytest.mark.parametrize("tile", TILES)
def test_transforms_compute_a_correlation_exactly(tile):
    """Aᵀ[(G g) ⊙ (Bᵀ d)] = the 3-tap correlation of d, in exact rationals, for integer data."""
    t = transforms(tile)
    d = [Fraction(v) for v in (3, -1, 4, 1, -5, 9, 2, -6)[: t.window]]
    g = [Fraction(2), Fraction(-7), Fraction(1)]
    gg = [sum(row[k] * g[k] for k in range(3)) for row in t.g]
    bd = [sum(row[k] * d[k] for k in range(t.window)) for row in t.bt]
    y = [sum(row[k] * gg[k] * bd[k] for k in range(t.window)) for row in t.at]
    assert y == [sum(g[k] * d[i + k] for k in range(3)) for i in range(tile)]
    assert all((x * t.g_scale).denominator == 1 for row in t.g for x in row)


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize(("height", "width"), [(20, 31), (2, 9), (13, 6)])
def test_reflection_padding_equals_pad_then_convolution(tile, height, width, products_library):
    torch.manual_seed(height + width)
    conv = nn.Conv2d(24, 40, 3, padding=0)
    x = torch.randn(1, 24, height, width)
    with torch.inference_mode():
        fast = WinogradConv2d(conv, WinogradOptions(tile), reflect=True)(x)
        exact = F.conv2d(
            F.pad(x.double(), (1, 1, 1, 1), mode="reflect"), conv.weight.double(), conv.bias.double()
        )
    assert fast.shape == exact.shape
    assert (fast.double() - exact).abs().max().item() < 1e-4 * exact.abs().max().item()


def test_reflection_pad_before_a_convolution_is_folded_into_it():
    torch.manual_seed(3)
    block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(128, 128, 3), nn.ReLU(), nn.ReflectionPad2d(1))
    keys = set(block.state_dict())
    x = torch.randn(1, 128, 11, 14)
    with torch.inference_mode():
        before = block(x)
        assert accelerate_convolutions(block) == 1
        after = block(x)
    assert isinstance(block[0], nn.Identity) and block[1].reflect
    assert isinstance(block[3], nn.ReflectionPad2d)  # a pad with no convolution after it stays
    assert set(block.state_dict()) == keys
    assert (before - after).abs().max().item() < 1e-4


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize(("padding", "reflect"), [(0, False), (1, False), (1, True)])
@pytest.mark.parametrize(("height", "width"), [(40, 29), (7, 50), (3, 3)])
@pytest.mark.parametrize("channels_last_image", [True, False])
def test_gathered_windows_are_the_windows_of_the_padded_image(
    tile, padding, reflect, height, width, channels_last_image
):
    """Straight from the image inside, from padded copies at the borders: the same values."""
    from oldphoto_cli.runtime.winograd import TILES_MULTIPLE, gathered_windows

    torch.manual_seed(height * width + tile)
    chw = torch.randn(8, height, width)
    image = chw.permute(1, 2, 0).contiguous() if channels_last_image else chw.permute(1, 2, 0)
    tiles_h = -(-(height + 2 * padding - 2) // tile)
    tiles_w = -(-(width + 2 * padding - 2) // tile)
    mode = "reflect" if reflect else "constant"
    padded = F.pad(chw[None], (padding,) * 4, mode=mode)[0].permute(1, 2, 0)
    whole = torch.zeros(tiles_h * tile + 2, tiles_w * tile + 2, 8)  # and zeros up to whole tiles
    whole[: padded.shape[0], : padded.shape[1]] = padded
    for top, bottom in [(0, tiles_h), (0, 1), (tiles_h // 2, tiles_h)]:
        rows = whole[top * tile : bottom * tile + 2]
        expected = rows.as_strided(
            (tile + 2, tile + 2, 2, bottom - top, tiles_w, 4),
            (rows.shape[1] * 8, 8, 4, tile * rows.shape[1] * 8, tile * 8, 1),
        ).reshape((tile + 2) ** 2, 2, -1, 4)
        got = gathered_windows(image, padding, reflect, tile, (top, bottom), tiles_w, parts=2)
        count = expected.shape[2]
        assert got.shape[2] % TILES_MULTIPLE == 0 and count <= got.shape[2] < count + TILES_MULTIPLE
        assert torch.equal(got[:, :, :count], expected), (top, bottom)
        assert not got[:, :, count:].any()  # tiles added to round the count up are zeros


@pytest.mark.parametrize(("in_ch", "out_ch"), [(32, 32), (16, 48), (48, 16)])
def test_blocks_of_unequal_sizes_over_shared_memory_equal_direct_convolution(
    in_ch, out_ch, monkeypatch, products_library
):
    """Blocks of 3, 3 and 2 tile rows; with MKL, each block's products overwrite its transformed
    input as they go, which must hold whether the outputs are fewer, as many or more."""
    from oldphoto_cli.runtime import winograd

    monkeypatch.setattr(winograd, "_rows_per_block", lambda *args: 3)
    torch.manual_seed(in_ch + out_ch)
    conv = nn.Conv2d(in_ch, out_ch, 3, padding=1)
    x = torch.randn(2, in_ch, 45, 23).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        fast = WinogradConv2d(conv)(x)
        exact = F.conv2d(x.double(), conv.weight.double(), conv.bias.double(), padding=1)
    assert (fast.double() - exact).abs().max().item() < 1e-4 * max(1.0, exact.abs().max().item())


def test_block_memory_holds_the_products_clear_of_input_rows_still_to_be_read():
    from oldphoto_cli.runtime.winograd import _block_elements, _products_offset

    for channels, out_ch in [(512, 512), (256, 512), (512, 256), (128, 256)]:
        window, count = 8, 344
        start = _products_offset(window, count, channels, out_ch)
        v_slab, m_slab = count * window * channels, count * window * out_ch
        for r in range(window):  # products of row r end before input row r begins
            assert (r + 1) * m_slab <= start + r * v_slab
        total = _block_elements(window, count, channels, out_ch)
        assert total >= start + window * v_slab and total >= window * m_slab
        assert total <= (window + 1) * max(v_slab, m_slab)  # about one block, not two


def test_tile_rows_in_several_blocks_match_one_block(monkeypatch, products_library):
    from oldphoto_cli.runtime import winograd

    conv = nn.Conv2d(32, 32, 3, padding=1)
    x = torch.randn(1, 32, 45, 23)
    with torch.inference_mode():
        whole = WinogradConv2d(conv)(x)
        monkeypatch.setattr(winograd, "CHUNK_BYTES", 1)  # one row of tiles per block
        blocks = WinogradConv2d(conv)(x)
    assert (whole - blocks).abs().max().item() < 1e-5  # only BLAS blocking differs


def test_only_plain_3x3_convolutions_are_swapped():
    assert is_eligible(nn.Conv2d(512, 256, 3, padding=1))
    assert not is_eligible(nn.Conv2d(512, 512, 3, stride=2, padding=1))
    assert not is_eligible(nn.Conv2d(512, 512, 4, padding=1))
    assert not is_eligible(nn.Conv2d(512, 512, 3, padding=1, dilation=2))
    assert not is_eligible(nn.Conv2d(512, 512, 3, padding=1, padding_mode="reflect"))
    assert not is_eligible(nn.Conv2d(64, 64, 3, padding=1))  # the VAEs' convolutions stay direct


@pytest.fixture(scope="module")
def vectors(reference_dir):
    with np.load(reference_dir / "vectors_64x96.npz") as data:
        return {k: torch.from_numpy(data[k]) for k in data.files}


def loaded(
    network: nn.Module, section: str, layout, ref_state_dict, options: WinogradOptions = DEFAULT_OPTIONS
) -> nn.Module:
    network = load_into(network, ref_state_dict(layout[section]), section)
    keys = set(network.state_dict())
    accelerate_convolutions(network, options)
    assert set(network.state_dict()) == keys, "acceleration must not change checkpoint keys"
    return network.eval()


@torch.inference_mode()
@pytest.mark.parametrize("mode", list(MAPPINGS))
def test_accelerated_chain_reproduces_vectors(mode, vectors, layout, ref_state_dict, products_library):
    """The CPU engines as shipped (Winograd, oneDNN attention, channels-last) stay within 1e-3."""
    cpu = torch.device("cpu")
    vae_a = loaded(VAE(), f"{mode}/vae_a", layout, ref_state_dict)
    mapping = loaded(MAPPINGS[mode](), f"{mode}/mapping_net", layout, ref_state_dict, MAPPING_WINOGRAD[mode])
    assert any(isinstance(m, WinogradConv2d) for m in mapping.modules())
    vae_b = loaded(VAE(), f"{mode}/vae_b", layout, ref_state_dict)
    encode = TorchEngine("encoder", vae_a.encoder, cpu)
    mapping_engine = TorchEngine("mapping", mapping, cpu)
    decode = TorchEngine("decoder", vae_b.decoder, cpu)
    latent = encode(vectors[f"{mode}.input"])
    args = (latent,) if mode == "quality" else (latent, vectors[f"{mode}.mask"])
    output = decode(mapping_engine(*args))
    assert (latent - vectors[f"{mode}.latent_a"]).abs().max().item() < 1e-3
    assert (output - vectors[f"{mode}.output"]).abs().max().item() < 1e-3


@torch.inference_mode()
def test_accelerated_detector_reproduces_vectors(vectors, layout, ref_state_dict):
    unet = loaded(ScratchDetectionUNet(), "detection/unet", layout, ref_state_dict)
    logits = unet(vectors["detection.input"])
    assert (logits - vectors["detection.output"]).abs().max().item() < 1e-3


@pytest.mark.parametrize(("per_sum", "parts"), [(16, 4), (32, 2), (None, 1), (48, 1)])
def test_channel_groups_sum_to_the_whole_product(per_sum, parts, products_library):
    """Splitting the channel sum (``channels_per_sum``) changes only rounding; a split that does
    not divide the channels falls back to one sum."""
    conv = nn.Conv2d(64, 16, 3, padding=1)
    x = torch.randn(1, 64, 13, 18)
    with torch.inference_mode():
        assert transform_weight(conv.weight, 4, per_sum).shape == (36, parts, 16, 64 // parts)
        assert transform_weight(conv.weight, 6, per_sum).shape == (64, parts, 16, 64 // parts)
        split = WinogradConv2d(conv, WinogradOptions(6, per_sum))(x)
        exact = F.conv2d(x.double(), conv.weight.double(), conv.bias.double(), padding=1)
    assert (split.double() - exact).abs().max().item() < 1e-4
