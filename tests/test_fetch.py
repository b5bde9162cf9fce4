"""URL ingestion: a real HTTP server on 127.0.0.1, and the SSRF guard in index.articles.fetch.

No test sends traffic beyond loopback: refusals are provoked with a resolver stub (the refusal happens
before any connection), and a guard on socket.connect fails the test if anything tries to leave 127.0.0.1."""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import faiss
import pytest
from conftest import FIXTURES, assert_verbatim

import index.articles.fetch
from index import Engine
from index.articles.fetch import MAX_REDIRECTS, fetch
from index.errors import FetchError

ARTICLE_PATH = "/2023/03/14/river-cleanup"
CANONICAL = "https://news.example.org/2023/03/14/river-cleanup"
HEADLINE = "Hundreds of volunteers clear rubbish from the River Wend in Millbrook"
ORIGINAL = (FIXTURES / "article_page.html").read_bytes()
UPDATED = (FIXTURES / "article_page_updated.html").read_bytes()
TONNAGE_QUESTION = "How much rubbish did the volunteers remove from the river?"
# Page furniture that must never reach the stored text (menus, cookie banner, sidebars, footer).
BOILERPLATE = [
    "cookies",
    "Accept all",
    "Subscribe",
    "Sign in",
    "Skip to main content",
    "Politics",
    "Puzzles",
    "Advertisement",
    "Share on Facebook",
    "Most read",
    "Overnight roadworks",
    "newsletter",
    "Sign up",
    "All rights reserved",
    "Privacy policy",
    "Volunteers plant 500 trees",
]


