"""Weight resolution against a loopback Hub: the real huggingface_hub code path, no mocks.

``hub_env`` points HF_ENDPOINT at the server of ``hub_server.py`` and HF_HOME at tmp_path, with
monkeypatch.setenv only; everything else is huggingface_hub doing its job.
"""

from __future__ import annotations

import filecmp
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from huggingface_hub.utils import are_progress_bars_disabled

from oldphoto_cli.errors import ChecksumMismatchError, WeightsNotFoundError
from oldphoto_cli.registry.integrity import sha256_of
from oldphoto_cli.registry.manifest import ModelSpec, get_model
from oldphoto_cli.registry.resolve import (
    Availability,
    describe_availability,
    download_files,
    resolve_files,
)

if TYPE_CHECKING:
    from hub_server import HubServer

pytest_plugins = ["hub_server"]  # its fixtures; imported by pytest, so its asserts are rewritten

QUALITY = ["vae_a_quality", "mapping_quality", "vae_b_quality"]
ALL_LOCAL = ["detection", "vae_a_quality", "vae_b_quality", "vae_b_scratch", "mapping_quality", "mapping_hr"]


@pytest.fixture
def bopbtl() -> ModelSpec:
    return get_model("bopbtl")


def hub_name(model: ModelSpec, key: str) -> str:
    assert model.hub is not None
    return model.hub.filename(model.files[key].path)


def with_file(model: ModelSpec, key: str, **changes: object) -> ModelSpec:
    """The model with one FileSpec changed (a wrong path, a sha256)."""
    return replace(model, files={**model.files, key: replace(model.files[key], **changes)})


def assert_one_line(error: pytest.ExceptionInfo[BaseException], *fragments: str) -> str:
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_quality_files_download_then_come_from_the_cache(
    hub_env: HubServer, bopbtl: ModelSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = resolve_files(bopbtl, QUALITY)

    assert set(paths) == set(QUALITY)
    names = {key: hub_name(bopbtl, key) for key in QUALITY}
    for key, path in paths.items():
        assert path.is_relative_to(tmp_path / "hf_home" / "hub")
        assert filecmp.cmp(path, hub_env.root / names[key], shallow=False)
    heads = {path for method, path in hub_env.requests if method == "HEAD"}
    gets = {path for method, path in hub_env.requests if method == "GET"}
    assert heads == {hub_env.file_url_path(name) for name in names.values()}  # at the pinned revision
    assert gets <= heads  # only these files; identical contents (same ETag) are fetched once
    assert {hub_env.etag(hub_env.root / name) for name in hub_env.requested_files("GET")} == {
        hub_env.etag(hub_env.root / name) for name in names.values()
    }
    assert all(count == 1 for count in hub_env.requests.values())

    hub_env.requests.clear()
    assert resolve_files(bopbtl, QUALITY) == paths  # pinned commit + cached: not even a HEAD
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_files(bopbtl, QUALITY) == paths
    assert not hub_env.requests


def test_offline_with_an_empty_cache_is_one_line_naming_the_file(
    hub_env: HubServer, bopbtl: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as error:
        resolve_files(bopbtl, QUALITY)
    assert_one_line(
        error, "vae_a_quality", hub_name(bopbtl, "vae_a_quality"), "HF_HUB_OFFLINE", "oldphoto download"
    )
    assert "--weights" in str(error.value)
    assert not hub_env.requests


def test_download_false_makes_no_request(hub_env: HubServer, bopbtl: ModelSpec) -> None:
    with pytest.raises(WeightsNotFoundError) as error:
        resolve_files(bopbtl, ["detection"], download=False)
    assert_one_line(error, "detection", "not in the Hugging Face cache")
    assert not hub_env.requests


def test_hr_mapping_is_never_asked_of_the_hub(hub_env: HubServer, bopbtl: ModelSpec) -> None:
    with pytest.raises(WeightsNotFoundError) as error:
        resolve_files(bopbtl, ["mapping_hr"])
    assert_one_line(error, "mapping_hr", "global_checkpoints.zip", "--weights")
    assert not hub_env.requests  # even though this server would have it


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"path": "restoration/nope/latest_net_G.pth"}, "no such file"),
        ({"revision": "0" * 40}, "revision not found"),
        ({"repo_id": "someone/else"}, "repository not found"),
    ],
    ids=["entry", "revision", "repo"],
)
def test_hub_404s_are_one_line_errors(
    hub_env: HubServer, bopbtl: ModelSpec, change: dict[str, str], fragment: str
) -> None:
    assert bopbtl.hub is not None
    if "path" in change:
        model = with_file(bopbtl, "vae_a_quality", path=change["path"])
    else:
        model = replace(bopbtl, hub=replace(bopbtl.hub, **change))
    with pytest.raises(WeightsNotFoundError) as error:
        resolve_files(model, ["vae_a_quality"])
    assert_one_line(error, "vae_a_quality", fragment)
    assert {method for method, _ in hub_env.requests} == {"HEAD"}


def test_server_error_on_metadata_is_one_line(hub_env: HubServer, bopbtl: ModelSpec) -> None:
    hub_env.fail_status["HEAD"] = 500  # huggingface_hub retries (Retry-After: 0 keeps it to ~5 s)
    with pytest.raises(WeightsNotFoundError) as error:
        resolve_files(bopbtl, ["vae_a_quality"])
    assert_one_line(error, "vae_a_quality", "HTTP 500", "oldphoto download", "--weights")


