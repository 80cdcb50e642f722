"""``oldphoto degrade`` on folders (paired dataset + manifest) and through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oldphoto_cli.degrade import preset
from oldphoto_cli.degrade.dataset import MANIFEST, SUBFOLDERS, build_dataset, derive_seed, plan_pairs

OLD = preset("old-print")


def make_photo(path: Path, size: tuple[int, int], seed: int) -> None:
    """A small smooth colour photo; JPEG or PNG by extension."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).resize(size, Image.BICUBIC).save(path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "clean_photos"
    make_photo(root / "a.jpg", (96, 72), 1)
    make_photo(root / "b.png", (64, 80), 2)
    make_photo(root / "sub" / "c.jpg", (100, 60), 3)
    (root / "notes.txt").write_text("not a photo")
    return root


def tree(root: Path, sub: str) -> list[str]:
    return sorted(p.relative_to(root / sub).as_posix() for p in (root / sub).rglob("*.png"))


def test_folder_becomes_aligned_pairs_with_a_manifest(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    build_dataset(folder, out, seed=5, config=OLD, copies=2)
    names = tree(out, "clean")
    assert names == ["a_00.png", "a_01.png", "b_00.png", "b_01.png", "sub/c_00.png", "sub/c_01.png"]
    assert tree(out, "degraded") == names == tree(out, "mask")
    for name in names:
        sizes = {Image.open(out / sub / name).size for sub in SUBFOLDERS}
        assert len(sizes) == 1
        mask = np.asarray(Image.open(out / "mask" / name))
        assert mask.ndim == 2 and set(np.unique(mask)) <= {0, 255}
    lines = [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]
    assert [r["name"] for r in lines] == names
    for record in lines:
        assert record["global_seed"] == 5 and isinstance(record["seed"], int)
        assert record["seed"] == derive_seed(5, record["source"], record["copy"])
        for op in record["operations"]:
            assert isinstance(op["op"], str) and len(op) >= 1
    assert len({r["seed"] for r in lines}) == len(lines)  # copies get different damage


def test_dataset_is_byte_reproducible_and_seed_dependent(folder: Path, tmp_path: Path) -> None:
    first, second, other = tmp_path / "one", tmp_path / "two", tmp_path / "three"
    build_dataset(folder, first, 1, OLD)
    build_dataset(folder, second, 1, OLD)
    build_dataset(folder, other, 2, OLD)
    for name in tree(first, "degraded"):
        for sub in SUBFOLDERS:
            assert (first / sub / name).read_bytes() == (second / sub / name).read_bytes()
        assert (first / "degraded" / name).read_bytes() != (other / "degraded" / name).read_bytes()
    assert (first / MANIFEST).read_bytes() == (second / MANIFEST).read_bytes()


def test_adding_a_photo_leaves_the_other_pairs_unchanged(folder: Path, tmp_path: Path) -> None:
    build_dataset(folder, tmp_path / "before", 3, OLD)
    make_photo(folder / "0_first.jpg", (50, 50), 9)
    build_dataset(folder, tmp_path / "after", 3, OLD)
    for name in tree(tmp_path / "before", "degraded"):
        before = (tmp_path / "before" / "degraded" / name).read_bytes()
        assert before == (tmp_path / "after" / "degraded" / name).read_bytes()


def test_output_inside_the_input_is_not_read_back(folder: Path) -> None:
    build_dataset(folder, folder / "ds", 0, OLD)
    assert len(plan_pairs(folder, 1, exclude=folder / "ds")) == 3


def test_greyscale_pairs_convert_the_clean_image_too(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    build_dataset(folder, out, 0, preset("paper").with_strengths(), copies=12)
    grey = [json.loads(x) for x in (out / MANIFEST).read_text().splitlines() if '"greyscale":true' in x]
    assert grey, "expected some greyscale pairs among 36"
    clean = np.asarray(Image.open(out / "clean" / grey[0]["name"]))
    assert np.array_equal(clean[..., 0], clean[..., 1])


# ---- the command line -----------------------------------------------------------------------


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oldphoto_cli", "degrade", *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_file_is_reproducible_with_mask(tmp_path: Path) -> None:
    make_photo(tmp_path / "p.jpg", (120, 90), 4)
    for name in ("x", "y", "z"):
        seed = "3" if name != "z" else "4"
        run = cli(
            "p.jpg", "-o", f"{name}.png", "--seed", seed, "--mask-out", f"{name}_mask.png", cwd=tmp_path
        )
        assert run.returncode == 0, run.stderr
    assert (tmp_path / "x.png").read_bytes() == (tmp_path / "y.png").read_bytes()
    assert (tmp_path / "x.png").read_bytes() != (tmp_path / "z.png").read_bytes()
    assert Image.open(tmp_path / "x_mask.png").size == Image.open(tmp_path / "x.png").size == (120, 90)
    again = cli("p.jpg", "-o", "x.png", cwd=tmp_path)
    assert again.returncode == 2 and "exists" in again.stderr


def test_cli_folder_preset_flags_and_preview(folder: Path, tmp_path: Path) -> None:
    run = cli(str(folder), "-o", "ds", "--seed", "2", "--copies", "2", "--preset", "paper", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    records = [json.loads(x) for x in (tmp_path / "ds" / MANIFEST).read_text().splitlines()]
    assert len(records) == 6
    allowed = {"blur", "noise", "low_resolution", "jpeg", "greyscale"}
    assert all(op["op"] in allowed for r in records for op in r["operations"])
    run = cli(str(folder / "a.jpg"), "-o", "s.png", "--scratches", "2", "--no-unstructured", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    run = cli(str(folder / "a.jpg"), "--preview", "3", "-o", "grid.png", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert Image.open(tmp_path / "grid.png").size[0] > 3 * 96
