"""Feeds as documents: fetch a feed through the SSRF-guarded fetcher (conditional GET), find the feed an
HTML page names (`<link rel="alternate">`), parse the bytes with feedparser (RSS 0.9x/1.0/2.0, Atom) and
turn each entry into an item with a stable key and an article Document.

feedparser never fetches anything itself here: it only parses bytes that index/articles/fetch.py fetched, with
the response's headers (the charset and base URL it needs). An entry that carries only a teaser gets
its linked page fetched through the same guard and extracted with trafilatura; if that yields no article
text, the entry's own summary is stored and its title says so."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from index.articles import extract
from index.articles.fetch import FetchedPage, retry_after
from index.errors import BylineError, FetchError, InvalidInput

FEED_TYPES = {
    "application/rss+xml": "feed",
    "application/atom+xml": "feed",
    "application/rdf+xml": "feed",
    "application/xml": "feed",
    "text/xml": "feed",
    "application/x-rss+xml": "feed",
    "text/plain": "feed",  # some servers label their feeds so; the parser decides
    "text/html": "html",
    "application/xhtml+xml": "html",
}
FEED_ACCEPT = (
    "application/rss+xml,application/atom+xml,application/rdf+xml;q=0.9,application/xml;q=0.8,"
    "text/xml;q=0.8,text/html;q=0.5"
)
# An entry whose own text is at least this long is the article; shorter is a teaser (the page is fetched).
FULL_TEXT_WORDS = 150
SUMMARY_MARK = " (summary from the feed)"
_TRACKING = re.compile(r"^(utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid)$", re.IGNORECASE)
_BLOCK = re.compile(
    r"</?(p|div|br|li|ul|ol|h[1-6]|blockquote|section|article|tr|table|figure|figcaption)\b[^>]*>", re.IGNORECASE
)
_TAG = re.compile(r"<[^>]+>")
_ALTERNATE = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([a-zA-Z-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""")
_FEED_LINK_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+xml")

Fetcher = Callable[..., FetchedPage]


class NotAFeed(InvalidInput):
    """The bytes are not a feed (and, for a page, it names none)."""


@dataclass(frozen=True)
class FeedItem:
    key: str  # the entry id, else the normalised link, else a hash of title and date
    title: str
    link: str | None
    published: str | None  # YYYY-MM-DD
    timestamp: float | None  # for ordering: newest first
    entry_hash: str  # changes when the entry is edited
    body_html: str  # the entry's content, else its summary (feedparser has sanitised both)
    body_words: int

    @property
    def full_text(self) -> bool:
        return self.body_words >= FULL_TEXT_WORDS

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "title": self.title,
            "link": self.link,
            "published": self.published,
            "full_text": self.full_text,
        }


@dataclass(frozen=True)
class ParsedFeed:
    url: str
    title: str
    items: tuple[FeedItem, ...]  # newest first
    ttl: float | None  # seconds the feed asks between polls (<ttl>, in minutes in the feed), None if silent
    malformed: str | None  # feedparser's complaint about a feed it could still read


def normalise_link(link: str) -> str:
    """A link as a key: scheme and host in lower case, no fragment, no tracking parameters, no default
    port, no trailing slash on the path."""
    parts = urlsplit(link.strip())
    host = (parts.hostname or "").lower()
    if parts.port and (parts.scheme, parts.port) not in (("http", 80), ("https", 443)):
        host += f":{parts.port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)])
    return urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/") or "/", query, ""))


def html_to_text(fragment: str) -> str:
    """An entry's HTML as plain paragraphs."""
    text = _BLOCK.sub("\n", fragment)
    text = html.unescape(_TAG.sub("", text))
    lines = (re.sub(r"[ \t\xa0]+", " ", line).strip() for line in text.split("\n"))
    return "\n\n".join(line for line in lines if line)


def _when(entry: Mapping) -> tuple[str | None, float | None]:
    for field in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(field)
        if parsed:
            try:
                stamp = datetime(*parsed[:6], tzinfo=UTC)
            except (TypeError, ValueError):
                continue
            return stamp.date().isoformat(), stamp.timestamp()
    return None, None


def _item(entry: Mapping, base: str) -> FeedItem | None:
    title = html.unescape(_TAG.sub("", entry.get("title") or "")).strip()
    link = entry.get("link") or None
    if link:
        link = urljoin(base, link)
        if not link.startswith(("http://", "https://")):
            link = None
    contents = [c.get("value") or "" for c in entry.get("content") or [] if isinstance(c, Mapping)]
    body = max(contents, key=len, default="")
    summary = entry.get("summary") or ""
    if len(_TAG.sub("", summary)) > len(_TAG.sub("", body)):
        body = summary
    published, timestamp = _when(entry)
    if not (title or link or body.strip()):
        return None
    entry_id = (entry.get("id") or "").strip()
    if entry_id:
        key = f"id:{entry_id}"
    elif link:
        key = f"link:{normalise_link(link)}"
    else:
        key = "hash:" + hashlib.sha256(f"{title}\n{published or ''}".encode()).hexdigest()[:32]
    updated = entry.get("updated") or ""
    digest = hashlib.sha256("\x1f".join((title, link or "", body, updated)).encode()).hexdigest()
    words = len(re.findall(r"\w+", html_to_text(body)))
    return FeedItem(key, title or (link or "Untitled"), link, published, timestamp, digest, body, words)


