"""Sources → clean article text plus metadata: plain text, Markdown, HTML (trafilatura), PDF (pypdf), URLs.

Bad input fails here, before anything is stored, with one sentence saying what is wrong."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from index.articles.chunking import parse_date
from index.errors import InvalidInput, human_size

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
MIN_WORDS = 12  # less than this is not an article (e.g. a page that is all menus)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Document:
    text: str
    source: str
    title: str | None = None
    url: str | None = None
    published: str | None = None
    first_line_is_title: bool = False  # plain text: the first line is the headline unless --title


def _check_size(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise InvalidInput(f"{what} is {human_size(size)}, over the {human_size(limit)} limit.")


def decode_text(data: bytes, what: str, charset: str | None = None) -> str:
    """UTF-8 text (a BOM is fine), refusing binary files whatever their name says."""
    if b"\x00" in data[:65536]:
        raise InvalidInput(f"{what} looks like a binary file, not text.")
    try:
        text = data.decode(charset or "utf-8-sig")
    except (UnicodeDecodeError, LookupError):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput(f"{what} is not valid UTF-8 text; save it as UTF-8 and try again.") from None
    sample = text[:65536]
    if sample and len(_CONTROL.findall(sample)) > 0.01 * len(sample):
        raise InvalidInput(f"{what} looks like a binary file, not text.")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _require_words(text: str, what: str) -> None:
    if len(re.findall(r"\w+", text)) < MIN_WORDS:
        raise InvalidInput(f"{what} has no article text (fewer than {MIN_WORDS} words).")


def from_text(text: str, source: str) -> Document:
    text = text.strip("\n")
    _require_words(text, source)
    title_line = next((line.strip() for line in text.split("\n") if line.strip()), "")
    title = re.sub(r"^#+\s*", "", title_line)
    return Document(text=text, source=source, title=title, first_line_is_title=True)


def from_html(html: str | bytes, source: str, url: str | None = None) -> Document:
    import trafilatura

    result = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        # trafilatura's deduplication keeps a process-wide cache of text it has seen: the same page fetched a
        # few times (a moderator refreshing an article) came out different, then as "no article text".
        # Byline deduplicates whole articles by content hash instead.
        deduplicate=False,
    )
    if result is None or not (result.text or "").strip():
        raise InvalidInput(f"{source} has no article text (only menus, links or boilerplate).")
    text = result.text.strip()
    _require_words(text, source)
    published = parse_date(result.date) if result.date else None
    canonical = result.url if result.url and result.url.startswith(("http://", "https://")) else None
    return Document(
        text=text,
        source=source,
        title=(result.title or "").strip() or None,
        url=canonical or url,
        published=published,
    )


def from_pdf(data: bytes, source: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or None
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InvalidInput(f"{source} is not a readable PDF ({exc.__class__.__name__}).") from None
    # PDF text breaks lines at the page edge: rejoin them into paragraphs, keep blank-line breaks.
    text = "\n\n".join(pages)
    text = re.sub(r"-\n(?=[a-z])", "", text)
    text = re.sub(r"(?<![.!?:”\"\n])\n(?!\n)", " ", text)
    text = re.sub(r"[ \t]+", " ", text).strip()
    if len(re.findall(r"\w+", text)) < MIN_WORDS:
        raise InvalidInput(f"{source} has no extractable text (a scanned PDF needs OCR first).")
    doc = from_text(text, source)
    return Document(text=doc.text, source=source, title=title or doc.title, first_line_is_title=not title)


def from_bytes(
    data: bytes, source: str, kind: str, *, url: str | None = None, charset: str | None = None, max_bytes: int
) -> Document:
    _check_size(len(data), max_bytes, source)
    if kind == "pdf":
        if not data.startswith(b"%PDF"):
            raise InvalidInput(f"{source} is not a PDF file.")
        return from_pdf(data, source)
    text = decode_text(data, source, charset)
    if kind == "html":
        return from_html(text, source, url)
    if looks_like_html(text):
        return from_html(text, source, url)
    return from_text(text, source)


def looks_like_html(text: str) -> bool:
    head = text[:2048].lstrip().lower()
    return head.startswith(("<!doctype html", "<html")) or ("<body" in head and "</" in head)


def kind_for_name(name: str) -> str:
    """'text', 'html' or 'pdf' from a file name's suffix; other files are refused."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InvalidInput(f"{name}: unsupported file type; use .txt, .md, .html or .pdf.")
    return "pdf" if suffix in PDF_SUFFIXES else "html" if suffix in HTML_SUFFIXES else "text"


def from_file(path: Path, max_bytes: int) -> Document:
    kind = kind_for_name(path.name)
    try:
        size = path.stat().st_size
        _check_size(size, max_bytes, path.name)
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Could not read {path}: {exc.strerror or exc.__class__.__name__}.") from None
    return from_bytes(data, path.name, kind, max_bytes=max_bytes)
