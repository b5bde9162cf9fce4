"""Shared fixtures: the real model (loaded once per session), real FAISS, real SQLite in tmp dirs."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from index import Engine, EngineSettings  # noqa: E402
from index.inference.embedding import Embedder  # noqa: E402

SAMPLES = REPO / "examples" / "articles"
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    model = Embedder()
    model.load()  # once for the whole session
    return model


@pytest.fixture
def make_engine(embedder: Embedder, tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    """Engines over fresh data dirs (or a given one), sharing the session's model."""
    engines: list[Engine] = []

    def factory(
        data_dir: Path | None = None, clock: Callable[[], datetime] | None = None, **settings: object
    ) -> Engine:
        directory = data_dir or tmp_path / f"data{len(engines)}"
        engine = Engine(EngineSettings(data_dir=directory, **settings), embedder, clock=clock)
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.close()


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    return make_engine()


@pytest.fixture(scope="module")
def sample_engine(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The bundled sample articles in collection 'default' (read-only tests share it)."""
    engine = Engine(EngineSettings(data_dir=tmp_path_factory.mktemp("samples")), embedder)
    errors: list = []
    engine.add_documents("default", engine.documents(str(SAMPLES), errors), errors=errors)
    assert not errors
    yield engine
    engine.close()


def assert_verbatim(engine: Engine, collection: str, quotes) -> None:
    """Every quote is exactly article_text[start:end]."""
    for quote in quotes:
        text = engine.article_text(collection, quote.article_id)
        assert text[quote.start : quote.end] == quote.text


def run_cli(*args: str, data_dir: Path, stdin: bytes | None = None, env: dict[str, str] | None = None):
    """`python -m bot ...` in a new process, as a user's script would run it."""
    import subprocess

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        # Run outside the repo so that a developer's own .env cannot change what the tests see.
        [sys.executable, "-m", "bot", *args],
        cwd=data_dir.parent,
        input=stdin,
        capture_output=True,
        env=cli_env(data_dir, env),
        timeout=300,
    )


# The model stack that answering must never import when the ONNX copy of the bundled model is used.
HEAVY = ("torch", "transformers", "sentence_transformers")


def imported(importtime_stderr: str, packages: tuple[str, ...]) -> set[str]:
    """Top-level packages named in `python -X importtime` output."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names & set(packages)


def cli_env(data_dir: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `python -m bot` child process: this one's, minus any Discord token."""
    inherited = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    return {
        **inherited,
        "BYLINE_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
        **(env or {}),
    }


# -- PostgreSQL ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real PostgreSQL 16 (the pgserver wheel), started once for the session; it listens on a Unix
    socket in its data folder only, so no test traffic leaves the machine."""
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("postgres"), cleanup_mode="stop")
    yield server
    server.cleanup()


@contextmanager
def fresh_database(server) -> Iterator[str]:
    """The URL of a new, empty database on the server, dropped afterwards."""
    name = f"byline_{uuid.uuid4().hex[:12]}"
    server.psql(f"CREATE DATABASE {name};")
    try:
        yield server.get_uri(name)
    finally:
        server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    with fresh_database(postgres_server) as url:
        yield url


# -- network guards ------------------------------------------------------------------------------
def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt in this process to connect beyond 127.0.0.1 / ::1 fails the test instead."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"a test tried to connect to {address!r}, which is not loopback")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"a test tried to connect to {address!r}, which is not loopback")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


# -- a page that keeps an ingest in flight ------------------------------------------------------
class _HeldPage(BaseHTTPRequestHandler):
    server: HeldPageServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.released.wait(120)
        body = (FIXTURES / "article_page.html").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class HeldPageServer(ThreadingHTTPServer):
    """A loopback article page held back until `release()`: an ingest of it is in flight meanwhile.

    The event lives on the server, not on a class: pytest imports this file as `conftest`, and a test
    module importing `tests.conftest` gets a second copy of every class in it.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HeldPage)
        self.released = threading.Event()
        self.port = self.server_address[1]

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def held_page() -> Iterator[HeldPageServer]:
    server = HeldPageServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release()
    server.shutdown()
    server.server_close()
