"""``oldphoto evaluate``: metrics against known values, reports on a tiny hand-made dataset."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from oldphoto_cli.cli.evaluate import evaluate_command
from oldphoto_cli.evaluate import niqe as niqe_module
from oldphoto_cli.evaluate.brisque import find_brisque_model
from oldphoto_cli.evaluate.metrics import MaskCounts, luma, mask_counts, psnr, ssim
from oldphoto_cli.evaluate.noreference import colourfulness, dynamic_range, noise_sigma, sharpness

REPO = Path(__file__).resolve().parents[1]
TIMING = {"seconds", "peak_mib"}


# ------------------------------------------------------------------ metrics


def _grey(value: float, shape=(256, 256, 3)) -> np.ndarray:
    return np.full(shape, value, dtype=np.float64)


def test_identical_images_score_perfectly() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    assert psnr(rgb, rgb) == math.inf
    assert ssim(rgb, rgb) == pytest.approx(1.0, abs=1e-12)
    assert ssim(luma(rgb), luma(rgb)) == pytest.approx(1.0, abs=1e-12)


def test_psnr_of_known_noise_level() -> None:
    clean = _grey(128).astype(np.uint8)
    noise = np.random.default_rng(1).normal(0, 10, clean.shape)
    noisy = np.clip(np.round(128 + noise), 0, 255).astype(np.uint8)  # 128 ± 12σ: no clipping
    assert psnr(noisy, clean) == pytest.approx(20 * math.log10(255 / 10), abs=0.1)


def test_psnr_on_luma_of_a_uniform_offset() -> None:
    clean = _grey(100, (16, 16, 3))
    assert psnr(luma(clean + 5), luma(clean)) == pytest.approx(20 * math.log10(255 / 5))


def _slow_ssim_plane(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al. written out pixel by pixel over the windows that fit inside the image."""
    axis = np.arange(-5, 6)
    g = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * 1.5**2))
    w = g / g.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for i in range(5, x.shape[0] - 5):
        for j in range(5, x.shape[1] - 5):
            px, py = x[i - 5 : i + 6, j - 5 : j + 6], y[i - 5 : i + 6, j - 5 : j + 6]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
            cxy = (w * (px - mx) * (py - my)).sum()
            values.append((2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(values))


def test_ssim_matches_a_slow_reference() -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (24, 30, 3)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 25, x.shape), 0, 255)
    expected = np.mean([_slow_ssim_plane(x[..., c], y[..., c]) for c in range(3)])
    assert ssim(x, y) == pytest.approx(expected, abs=1e-9)
    assert ssim(luma(x), luma(y)) == pytest.approx(_slow_ssim_plane(luma(x), luma(y)), abs=1e-9)


def test_metrics_refuse_different_sizes() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))


def test_mask_scores_exact_counts() -> None:
    truth = np.zeros((10, 10), bool)
    truth[2:6, 2:6] = True  # 16 damaged pixels
    predicted = np.zeros((10, 10), np.uint8)
    predicted[4:8, 4:6] = 255  # 8 flagged: 4 inside the damage, 4 outside
    counts = mask_counts(predicted, truth)
    assert (counts.tp, counts.fp, counts.fn) == (4, 4, 12)
    assert counts.precision == 0.5
    assert counts.recall == 0.25
    assert counts.iou == 4 / 20


def test_mask_scores_pool_and_empty_conventions() -> None:
    pooled = MaskCounts(4, 4, 12) + MaskCounts(6, 0, 0)
    assert (pooled.precision, pooled.recall, pooled.iou) == (10 / 14, 10 / 22, 10 / 26)
    nothing = MaskCounts(0, 0, 0)
    assert (nothing.precision, nothing.recall, nothing.iou) == (1.0, 1.0, 1.0)
    missed = MaskCounts(0, 0, 5)
    assert (missed.precision, missed.recall, missed.iou) == (0.0, 0.0, 0.0)


# ------------------------------------------------------------------ no-reference


def test_noise_sigma_estimate_of_known_noise() -> None:
    noisy = _grey(128) + np.random.default_rng(3).normal(0, 10, (256, 256, 1))
    assert noise_sigma(noisy) == pytest.approx(10, rel=0.05)
    assert noise_sigma(_grey(128)) == 0.0


def test_simple_indicators_on_known_images() -> None:
    ramp = np.repeat(np.linspace(0, 255, 101)[None, :, None], 3, axis=2).repeat(10, axis=0)
    assert dynamic_range(ramp) == pytest.approx(0.98 * 255)
    assert colourfulness(ramp) == 0.0
    assert sharpness(_grey(50)) == 0.0
    red = np.zeros((8, 8, 3))
    red[..., 0] = 200
    assert colourfulness(red) == pytest.approx(0.3 * math.hypot(200, 100))


