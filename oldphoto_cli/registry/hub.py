"""Fetching single weight files from the Hugging Face Hub, through huggingface_hub itself.

We use ``hf_hub_download`` as any other library would, so the user's Hub settings apply: the cache
(``HF_HOME``, ``HF_HUB_CACHE``), a mirror (``HF_ENDPOINT``), offline mode (``HF_HUB_OFFLINE``), a
token. huggingface_hub reads those variables once, when it is imported; we read them again at each
call and pass them explicitly (``cache_dir``, ``endpoint``, ``local_files_only``), so that what is
in the environment when a file is needed is what counts.

Only the files asked for are fetched, never the repo: it also holds gigabytes of optimiser and
discriminator states. Every failure becomes one WeightsNotFoundError line that names the file and
says how to get it; huggingface_hub's own exception stays attached as the cause for ``--debug``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import huggingface_hub
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import logging as hf_logging
from huggingface_hub.utils import tqdm as hf_tqdm

from oldphoto_cli import __version__
from oldphoto_cli.errors import WeightsError, WeightsNotFoundError
from oldphoto_cli.registry.manifest import FileSpec, HubSource

DEFAULT_ENDPOINT = "https://huggingface.co"
HOW_TO_GET = "run `oldphoto download` while online, or pass --weights DIR with the files"
_TRUE = {"1", "ON", "YES", "TRUE"}


def hub_cache_dir() -> Path:
    """The Hub cache folder as huggingface_hub would pick it, from the environment now."""
    env = os.environ
    explicit = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(os.path.expandvars(explicit)).expanduser()
    home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(os.path.expandvars(home)).expanduser() / "hub"


def hub_endpoint() -> str:
    """The Hub (or mirror) to download from: ``$HF_ENDPOINT`` now, else huggingface.co."""
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def hub_offline() -> bool:
    """Whether the user asked for no Hub traffic at all (same variables and values as huggingface_hub)."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.upper() in _TRUE


def cached_file(hub: HubSource, spec: FileSpec) -> Path | None:
    """The file in the Hub cache at the pinned revision, or None; never touches the network."""
    found = huggingface_hub.try_to_load_from_cache(
        hub.repo_id, hub.filename(spec.path), cache_dir=hub_cache_dir(), revision=hub.revision
    )
    return Path(found) if isinstance(found, str) else None


def download_file(
    hub: HubSource,
    spec: FileSpec,
    *,
    local_dir: Path | None = None,
    local_only: bool = False,
    progress: bool = False,
) -> Path:
    """One file at the pinned revision: from the cache if there, else downloaded into it.

    ``local_dir`` copies the file into that folder in the repo's layout instead (for
    ``oldphoto download --weights DIR``). ``local_only`` or ``HF_HUB_OFFLINE`` forbid any request.
    """
    offline = local_only or hub_offline()
    filename = hub.filename(spec.path)
    try:
        with _hub_output(progress):
            path = huggingface_hub.hf_hub_download(
                hub.repo_id,
                filename,
                revision=hub.revision,
                cache_dir=hub_cache_dir(),
                local_dir=local_dir,
                endpoint=hub_endpoint(),
                local_files_only=offline,
                library_name="oldphoto",
                library_version=__version__,
                tqdm_class=None if progress else _NoBar,
            )
    except (HfHubHTTPError, EntryNotFoundError, OSError, *_transport_errors()) as exc:
        raise _as_weights_error(exc, hub, spec, offline=offline) from exc
    return Path(path)


def _as_weights_error(exc: BaseException, hub: HubSource, spec: FileSpec, *, offline: bool) -> WeightsError:
    """One line for the user: which file, what went wrong, what to do."""
    what = f"{spec.key} ({hub.filename(spec.path)})"
    where = f"{hub.repo_id}@{hub.revision[:12]} on {hub_endpoint()}"
    if offline and isinstance(exc, (LocalEntryNotFoundError, OfflineModeIsEnabled)):
        reason = "HF_HUB_OFFLINE is set" if hub_offline() else "downloading is off"
        return WeightsNotFoundError(
            f"{what} is not in the Hugging Face cache {hub_cache_dir()} and {reason}; {HOW_TO_GET}"
        )
    if isinstance(exc, RevisionNotFoundError):
        return WeightsNotFoundError(f"{what}: revision not found in {where}; the pinned revision may be gone")
    if isinstance(exc, EntryNotFoundError) and not isinstance(exc, LocalEntryNotFoundError):
        return WeightsNotFoundError(f"{what}: no such file in {where}")
    if isinstance(exc, RepositoryNotFoundError):
        return WeightsNotFoundError(f"{what}: repository not found on {hub_endpoint()} ({hub.repo_id})")
    if isinstance(exc, (HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled, *_transport_errors())):
        return WeightsNotFoundError(
            f"{what} could not be downloaded from {where} ({_root_reason(exc)}) and is not in the cache "
            f"{hub_cache_dir()}; {HOW_TO_GET}"
        )
    return WeightsError(f"{what}: download failed: {_one_line(exc)}")


def _root_reason(exc: BaseException) -> str:
    """The underlying cause, e.g. 'HTTP 500' or 'ConnectError: ...', rather than the wrapper's advice."""
    chain = [exc]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    for link in chain:
        status = getattr(getattr(link, "response", None), "status_code", None)
        if isinstance(status, int):
            return f"HTTP {status}"
    return f"{type(chain[-1]).__name__}: {_one_line(chain[-1])}"


def _one_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (hub errors carry paragraphs)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _transport_errors() -> tuple[type[Exception], ...]:
    """Network-level errors of the HTTP client huggingface_hub uses, which it lets through as is.

    Read from ``sys.modules``: whichever client huggingface_hub imported is the one that can raise.
    (``requests`` errors, in older huggingface_hub, are OSErrors already.)
    """
    return tuple(sys.modules[name].HTTPError for name in ("httpx2", "httpx") if name in sys.modules)


@contextlib.contextmanager
def _hub_output(progress: bool) -> Iterator[None]:
    """Quiet huggingface_hub's retry warnings for library calls, and restore its level after.

    Our error is the one line the user should see; ``oldphoto download`` (progress on) keeps them,
    as a reassurance while a retry waits.
    """
    level = hf_logging.get_verbosity()
    if not progress:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


class _NoBar(hf_tqdm):
    """A progress bar that shows nothing: passed per call, so no global switch is flipped.

    A subclass of huggingface_hub's own bar, so every code path (plain HTTP or Xet) finds the API it
    expects.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["disable"] = True
        super().__init__(*args, **kwargs)
