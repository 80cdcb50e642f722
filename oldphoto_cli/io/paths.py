"""Planning a run: which source file is restored into which output file, before any pixel is read.

Planning up front makes a run predictable (the same input always gives the same jobs in the same
order), lets ``--overwrite`` and "already done" be decided per file, and guarantees that no two
sources are written to the same output name.

Rules:

* INPUT is a file or a folder. A folder is walked recursively in sorted order; hidden files and
  folders (name starting with ".", which includes our own ``.part`` temporaries) are ignored, and
  symlinked folders are not followed (no cycles). Files with a photo extension (see
  ``formats.READ_EXTENSIONS``) become jobs; every other file becomes a skipped job with
  ``SKIP_NOT_IMAGE``, so nothing disappears without a word.
* Default output: ``<stem>_restored<ext>`` beside a file, ``<folder>_restored/`` beside a folder.
  With a folder, the output folder receives the same relative paths and file stems, and if it lies
  inside the input folder it is never walked.
* The output extension comes from ``formats.output_suffix``: JPEG keeps its own, WEBP stays WEBP,
  everything else becomes ``.png``.
* Collisions (``a.png`` and ``a.tif`` would both give ``a.png``): a source whose extension is
  unchanged keeps the plain name; others, in sorted order, get their old extension in the stem
  (``a_tif.png``, then ``a_tif_2.png``...). Names are compared case-insensitively, so this also
  holds on macOS and Windows file systems.
* An existing output is skipped with ``SKIP_EXISTS`` unless ``overwrite``. The input itself is
  never an output.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from oldphoto_cli.errors import ImageReadError, ImageWriteError
from oldphoto_cli.io.atomic import TEMP_SUFFIX
from oldphoto_cli.io.formats import READ_EXTENSIONS, WRITE_FORMATS, is_image_name, output_suffix, write_format

SKIP_EXISTS = "exists (use --overwrite)"
SKIP_NOT_IMAGE = "not an image (extension is not one of " + " ".join(sorted(READ_EXTENSIONS)) + ")"
SKIP_SYMLINKED_FOLDER = "symlinked folder, not followed"
#: Prefix of the skip reason for a sub-folder that could not be listed (the OS reason follows).
SKIP_UNLISTABLE_FOLDER = "cannot list folder"


@dataclass(frozen=True)
class Job:
    """One planned restoration: ``source`` into ``target``, or a reason why it is skipped.

    For skipped non-images and folders, ``target`` is where the file would have gone; nothing is
    written there.
    """

    source: Path
    target: Path
    skip_reason: str | None = None


def mask_path_for(target: Path) -> Path:
    """Where the damage mask of ``target`` goes: beside it, ``<stem>_mask.png``."""
    return target.with_name(f"{target.stem}_mask.png")


def plan_outputs(
    input: Path,
    output: Path | None = None,
    *,
    suffix: str = "_restored",
    overwrite: bool = False,
    masks: bool = False,
) -> list[Job]:
    """All jobs for INPUT (a file or a folder) and optional OUTPUT, in a deterministic order.

    ``suffix`` names default outputs (file stem or folder name). ``masks=True`` also reserves each
    target's ``mask_path_for`` name against collisions and counts an existing mask as "exists".
    Raises ``ImageReadError`` when INPUT does not exist (or its folder cannot be listed), and
    ``ImageWriteError`` when OUTPUT is unusable (unknown extension, a file where a folder is needed,
    or the input itself).
    """
    source = Path(input)
    output = None if output is None else Path(output)
    if not source.exists():
        raise ImageReadError(source, "no such file or folder")
    if source.is_dir():
        return _plan_folder(source, output, suffix, overwrite, masks)
    return [_plan_file(source, output, suffix, overwrite, masks)]


# --------------------------------------------------------------------------------------------
# One file
# --------------------------------------------------------------------------------------------


def _plan_file(source: Path, output: Path | None, suffix: str, overwrite: bool, masks: bool) -> Job:
    """A file given by name is always attempted, whatever its extension: the reader decides."""
    target = _file_target(source, output, suffix)
    if _same_file(source, target):
        raise ImageWriteError(target, "is the input file; choose another output name")
    return Job(source, target, _exists_reason(target, overwrite, masks))


def _file_target(source: Path, output: Path | None, suffix: str) -> Path:
    """OUTPUT may be omitted, a folder (existing, or a name without extension) or a file name."""
    ext = output_suffix(source)
    if output is None:
        return source.with_name(f"{source.stem}{suffix}{ext}")
    if output.is_dir() or not output.suffix:
        return output / f"{source.stem}{ext}"
    if write_format(output) is None:
        known = " ".join(sorted(WRITE_FORMATS))
        raise ImageWriteError(output, f"unsupported output extension '{output.suffix}' (use one of: {known})")
    return output


# --------------------------------------------------------------------------------------------
# A folder
# --------------------------------------------------------------------------------------------


def _plan_folder(root: Path, output: Path | None, suffix: str, overwrite: bool, masks: bool) -> list[Job]:
    """Walk, name every photo without collisions, and keep the rest as visible skips."""
    out_root = _folder_output(root, output, suffix)
    files, skipped = _walk(root, out_root)
    photos = [rel for rel in files if is_image_name(rel)]
    targets = _assign_targets(photos, out_root, masks)
    planned: list[tuple[Path, Job]] = []
    for rel in files:
        if rel in targets:
            job = Job(root / rel, targets[rel], _exists_reason(targets[rel], overwrite, masks))
        else:
            job = Job(root / rel, out_root / rel, SKIP_NOT_IMAGE)
        planned.append((rel, job))
    planned += [(rel, Job(root / rel, out_root / rel, reason)) for rel, reason in skipped]
    return [job for _, job in sorted(planned, key=lambda pair: pair[0].parts)]


def _folder_output(root: Path, output: Path | None, suffix: str) -> Path:
    """``<folder><suffix>`` beside the input folder, or OUTPUT, which must not be a file or INPUT."""
    if output is None:
        named = root if root.name not in {"", ".", ".."} else root.resolve()
        if not named.name:
            raise ImageWriteError(root, "cannot name an output folder beside the file-system root; use -o")
        output = named.with_name(named.name + suffix)
    if output.exists() and not output.is_dir():
        raise ImageWriteError(output, "is a file; a folder input needs an output folder")
    if _same_file(root, output):
        raise ImageWriteError(output, "is the input folder; the results would replace the originals")
    return output


def _walk(root: Path, out_root: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Relative paths of all visible files, and (relative folder, reason) for folders not entered."""
    excluded = out_root.resolve()
    errors: list[OSError] = []
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=errors.append):
        here = Path(dirpath)
        links = [d for d in dirnames if not _hidden(d) and (here / d).is_symlink()]
        skipped += [(_rel(here / d, root), SKIP_SYMLINKED_FOLDER) for d in links]
        dirnames[:] = [d for d in dirnames if _enter(here / d, excluded)]
        files += [_rel(here / name, root) for name in filenames if not _hidden(name)]
    skipped += [_unlistable(error, root) for error in errors]
    return sorted(files, key=lambda rel: rel.parts), skipped


