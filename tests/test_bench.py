"""``oldphoto bench`` and the memory cap, end to end through the command line."""

from __future__ import annotations

import json
import sys

import numpy as np
import torch
from cli_runner import oldphoto
from PIL import Image

from oldphoto_cli.pipeline import bopbtl


def test_bench_reports_speed_and_memory_per_case(pipeline_checkpoints, tmp_path):
    report = tmp_path / "bench.json"
    result = oldphoto(
        "bench", "--model", "bopbtl,classical", "--mode", "quality", "--sizes", "64,96x48",
        "--weights", pipeline_checkpoints, "--json", report, "--workdir", tmp_path / "work",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["machine"]["cores"] >= 1 and data["machine"]["torch"]
    cases = {(r["case"]["model"], r["case"]["width"], r["case"]["height"]): r for r in data["results"]}
    assert set(cases) == {
        ("bopbtl", 64, 64),
        ("bopbtl", 96, 48),
        ("classical", 64, 64),
        ("classical", 96, 48),
    }
    for r in cases.values():
        assert r["error"] is None
        assert r["restore_s"] > 0 and r["megapixels_per_s"] > 0
        assert r["peak_rss_bytes"] > 50 * 2**20  # a whole interpreter with torch, measured in its own process
    plan = cases[("bopbtl", 64, 64)]["plan"]
    assert (plan["mode"], plan["tile"], plan["reason"], plan["preview"]) == (
        "quality",
        None,
        "whole image",
        None,
    )
    assert 0 < plan["estimated_bytes"] < cases[("bopbtl", 64, 64)]["peak_rss_bytes"]
    assert "oldphoto bench" in result.stdout


def test_bench_cases_per_precision_and_stacked_copies(pipeline_checkpoints, tmp_path):
    """``--batch 2`` restores two copies together (twice the megapixels); a precision the CPU
    refuses is that case's error, not the run's end."""
    report = tmp_path / "bench.json"
    result = oldphoto(
        "bench", "--model", "bopbtl", "--mode", "quality", "--sizes", "64", "--batch", "2",
        "--precision", "fp32,bf16,fp16", "--device", "cpu", "--weights", pipeline_checkpoints,
        "--json", report, "--workdir", tmp_path / "work",
    )  # fmt: skip
    assert result.returncode == 1  # the fp16 case failed
    results = {r["case"]["precision"]: r for r in json.loads(report.read_text())["results"]}
    assert set(results) == {"fp32", "bf16", "fp16"}
    for precision in ("fp32", "bf16"):
        r = results[precision]
        assert r["error"] is None and r["case"]["batch"] == 2
        assert r["megapixels"] == 2 * 64 * 64 / 1e6 and r["megapixels_per_s"] > 0
    assert "fp16 on the CPU" in results["fp16"]["error"]
    assert "bf16" in result.stdout and "64×64 ×2" in result.stdout


def test_bench_versus_times_both_commands_end_to_end(pipeline_checkpoints, tmp_path):
    report = tmp_path / "bench.json"
    other = (
        f'{sys.executable} -c "import shutil,sys; shutil.copy(sys.argv[1], sys.argv[2])" {{input}} {{output}}'
    )
    result = oldphoto(
        "bench", "--model", "bopbtl", "--mode", "quality", "--sizes", "64",
        "--weights", pipeline_checkpoints, "--json", report, "--versus", other, "--workdir", tmp_path / "work",
        "--repeat", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (comparison,) = json.loads(report.read_text())["comparisons"]
    assert comparison["ours_s"] > 0 and comparison["theirs_s"] > 0
    assert comparison["speedup"] == comparison["theirs_s"] / comparison["ours_s"]
    assert len(comparison["pair_speedups"]) == 2 and all(r > 0 for r in comparison["pair_speedups"])
    pairs = comparison["pair_speedups"]
    assert comparison["median_pair_speedup"] == sum(pairs) / 2  # the median of two
    assert "pairs: median" in result.stdout
    assert (tmp_path / "work" / "ours_quality_bench_64x64.png").exists()


def test_bad_sizes_and_memory_caps_are_usage_errors(tmp_path):
    for args in (("bench", "--sizes", "big"), ("restore", tmp_path, "--max-memory", "lots")):
        result = oldphoto(*args)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr


def test_a_cap_below_what_is_loaded_fails_the_file_with_advice(pipeline_checkpoints, realworld_dir, tmp_path):
    src = tmp_path / "g.png"
    Image.open(realworld_dir / "old" / "g.png").convert("RGB").save(src)
    result = oldphoto(
        "restore", src, "-o", tmp_path / "out.png", "--model", "bopbtl", "--weights", pipeline_checkpoints,
        "--max-memory", "100M",
    )  # fmt: skip
    assert result.returncode == 1  # that photo failed, with its name and the reason
    assert "g.png" in result.stderr and "--max-memory" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.png").exists()


def test_a_tight_budget_restores_in_tiles(pipeline_checkpoints, realworld_dir, monkeypatch):
    from oldphoto_cli.registry.manifest import get_model
    from oldphoto_cli.registry.resolve import resolve_files

    files = resolve_files(get_model("bopbtl"), get_model("bopbtl").keys_for("scratch"), pipeline_checkpoints)
    pipe = bopbtl.BopbtlPipeline(bopbtl.torch_networks(files, "scratch", torch.device("cpu")), "scratch")
    monkeypatch.setattr(
        bopbtl, "run_budget", lambda cap, device=None: 400 * 2**20
    )  # room for small tiles only
    tiles: list[tuple[int, int]] = []
    pipe.on_tile = lambda done, total: tiles.append((done, total))
    rgb = np.asarray(Image.open(realworld_dir / "old_w_scratch" / "d.png").convert("RGB"))
    result = pipe.restore(rgb)
    assert pipe.last_plan is not None and pipe.last_plan.tiled
    assert tiles[-1][0] == tiles[-1][1] > 1
    assert result.image.shape == rgb.shape and np.isfinite(result.image).all()
    assert result.mask is not None and result.mask.shape == rgb.shape[:2] and result.mask.any()


def test_bench_times_degrade_presets_on_one_thread(tmp_path):
    report = tmp_path / "bench.json"
    result = oldphoto(
        "bench", "--model", "degrade:paper,degrade:old-print", "--mode", "quality", "--sizes", "128",
        "--json", report, "--workdir", tmp_path / "work",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = {r["backend"]: r for r in json.loads(report.read_text())["results"]}
    assert set(rows) == {"degrade:paper", "degrade:old-print"}
    assert all(r["error"] is None and r["restore_s"] > 0 for r in rows.values())


def test_unwritable_report_and_work_folders_are_one_line(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for option in ("--json", "--workdir"):
        result = oldphoto("bench", "--model", "classical", "--sizes", "32", option, blocker / "x")
        assert result.returncode == 2
        assert str(blocker) in result.stderr and "Traceback" not in result.stderr
    assert blocker.read_text() == "not a folder"
