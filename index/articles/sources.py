"""Where articles come from: http(s) URLs (through the SSRF-guarded fetcher), files, directories of
files, pasted text; each becomes an extract.Document (clean text and metadata) for ingestion."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.articles import extract
from index.errors import BylineError, InvalidInput
from index.settings import EngineSettings

if TYPE_CHECKING:
    from index.articles.fetch import FetchedPage


class Sources:
    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings

    def from_text(self, text: str, source: str = "text") -> extract.Document:
        return extract.from_bytes(text.encode(), source, "text", max_bytes=self.settings.max_article_bytes)

    def from_file(self, path: Path) -> extract.Document:
        return extract.from_file(path, self.settings.max_article_bytes)

    def fetch(self, url: str, **options: Any) -> FetchedPage:
        """GET through the SSRF guard with the configured limits (index/articles/fetch.py; `options` as fetch's)."""
        from index.articles.fetch import fetch

        s = self.settings
        return fetch(
            url,
            timeout=s.fetch_timeout,
            max_bytes=s.fetch_max_bytes,
            allowed_ports=s.fetch_allowed_ports,
            allow_private=s.fetch_allow_private,
            **options,
        )

    def fetch_url(self, url: str) -> extract.Document:
        page = self.fetch(url)
        return extract.from_bytes(
            page.body, url, page.kind, url=page.url, charset=page.charset, max_bytes=self.settings.fetch_max_bytes
        )

    def documents(self, source: str, errors: list[tuple[str, BylineError]]) -> list[extract.Document]:
        """Documents from a source string: an http(s) URL, a file, or a directory of supported files.
        Problems are appended to `errors` (one per bad file) so that the good ones still go in."""
        if source.startswith(("http://", "https://")):
            try:
                return [self.fetch_url(source)]
            except BylineError as exc:
                errors.append((source, exc))
                return []
        path = Path(source)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in extract.SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not files:
                errors.append((source, InvalidInput(f"{source} has no .txt, .md, .html or .pdf files.")))
        elif path.exists():
            files = [path]
        else:
            errors.append((source, InvalidInput("It is not a file, a directory or an http(s) URL.")))
            files = []
        docs = []
        for file in files:
            try:
                docs.append(extract.from_file(file, self.settings.max_article_bytes))
            except BylineError as exc:
                errors.append((str(file), exc))
        return docs
