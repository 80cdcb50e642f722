"""The registry as data, local weight folders, and the environment read at call time.

Small stand-in files only: the Hub path and the real stand-in checkpoints are in
test_hub_download.py.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from oldphoto_cli.errors import ChecksumMismatchError, UnknownModelError, WeightsNotFoundError
from oldphoto_cli.registry import hub
from oldphoto_cli.registry.integrity import sha256_of
from oldphoto_cli.registry.local import LAYOUT_PREFIXES, find_local
from oldphoto_cli.registry.manifest import ModelSpec, get_model, load_manifest
from oldphoto_cli.registry.resolve import Availability, describe_availability, resolve_files

SOURCE_MANIFEST = Path(__file__).resolve().parents[1] / "weights" / "manifest.json"


@pytest.fixture(autouse=True)
def no_weights_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLDPHOTO_WEIGHTS", raising=False)


@pytest.fixture
def bopbtl() -> ModelSpec:
    return get_model("bopbtl")


def fill(folder: Path, model: ModelSpec, prefix: str, keys: list[str] | None = None) -> dict[str, Path]:
    """Tiny stand-ins for ``keys`` (all files by default) under ``folder/prefix``."""
    written = {}
    for key in keys if keys is not None else list(model.files):
        path = folder / prefix / model.files[key].path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(key.encode())
        written[key] = path
    return written


def test_manifest_lists_the_models_as_in_the_json() -> None:
    raw = json.loads(SOURCE_MANIFEST.read_text())
    models = load_manifest()
    assert set(models) == set(raw["models"]) == {"bopbtl", "classical"}
    for name, spec in models.items():
        assert spec.name == name
        assert {key: f.path for key, f in spec.files.items()} == {
            key: f["path"] for key, f in raw["models"][name]["files"].items()
        }
        assert spec.modes == raw["models"][name]["modes"]


def test_bopbtl_is_pinned_and_its_modes_name_its_files(bopbtl: ModelSpec) -> None:
    assert bopbtl.hub is not None
    assert len(bopbtl.hub.revision) == 40 and int(bopbtl.hub.revision, 16) >= 0
    assert bopbtl.hub.filename("x.pth") == "Global/checkpoints/x.pth"
    assert bopbtl.keys_for("quality") == ["vae_a_quality", "mapping_quality", "vae_b_quality"]
    assert "mapping_hr" in bopbtl.keys_for("scratch_hr")
    hr = bopbtl.files["mapping_hr"]
    assert not hr.on_hub and "global_checkpoints.zip" in (hr.how_to_get or "")
    assert all(f.on_hub for key, f in bopbtl.files.items() if key != "mapping_hr")
    assert get_model("classical").files == {} and get_model("classical").hub is None


def test_specs_are_frozen(bopbtl: ModelSpec) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        bopbtl.title = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        bopbtl.files["detection"].path = "elsewhere"  # type: ignore[misc]
    load_manifest().clear()  # the caller's copy: the registry itself is untouched
    assert "bopbtl" in load_manifest()


def test_unknown_names_list_the_known_ones(bopbtl: ModelSpec) -> None:
    with pytest.raises(UnknownModelError, match="bopbtl, classical"):
        get_model("gfpgan")
    with pytest.raises(UnknownModelError, match="quality, scratch, scratch_hr"):
        bopbtl.keys_for("faces")
    with pytest.raises(KeyError, match="no file 'nope'"):
        resolve_files(bopbtl, ["nope"], Path("."))


@pytest.mark.parametrize("prefix", LAYOUT_PREFIXES)
def test_each_folder_layout_resolves(bopbtl: ModelSpec, tmp_path: Path, prefix: str) -> None:
    written = fill(tmp_path, bopbtl, prefix)
    assert resolve_files(bopbtl, list(written), tmp_path) == written


def test_hub_layout_wins_when_a_folder_holds_several(bopbtl: ModelSpec, tmp_path: Path) -> None:
    fill(tmp_path, bopbtl, "", ["detection"])
    hub_copy = fill(tmp_path, bopbtl, "Global/checkpoints", ["detection"])
    assert find_local(tmp_path, bopbtl.files["detection"].path) == hub_copy["detection"]


def test_the_environment_folder_is_used_and_read_at_call_time(
    bopbtl: ModelSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = fill(tmp_path, bopbtl, "checkpoints", ["detection"])
    monkeypatch.setenv("OLDPHOTO_WEIGHTS", str(tmp_path))
    assert resolve_files(bopbtl, ["detection"]) == written


def test_a_missing_folder_says_so(bopbtl: ModelSpec, tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="does not exist") as error:
        resolve_files(bopbtl, ["detection"], tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(error.value)


def test_hr_mapping_missing_from_a_folder_points_to_the_zip(bopbtl: ModelSpec, tmp_path: Path) -> None:
    fill(tmp_path, bopbtl, "checkpoints", ["detection"])
    with pytest.raises(WeightsNotFoundError) as error:
        resolve_files(bopbtl, ["detection", "mapping_hr"], tmp_path)
    message = str(error.value)
    assert "mapping_hr" in message and "global_checkpoints.zip" in message and "\n" not in message


def test_sha256_is_checked_when_the_manifest_has_one(bopbtl: ModelSpec, tmp_path: Path) -> None:
    written = fill(tmp_path, bopbtl, "", ["detection"])
    digest = sha256_of(written["detection"])
    ok = dataclasses.replace(bopbtl.files["detection"], sha256=digest.upper())
    assert resolve_files(dataclasses.replace(bopbtl, files={"detection": ok}), ["detection"], tmp_path)
    bad = dataclasses.replace(ok, sha256="ab" * 32)
    with pytest.raises(ChecksumMismatchError, match="detection"):
        resolve_files(dataclasses.replace(bopbtl, files={"detection": bad}), ["detection"], tmp_path)


def test_availability_in_a_folder(bopbtl: ModelSpec, tmp_path: Path) -> None:
    written = fill(tmp_path, bopbtl, "checkpoints", ["detection", "vae_a_quality"])
    statuses = {s.key: s for s in describe_availability(bopbtl, tmp_path)}
    assert list(statuses) == list(bopbtl.files)
    assert statuses["detection"] == ("detection", Availability.LOCAL, written["detection"])
    assert statuses["vae_b_quality"] == ("vae_b_quality", Availability.MISSING, None)
    assert statuses["mapping_hr"] == ("mapping_hr", Availability.MANUAL, None)
    assert describe_availability(get_model("classical")) == []


def test_hub_settings_are_read_from_the_environment_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "HF_ENDPOINT", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.hub_cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hub.hub_cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert hub.hub_cache_dir() == tmp_path / "cache"
    assert hub.hub_endpoint() == "https://huggingface.co"
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.example/")
    assert hub.hub_endpoint() == "http://mirror.example"
    assert not hub.hub_offline()
    for value, offline in (("1", True), ("yes", True), ("0", False), ("", False)):
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
        assert hub.hub_offline() is offline


def test_uninitialised_skips_random_weights_and_restores_the_initialisers():
    import torch
    from torch import nn

    from oldphoto_cli.registry.checkpoint import uninitialised

    before = nn.init.kaiming_uniform_
    with uninitialised():
        conv = nn.Conv2d(4, 4, 3)
        conv.weight.data.fill_(7.0)  # untouched memory would do; a marker makes the check exact
        nn.Conv2d.reset_parameters(conv)
        assert torch.all(conv.weight == 7.0)
    assert nn.init.kaiming_uniform_ is before
    fresh = nn.Conv2d(4, 4, 3)
    assert fresh.weight.std().item() > 0  # random again outside
