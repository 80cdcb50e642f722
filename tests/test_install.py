"""A regular (non-editable) install carries the manifest, and the registry reads it from there.

``weights/`` sits beside the package in the repository and only the build maps it to
``oldphoto_cli.weights``; an install that forgot it would work in a checkout and fail for users.
The repository is copied first so the build's ``build/`` and ``*.egg-info`` stay out of the
working tree. Offline: no dependencies, no build isolation (setuptools from this environment).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COPY_IGNORE = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", ".venv"
)
CHECK = """
import json, sys
from importlib import resources
import oldphoto_cli
from oldphoto_cli.registry.manifest import get_model, load_manifest
print(json.dumps({
    "package": oldphoto_cli.__file__,
    "manifest": str(resources.files("oldphoto_cli.weights").joinpath("manifest.json")),
    "models": sorted(load_manifest()),
    "revision": get_model("bopbtl").hub.revision,
}))
"""


def test_regular_install_ships_the_manifest(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=COPY_IGNORE)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet"]
        + ["--target", str(target), str(source)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    installed = target / "oldphoto_cli" / "weights" / "manifest.json"
    assert installed.is_file()
    assert json.loads(installed.read_text()) == json.loads((REPO / "weights" / "manifest.json").read_text())

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        check=False,
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert Path(report["package"]).is_relative_to(target)  # not the checkout
    assert Path(report["manifest"]) == installed
    assert report["models"] == ["bopbtl", "classical"]
    assert len(report["revision"]) == 40
