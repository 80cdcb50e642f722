"""A loopback stand-in for the Hugging Face Hub's file endpoint, as pytest fixtures.

It speaks the part of the protocol that ``huggingface_hub.hf_hub_download`` (2.x) uses for a file
at a pinned commit: ``HEAD`` then ``GET`` on ``/{repo_id}/resolve/{revision}/{filename}``. The HEAD
answer carries what the client requires (``X-Repo-Commit``, an ``ETag``, the size) and never an
``X-Xet-Hash``, so the plain HTTP path runs, not Xet. Errors look like the Hub's: 404 with
``X-Error-Code`` ``RepoNotFound``, ``RevisionNotFound`` or ``EntryNotFound``.

Files served are the stand-in checkpoints that ``shared/reference/make_checkpoints.py`` writes,
built once per session. Every request is counted by (method, path), so tests can check which files
were fetched, at which revision, and that offline mode fetched nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import huggingface_hub
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MAKE_CHECKPOINTS = SHARED / "reference" / "make_checkpoints.py"
REPO_ID = "databuzzword/bringing-old-photos-back-to-life"
REVISION = "dd6ddbd7a1fe3dd3b87a782997e019c78f784050"


def make_checkpoints(out: Path, layout: str) -> Path:
    """Write the stand-in checkpoints in ``layout`` ("hub" or "zip") under ``out``; skip if unavailable."""
    if not MAKE_CHECKPOINTS.is_file():
        pytest.skip(f"{MAKE_CHECKPOINTS} is absent: no stand-in checkpoints")
    subprocess.run(
        [sys.executable, str(MAKE_CHECKPOINTS), str(out), "--layout", layout],
        check=True,
        cwd=MAKE_CHECKPOINTS.parent,
        capture_output=True,
    )
    return out


@dataclass
class HubServer:
    """What a test sees of the server: its URL, what it serves, and what was asked of it."""

    url: str
    root: Path  # the repo's tree: root / filename is the file served
    repo_id: str = REPO_ID
    revision: str = REVISION
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    fail_status: dict[str, int] = field(default_factory=dict)  # method -> status to answer with
    _etags: dict[Path, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def file_url_path(self, filename: str, revision: str | None = None) -> str:
        """The request path for ``filename`` at ``revision`` (the pinned one by default)."""
        return f"/{self.repo_id}/resolve/{revision or self.revision}/{filename}"

    def requested_files(self, method: str = "GET") -> set[str]:
        """Filenames requested with ``method``, whatever the revision."""
        return {
            unquote(p.partition("/resolve/")[2].partition("/")[2]) for (m, p) in self.requests if m == method
        }

    def etag(self, path: Path) -> str:
        """The sha256 of a served file, as the Hub gives for LFS files (computed once)."""
        with self._lock:
            if path not in self._etags:
                digest = hashlib.sha256()
                with open(path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
                self._etags[path] = digest.hexdigest()
            return self._etags[path]


def _handler_for(server: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self._answer(with_body=False)

        def do_GET(self) -> None:
            self._answer(with_body=True)

        def _answer(self, with_body: bool) -> None:
            path = urlsplit(self.path).path
            with server._lock:
                server.requests[(self.command, path)] += 1
            if self.command in server.fail_status:
                return self._error(server.fail_status[self.command], None, {"Retry-After": "0"})
            repo, sep, rest = path.lstrip("/").partition("/resolve/")
            revision, _, filename = rest.partition("/")
            if not sep or unquote(repo) != server.repo_id:
                return self._error(404, "RepoNotFound")
            if unquote(revision) != server.revision:
                return self._error(404, "RevisionNotFound")
            file = server.root / unquote(filename)
            if not file.is_file():
                return self._error(404, "EntryNotFound", {"X-Repo-Commit": server.revision})
            self._send_file(file, with_body)

        def _send_file(self, file: Path, with_body: bool) -> None:
            etag = server.etag(file)
            size = file.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.send_header("X-Repo-Commit", server.revision)
            self.send_header("ETag", f'"{etag}"')
            self.send_header("X-Linked-Etag", f'"{etag}"')
            self.send_header("X-Linked-Size", str(size))
            self.end_headers()
            if with_body:
                with open(file, "rb") as f:
                    shutil.copyfileobj(f, self.wfile, 1 << 20)

        def _error(self, status: int, code: str | None, headers: dict[str, str] | None = None) -> None:
            body = f'{{"error": "{code or status}"}}'.encode()
            self.send_response(status)
            if code:
                self.send_header("X-Error-Code", code)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def hub_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The stand-in checkpoints in the Hub repo's layout (root/Global/checkpoints/...), once a session."""
    out = make_checkpoints(tmp_path_factory.mktemp("hub_tree"), "hub")
    yield out
    shutil.rmtree(out, ignore_errors=True)  # 800 MB: do not leave it to pytest's retention


@pytest.fixture(scope="session")
def zip_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The stand-in checkpoints in the release zip's layout (root/checkpoints/...), once a session."""
    out = make_checkpoints(tmp_path_factory.mktemp("zip_tree"), "zip")
    yield out
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture
def hub_server(hub_tree: Path) -> Iterator[HubServer]:
    """A fresh server (fresh counters) on 127.0.0.1 at a free port, serving ``hub_tree``."""
    state = HubServer(url="", root=hub_tree)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), name="hub-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def hub_env(hub_server: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """The environment of a user whose Hub is ``hub_server`` and whose cache is empty, in tmp_path."""
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in (
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OLDPHOTO_WEIGHTS", raising=False)
    # huggingface_hub blocks every request when HF_HUB_OFFLINE was set as it was imported (a CI
    # running the suite offline, say): the loopback is not the network, so lift that for these tests.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    huggingface_hub.close_session()  # a new HTTP client, which reads NO_PROXY as it is now
    yield hub_server
    huggingface_hub.close_session()
