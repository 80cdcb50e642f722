"""Work moved between layers on the CPU runtime: a convolution's moments handed to the norm after
it (runtime/moments.py) and residual sums inside the last norm of their block (runtime/residual.py).
Each must give what the layers give unfused."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch import nn

from oldphoto_cli.networks.blocks import ResnetBlock, conv_in_relu
from oldphoto_cli.pipeline.tile_statistics import recorded_statistics, shared_statistics
from oldphoto_cli.runtime.channels_last import ChannelsLastInstanceNorm2d, channels_last, use_channels_last
from oldphoto_cli.runtime.moments import BlockMoments, MomentsHandoff
from oldphoto_cli.runtime.residual import ResidualSumBlock, fuse_residual_sums
from oldphoto_cli.runtime.winograd import WinogradOptions, accelerate_convolutions


def test_block_moments_match_float64_even_when_the_mean_dwarfs_the_spread():
    torch.manual_seed(0)
    pixels = torch.randn(1000, 24) * torch.linspace(0.5, 3, 24) + 1000  # mean 1000, spread 0.5 to 3
    moments = BlockMoments(24, 300, pixels)
    for start in range(0, 1000, 300):  # blocks of 300, 300, 300 and 100
        moments.add(pixels[start : start + 300])
    mean, var = moments.result()
    exact = pixels.double()
    assert mean.dtype == var.dtype == torch.float32
    # float32 resolves 1000 to 6e-5 (2.7e-5 here; PyTorch's own mean is 1.1e-4 off)
    assert (mean.double() - exact.mean(0)).abs().max().item() < 5e-5
    relative = (var.double() / exact.var(0, unbiased=False) - 1).abs().max().item()
    assert relative < 1e-5  # 1.6e-7 here; sums of x² about zero lose the variance entirely


def test_a_handoff_gives_its_moments_for_that_tensor_only_and_once():
    handoff = MomentsHandoff()
    x, other = torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3)
    mean, var = torch.ones(1, 2), torch.full((1, 2), 2.0)
    handoff.put(x, mean, var)
    assert handoff.take(other) is None
    assert handoff.take(x) is None  # emptied by the miss: stale moments are never handed out
    handoff.put(x, mean, var)
    assert handoff.take(x) == (mean, var)
    assert handoff.take(x) is None
    handoff.put(torch.zeros(2), mean, var)  # a tensor gone before the norm reads: nothing to give
    assert handoff.take(torch.zeros(2)) is None
    handoff.put(x, mean, var)
    assert pickle.loads(pickle.dumps(handoff)).take(x) is None  # travels empty


def mapping_like(channels: int = 128) -> nn.Sequential:
    """Convolutions wide enough for Winograd, each read by an instance norm, as in the mappings."""
    torch.manual_seed(3)
    net = nn.Sequential(*conv_in_relu(channels, channels), ResnetBlock(channels), nn.Conv2d(channels, 8, 1))
    for parameter in net.parameters():
        parameter.data.normal_(0.01, 0.05)  # positive on average: means away from zero
    return net.eval()


def accelerated(net: nn.Module, fuse: bool) -> nn.Module:
    net = copy.deepcopy(net)
    accelerate_convolutions(net, WinogradOptions(6, None, hand_moments=fuse))
    use_channels_last(net)
    if fuse and fuse_residual_sums(net) != 1:
        raise AssertionError("the residual block was not swapped")
    return net


@pytest.mark.parametrize("size", [(40, 52), (37, 29)])  # whole tiles of 6, and tiles cut at both edges
@torch.inference_mode()
def test_norms_take_the_convolutions_moments_with_the_same_result(size, products_library):
    net = mapping_like()
    x = torch.randn(2, 128, *size) * 2 + 1  # two images: moments per image
    expected = net(x)
    plain, fused = accelerated(net, fuse=False), accelerated(net, fuse=True)
    handoffs = {id(m.handoff) for m in fused.modules() if getattr(m, "handoff", None) is not None}
    assert len(handoffs) == 3  # one per convolution and norm pair
    reference = plain(channels_last(x))
    out = fused(channels_last(x))
    assert (out - reference).abs().max().item() < 1e-4
    assert (out - expected).abs().max().item() < 1e-3  # Winograd's own rounding on top


@torch.inference_mode()
def test_the_convolutions_moments_are_those_of_its_output(products_library):
    torch.manual_seed(5)
    conv = nn.Conv2d(128, 128, 3, padding=1)
    net = nn.Sequential(conv, nn.InstanceNorm2d(128))
    accelerate_convolutions(net, WinogradOptions(6, None))
    use_channels_last(net)
    handoff = net[0].handoff
    y = net[0](channels_last(torch.randn(2, 128, 31, 44) + 3))
    mean, var = handoff.take(y)
    exact = y.double()
    assert mean.shape == var.shape == (2, 128)
    assert (mean.double() - exact.mean((2, 3))).abs().max().item() < 1e-5
    assert (var.double() - exact.var((2, 3), unbiased=False)).abs().max().item() < 1e-5


@torch.inference_mode()
def test_residual_sums_in_the_norm_are_bit_for_bit_the_blocks_sums():
    torch.manual_seed(6)
    block = ResnetBlock(16).eval()
    use_channels_last(block)
    keys = set(block.state_dict())
    fused = ResidualSumBlock(block)
    assert set(fused.state_dict()) == keys
    x = channels_last(torch.randn(1, 16, 23, 19))
    assert torch.equal(fused(x.clone()), block(x.clone()))
    nchw = torch.randn(1, 16, 23, 19)  # layouts that do not match: the sum is added afterwards
    assert torch.equal(fused(nchw), block(nchw))


@torch.inference_mode()
def test_only_blocks_ending_in_a_channels_last_norm_are_fused():
    raw = nn.Sequential(ResnetBlock(8), nn.Sequential(ResnetBlock(8)))
    assert fuse_residual_sums(copy.deepcopy(raw)) == 0  # PyTorch's own norms take no residual
    use_channels_last(raw)
    assert fuse_residual_sums(raw) == 2
    assert all(type(m) is not ResnetBlock for m in raw.modules())


@torch.inference_mode()
def test_shared_statistics_still_apply_to_fused_norms_and_residuals():
    """Tiles normalised with the whole image's statistics (pipeline/tile_statistics.py) get the
    same result fused as unfused: neither the handed moments nor the residual is lost."""
    net = mapping_like()
    x = torch.randn(1, 128, 36, 42)
    half = x[:, :, :, :24]
    results = []
    for fuse in (False, True):
        runnable = accelerated(net, fuse)
        with recorded_statistics([runnable]) as stats:
            runnable(channels_last(x))
        with shared_statistics(stats):
            results.append(runnable(channels_last(half)))
        own = runnable(channels_last(half))
    assert (results[1] - results[0]).abs().max().item() < 1e-4
    assert (results[1] - own).abs().max().item() > 1e-2  # the shared statistics mattered
    norms = [m for m in runnable.modules() if isinstance(m, ChannelsLastInstanceNorm2d)]
    assert len(norms) == 3


@torch.inference_mode()
def test_convolutions_gather_no_moments_while_their_norms_use_shared_statistics():
    net = accelerated(mapping_like(), fuse=True)
    conv, norm = net[0], net[1]
    outputs = []
    conv.register_forward_hook(lambda module, inputs, output: outputs.append(output))
    x = channels_last(torch.randn(1, 128, 20, 18))
    with recorded_statistics([net]) as stats:
        net(x)
    assert norm in stats
    net[:1](x)  # the convolution alone: its moments stay in the handoff
    assert norm.handoff.take(outputs[-1]) is not None
    with shared_statistics(stats):
        net[:1](x)
        assert norm.handoff.take(outputs[-1]) is None  # nothing gathered for a norm that would not take it
    net[:1](x)
    assert norm.handoff.take(outputs[-1]) is not None  # and gathered again after


def test_networks_whose_options_say_so_keep_computing_their_norms_moments():
    net = nn.Sequential(*conv_in_relu(128, 128))
    accelerate_convolutions(net, WinogradOptions(4, 64, hand_moments=False))  # as scratch mode's mapping
    use_channels_last(net)
    assert all(getattr(m, "handoff", None) is None for m in net.modules())
