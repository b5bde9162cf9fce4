"""A loopback web server publishing feeds and article pages for the feed tests: real HTTP, with ETag and
Last-Modified validators answered as a real server does (304 when they match), per-path request counts,
and builders for RSS 2.0, Atom 1.0 and RSS 1.0 (RDF) documents."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    validators: bool = True  # send ETag and Last-Modified, answer 304 to a matching conditional GET


@dataclass(frozen=True)
class Entry:
    title: str
    link: str | None
    text: str  # the entry's body (an HTML fragment): a teaser or the whole article
    guid: str | None = None
    published: datetime | None = None
    full_content: bool = False  # in content:encoded / <content> rather than description / <summary>


class _Handler(BaseHTTPRequestHandler):
    server: FeedServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path
        with self.server.lock:
            self.server.hits[path] = self.server.hits.get(path, 0) + 1
            self.server.requests.append((path, dict(self.headers.items())))
            route = self.server.routes.get(path)
        if route is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        etag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
        modified = format_datetime(self.server.modified.get(path, datetime(2026, 1, 1, tzinfo=UTC)), usegmt=True)
        if route.validators and route.status == 200:
            if self.headers.get("If-None-Match") == etag or (
                "If-None-Match" not in self.headers and self.headers.get("If-Modified-Since") == modified
            ):
                with self.server.lock:
                    self.server.not_modified += 1
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(route.body)))
        if route.validators and route.status == 200:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", modified)
        for name, value in route.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(route.body)


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.port = self.server_address[1]
        self.lock = threading.Lock()
        self.routes: dict[str, Route] = {}
        self.modified: dict[str, datetime] = {}
        self.hits: dict[str, int] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.not_modified = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def publish(
        self, path: str, body: bytes | str, content_type: str = "application/rss+xml; charset=utf-8", **kw
    ) -> str:
        data = body.encode() if isinstance(body, str) else body
        with self.lock:
            self.routes[path] = Route(data, content_type, **kw)
            self.modified[path] = datetime.now(UTC).replace(microsecond=0)
        return self.url(path)

    def page(self, path: str, title: str, paragraphs: list[str]) -> str:
        """An article page trafilatura extracts."""
        body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        html = (
            f"<!doctype html><html><head><title>{escape(title)}</title></head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>{escape(title)}</h1>{body}</article><footer>© Example News</footer></body></html>"
        )
        return self.publish(path, html, "text/html; charset=utf-8")

    def count(self, path: str) -> int:
        with self.lock:
            return self.hits.get(path, 0)


def _date(moment: datetime | None) -> str:
    return format_datetime(moment, usegmt=True) if moment else ""


def rss(title: str, entries: list[Entry], *, ttl: int | None = None, link: str = "https://example.com/") -> str:
    items = []
    for e in entries:
        parts = [f"<title>{escape(e.title)}</title>"]
        if e.link:
            parts.append(f"<link>{escape(e.link)}</link>")
        if e.guid:
            parts.append(f'<guid isPermaLink="false">{escape(e.guid)}</guid>')
        if e.published:
            parts.append(f"<pubDate>{_date(e.published)}</pubDate>")
        if e.full_content:
            parts.append(f"<description>{escape(e.text[:120])}</description>")
            parts.append(f"<content:encoded><![CDATA[{e.text}]]></content:encoded>")
        else:
            parts.append(f"<description>{escape(e.text)}</description>")
        items.append("<item>" + "".join(parts) + "</item>")
    extra = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escape(title)}</title><link>{escape(link)}</link><description>News</description>{extra}"
        + "".join(items)
        + "</channel></rss>"
    )


def atom(title: str, entries: list[Entry]) -> str:
    items = []
    for e in entries:
        when = (e.published or datetime(2026, 1, 1, tzinfo=UTC)).isoformat()
        body = (
            f'<content type="html">{escape(e.text)}</content>'
            if e.full_content
            else f"<summary>{escape(e.text)}</summary>"
        )
        link = f'<link rel="alternate" href="{escape(e.link)}"/>' if e.link else ""
        entry_id = f"<id>{escape(e.guid)}</id>" if e.guid else ""
        items.append(f"<entry><title>{escape(e.title)}</title>{link}{entry_id}<updated>{when}</updated>{body}</entry>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:example:feed</id><updated>2026-12-01T00:00:00Z</updated>"
        + "".join(items)
        + "</feed>"
    )


def rdf(title: str, entries: list[Entry]) -> str:
    """RSS 1.0: items outside the channel, identified by rdf:about."""
    seq = "".join(f'<rdf:li resource="{escape(e.link or "")}"/>' for e in entries)
    items = "".join(
        f'<item rdf:about="{escape(e.link or "")}"><title>{escape(e.title)}</title><link>{escape(e.link or "")}</link>'
        f"<description>{escape(e.text)}</description>"
        + (f"<dc:date>{e.published.isoformat()}</dc:date>" if e.published else "")
        + "</item>"
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<channel rdf:about="https://example.com/"><title>{escape(title)}</title><link>https://example.com/</link>'
        f"<description>News</description><items><rdf:Seq>{seq}</rdf:Seq></items></channel>{items}</rdf:RDF>"
    )