def test_server_error_during_download_leaves_nothing_behind(
    hub_env: HubServer, bopbtl: ModelSpec, tmp_path: Path
) -> None:
    hub_env.fail_status["GET"] = 500
    with pytest.raises(WeightsNotFoundError) as error:
        resolve_files(bopbtl, ["vae_a_quality"])
    assert_one_line(error, "vae_a_quality", "HTTP 500")
    stored = [
        p for p in (tmp_path / "hf_home").rglob("*") if {"blobs", "snapshots"} & set(p.parts) and p.is_file()
    ]
    assert not stored  # no partial blob, no snapshot entry


def test_checksum_is_verified_after_download(hub_env: HubServer, bopbtl: ModelSpec) -> None:
    served = hub_env.root / hub_name(bopbtl, "vae_a_quality")
    good = with_file(bopbtl, "vae_a_quality", sha256=sha256_of(served))
    assert resolve_files(good, ["vae_a_quality"])["vae_a_quality"].is_file()
    bad = with_file(bopbtl, "vae_a_quality", sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError):
        resolve_files(bad, ["vae_a_quality"])


def test_progress_off_changes_no_global_state(hub_env: HubServer, bopbtl: ModelSpec, capfd) -> None:
    bars_before = are_progress_bars_disabled()
    level_before = logging.getLogger("huggingface_hub").level
    resolve_files(bopbtl, ["vae_b_quality"], progress=False)
    assert are_progress_bars_disabled() == bars_before
    assert logging.getLogger("huggingface_hub").level == level_before
    assert capfd.readouterr().err == ""


def test_availability_follows_the_cache_without_requests(hub_env: HubServer, bopbtl: ModelSpec) -> None:
    before = {s.key: s for s in describe_availability(bopbtl)}
    assert before["vae_a_quality"].status is Availability.MISSING
    assert before["mapping_hr"].status is Availability.MANUAL
    paths = resolve_files(bopbtl, ["vae_a_quality"])
    hub_env.requests.clear()
    after = {s.key: s for s in describe_availability(bopbtl)}
    assert after["vae_a_quality"] == (
        "vae_a_quality",
        Availability.CACHED,
        paths["vae_a_quality"],
    )
    assert after["detection"].status is Availability.MISSING
    assert not hub_env.requests


def test_download_into_a_folder_gives_the_hub_layout(
    hub_env: HubServer, bopbtl: ModelSpec, tmp_path: Path
) -> None:
    folder = tmp_path / "weights"
    fetched = download_files(bopbtl, ["vae_a_quality"], folder, progress=False)
    assert fetched["vae_a_quality"] == folder / hub_name(bopbtl, "vae_a_quality")
    hub_env.requests.clear()
    assert resolve_files(bopbtl, ["vae_a_quality"], folder) == fetched
    assert download_files(bopbtl, ["vae_a_quality"], folder) == fetched
    assert not hub_env.requests
    with pytest.raises(WeightsNotFoundError) as error:
        download_files(bopbtl, ["mapping_hr"], folder)
    assert_one_line(error, "global_checkpoints.zip", str(folder))


@pytest.mark.parametrize(
    ("tree", "inside"),
    [("hub_tree", ""), ("zip_tree", ""), ("zip_tree", "checkpoints")],
    ids=["hub-layout", "zip-layout", "zip-contents"],
)
def test_local_folder_layouts(
    hub_env: HubServer, bopbtl: ModelSpec, request: pytest.FixtureRequest, tree: str, inside: str
) -> None:
    folder = request.getfixturevalue(tree) / inside
    paths = resolve_files(bopbtl, ALL_LOCAL, folder)
    for key, path in paths.items():
        assert path.is_file() and path.is_relative_to(folder)
        assert path.as_posix().endswith(bopbtl.files[key].path)
    assert not hub_env.requests


def test_local_folder_means_local_only(
    hub_env: HubServer, bopbtl: ModelSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "partial"
    (folder / "checkpoints").mkdir(parents=True)
    monkeypatch.setenv("OLDPHOTO_WEIGHTS", str(folder))  # the environment's folder, no argument
    with pytest.raises(WeightsNotFoundError) as error:
        resolve_files(bopbtl, ["vae_a_quality"])
    message = assert_one_line(error, "vae_a_quality", str(folder / "checkpoints"), "local files only")
    assert bopbtl.files["vae_a_quality"].path in message
    assert not hub_env.requests


def test_download_command_then_models_command(
    hub_env: HubServer,
    bopbtl: ModelSpec,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from oldphoto_cli.cli import console
    from oldphoto_cli.cli.download import download_command
    from oldphoto_cli.cli.models import models_command

    monkeypatch.setattr(console.out, "width", 400)  # one table row per line, whatever the terminal
    models_command()
    before = capsys.readouterr().out
    assert "quality: 3 of 3 missing" in before and "no weights needed" in before

    download_command()
    printed = capsys.readouterr()
    wanted = [key for key in bopbtl.files if key != "mapping_hr"]
    assert hub_env.requested_files("HEAD") == {hub_name(bopbtl, key) for key in wanted}
    assert all(f"{key}: " in printed.out for key in wanted)
    assert "skipped mapping_hr" in printed.err

    hub_env.requests.clear()
    with pytest.raises(WeightsNotFoundError, match="global_checkpoints.zip"):
        download_command(hr=True)
    assert not hub_env.requests  # the rest was cached at the pinned revision
    capsys.readouterr()

    models_command()
    after = capsys.readouterr().out
    assert "quality: ready" in after and "scratch: ready" in after
    assert "scratch_hr: 1 of 4 missing (mapping_hr not on the Hub)" in after
    assert (
        str(tmp_path / "hf_home" / "hub" / "models--databuzzword--bringing-old-photos-back-to-life") in after
    )
