"""The CPU runtime's replacements compute what the layers they stand in for compute."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from oldphoto_cli.networks.nonlocal_mapping import MaskedNonLocalBlock, attend_rows
from oldphoto_cli.runtime.attention import accelerate_attention, attend_rows_fast, softmax_rows_
from oldphoto_cli.runtime.channels_last import ChannelsLastInstanceNorm2d, use_channels_last
from oldphoto_cli.runtime.matmul import matmul_nt, sum_of_products_


@pytest.mark.parametrize("transposed", [False, True])
def test_matmul_nt_equals_mm_with_and_without_accumulation(transposed, products_library):
    torch.manual_seed(1)
    a = torch.randn(37, 50)
    b = torch.randn(50, 120).t() if transposed else torch.randn(120, 50)
    extra = torch.randn(37, 120)
    expected = a.double() @ b.double().t()
    assert (matmul_nt(a, b).double() - expected).abs().max().item() < 1e-4
    assert (matmul_nt(a, b, extra).double() - (expected + extra.double())).abs().max().item() < 1e-4
    strided_rows = torch.randn(50, 37).t()  # made contiguous inside
    assert torch.allclose(matmul_nt(strided_rows, b), strided_rows @ b.t(), atol=1e-4)


def test_batched_products_are_written_in_place_and_summed(products_library):
    torch.manual_seed(3)
    a = torch.randn(5, 24, 40)
    b = torch.randn(5, 40, 30).transpose(1, 2)  # each b[k] the transpose of a contiguous matrix
    expected = a.double() @ b.double().transpose(1, 2)
    out = torch.full((5, 24, 30), float("nan"))
    sum_of_products_(out, [(a, b)])
    assert (out.double() - expected).abs().max().item() < 1e-4
    sum_of_products_(out, [(a, b), (2 * a, b)])
    assert (out.double() - 3 * expected).abs().max().item() < 1e-4


def test_products_go_to_mkl_on_intel_and_onednn_elsewhere(monkeypatch):
    from oldphoto_cli.runtime import matmul

    monkeypatch.delenv(matmul.LIBRARY_VARIABLE, raising=False)
    for vendor, expected in (("GenuineIntel", "mkl"), ("AuthenticAMD", "onednn"), ("", "onednn")):
        monkeypatch.setattr(matmul, "cpu_vendor", lambda v=vendor: v)
        matmul.products_library.cache_clear()
        assert matmul.products_library() == (expected if matmul.onednn_available() else "mkl")
    matmul.products_library.cache_clear()


def test_channels_last_instance_norm_matches_instance_norm_even_off_centre():
    torch.manual_seed(2)
    x = torch.randn(1, 64, 96, 80) * 3 + 5  # a large mean against the spread: where precision goes
    reference = nn.InstanceNorm2d(64)(x.double())
    out = ChannelsLastInstanceNorm2d(64)(x.contiguous(memory_format=torch.channels_last))
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert (out.double() - reference).abs().max().item() < 1e-5
    batch = torch.randn(3, 8, 10, 12)  # several images: the inherited path, also right
    assert torch.allclose(ChannelsLastInstanceNorm2d(8)(batch), nn.InstanceNorm2d(8)(batch), atol=1e-5)


def test_instance_norm_keeps_precision_when_the_mean_dwarfs_the_spread(monkeypatch):
    """A mean of 1000 against a spread of about 2, in blocks of one row each."""
    from oldphoto_cli.runtime import channels_last

    monkeypatch.setattr(channels_last, "BLOCK_BYTES", 4 * 16 * 80)
    torch.manual_seed(5)
    ramp = torch.linspace(0, 6, 96).view(1, 1, 96, 1)
    x = (torch.randn(1, 16, 96, 80) + ramp + 1000).contiguous(memory_format=torch.channels_last)
    reference = nn.InstanceNorm2d(16)(x.double())
    out = ChannelsLastInstanceNorm2d(16)(x)
    # float32 resolves a mean near 1000 to 6e-5 (this norm is 5.4e-5 off, PyTorch's 1.8e-5);
    # sums of x and x² taken as they are would be 7e-2 off
    assert (out.double() - reference).abs().max().item() < 1e-4


def test_use_channels_last_swaps_norms_and_keeps_keys():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.InstanceNorm2d(8), nn.Sequential(nn.InstanceNorm2d(8)))
    keys = set(net.state_dict())
    use_channels_last(net)
    assert set(net.state_dict()) == keys
    norms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 2 and all(type(m) is ChannelsLastInstanceNorm2d for m in norms)
    assert net[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert [m.inplace for m in norms] == [True, False]  # only a convolution's output is overwritten


def test_a_relu_after_a_norm_runs_in_the_norms_pass_with_the_same_result():
    from oldphoto_cli.pipeline.tile_statistics import recorded_statistics, shared_statistics

    torch.manual_seed(7)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.InstanceNorm2d(8), nn.ReLU(inplace=True), nn.Conv2d(8, 4, 3))
    x = torch.randn(1, 3, 30, 26)
    half = x[:, :, :, :14]
    with torch.inference_mode():
        expected = net(x)
        with recorded_statistics([net]) as stats:
            net(x)
        with shared_statistics(stats):
            expected_half = net(half)  # the half, normalised as the whole
        keys = set(net.state_dict())
        use_channels_last(net)
        assert type(net[2]) is nn.Identity and net[1].relu and set(net.state_dict()) == keys
        fused = net(x.contiguous(memory_format=torch.channels_last))
        with recorded_statistics([net]) as stats:
            net(x)
        with shared_statistics(stats):
            fused_half = net(half)
        own_statistics = net(half)
    assert (fused - expected).abs().max().item() < 1e-5
    assert (fused_half - expected_half).abs().max().item() < 1e-5
    assert (fused_half - own_statistics).abs().max().item() > 1e-2  # the shared statistics mattered


@pytest.mark.parametrize("block_bytes", [4 * 2**20, 1000])
def test_in_place_instance_norm_equals_the_copying_one(block_bytes, monkeypatch):
    from oldphoto_cli.runtime import channels_last

    monkeypatch.setattr(channels_last, "BLOCK_BYTES", block_bytes)  # 1000: many blocks
    torch.manual_seed(4)
    x = (torch.randn(2, 32, 45, 38) * 3 + 5).contiguous(memory_format=torch.channels_last)
    reference = nn.InstanceNorm2d(32)(x.double())
    norm = ChannelsLastInstanceNorm2d(32)
    copying = norm(x)
    norm.inplace = True
    with torch.inference_mode():
        given = x.clone()
        out = norm(given)
    assert out.data_ptr() == given.data_ptr()
    assert (out.double() - reference).abs().max().item() < 1e-5
    assert (out - copying).abs().max().item() < 1e-5


@pytest.mark.parametrize("chunk_bytes", [4 * 30 * 7, 2**20])  # several blocks of rows, and one
def test_fast_attention_equals_published_arithmetic(chunk_bytes):
    torch.manual_seed(3)
    b, n, c = 2, 30, 16
    queries, values = torch.randn(b, n, c), torch.randn(b, n, c)
    keys = torch.randn(b, c, n)
    valid = (torch.rand(b, 1, n) > 0.3).float()
    valid[1] = 0  # no valid key at all: rows of zeros in both forms
    expected = attend_rows(queries, keys, values, valid, chunk_bytes)
    fast = attend_rows_fast(queries, keys, values, valid, chunk_bytes)
    assert (fast - expected).abs().max().item() < 1e-5
    assert fast[1].abs().max().item() == 0.0


def test_softmax_over_the_scores_is_the_softmax_and_takes_no_new_memory():
    torch.manual_seed(5)
    scores = torch.randn(37, 1000) * 8  # rows long enough for the vectorised kernel, and a tail
    expected = scores.softmax(dim=1)
    result = softmax_rows_(scores)
    assert result.data_ptr() == scores.data_ptr()
    assert torch.equal(result, expected)


def test_accelerate_attention_sets_the_fast_form_on_each_block_only():
    net = nn.Sequential(MaskedNonLocalBlock(8), MaskedNonLocalBlock(8))
    assert accelerate_attention(net) == 2
    assert all(block.attention is attend_rows_fast for block in net)
    assert MaskedNonLocalBlock(8).attention is attend_rows  # the class keeps the published form


@pytest.mark.parametrize("channels_last_input", [True, False])
@pytest.mark.parametrize(("height", "width"), [(40, 33), (13, 7)])  # several bands of rows, and one
def test_few_output_convolution_equals_the_direct_one(channels_last_input, height, width):
    from oldphoto_cli.runtime.few_outputs import FewOutputConv2d

    torch.manual_seed(6)
    conv = nn.Conv2d(16, 3, kernel_size=7)
    x = torch.randn(2, 16, height, width)
    if channels_last_input:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        fast = FewOutputConv2d(conv)(x)
        exact = nn.functional.conv2d(x.double(), conv.weight.double(), conv.bias.double())
    assert fast.shape == exact.shape
    assert (fast.double() - exact).abs().max().item() < 1e-5


@pytest.mark.parametrize(("height", "width"), [(40, 33), (19, 9), (4, 5)])  # bands at both edges, one band
def test_few_output_convolution_folds_the_reflection_pad_before_it(height, width):
    from oldphoto_cli.runtime.few_outputs import accelerate_few_output_convolutions

    torch.manual_seed(8)
    net = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(16, 3, kernel_size=7))
    x = torch.randn(2, 16, height, width).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        exact = net.double()(x.double())
        net.float()
        keys = set(net.state_dict())
        assert accelerate_few_output_convolutions(net) == 1
        assert type(net[0]) is nn.Identity and net[1].reflect == 3 and set(net.state_dict()) == keys
        fast = net(x)
    assert fast.shape == exact.shape
    assert (fast.double() - exact).abs().max().item() < 1e-5
    wide = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(16, 3, kernel_size=5))  # pads more than it reads
    accelerate_few_output_convolutions(wide)
    assert type(wide[0]) is nn.ReflectionPad2d and wide[1].reflect == 0


def test_only_wide_convolutions_with_few_outputs_are_swapped():
    from oldphoto_cli.runtime.few_outputs import FewOutputConv2d, accelerate_few_output_convolutions

    net = nn.Sequential(
        nn.ReflectionPad2d(3),
        nn.Conv2d(64, 3, 7),  # the decoder's last layer: swapped
        nn.Conv2d(3, 64, 7),  # many outputs
        nn.Conv2d(64, 3, 3),  # narrow kernel
        nn.Conv2d(64, 3, 7, padding=3),  # padded
        nn.Sequential(nn.Conv2d(8, 1, 5)),  # nested: swapped
    )
    keys = set(net.state_dict())
    assert accelerate_few_output_convolutions(net) == 2
    assert [type(m) is FewOutputConv2d for m in (net[1], net[2], net[3], net[4], net[5][0])] == [
        True,
        False,
        False,
        False,
        True,
    ]
    assert set(net.state_dict()) == keys


DENORMALS_AFTER_LOADING = """
import sys
from pathlib import Path
import torch
from oldphoto_cli.backends import BackendSettings, create_backend
settings = BackendSettings(weights_dir=Path(sys.argv[1]), device="cpu", exact=sys.argv[2] == "exact")
create_backend("bopbtl", settings)
tiny = torch.full((1 << 22,), 1e-39)  # denormal; the product below runs on every thread
print(torch.get_num_threads(), int((tiny * 1.0).count_nonzero()))
"""


@pytest.mark.parametrize("exact", [False, True])
def test_accelerated_networks_flush_denormals_on_every_thread_and_exact_ones_keep_them(
    pipeline_checkpoints, exact
):
    """Denormals are a hundredfold slower on Intel CPUs; the flags are per thread, so they must be
    set before PyTorch's threads start: checked in a fresh process, as a restore runs."""
    import subprocess
    import sys

    args = [str(pipeline_checkpoints), "exact" if exact else "fast"]
    run = subprocess.run(
        [sys.executable, "-c", DENORMALS_AFTER_LOADING, *args], capture_output=True, text=True, check=True
    )
    threads, kept = map(int, run.stdout.split())
    assert kept == (1 << 22 if exact else 0), f"{kept} denormals kept on {threads} threads"