def _fake_niqe_params(path: Path) -> Path:
    """Stand-in pristine statistics (the real ones are not ours to ship)."""
    np.savez(path, mu_pris_param=np.full((1, 36), 0.5), cov_pris_param=np.eye(36))
    return path


def test_niqe_runs_with_given_parameters(tmp_path: Path) -> None:
    model = niqe_module.load_niqe_model(_fake_niqe_params(tmp_path / "p.npz"))
    rng = np.random.default_rng(4)
    photo = np.clip(128 + rng.normal(0, 30, (200, 200, 3)), 0, 255).astype(np.uint8)
    score = niqe_module.niqe(photo, model)
    assert score is not None and math.isfinite(score) and score > 0
    assert niqe_module.niqe(photo[:100, :100], model) is None  # fewer than two 96×96 blocks


def test_niqe_half_size_is_matlab_imresize_on_a_ramp() -> None:
    """MATLAB's antialiased half-size of a linear ramp is the ramp at the half-pixel centres."""
    ramp = np.tile(np.arange(64, dtype=np.float64), (64, 1))
    half = niqe_module._half(ramp)
    assert half.shape == (32, 32)
    assert np.allclose(half[:, 4:-4], np.arange(0.5, 64, 2)[4:-4])


def test_niqe_refuses_a_malformed_parameter_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, mu_pris_param=np.zeros(3))
    with pytest.raises(ValueError, match="not a NIQE parameter file"):
        niqe_module.load_niqe_model(bad)


# ------------------------------------------------------------------ the command