def _enter(folder: Path, excluded: Path) -> bool:
    """Descend into visible, real folders, but never into the output folder."""
    return not _hidden(folder.name) and not folder.is_symlink() and folder.resolve() != excluded


def _hidden(name: str) -> bool:
    """Dot-files are system or editor clutter, and our own temporaries are ``.<name>.<tag>.part``."""
    return name.startswith(".") or name.endswith(TEMP_SUFFIX)


def _rel(path: Path, root: Path) -> Path:
    """``path`` relative to the walked root (os.walk keeps the root's spelling as a prefix)."""
    return path.relative_to(root)


def _unlistable(error: OSError, root: Path) -> tuple[Path, str]:
    """A sub-folder that could not be listed becomes a skip; the input folder itself is fatal."""
    folder = Path(error.filename) if error.filename else root
    reason = (error.strerror or str(error)).lower()
    if _same_file(folder, root):
        raise ImageReadError(root, f"{SKIP_UNLISTABLE_FOLDER} ({reason})")
    return _rel(folder, root), f"{SKIP_UNLISTABLE_FOLDER} ({reason})"


# --------------------------------------------------------------------------------------------
# Naming
# --------------------------------------------------------------------------------------------


def _assign_targets(photos: list[Path], out_root: Path, masks: bool) -> dict[Path, Path]:
    """Give every photo a distinct target; unchanged-extension sources get first pick of names."""
    unchanged = [rel for rel in photos if output_suffix(rel).lower() == rel.suffix.lower()]
    converted = [rel for rel in photos if output_suffix(rel).lower() != rel.suffix.lower()]
    taken: set[str] = set()
    return {rel: _claim(out_root, rel, taken, masks) for rel in unchanged + converted}


def _claim(out_root: Path, rel: Path, taken: set[str], masks: bool) -> Path:
    """The first candidate name whose target (and mask) no earlier photo has claimed."""
    for candidate in _candidate_names(rel):
        target = out_root / candidate
        keys = _name_keys(target, masks)
        if taken.isdisjoint(keys):
            taken.update(keys)
            return target
    raise AssertionError("unreachable: the candidate names are endless")


def _candidate_names(rel: Path) -> Iterator[Path]:
    """``a.png``, then ``a_tif.png``, then ``a_tif_2.png``, ``a_tif_3.png``, ..."""
    ext = output_suffix(rel)
    tag = rel.suffix.lstrip(".").lower()
    yield rel.with_name(f"{rel.stem}{ext}")
    yield rel.with_name(f"{rel.stem}_{tag}{ext}")
    for n in itertools.count(2):
        yield rel.with_name(f"{rel.stem}_{tag}_{n}{ext}")


def _name_keys(target: Path, masks: bool) -> set[str]:
    """Case-folded names the target occupies, so ``A.png`` and ``a.png`` count as one file."""
    paths = [target, mask_path_for(target)] if masks else [target]
    return {str(path).casefold() for path in paths}


def _exists_reason(target: Path, overwrite: bool, masks: bool) -> str | None:
    """``SKIP_EXISTS`` when an output (or its mask, with masks on) is already there."""
    if overwrite:
        return None
    paths = [target, mask_path_for(target)] if masks else [target]
    return SKIP_EXISTS if any(path.exists() or path.is_symlink() for path in paths) else None


def _same_file(a: Path, b: Path) -> bool:
    """True when both names lead to the same file or folder (links and ``..`` included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()