def parse(page: FetchedPage) -> ParsedFeed:
    """The feed in a fetched page's bytes, newest item first. Raises NotAFeed if there is none."""
    import feedparser

    headers = {"content-location": page.url, **dict(page.headers)}
    if page.charset and "content-type" not in headers:
        headers["content-type"] = f"application/xml; charset={page.charset}"
    parsed = feedparser.parse(page.body, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        detail = f" ({_short(problem)})" if problem else ""
        raise NotAFeed(f"{page.url} is not a feed{detail}.")
    items = [item for entry in parsed.entries if (item := _item(entry, page.url)) is not None]
    # newest first when the entries are dated; a feed's own order (usually newest first) otherwise
    if all(item.timestamp is not None for item in items):
        items.sort(key=lambda item: -(item.timestamp or 0.0))  # stable: same-time entries keep their order
    # one item per key, the newest: a feed listing one entry twice holds one item
    by_key: dict[str, FeedItem] = {}
    for item in items:
        by_key.setdefault(item.key, item)
    items = list(by_key.values())
    ttl = None
    raw_ttl = str(parsed.feed.get("ttl") or "").strip()
    if raw_ttl.isdigit():
        ttl = int(raw_ttl) * 60.0
    title = html.unescape(_TAG.sub("", parsed.feed.get("title") or "")).strip() or page.url
    malformed = _short(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    return ParsedFeed(page.url, title, tuple(items), ttl, malformed)


def _short(problem: object) -> str:
    text = str(problem).strip().splitlines()[0] if str(problem).strip() else type(problem).__name__
    return text[:120]


def feed_links(page: FetchedPage) -> list[str]:
    """The feeds an HTML page names: <link rel="alternate" type="application/rss+xml" href="...">."""
    text = page.body[:1_000_000].decode(page.charset or "utf-8", "replace")
    found = []
    for tag in _ALTERNATE.findall(text):
        attrs = {k.lower(): v.strip("\"'") for k, v in _ATTRIBUTE.findall(tag)}
        rels = attrs.get("rel", "").lower().split()
        if "alternate" in rels and attrs.get("type", "").lower() in _FEED_LINK_TYPES and attrs.get("href"):
            found.append(urljoin(page.url, html.unescape(attrs["href"])))
    return list(dict.fromkeys(found))


def fetch_feed(url: str, fetcher: Fetcher, headers: Mapping[str, str] | None = None) -> FetchedPage:
    return fetcher(url, accepted=FEED_TYPES, accept=FEED_ACCEPT, headers=headers, wanted="a feed (RSS or Atom)")


def discover(url: str, fetcher: Fetcher) -> tuple[FetchedPage, ParsedFeed]:
    """The feed at `url`, or the one the HTML page at `url` names. NotAFeed if neither."""
    page = fetch_feed(url, fetcher)
    head = page.body[:2048].decode("utf-8", "replace")
    feed_markup = any(tag in head.lower() for tag in ("<rss", "<feed", "<rdf:rdf"))  # whatever it is labelled
    if not feed_markup and (page.kind == "html" or extract.looks_like_html(head)):
        links = feed_links(page)
        if not links:
            raise NotAFeed(f'{url} is a web page, not a feed, and it names no feed (no <link rel="alternate">).')
        for link in links[:3]:
            try:
                found = fetch_feed(link, fetcher)
                return found, parse(found)
            except BylineError:
                continue
        raise NotAFeed(f"{url} names a feed ({links[0]}), but it could not be read as one.")
    return page, parse(page)


def document(item: FeedItem, fetch_page: Callable[[str], extract.Document], max_bytes: int) -> extract.Document:
    """The article of an entry: its own text when it is full, else the linked page (through the guard),
    else its summary, marked as such. InvalidInput when there is no article text at all."""
    source = item.key
    if not item.full_text and item.link:
        try:
            page = fetch_page(item.link)
            return extract.Document(
                text=page.text,
                source=source,
                title=item.title or page.title,
                url=item.link,
                published=item.published or page.published,
            )
        except BylineError:
            pass  # the summary below, marked
    text = html_to_text(item.body_html)
    if len(text.encode()) > max_bytes:
        raise InvalidInput(f"{item.title}: the entry is larger than the article limit.")
    if len(re.findall(r"\w+", text)) < extract.MIN_WORDS:
        raise InvalidInput(f"{item.title}: the entry has no article text and its page gave none.")
    title = item.title if item.full_text else item.title + SUMMARY_MARK
    return extract.Document(text=text, source=source, title=title, url=item.link, published=item.published)


def asked_interval(page: FetchedPage, feed: ParsedFeed | None, now: float | None = None) -> float:
    """The seconds the feed asks between polls: the longest of <ttl>, Cache-Control max-age, Retry-After
    and Expires (0 if it asks nothing)."""
    asked = [feed.ttl] if feed is not None and feed.ttl else []
    control = page.headers.get("cache-control", "")
    match = re.search(r"max-age\s*=\s*(\d+)", control)
    if match:
        asked.append(float(match.group(1)))
    for header in ("retry-after", "expires"):  # seconds, or an HTTP date: the seconds until it
        wait = retry_after(page.headers.get(header), now)
        if wait:
            asked.append(wait)
    return max([0.0, *asked])


def failure_reason(error: BylineError) -> str:
    """A short reason for a moderator: "HTTP 403", "not a feed", "too large", "unreachable", ... (the
    fetcher's reason code; any other error's own sentence, cut short)."""
    if isinstance(error, FetchError):
        return f"HTTP {error.status}" if error.status else error.reason
    if isinstance(error, NotAFeed):
        return "not a feed"
    return str(error).rstrip(".")[:80]