def _make_dataset(root: Path, count: int = 3, size: int = 64) -> Path:
    """clean/, degraded/ (noise and a white scratch) and mask/ with the same names."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:size, 0:size]
    for folder in ("clean", "degraded", "mask"):
        (root / folder).mkdir(parents=True)
    for i in range(count):
        clean = np.stack([xx * 3 + 20 * i, yy * 3, np.full_like(xx, 120)], -1).clip(0, 255).astype(np.uint8)
        mask = np.zeros((size, size), np.uint8)
        mask[8:56, 20 + 5 * i : 22 + 5 * i] = 255
        degraded = np.clip(clean + rng.normal(0, 8, clean.shape), 0, 255).astype(np.uint8)
        degraded[mask > 0] = 250
        for folder, array in (("clean", clean), ("degraded", degraded), ("mask", mask)):
            Image.fromarray(array).save(root / folder / f"photo{i}.png")
    return root


def _invoke(*args: str):
    app = typer.Typer()
    app.command()(evaluate_command)
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _metric_values(report: Path) -> list[dict]:
    data = json.loads((report / "results.json").read_text())
    return [{k: v for k, v in row.items() if k not in TIMING} for row in data["images"] + data["means"]]


def test_evaluate_tiny_dataset_with_classical(tmp_path: Path) -> None:
    dataset = _make_dataset(tmp_path / "set")
    result = _invoke(str(dataset), "--model", "classical")
    assert result.exit_code == 0, result.output
    report = tmp_path / "set_evaluation"
    for name in ("results.json", "results.csv", "grid.jpg", "classical/photo0.png"):
        assert (report / name).is_file(), name
    data = json.loads((report / "results.json").read_text())
    assert data["backends"] == ["classical"]
    assert any("LPIPS" in note for note in data["notes"])
    keys = {"psnr", "psnr_y", "ssim", "ssim_y", "mask_precision", "mask_recall", "mask_iou", "seconds"}
    assert [r["photo"] for r in data["images"]] == ["photo0.png", "photo1.png", "photo2.png"]
    for row in data["images"] + data["means"]:
        assert keys <= row.keys()
        assert all(math.isfinite(row[k]) for k in keys)
    assert data["means"][0]["images"] == 3
    assert {"mask_iou_pooled", "peak_mib"} <= data["means"][0].keys()
    csv_lines = (report / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + 3 + 1 and csv_lines[0].startswith("backend,photo,psnr")
    with Image.open(report / "grid.jpg") as grid:
        assert grid.height > 3 * 256  # three rows of 256-pixel thumbnails
    assert "psnr" in result.output


def test_evaluate_is_deterministic(tmp_path: Path) -> None:
    dataset = _make_dataset(tmp_path / "set")
    for out in ("a", "b"):
        assert _invoke(str(dataset), "-m", "classical", "-o", str(tmp_path / out)).exit_code == 0
    assert _metric_values(tmp_path / "a") == _metric_values(tmp_path / "b")


def test_identical_clean_and_degraded_report_inf_as_string(tmp_path: Path) -> None:
    """PSNR of identical images is inf; JSON cannot hold that, so it is the string "inf"."""
    from oldphoto_cli.evaluate.report import results_json
    from oldphoto_cli.evaluate.runner import Evaluation

    evaluation = Evaluation(backends=["x"], rows=[{"backend": "x", "photo": "a", "psnr": math.inf}])
    data = json.loads(results_json(evaluation, {}))
    assert data["images"][0]["psnr"] == "inf" and data["means"][0]["psnr"] == "inf"
    assert float(data["images"][0]["psnr"]) == math.inf


def test_unknown_model_and_missing_layout_fail_cleanly(tmp_path: Path) -> None:
    from oldphoto_cli.errors import OldPhotoError, UnknownModelError

    dataset = _make_dataset(tmp_path / "set", count=1)
    with pytest.raises(UnknownModelError):
        _invoke(str(dataset), "-m", "classical,nonesuch")
    with pytest.raises(OldPhotoError, match="clean/ and degraded/"):
        _invoke(str(dataset / "clean"))


def test_no_reference_on_a_folder(tmp_path: Path) -> None:
    photos = _make_dataset(tmp_path / "set", count=2, size=200) / "degraded"
    env_params = _fake_niqe_params(tmp_path / "niqe.npz")
    result = _invoke(str(photos), "--no-reference", "-m", "classical", "--niqe-params", str(env_params))
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "set" / "degraded_evaluation" / "results.json").read_text())
    assert data["mode"] == "no-reference"
    assert [r["backend"] for r in data["means"]] == ["input", "classical"]
    for row in data["images"]:
        assert {"niqe", "noise_sigma", "sharpness", "colourfulness", "dynamic_range"} <= row.keys()
        assert math.isfinite(row["niqe"])
    brisque_found = find_brisque_model() is not None
    assert any("BRISQUE" in note for note in data["notes"]) != brisque_found
    assert all((row["brisque"] is not None) == brisque_found for row in data["images"])
    # The restoration removes the added grain: the estimate drops.
    means = {r["backend"]: r for r in data["means"]}
    assert means["classical"]["noise_sigma"] < means["input"]["noise_sigma"]


def test_no_reference_without_niqe_parameters_says_so(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OLDPHOTO_NIQE_PARAMS", raising=False)
    monkeypatch.setattr(niqe_module, "_basicsr_params", lambda: None)
    photos = _make_dataset(tmp_path / "set", count=1) / "degraded"
    result = _invoke(str(photos), "--no-reference", "-m", "classical", "-o", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    assert data["images"][0]["niqe"] is None
    assert any(note.startswith("NIQE unavailable") for note in data["notes"])


def test_python_m_oldphoto_evaluate(tmp_path: Path) -> None:
    dataset = _make_dataset(tmp_path / "set", count=1)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "oldphoto_cli", "evaluate", str(dataset), "-m", "classical"]
    run = subprocess.run(command, check=False, capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "set_evaluation" / "results.json").is_file()
    assert "classical" in run.stdout


@pytest.fixture()
def brisque_model():
    model = find_brisque_model()
    if model is None:
        pytest.skip("BRISQUE model files not installed (Debian/Ubuntu: apt install opencv-data)")
    return model


def test_brisque_ranks_a_real_scan_above_its_blurred_and_noisy_copies(
    brisque_model, realworld_dir: Path
) -> None:
    import cv2

    from oldphoto_cli.evaluate.brisque import brisque

    scan = np.asarray(Image.open(realworld_dir / "old" / "g.png").convert("RGB"))
    blurred = cv2.GaussianBlur(scan, (0, 0), 3)
    noisy = np.clip(scan + np.random.default_rng(0).normal(0, 20, scan.shape), 0, 255).astype(np.uint8)
    clean_score = brisque(scan, brisque_model)
    assert 0 < clean_score < brisque(blurred, brisque_model)
    assert clean_score < brisque(noisy, brisque_model)
    assert brisque(scan, brisque_model) == clean_score  # deterministic


def test_a_brisque_folder_without_the_model_is_refused(tmp_path: Path) -> None:
    from oldphoto_cli.errors import OldPhotoError

    photos = _make_dataset(tmp_path / "set", count=1) / "degraded"
    with pytest.raises(OldPhotoError, match="brisque_model_live.yml"):
        _invoke(str(photos), "--no-reference", "-m", "classical", "--brisque-model", str(tmp_path))
