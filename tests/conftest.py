"""Shared fixtures: the ../shared reference material and stand-in checkpoint files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"
REALWORLD = SHARED / "realworld"


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return require(REFERENCE)


@pytest.fixture(scope="session")
def realworld_dir() -> Path:
    return require(REALWORLD)


@pytest.fixture(scope="session")
def layout(reference_dir: Path) -> dict:
    return json.loads((reference_dir / "state_dict_layout.json").read_text())


@pytest.fixture(scope="session")
def ref_state_dict(reference_dir: Path):
    """``refweights.ref_state_dict`` from the shared folder, as torch tensors."""
    import torch

    sys.path.insert(0, str(reference_dir))
    try:
        from refweights import ref_state_dict as build
    finally:
        sys.path.remove(str(reference_dir))
    return lambda section: {k: torch.from_numpy(v) for k, v in build(section).items()}


@pytest.fixture(scope="session")
def pipeline_checkpoints(reference_dir: Path, tmp_path_factory) -> Path:
    """Stand-in checkpoints in the Hub layout, salted as for ../shared/reference/pipeline."""
    out = tmp_path_factory.mktemp("pipeline-weights")
    script = reference_dir / "make_checkpoints.py"
    subprocess.run(
        [sys.executable, str(script), str(out), "--salt", "detection=d/"], check=True, capture_output=True
    )
    return out


@pytest.fixture(params=["mkl", "onednn"])
def products_library(request, monkeypatch) -> str:
    """Run the test with CPU products through MKL, then through oneDNN (runtime/matmul.py picks one
    by CPU maker; both must give the same numbers within rounding)."""
    from oldphoto_cli.runtime import matmul

    monkeypatch.setenv(matmul.LIBRARY_VARIABLE, request.param)
    matmul.products_library.cache_clear()
    yield matmul.products_library()
    matmul.products_library.cache_clear()
