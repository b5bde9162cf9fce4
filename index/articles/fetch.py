"""Fetching article URLs without letting a URL turn the bot against its own network (SSRF).

The host is resolved once and every address checked; the connection goes to the checked address (so a
DNS answer that changes between check and connect cannot redirect it), every redirect is checked the
same way, and the body is streamed with a size cap and a deadline."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from index.errors import FetchError, human_size

Resolver = Callable[..., list]
MAX_REDIRECTS = 5
ACCEPTED_TYPES = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
    "text/markdown": "text",
    "application/pdf": "pdf",
}
ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,application/pdf;q=0.8"
USER_AGENT = "Byline/0.1 (+https://github.com/byline-bot; article fetcher)"


@dataclass(frozen=True)
class FetchedPage:
    url: str  # after redirects
    kind: str  # html | text | pdf, or the kinds of the `accepted` map given; "" for a 304
    body: bytes
    charset: str | None
    status: int = 200  # 304 only when the request was conditional (`headers` had If-None-Match ...)
    headers: Mapping[str, str] = field(default_factory=dict)  # the response's, names in lower case


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks for (a number of seconds or an HTTP date), None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def address_refusal(address: str) -> str | None:
    """Why an address must not be fetched from a public bot, or None if it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return "a private address"
    return None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address we checked, not to whatever the hostname resolves to later."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = self.raw_socket = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = self.raw_socket = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _shut(conn: http.client.HTTPConnection) -> None:
    # http.client drops conn.sock once a response is under way; the raw socket is still ours to cut.
    sock = getattr(conn, "raw_socket", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _resolve(host: str, port: int, resolver: Resolver, allow_private: bool) -> str:
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise FetchError(f"Could not find the server {host!r}; check the link.", reason="unreachable") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise FetchError(f"Could not find the server {host!r}; check the link.", reason="unreachable")
    if not allow_private:
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                raise FetchError(f"Refused to fetch {host}: it points to {reason}.", reason="refused address")
    return addresses[0]


def fetch(
    url: str,
    *,
    timeout: float = 15.0,
    max_bytes: int = 10_000_000,
    allowed_ports: frozenset[int] = frozenset({80, 443}),
    allow_private: bool = False,
    resolver: Resolver = socket.getaddrinfo,
    accepted: Mapping[str, str] = ACCEPTED_TYPES,
    accept: str = ACCEPT,
    headers: Mapping[str, str] | None = None,
    wanted: str = "a web page, text or PDF",
) -> FetchedPage:
    """GET a URL through the guard. `accepted` maps the content types taken to the kind reported
    (anything else is refused as not `wanted`), `accept` is the Accept header; extra `headers` (a conditional GET's
    If-None-Match / If-Modified-Since) go with every request, and a 304 comes back as a page of status 304."""
    deadline = time.monotonic() + timeout
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(current)
        if parts.scheme not in ("http", "https"):
            raise FetchError("Only http and https links can be added.", reason="bad link")
        if not parts.hostname:
            raise FetchError("That link has no host name.", reason="bad link")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise FetchError("That link has an invalid port.", reason="bad link") from None
        if port not in allowed_ports:
            raise FetchError(
                f"Refused to fetch from port {port}; allowed ports are {sorted(allowed_ports)}.",
                reason="refused address",
            )
        address = _resolve(parts.hostname, port, resolver, allow_private)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError("The page took too long to answer.", reason="too slow")
        conn_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        conn = conn_class(parts.hostname, port, address, timeout=remaining)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # Socket timeouts bound each receive, not the whole exchange: a server trickling a byte at a
        # time would never trip them. The watchdog closes the socket at the deadline instead.
        watchdog = threading.Timer(remaining, _shut, args=(conn,))
        watchdog.daemon = True
        watchdog.start()
        try:
            conn.request(
                "GET",
                path,
                headers={"User-Agent": USER_AGENT, "Accept": accept, **(headers or {})},
            )
            response = conn.getresponse()
            answered = {name.lower(): value for name, value in response.getheaders()}
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise FetchError("The page redirected without saying where.", reason="redirects")
                current = urljoin(current, location)
                continue
            if response.status == 304 and headers:
                return FetchedPage(url=current, kind="", body=b"", charset=None, status=304, headers=answered)
            if response.status >= 400:
                raise FetchError(
                    f"The page could not be fetched: the server answered HTTP {response.status}.",
                    reason="http",
                    status=response.status,
                    retry_after=retry_after(response.getheader("Retry-After")),
                )
            content_type = (response.getheader("Content-Type") or "text/html").split(";")[0].strip().lower()
            kind = accepted.get(content_type)
            if kind is None:
                raise FetchError(f"That link is {content_type}, not {wanted}.", reason="wrong type")
            length = response.getheader("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FetchError(f"The page is larger than the {human_size(max_bytes)} limit.", reason="too large")
            body = bytearray()
            while True:
                if time.monotonic() > deadline:
                    raise FetchError("The page took too long to download.", reason="too slow")
                piece = response.read1(65536)
                if not piece:
                    if time.monotonic() >= deadline:  # the watchdog cut it: not the real end of the page
                        raise FetchError("The page took too long to download.", reason="too slow")
                    break
                body.extend(piece)
                if len(body) > max_bytes:
                    raise FetchError(f"The page is larger than the {human_size(max_bytes)} limit.", reason="too large")
            charset = response.headers.get_content_charset()
            return FetchedPage(
                url=current, kind=kind, body=bytes(body), charset=charset, status=response.status, headers=answered
            )
        except TimeoutError:
            raise FetchError("The page took too long to answer.", reason="too slow") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if time.monotonic() >= deadline:
                raise FetchError("The page took too long to answer.", reason="too slow") from None
            raise FetchError(
                f"Could not connect to {parts.hostname}: {exc.__class__.__name__}.", reason="unreachable"
            ) from None
        finally:
            watchdog.cancel()
            conn.close()
    raise FetchError(f"The page redirected more than {MAX_REDIRECTS} times.", reason="redirects")
