"""The ONNX path: export with free height and width, ONNX Runtime against PyTorch, the cache, the
``export`` command and ``restore --runtime onnx``.

Real stand-in checkpoints (``pipeline_checkpoints``, the published networks' full size). Exports
take seconds each, so this module makes each one once: the two ``restore --runtime onnx`` runs start
from an empty cache and export what they need; the networks they do not use are added to the same
cache for the network-by-network comparisons, which thereby also check that the cache is reused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runner import oldphoto
from PIL import Image

from oldphoto_cli.backends import BackendSettings, create_backend
from oldphoto_cli.errors import (
    ExportError,
    ProviderUnavailableError,
    WeightsNotFoundError,
)
from oldphoto_cli.export.manifest import MANIFEST_NAME, read_manifest
from oldphoto_cli.export.model_export import export_model
from oldphoto_cli.export.onnx_cache import cached_exports
from oldphoto_cli.export.stage_one_export import STAGE_ONE_EXPORTS, stage_one_keys
from oldphoto_cli.export.stage_one_onnx import onnx_networks
from oldphoto_cli.pipeline.bopbtl import MODES, BopbtlPipeline, stage_one_modules
from oldphoto_cli.pipeline.planning import estimate_bytes
from oldphoto_cli.registry.checkpoint import load_checkpoint
from oldphoto_cli.registry.integrity import sha256_of
from oldphoto_cli.registry.manifest import get_model
from oldphoto_cli.registry.resolve import resolve_files
from oldphoto_cli.runtime.memory import resident_bytes
from oldphoto_cli.runtime.onnx_engine import CPU, CUDA, OnnxEngine

TOLERANCE = 1e-3
MIB = 2**20
QUALITY_KEYS = ("vae_a_quality", "mapping_quality", "vae_b_quality")
# ONNX network: (a mode that uses it, its checkpoint key, the module's part or None)
NETWORKS = {
    "vae_a_encoder": ("quality", "vae_a_quality", "encoder"),
    "vae_b_quality_decoder": ("quality", "vae_b_quality", "decoder"),
    "vae_b_scratch_decoder": ("scratch", "vae_b_scratch", "decoder"),
    "mapping_quality": ("quality", "mapping_quality", None),
    "mapping_scratch": ("scratch", "mapping_scratch", None),
    "mapping_hr": ("scratch_hr", "mapping_hr", None),
    "detection": ("scratch", "detection", None),
}


@pytest.fixture(scope="module")
def files(pipeline_checkpoints: Path) -> dict[str, Path]:
    model = get_model("bopbtl")
    return resolve_files(model, list(model.files), pipeline_checkpoints)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("oldphoto-cache")


def cached_onnx(cache: Path) -> dict[str, int]:
    """Every ONNX file in the cache by name, with its modification time."""
    return {p.name: p.stat().st_mtime_ns for p in (cache / "onnx").glob("*/*.onnx")}


@pytest.fixture(scope="module")
def scans(realworld_dir: Path, reference_dir: Path, tmp_path_factory) -> Path:
    """Two real scans, downscaled so that every run stays quick, and the scratched one's mask.

    The scratch run gets its mask (the published detector's, scaled) rather than detecting: the
    detector always works at a 256-pixel short side, the slowest step by far on a small scan, and
    the detector network is compared on its own below.
    """
    folder = tmp_path_factory.mktemp("scans")
    for name, source, size in (
        ("quality", "old/g.png", (80, 80)),
        ("scratch", "old_w_scratch/d.png", (100, 64)),
    ):
        Image.open(realworld_dir / source).convert("RGB").resize(size, Image.LANCZOS).save(
            folder / f"{name}.png"
        )
    mask = Image.open(reference_dir / "pipeline" / "mask_old_w_scratch_d.png").convert("L")
    mask.resize((100, 64), Image.NEAREST).save(folder / "scratch_mask.png")
    return folder


@pytest.fixture(scope="module")
def onnx_runs(
    scans: Path, pipeline_checkpoints: Path, cache: Path, tmp_path_factory
) -> dict[str, tuple[Path, str, dict[str, int]]]:
    """``restore --runtime onnx`` in quality then scratch mode: (output, stderr, cache after the run)."""
    outputs = tmp_path_factory.mktemp("onnx-runs")
    runs = {}
    for mode, flags in (("quality", ()), ("scratch", ("--scratch", "--mask", scans / "scratch_mask.png"))):
        out = outputs / f"{mode}.png"
        result = oldphoto(
            "restore", scans / f"{mode}.png", "-o", out, "--model", "bopbtl",
            "--weights", pipeline_checkpoints, "--runtime", "onnx", "--device", "cpu", *flags,
            env={"OLDPHOTO_CACHE": str(cache)},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs[mode] = (out, result.stderr, cached_onnx(cache))
    return runs


@pytest.fixture(scope="module")
def engines(files: dict[str, Path], cache: Path, onnx_runs) -> dict[str, OnnxEngine]:
    """One CPU engine per network, from the cache the restore runs filled (the rest exported now)."""
    paths: dict[str, Path] = {}
    for mode in MODES:
        paths |= cached_exports(files, stage_one_keys(mode), cache / "onnx")
    names = {key: STAGE_ONE_EXPORTS[key].name for key in paths}
    return {names[key]: OnnxEngine(names[key], path, "cpu") for key, path in paths.items()}


@pytest.fixture(scope="module")
def modules(files: dict[str, Path]) -> dict[str, torch.nn.Module]:
    """The same checkpoints as plain PyTorch modules (no engine, no runtime tricks)."""
    loaded: dict[str, torch.nn.Module] = {}
    for mode in MODES:
        for key, module in stage_one_modules(mode).items():
            loaded.setdefault(key, load_checkpoint(module, files[key]))
    return loaded


@pytest.fixture(scope="module")
def vectors(reference_dir: Path) -> dict[str, torch.Tensor]:
    with np.load(reference_dir / "vectors_64x96.npz") as data:
        return {k: torch.from_numpy(data[k]) for k in data.files}


def network_inputs(name: str, size: tuple[int, int], vectors: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """The published vectors' inputs at 64×96; seeded random ones in the same ranges elsewhere."""
    mode = NETWORKS[name][0]
    if size == (64, 96):
        image = vectors["detection.input"] if name == "detection" else vectors[f"{mode}.input"]
        latent, mask = vectors[f"{mode}.latent_a"], vectors[f"{mode}.mask"]
    else:
        g = torch.Generator().manual_seed(size[0])
        channels = 1 if name == "detection" else 3
        image = torch.rand(1, channels, *size, generator=g) * 2 - 1
        latent = torch.randn(1, 64, size[0] // 4, size[1] // 4, generator=g)
        mask = torch.zeros(1, 1, *size)
        mask[..., size[0] // 4 : size[0] // 2, size[1] // 5 : size[1] * 3 // 4] = 1
    if name in ("vae_a_encoder", "detection"):
        return [image]
    return [latent, mask] if name in ("mapping_scratch", "mapping_hr") else [latent]


@pytest.mark.parametrize("size", [(64, 96), (48, 80)])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_onnx_agrees_with_torch_at_every_size(engines, modules, vectors, name, size):
    _, key, part = NETWORKS[name]
    module = getattr(modules[key], part) if part else modules[key]
    inputs = network_inputs(name, size, vectors)
    with torch.inference_mode():
        expected = module(*inputs)
    got = engines[name](*inputs)
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() < TOLERANCE
    assert expected.abs().max().item() > 0.1  # a real signal, not a collapsed output


@pytest.mark.parametrize(
    ("mode", "mapping", "decoder"),
    [
        ("quality", "mapping_quality", "vae_b_quality_decoder"),
        ("scratch", "mapping_scratch", "vae_b_scratch_decoder"),
        ("scratch_hr", "mapping_hr", "vae_b_scratch_decoder"),
    ],
)
def test_onnx_chain_reproduces_the_published_vectors(engines, vectors, mode, mapping, decoder):
    latent = engines["vae_a_encoder"](vectors[f"{mode}.input"])
    inputs = (latent,) if mode == "quality" else (latent, vectors[f"{mode}.mask"])
    output = engines[decoder](engines[mapping](*inputs))
    assert (output - vectors[f"{mode}.output"]).abs().max().item() < TOLERANCE


@pytest.mark.filterwarnings("ignore:Specified provider 'CUDAExecutionProvider' is not in available")
def test_cuda_asked_of_a_cpu_only_session_is_refused(engines, monkeypatch):
    """ONNX Runtime falls back to the CPU without a word; we check what the session really uses."""
    import onnxruntime

    path = engines["vae_a_encoder"].path
    assert OnnxEngine("e", path, "cpu").active_providers == [CPU]
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CUDA, CPU])
    with pytest.raises(ProviderUnavailableError, match="could not start its CUDAExecutionProvider"):
        OnnxEngine("e", path, "cuda")
    assert OnnxEngine("e", path, "auto").active_providers == [CPU]  # auto takes what there is


@pytest.mark.parametrize(
    ("mode", "side", "budget"), [("scratch", 256, 230 * MIB), ("scratch_hr", 320, 160 * MIB)]
)
def test_onnx_restore_under_a_tight_budget_runs_in_tiles(
    files, cache, engines, realworld_dir, mode, side, budget
):
    """The planner alone sizes ONNX runs: the whole photo's similarity matrices exceed ``--max-memory``,
    so it plans tiles whose matrices fit, and the engines run them without a second opinion."""
    wanted = {key: path for key, path in files.items() if key != "mapping_hr" or mode == "scratch_hr"}
    networks = onnx_networks(wanted, mode, "cpu", need_detector=False, cache_dir=cache / "onnx")
    with Image.open(realworld_dir / "old_w_scratch" / "d.png") as img:
        rgb = np.asarray(img.convert("RGB").resize((side, side)))
    mask = np.zeros((side, side), bool)
    mask[side // 3 : side // 3 + 6, :] = True
    pipe = BopbtlPipeline(networks, mode, max_memory=(resident_bytes() or 0) + budget)
    result = pipe.restore(rgb, mask)
    plan = pipe.last_plan
    assert estimate_bytes(side, side, mode, blocked_attention=False) > budget
    assert plan is not None and plan.tiled and plan.mode == mode
    assert plan.peak_bytes == estimate_bytes(plan.tile, plan.tile, mode, blocked_attention=False)
    assert plan.peak_bytes <= budget
    assert result.image.shape == (side, side, 3) and np.isfinite(result.image).all()


@pytest.fixture()
def quality_weights(pipeline_checkpoints: Path, tmp_path: Path) -> Path:
    """A weights folder with only the quality mode's files."""
    folder = tmp_path / "weights"
    model = get_model("bopbtl")
    for key in QUALITY_KEYS:
        source = pipeline_checkpoints / "Global" / "checkpoints" / model.files[key].path
        target = folder / "Global" / "checkpoints" / model.files[key].path
        target.parent.mkdir(parents=True)
        os.link(source, target)
    return folder


def test_export_command_writes_the_available_modes_and_a_manifest(quality_weights, tmp_path):
    import onnx

    out = tmp_path / "onnx"
    result = oldphoto(
        "export", "--model", "bopbtl", "--format", "onnx", "-o", out, "--weights", quality_weights
    )
    assert result.returncode == 0, result.stderr
    names = ["vae_a_encoder.onnx", "vae_b_quality_decoder.onnx", "mapping_quality.onnx", MANIFEST_NAME]
    assert [Path(line).name for line in result.stdout.split()] == names
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    manifest = json.loads((out / MANIFEST_NAME).read_text())["networks"]
    model = get_model("bopbtl")
    for key, name in zip(QUALITY_KEYS, ("vae_a_encoder", "mapping_quality", "vae_b_quality_decoder")):
        source = quality_weights / "Global" / "checkpoints" / model.files[key].path
        assert manifest[name]["source_sha256"] == sha256_of(source)
        assert manifest[name]["opset"] == 17 and manifest[name]["torch"] == torch.__version__
    graph = onnx.load(out / "vae_a_encoder.onnx").graph
    dims = [
        [d.dim_param or d.dim_value for d in t.type.tensor_type.shape.dim]
        for t in (*graph.input, *graph.output)
    ]
    assert [d[1:] for d in dims] == [
        [3, "image_height", "image_width"],
        [64, "output_height", "output_width"],
    ]


def test_export_command_refuses_an_unknown_mode_in_one_line(quality_weights, tmp_path):
    result = oldphoto("export", "-o", tmp_path / "onnx", "--weights", quality_weights, "--mode", "sepia")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "quality, scratch, scratch_hr" in errors[0]
    assert not (tmp_path / "onnx").exists()


def test_export_without_modes_or_weights_says_what_to_do(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="oldphoto download"):
        export_model("bopbtl", tmp_path / "onnx", weights_dir=tmp_path)
    with pytest.raises(ExportError, match="classical.*no networks"):
        export_model("classical", tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()


def torch_restore(scans: Path, mode: str, weights: Path) -> np.ndarray:
    """The same restoration in this process with the torch runtime (the reference)."""
    scratch = mode == "scratch"
    settings = BackendSettings(scratch=scratch, weights_dir=weights, device="cpu", given_masks=scratch)
    backend = create_backend("bopbtl", settings)
    rgb = np.asarray(Image.open(scans / f"{mode}.png").convert("RGB"))
    mask = np.asarray(Image.open(scans / "scratch_mask.png")) > 127 if scratch else None
    return backend.restore(rgb, mask).image


@pytest.mark.parametrize("mode", ["quality", "scratch"])
def test_restore_with_onnx_runtime_matches_torch(onnx_runs, scans, pipeline_checkpoints, mode):
    out, stderr, _ = onnx_runs[mode]
    assert "runtime: onnx (CPUExecutionProvider)" in stderr
    got = np.asarray(Image.open(out).convert("RGB")).astype(np.int16)
    assert np.abs(got - torch_restore(scans, mode, pipeline_checkpoints)).max() <= 2


def test_restore_exports_on_first_use_then_reuses_the_cache(onnx_runs, engines, cache, files):
    """No export beforehand: each run exports what it lacks, and never remakes what is there."""
    quality, scratch = onnx_runs["quality"][2], onnx_runs["scratch"][2]
    assert sorted(quality) == ["mapping_quality.onnx", "vae_a_encoder.onnx", "vae_b_quality_decoder.onnx"]
    assert sorted(set(scratch) - set(quality)) == ["mapping_scratch.onnx", "vae_b_scratch_decoder.onnx"]
    final = cached_onnx(cache)  # after the engines fixture added detection and mapping_hr
    assert len(final) == len(NETWORKS)
    assert all(final[name] == mtime for name, mtime in {**quality, **scratch}.items())
    folder = cache / "onnx" / sha256_of(files["vae_a_quality"])[:16]
    assert (folder / "vae_a_encoder.onnx").is_file()
    assert read_manifest(folder)["vae_a_encoder"].source_sha256 == sha256_of(files["vae_a_quality"])


def test_cuda_with_onnx_on_a_cpu_only_machine_is_one_line(scans, pipeline_checkpoints, tmp_path):
    result = oldphoto(
        "restore", scans / "quality.png", "-o", tmp_path / "x.png", "--model", "bopbtl",
        "--weights", pipeline_checkpoints, "--runtime", "onnx", "--device", "cuda",
        env={"OLDPHOTO_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "CUDAExecutionProvider" in errors[0] and "onnxruntime-gpu" in errors[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cache").exists()  # refused before exporting anything


def test_runtime_is_ignored_with_a_note_by_the_classical_backend(scans, tmp_path):
    out = tmp_path / "c.png"
    result = oldphoto(
        "restore", scans / "quality.png", "-o", out, "--model", "classical", "--runtime", "onnx"
    )
    assert result.returncode == 0, result.stderr
    assert "classical has no networks; --runtime onnx does not apply" in result.stderr
    assert out.exists()


def test_export_into_an_impossible_folder_is_one_line(pipeline_checkpoints: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = oldphoto(
        "export", "--model", "bopbtl", "--weights", pipeline_checkpoints, "-o", blocker / "onnx"
    )
    assert result.returncode == 2
    assert "cannot create the folder" in result.stderr and str(blocker) in result.stderr
    assert "Traceback" not in result.stderr