# -- a local web site ----------------------------------------------------------------------------
@dataclass
class Site:
    port: int
    article: bytes = ORIGINAL
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)
    release: threading.Event = field(default_factory=threading.Event)
    cut_off: dict[str, bool] = field(default_factory=dict)  # trickle path → the client hung up early
    trickle_done: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection; a body without length ends at close

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _send(self, status: int, content_type: str, body: bytes, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _trickle(self, name: str, first: bytes, piece: bytes, then: bytes = b"") -> None:
        """Send `first`, then one small piece every 0.2 s for up to 8 s: never idle long enough for a
        socket timeout, so only a real deadline stops the client. Records whether the client hung up."""
        site = self.server.site
        site.cut_off[name] = False
        try:
            self.wfile.write(first)
            self.wfile.flush()
            for _ in range(40):
                if site.release.wait(0.2):
                    break
                self.wfile.write(piece)
                self.wfile.flush()
            self.wfile.write(then)
            self.wfile.flush()
        except OSError:  # BrokenPipe / ConnectionReset: the client gave up on us
            site.cut_off[name] = True
        finally:
            site.trickle_done.set()

    def do_GET(self) -> None:
        site = self.server.site
        site.requests.append((self.path, self.headers.get("Host", "")))
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        if path == ARTICLE_PATH:
            self._send(200, "text/html; charset=utf-8", site.article)
        elif path.startswith("/hop/"):  # /hop/N redirects N times, then serves the article
            n = int(path.rsplit("/", 1)[1])
            if n > 0:
                self._redirect(f"/hop/{n - 1}")
            else:
                self._send(200, "text/html; charset=utf-8", site.article)
        elif path == "/redirect":
            self._redirect(query["to"][0])
        elif path == "/endless":  # no Content-Length, never ends: only a size cap stops the client
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            line = b"The river is long and this page goes on and on and on. " * 64
            try:
                while not site.release.is_set():
                    self.wfile.write(line)
            except OSError:
                pass
        elif path == "/declared-huge":
            self._send(200, "text/html; charset=utf-8", b"<html><body><p>Too big.</p>", length=50_000_000)
        elif path == "/photo":
            self._send(200, "image/png", b"\x89PNG\r\n\x1a\n" + bytes(64))
        elif path == "/silent":  # accepts the request, never answers
            site.release.wait(15)
        elif path == "/trickle-body":
            self._trickle(path, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n", b"a")
        elif path == "/trickle-headers":
            self._trickle(
                path, b"HTTP/1.0 200 OK\r\n", b"X-Padding: a\r\n", b"Content-Type: text/plain\r\n\r\nToo late."
            )
        else:
            self._send(404, "text/html; charset=utf-8", b"<html><body><h1>Not found</h1></body></html>")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: Site


@pytest.fixture(scope="module")
def _server() -> Iterator[Site]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.site = Site(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.site
    server.site.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def site(_server: Site) -> Iterator[Site]:
    """The local site, reset for each test."""
    _server.article = ORIGINAL
    _server.requests.clear()
    _server.cut_off.clear()
    _server.trickle_done.clear()
    yield _server


@pytest.fixture(autouse=True)
def _only_loopback(loopback_only: None) -> None:
    """Every test here fails if anything tries to connect beyond 127.0.0.1 / ::1."""


class StubResolver:
    """getaddrinfo-compatible: name → fixed addresses; records every lookup as (host, port)."""

    def __init__(self, table: dict[str, list[str]] | None = None, answers: list[list[str]] | None = None) -> None:
        self.table = table or {}
        self.answers = answers  # successive answers regardless of name (a DNS-rebinding server)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int, *args: object, **kwargs: object) -> list:
        self.calls.append((host, port))
        if self.answers is not None:
            addresses = self.answers[min(len(self.calls), len(self.answers)) - 1]
        elif host in self.table:
            addresses = self.table[host]
        else:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        infos = []
        for address in addresses:
            if ":" in address:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return infos


@dataclass
class Connections:
    """What index.articles.fetch asked to connect to (host, port) — before the test routes it to loopback."""

    requested: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> Connections:
    """index.articles.fetch must not open any connection: record the attempt and fail."""
    record = Connections()

    def refuse(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        record.requested.append(address)
        raise AssertionError(f"index.articles.fetch connected to {address!r} although it should have refused first")

    monkeypatch.setattr(index.articles.fetch.socket, "create_connection", refuse)
    return record


@pytest.fixture
def routed_to(monkeypatch: pytest.MonkeyPatch, site: Site) -> Connections:
    """Pretend the world is our local site: index.articles.fetch may connect to any *checked* address; we record
    the address it chose and connect to the local server instead (so nothing leaves loopback)."""
    record = Connections()
    real = socket.create_connection

    def route(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        record.requested.append((address[0], address[1]))
        return real(("127.0.0.1", site.port), *args, **kwargs)

    monkeypatch.setattr(index.articles.fetch.socket, "create_connection", route)
    return record


def _one_sentence(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message
    assert message.rstrip().endswith("."), message


def _stored(engine: Engine) -> tuple[int, int, int]:
    conn = sqlite3.connect(Path(engine.settings.data_dir) / "byline.sqlite3")
    try:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[return-value]
            for table in ("articles", "chunks", "sentences")
        )
    finally:
        conn.close()


def _chunk_ids(engine: Engine, article_id: int) -> set[int]:
    conn = sqlite3.connect(Path(engine.settings.data_dir) / "byline.sqlite3")
    try:
        return {r[0] for r in conn.execute("SELECT id FROM chunks WHERE article_id = ?", (article_id,))}
    finally:
        conn.close()


def _cached_ids(engine: Engine, collection: str = "default") -> tuple[set[int], set[int], int]:
    """(FAISS ids, BM25 ids, FAISS size) of the engine's caches for the collection."""
    state = engine.search_index(collection)
    faiss_ids = {int(i) for i in faiss.vector_to_array(state.vectors.index.id_map)}
    return faiss_ids, {int(i) for i in state.lexical.ids}, len(state.vectors)


@pytest.fixture
def local_engine(make_engine: Callable[..., Engine], site: Site) -> Engine:
    """An engine allowed to fetch from the local test site (private addresses on, its port allowed)."""
    return make_engine(fetch_allow_private=True, fetch_allowed_ports=frozenset({site.port}))


# -- adding a web page -----------------------------------------------------------------------------
def test_a_moderator_adds_a_web_page_and_only_the_article_is_kept(local_engine: Engine, site: Site) -> None:
    result = local_engine.add_url("default", site.url(ARTICLE_PATH))

    assert result.status == "added"
    assert result.title == HEADLINE
    assert result.published == "2023-03-14"
    assert result.url == CANONICAL
    assert result.chunks >= 1
    text = local_engine.article_text("default", result.id)
    assert "volunteers removed 2.4 tonnes of rubbish" in text
    assert "Tom Whitlock, chair of the Friends of the River Wend" in text
    leaked = [phrase for phrase in BOILERPLATE if phrase.lower() in text.lower()]
    assert not leaked, f"page furniture in the stored text: {leaked}"
    [article] = local_engine.list_articles("default")
    assert (article.id, article.title, article.url, article.published) == (result.id, HEADLINE, CANONICAL, "2023-03-14")


def test_a_member_asks_about_the_web_page_and_the_answer_quotes_it(local_engine: Engine, site: Site) -> None:
    added = local_engine.add_url("default", site.url(ARTICLE_PATH))

    answer = local_engine.ask("default", TONNAGE_QUESTION)

    assert not answer.abstained
    assert any("2.4 tonnes" in q.text for q in answer.quotes), answer.answer
    assert all(q.article_id == added.id and q.url == CANONICAL for q in answer.quotes)
    assert_verbatim(local_engine, "default", answer.quotes)


def test_a_page_that_changed_is_updated_in_place_and_its_old_chunks_are_gone_everywhere(
    local_engine: Engine, make_engine: Callable[..., Engine], site: Site
) -> None:
    first = local_engine.add_url("default", site.url(ARTICLE_PATH))
    old_chunks = _chunk_ids(local_engine, first.id)
    assert old_chunks and _cached_ids(local_engine)[:2] == (old_chunks, old_chunks)

    site.article = UPDATED
    second = local_engine.add_url("default", site.url(ARTICLE_PATH))

    assert second.status == "updated"
    assert second.id == first.id
    assert second.url == CANONICAL
    assert [a.id for a in local_engine.list_articles("default")] == [first.id]
    new_chunks = _chunk_ids(local_engine, first.id)
    assert new_chunks and not (new_chunks & old_chunks), "old chunk rows survived the update in SQLite"
    assert second.chunks == len(new_chunks)
    faiss_ids, bm25_ids, size = _cached_ids(local_engine)
    assert faiss_ids == new_chunks, "FAISS still holds old chunks (or lacks new ones)"
    assert size == len(new_chunks)
    assert bm25_ids == new_chunks, "BM25 still holds old chunks (or lacks new ones)"
    # The caches saved to disk agree: a new process (here a second engine) sees only the new chunks.
    reopened = make_engine(data_dir=Path(local_engine.settings.data_dir))
    assert _cached_ids(reopened)[:2] == (new_chunks, new_chunks)
    assert "3.1 tonnes" in local_engine.article_text("default", first.id)

    answer = local_engine.ask("default", TONNAGE_QUESTION)

    assert not answer.abstained
    assert any("3.1 tonnes" in q.text for q in answer.quotes), answer.answer
    assert_verbatim(local_engine, "default", answer.quotes)


def test_adding_the_same_updated_page_again_is_a_duplicate(local_engine: Engine, site: Site) -> None:
    local_engine.add_url("default", site.url(ARTICLE_PATH))
    site.article = UPDATED
    updated = local_engine.add_url("default", site.url(ARTICLE_PATH))
    chunks = _chunk_ids(local_engine, updated.id)

    again = local_engine.add_url("default", site.url(ARTICLE_PATH))

    assert again.status == "duplicate"
    assert again.id == updated.id
    assert _chunk_ids(local_engine, updated.id) == chunks
    assert len(local_engine.list_articles("default")) == 1


# -- refusals: the bot must not be turned against its own network ----------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_with_default_settings_a_loopback_url_is_refused_and_nothing_is_stored(
    make_engine: Callable[..., Engine], site: Site, host: str
) -> None:
    engine = make_engine(fetch_allowed_ports=frozenset({site.port}))  # private addresses: default (refused)
    assert engine.settings.fetch_allow_private is False

    with pytest.raises(FetchError) as refused:
        engine.add_url("default", site.url(ARTICLE_PATH, host=host))

    assert "loopback" in str(refused.value)
    _one_sentence(str(refused.value))
    assert site.requests == [], "the server was contacted although the address is refused"
    assert engine.list_articles("default") == []
    assert _stored(engine) == (0, 0, 0)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.5", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("100.64.0.1", "private"),  # carrier-grade NAT
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6 must not hide loopback
    ],
)
def test_a_name_that_resolves_to_an_internal_address_is_refused_without_connecting(
    no_connections: Connections, address: str, reason: str
) -> None:
    resolver = StubResolver({"innocent.example": [address]})

    with pytest.raises(FetchError) as refused:
        fetch("http://innocent.example/news/story", resolver=resolver)

    assert reason in str(refused.value) and refused.value.reason == "refused address"
    assert "innocent.example" in str(refused.value)
    _one_sentence(str(refused.value))
    assert resolver.calls == [("innocent.example", 80)]
    assert no_connections.requested == []


def test_a_name_with_one_public_and_one_internal_address_is_refused(no_connections: Connections) -> None:
    resolver = StubResolver({"mixed.example": ["93.184.216.34", "10.1.2.3"]})

    with pytest.raises(FetchError, match="private"):
        fetch("https://mixed.example/story", resolver=resolver)

    assert no_connections.requested == []


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://files.example/article.txt", "gopher://x.example/", "javascript:alert(1)"]
)
def test_only_http_and_https_links_can_be_added(no_connections: Connections, url: str) -> None:
    resolver = StubResolver({"files.example": ["93.184.216.34"], "x.example": ["93.184.216.34"]})

    with pytest.raises(FetchError, match="Only http and https") as refused:
        fetch(url, resolver=resolver)

    assert refused.value.reason == "bad link"
    assert resolver.calls == []
    assert no_connections.requested == []


def test_a_port_that_is_not_allowed_is_refused(no_connections: Connections) -> None:
    resolver = StubResolver({"news.example": ["93.184.216.34"]})

    with pytest.raises(FetchError, match="port 6379") as refused:
        fetch("http://news.example:6379/", resolver=resolver)

    _one_sentence(str(refused.value))
    assert refused.value.reason == "refused address"
    assert resolver.calls == []
    assert no_connections.requested == []


def test_the_engine_refuses_a_url_on_a_port_outside_its_settings(
    make_engine: Callable[..., Engine], site: Site
) -> None:
    engine = make_engine(fetch_allow_private=True)  # default ports 80 and 443 only

    with pytest.raises(FetchError, match=f"port {site.port}"):
        engine.add_url("default", site.url(ARTICLE_PATH))

    assert site.requests == []
    assert _stored(engine) == (0, 0, 0)


# -- redirects --------------------------------------------------------------------------------------
def test_up_to_five_redirects_are_followed(site: Site) -> None:
    page = fetch(site.url(f"/hop/{MAX_REDIRECTS}"), allow_private=True, allowed_ports=frozenset({site.port}))

    assert page.kind == "html" and page.body == ORIGINAL
    assert page.url == site.url("/hop/0")
    assert len(site.requests) == MAX_REDIRECTS + 1


def test_a_redirect_chain_longer_than_five_is_refused(site: Site) -> None:
    with pytest.raises(FetchError, match="redirected more than 5 times") as refused:
        fetch(site.url(f"/hop/{MAX_REDIRECTS + 1}"), allow_private=True, allowed_ports=frozenset({site.port}))

    _one_sentence(str(refused.value))
    assert refused.value.reason == "redirects"
    assert "/hop/0" not in site.paths


def test_every_redirect_is_rechecked_and_a_hop_to_the_metadata_service_is_refused_before_connecting(
    site: Site, routed_to: Connections
) -> None:
    # news.example is "public" (the stub says so); the local server plays it and redirects to a name that
    # resolves to the cloud metadata address. The guard must resolve and check the second hop as well.
    resolver = StubResolver({"news.example": ["93.184.216.34"], "metadata.example": ["169.254.169.254"]})
    target = f"http://metadata.example:{site.port}/latest/meta-data/"

    with pytest.raises(FetchError, match="link-local"):
        fetch(
            f"http://news.example:{site.port}/redirect?to={target}",
            resolver=resolver,
            allowed_ports=frozenset({site.port}),
        )

    assert resolver.calls == [("news.example", site.port), ("metadata.example", site.port)]
    assert routed_to.requested == [("93.184.216.34", site.port)], "connected to the refused hop"
    assert site.requests == [(f"/redirect?to={target}", f"news.example:{site.port}")]


@pytest.mark.parametrize(
    ("location", "message"),
    [("file:///etc/passwd", "Only http and https"), ("http://127.0.0.1:6379/", "port 6379")],
)
def test_a_redirect_to_another_scheme_or_port_is_refused(site: Site, location: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        fetch(site.url(f"/redirect?to={location}"), allow_private=True, allowed_ports=frozenset({site.port}))

    assert len(site.requests) == 1


def test_the_fetcher_connects_to_the_address_it_checked_not_to_a_second_lookup(
    site: Site, routed_to: Connections
) -> None:
    # A rebinding DNS server answers "public" first and "metadata service" afterwards.
    resolver = StubResolver(answers=[["93.184.216.34"], ["169.254.169.254"]])

    page = fetch(
        f"http://news.example:{site.port}{ARTICLE_PATH}", resolver=resolver, allowed_ports=frozenset({site.port})
    )

    assert page.body == ORIGINAL
    assert resolver.calls == [("news.example", site.port)]
    assert routed_to.requested == [("93.184.216.34", site.port)]
    assert site.requests == [(ARTICLE_PATH, f"news.example:{site.port}")]  # the Host header keeps the name


# -- what comes back ----------------------------------------------------------------------------------
def _local_fetch(site: Site, path: str, **options: object):
    return fetch(site.url(path), allow_private=True, allowed_ports=frozenset({site.port}), **options)


def test_a_body_larger_than_the_limit_is_aborted_while_streaming(site: Site) -> None:
    # The page never ends, so only the size cap can stop the download.
    with pytest.raises(FetchError, match="larger than") as refused:
        _local_fetch(site, "/endless", max_bytes=100_000, timeout=20)

    _one_sentence(str(refused.value))
    assert refused.value.reason == "too large"
    # The limit shown to the user must be the real one (100 kB), not rounded down to "0 MB".
    assert " 0 MB" not in str(refused.value), f"the message misstates the limit: {refused.value}"


def test_a_page_that_declares_a_huge_length_is_refused_before_downloading(site: Site) -> None:
    with pytest.raises(FetchError, match="larger than") as refused:
        _local_fetch(site, "/declared-huge", max_bytes=10_000_000)

    assert refused.value.reason == "too large"


def test_an_image_link_is_refused(site: Site) -> None:
    with pytest.raises(FetchError, match="image/png") as refused:
        _local_fetch(site, "/photo")

    _one_sentence(str(refused.value))
    assert refused.value.reason == "wrong type"


def test_a_missing_page_gives_http_404(site: Site) -> None:
    with pytest.raises(FetchError, match="HTTP 404") as refused:
        _local_fetch(site, "/no/such/story")

    _one_sentence(str(refused.value))
    assert (refused.value.reason, refused.value.status) == ("http", 404)


def test_a_name_that_does_not_resolve_is_unreachable(no_connections: Connections) -> None:
    with pytest.raises(FetchError, match="Could not find the server") as refused:
        fetch("https://no-such-outlet.example/story", resolver=StubResolver())

    _one_sentence(str(refused.value))
    assert refused.value.reason == "unreachable"
    assert no_connections.requested == []


def test_a_port_nobody_listens_on_is_unreachable() -> None:
    with socket.socket() as placeholder:  # bind and close: a loopback port with nothing behind it
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]

    with pytest.raises(FetchError, match="Could not connect") as refused:
        fetch(f"http://127.0.0.1:{port}/story", allow_private=True, allowed_ports=frozenset({port}))

    _one_sentence(str(refused.value))
    assert refused.value.reason == "unreachable"


def test_a_server_that_never_answers_takes_too_long(site: Site) -> None:
    with pytest.raises(FetchError, match="took too long") as refused:
        _local_fetch(site, "/silent", timeout=1)

    _one_sentence(str(refused.value))
    assert refused.value.reason == "too slow"


@pytest.mark.parametrize("path", ["/trickle-body", "/trickle-headers"])
def test_a_server_that_trickles_bytes_cannot_hold_the_fetch_past_its_deadline(site: Site, path: str) -> None:
    # The server sends a few bytes every 0.2 s for 8 s, so no single read ever times out. With a 1 s
    # deadline the fetcher must give up and hang up on the server long before the server is done.
    with pytest.raises(FetchError, match="took too long") as refused:
        _local_fetch(site, path, timeout=1)

    assert refused.value.reason == "too slow"
    assert site.trickle_done.wait(15), "the trickling server never finished"
    assert site.cut_off.get(path) is True, "the fetcher kept reading until the server finished trickling"
