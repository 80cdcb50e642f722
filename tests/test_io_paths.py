"""Behaviour of plan_outputs / mask_path_for on real folders made in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oldphoto_cli.errors import ImageReadError, ImageWriteError
from oldphoto_cli.io.paths import (
    SKIP_EXISTS,
    SKIP_NOT_IMAGE,
    SKIP_SYMLINKED_FOLDER,
    Job,
    mask_path_for,
    plan_outputs,
)


def touch(path: Path, content: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def targets(jobs: list[Job], root: Path) -> dict[str, str]:
    """source relative to the input -> target relative to the output root, as posix strings."""
    return {job.source.relative_to(root).as_posix(): job.target.as_posix() for job in jobs}


# ------------------------------------------------------------------------------------------------
# A single file
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jpg", "a_restored.jpg"),
        ("a.JPG", "a_restored.JPG"),
        ("a.jpeg", "a_restored.jpeg"),
        ("a.png", "a_restored.png"),
        ("a.tif", "a_restored.png"),
        ("a.bmp", "a_restored.png"),
        ("a.webp", "a_restored.webp"),
        ("a.gif", "a_restored.png"),
    ],
)
def test_file_default_output_is_beside_it(tmp_path: Path, name: str, expected: str) -> None:
    source = touch(tmp_path / name)
    assert plan_outputs(source) == [Job(source, tmp_path / expected, None)]


def test_file_custom_suffix(tmp_path: Path) -> None:
    source = touch(tmp_path / "a.jpg")
    assert plan_outputs(source, suffix="_fixed")[0].target == tmp_path / "a_fixed.jpg"


def test_file_with_explicit_output_file(tmp_path: Path) -> None:
    source = touch(tmp_path / "a.jpg")
    assert plan_outputs(source, tmp_path / "b.tiff")[0].target == tmp_path / "b.tiff"


def test_file_with_output_folder_keeps_stem(tmp_path: Path) -> None:
    source = touch(tmp_path / "a.tif")
    (tmp_path / "out").mkdir()
    assert plan_outputs(source, tmp_path / "out")[0].target == tmp_path / "out" / "a.png"
    # a name without extension is taken as a folder too (created when writing)
    assert plan_outputs(source, tmp_path / "new")[0].target == tmp_path / "new" / "a.png"


def test_file_with_unwritable_output_extension(tmp_path: Path) -> None:
    source = touch(tmp_path / "a.jpg")
    with pytest.raises(ImageWriteError, match="unsupported output extension '.gif'"):
        plan_outputs(source, tmp_path / "b.gif")


def test_file_output_equal_to_input_is_refused(tmp_path: Path) -> None:
    source = touch(tmp_path / "a.png")
    with pytest.raises(ImageWriteError, match="input file"):
        plan_outputs(source, source)
    with pytest.raises(ImageWriteError, match="input file"):
        plan_outputs(source, tmp_path / "." / "a.png", overwrite=True)
    with pytest.raises(ImageWriteError, match="input file"):
        plan_outputs(source, suffix="")


def test_missing_input_is_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="no such file or folder"):
        plan_outputs(tmp_path / "absent.jpg")


def test_existing_file_output_is_skipped_unless_overwrite(tmp_path: Path) -> None:
    source = touch(tmp_path / "a.jpg")
    touch(tmp_path / "a_restored.jpg")
    assert plan_outputs(source)[0].skip_reason == SKIP_EXISTS
    assert plan_outputs(source, overwrite=True)[0].skip_reason is None


def test_existing_mask_counts_when_masks_are_written(tmp_path: Path) -> None:
    source = touch(tmp_path / "a.jpg")
    touch(tmp_path / "a_restored_mask.png")
    assert plan_outputs(source)[0].skip_reason is None
    assert plan_outputs(source, masks=True)[0].skip_reason == SKIP_EXISTS


def test_mask_path_for() -> None:
    assert mask_path_for(Path("out/a.jpg")) == Path("out/a_mask.png")
    assert mask_path_for(Path("b_restored.png")) == Path("b_restored_mask.png")


# ------------------------------------------------------------------------------------------------
# A folder
# ------------------------------------------------------------------------------------------------


def test_folder_default_output_is_a_sibling_with_same_relative_paths(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for rel in ("b.jpg", "a.tif", "1990/summer/beach.JPG", "1990/x.png"):
        touch(root / rel)
    jobs = plan_outputs(root)
    out = tmp_path / "photos_restored"
    assert [job.source for job in jobs] == [
        root / "1990/summer/beach.JPG",
        root / "1990/x.png",
        root / "a.tif",
        root / "b.jpg",
    ]
    assert [job.target for job in jobs] == [
        out / "1990/summer/beach.JPG",
        out / "1990/x.png",
        out / "a.png",
        out / "b.jpg",
    ]
    assert all(job.skip_reason is None for job in jobs)


def test_folder_plan_is_deterministic(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for rel in ("z.png", "m/a.png", "a.png", "m/b/c.jpg"):
        touch(root / rel)
    assert plan_outputs(root) == plan_outputs(root)


def test_folder_given_as_dot_is_named_after_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "album"
    touch(root / "a.png")
    monkeypatch.chdir(root)
    [job] = plan_outputs(Path("."))
    assert job.source == Path("a.png")
    assert job.target.resolve() == (tmp_path / "album_restored" / "a.png").resolve()


def test_folder_with_explicit_output_folder(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    touch(root / "sub" / "a.bmp")
    [job] = plan_outputs(root, tmp_path / "done")
    assert job.target == tmp_path / "done" / "sub" / "a.png"


def test_hidden_and_temporary_files_are_ignored(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    touch(root / "a.jpg")
    touch(root / ".hidden.jpg")
    touch(root / ".a.jpg.1234abcd.part")
    touch(root / "b.jpg.part")
    touch(root / ".thumbnails" / "c.jpg")
    assert targets(plan_outputs(root), root) == {"a.jpg": (tmp_path / "photos_restored" / "a.jpg").as_posix()}


def test_non_images_are_reported_as_skipped(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    touch(root / "a.jpg")
    touch(root / "notes.txt")
    touch(root / "README")
    reasons = {job.source.name: job.skip_reason for job in plan_outputs(root)}
    assert reasons == {"a.jpg": None, "notes.txt": SKIP_NOT_IMAGE, "README": SKIP_NOT_IMAGE}


def test_folder_existing_outputs_skipped_unless_overwrite(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    touch(root / "a.jpg")
    touch(root / "b.jpg")
    touch(tmp_path / "photos_restored" / "a.jpg")
    assert [job.skip_reason for job in plan_outputs(root)] == [SKIP_EXISTS, None]
    assert [job.skip_reason for job in plan_outputs(root, overwrite=True)] == [None, None]


def test_collisions_get_distinct_names(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for rel in ("a.bmp", "a.png", "a.tif", "a_tif.png", "b.tiff", "b.TIF"):
        touch(root / rel)
    out = tmp_path / "photos_restored"
    planned = targets(plan_outputs(root), root)
    assert planned == {
        "a.bmp": (out / "a_bmp.png").as_posix(),
        "a.png": (out / "a.png").as_posix(),  # unchanged extension keeps the plain name
        "a.tif": (out / "a_tif_2.png").as_posix(),  # a_tif.png is taken by a real source
        "a_tif.png": (out / "a_tif.png").as_posix(),
        "b.TIF": (out / "b.png").as_posix(),
        "b.tiff": (out / "b_tiff.png").as_posix(),
    }
    assert len({target.casefold() for target in planned.values()}) == len(planned)


def test_collisions_are_case_insensitive(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    touch(root / "A.png")
    touch(root / "sub" / "x.png")
    touch(root / "a.tif")
    planned = targets(plan_outputs(root), root)
    assert planned["a.tif"].endswith("/a_tif.png")


def test_masks_reserve_their_names(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    touch(root / "a.png")
    touch(root / "a_mask.png")
    without = targets(plan_outputs(root), root)
    assert without["a_mask.png"].endswith("/a_mask.png")
    with_masks = targets(plan_outputs(root, masks=True), root)
    assert with_masks["a.png"].endswith("/a.png")
    assert with_masks["a_mask.png"].endswith("/a_mask_png.png")


def test_output_folder_inside_input_is_not_walked(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    touch(root / "a.jpg")
    touch(root / "restored" / "a.jpg")  # a previous run's result
    jobs = plan_outputs(root, root / "restored")
    assert [(job.source, job.target) for job in jobs] == [(root / "a.jpg", root / "restored" / "a.jpg")]
    assert jobs[0].skip_reason == SKIP_EXISTS


def test_folder_output_that_is_a_file_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    touch(root / "a.jpg")
    with pytest.raises(ImageWriteError, match="is a file"):
        plan_outputs(root, touch(tmp_path / "out.png"))


def test_folder_output_equal_to_input_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    touch(root / "a.jpg")
    with pytest.raises(ImageWriteError, match="input folder"):
        plan_outputs(root, root)
    with pytest.raises(ImageWriteError, match="input folder"):
        plan_outputs(root, suffix="")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinked_folders_are_reported_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    touch(root / "a.jpg")
    touch(tmp_path / "elsewhere" / "b.jpg")
    (root / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    reasons = {job.source.name: job.skip_reason for job in plan_outputs(root)}
    assert reasons == {"a.jpg": None, "link": SKIP_SYMLINKED_FOLDER}


def test_empty_folder_gives_no_jobs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert plan_outputs(tmp_path / "empty") == []


def refuse_to_list(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make one folder unlistable, as chmod 000 would for a non-root user."""
    real_scandir = os.scandir

    def scandir(path):
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_unlistable_subfolder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "photos"
    touch(root / "a.jpg")
    touch(root / "locked" / "b.jpg")
    refuse_to_list(monkeypatch, root / "locked")
    reasons = {job.source.name: job.skip_reason for job in plan_outputs(root)}
    assert reasons == {"a.jpg": None, "locked": "cannot list folder (permission denied)"}


def test_unlistable_input_folder_is_a_read_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "photos"
    touch(root / "a.jpg")
    refuse_to_list(monkeypatch, root)
    with pytest.raises(ImageReadError, match="cannot list folder"):
        plan_outputs(root)
