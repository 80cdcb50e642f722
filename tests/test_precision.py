"""``--precision``: autocast where the chain tolerates it, float32 elsewhere, refused where useless."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_runner import oldphoto
from PIL import Image
from stage_one import stage_one_pipeline

from oldphoto_cli.cli.choices import PrecisionChoice
from oldphoto_cli.errors import OldPhotoError
from oldphoto_cli.networks import VAE, MappingNetwork
from oldphoto_cli.registry.checkpoint import load_into
from oldphoto_cli.runtime.engines import TorchEngine
from oldphoto_cli.runtime.precision import PRECISIONS, autocast_dtype

CPU = torch.device("cpu")


def test_cli_choices_list_every_precision():
    assert [c.value for c in PrecisionChoice] == list(PRECISIONS)


def test_fp16_on_the_cpu_and_unknown_names_are_refused():
    with pytest.raises(OldPhotoError, match="fp16 on the CPU"):
        autocast_dtype("fp16", CPU)
    with pytest.raises(OldPhotoError, match="fp32, fp16, bf16"):
        autocast_dtype("fp8", CPU)
    assert autocast_dtype("fp32", CPU) is None and autocast_dtype("bf16", CPU) is torch.bfloat16


@torch.inference_mode()
def test_bf16_engines_run_reduced_and_return_float32(layout, ref_state_dict, reference_dir):
    """The quality chain of the reference vectors: measured 5.1e-1 off in bf16, 3.7e-4 in float32."""
    with np.load(reference_dir / "vectors_64x96.npz") as data:
        x, expected = torch.from_numpy(data["quality.input"]), torch.from_numpy(data["quality.output"])

    def networks() -> tuple[torch.nn.Module, ...]:  # fresh ones: a float32 engine swaps layers in place
        nets = [
            load_into(net, ref_state_dict(layout[f"quality/{section}"]), section)
            for net, section in ((VAE(), "vae_a"), (MappingNetwork(), "mapping_net"), (VAE(), "vae_b"))
        ]
        return nets[0].encoder, nets[1], nets[2].decoder

    for autocast, low, high in ((None, 0, 1e-3), (torch.bfloat16, 0.05, 0.8)):
        engines = [TorchEngine(str(i), m, CPU, autocast=autocast) for i, m in enumerate(networks())]
        out = engines[2](engines[1](engines[0](x)))
        assert out.dtype == torch.float32 and torch.isfinite(out).all()
        assert low <= (out - expected).abs().max().item() < high


@pytest.mark.parametrize(
    ("mode", "reduced", "max_mean_levels"),
    [
        ("quality", {"vae_a_encoder", "mapping_quality", "vae_b_decoder"}, 16),
        ("scratch", {"vae_b_decoder"}, 2),
    ],
)
def test_only_networks_that_tolerate_it_run_reduced(
    pipeline_checkpoints, realworld_dir, mode, reduced, max_mean_levels
):
    """Measured on this crop: 8.2 levels off on average in quality mode, 0.64 in scratch mode,
    where the attention chain stays float32 (57 levels off when everything ran bf16)."""
    with Image.open(realworld_dir / "old_w_scratch" / "a.png") as img:
        rgb = np.asarray(img.convert("RGB").resize((160, 128)))
    reference = stage_one_pipeline(pipeline_checkpoints, mode).restore(rgb)
    pipe = stage_one_pipeline(pipeline_checkpoints, mode, precision=torch.bfloat16)
    engines = [pipe.networks.encode, pipe.networks.mapping, pipe.networks.decode, pipe.networks.detect]
    assert {e.name for e in engines if e is not None and e.autocast is torch.bfloat16} == reduced
    result = pipe.restore(rgb)
    levels = np.abs(result.image - reference.image) * 255
    assert 0.05 < levels.mean() < max_mean_levels
    if mode == "scratch":
        assert np.array_equal(result.mask, reference.mask)


def test_cli_precision_is_reported_and_refused_where_it_cannot_help(
    pipeline_checkpoints, realworld_dir, tmp_path
):
    with Image.open(realworld_dir / "old" / "g.png") as img:
        img.convert("RGB").resize((128, 96)).save(tmp_path / "g.png")
    common = ("--model", "bopbtl", "--weights", pipeline_checkpoints)
    ran = oldphoto("restore", tmp_path / "g.png", "-o", tmp_path / "bf16.png", "--precision", "bf16", *common)
    assert ran.returncode == 0, ran.stderr
    assert "runtime: torch (cpu, bf16)" in ran.stderr
    assert Image.open(tmp_path / "bf16.png").size == (128, 96)
    for flags, message in (
        (("--precision", "fp16"), "fp16 on the CPU"),
        (("--precision", "bf16", "--runtime", "onnx"), "--precision applies to --runtime torch"),
        (("--batch-size", "2", "--runtime", "onnx"), "--batch-size applies to --runtime torch"),
    ):
        refused = oldphoto("restore", tmp_path / "g.png", "-o", tmp_path / "no.png", *flags, *common)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
        assert not (tmp_path / "no.png").exists()


def test_options_for_networks_are_noted_for_the_classical_backend(realworld_dir, tmp_path):
    with Image.open(realworld_dir / "old" / "g.png") as img:
        img.convert("RGB").resize((128, 96)).save(tmp_path / "g.png")
    result = oldphoto(
        "restore", tmp_path / "g.png", "-o", tmp_path / "out.png", "--model", "classical",
        "--precision", "bf16", "--batch-size", "4",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "classical has no networks; --precision bf16, --batch-size 4 do not apply" in result.stderr
    assert Image.open(tmp_path / "out.png").size == (128, 96)
