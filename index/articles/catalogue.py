"""The catalogue: what a collection holds. List, find (for pickers), read one article or a quote in
context, remove an article, list collections, purge a whole collection."""

from __future__ import annotations

import logging
import threading

import numpy as np

from index.errors import NotFound, check_collection
from index.models import Article, CitedSentence, CollectionStats, Quote
from index.search.cache import SearchIndexes
from index.storage import ArticleRow, Articles, Layout

log = logging.getLogger(__name__)


def article_of(row: ArticleRow) -> Article:
    return Article(row.id, row.collection, row.title, row.url, row.published, row.added, row.chunks)


def cited_sentence(row: ArticleRow, start: int, end: int) -> CitedSentence:
    return CitedSentence(row.text[start:end], row.id, row.title, row.url, row.published, start, end)


def no_such_article(article_id: int) -> NotFound:
    return NotFound(f"There is no article {article_id} in this collection.")


class Catalogue:
    def __init__(self, store: Articles, layout: Layout, indexes: SearchIndexes, write_lock: threading.RLock) -> None:
        self.store = store
        self.layout = layout
        self.indexes = indexes
        self.write_lock = write_lock

    def remove(self, collection: str, article_id: int) -> Article:
        check_collection(collection)
        with self.write_lock:
            row = self.article_row(collection, article_id)
            self.indexes.get(collection)
            removed = self.store.delete_article(collection, article_id)
            if removed is None:
                raise no_such_article(article_id)
            self.indexes.apply(collection, self.store.revision(collection), removed, [], np.zeros((0, 1)), [])
        log.info("removed article %d from %s", article_id, collection)
        return article_of(row)

    def collections(self) -> list[CollectionStats]:
        """Every collection that holds articles, logged answers or a digest schedule, by name, with counts."""
        return [CollectionStats(*row) for row in self.store.collection_stats()]

    def purge(self, collection: str) -> dict[str, int]:
        """Delete a whole collection for good: its articles, sentences, chunks, cache files, logged answers,
        votes and digest schedule (one SQLite transaction; the caches are removed after it commits). Returns
        the rows deleted by kind. Operators only: no chat command reaches this (see `python -m bot purge`)."""
        check_collection(collection)
        with self.write_lock:
            counts = self.store.purge(collection)
            if not any(counts.values()):
                raise NotFound(f"Collection {collection!r} holds nothing: `python -m bot collections` lists them.")
            self.indexes.delete_files(collection)
        log.info("purged collection %s: %s", collection, counts)
        return counts

    def list_articles(self, collection: str) -> list[Article]:
        check_collection(collection)
        return [article_of(row) for row in self.store.articles(collection)]

    def article_count(self, collection: str) -> int:
        return self.store.article_count(check_collection(collection))

    def find_articles(self, collection: str, needle: str = "", limit: int = 25) -> list[tuple[int, str, str | None]]:
        """(id, title, published) of up to `limit` articles, newest first, whose title contains `needle`
        (case-insensitive) or whose id it is: for pickers such as Discord's autocomplete."""
        return self.store.find_titles(check_collection(collection), needle.strip(), limit)

    def article_row(self, collection: str, article_id: int) -> ArticleRow:
        row = self.store.article(check_collection(collection), article_id)
        if row is None:
            raise no_such_article(article_id)
        return row

    def article(self, collection: str, article_id: int) -> Article:
        return article_of(self.article_row(collection, article_id))

    def article_text(self, collection: str, article_id: int) -> str:
        return self.article_row(collection, article_id).text

    def passage(self, collection: str, quote: Quote, around: int = 1) -> tuple[str, str, str]:
        """A quote with `around` sentences either side from its article: (before, quote, after), so a
        reader can see it in context. The quote itself is re-read from the article, verbatim."""
        text = self.article_text(collection, quote.article_id)
        if text[quote.start : quote.end] != quote.text:
            raise NotFound("That article has changed since the answer was given; ask again.")
        rows = [(s, e) for _, s, e, _, _ in self.layout.sentences(quote.article_id)]
        first = next((i for i, (_, end) in enumerate(rows) if end > quote.start), len(rows))
        last = next((i for i, (_, end) in enumerate(rows) if end >= quote.end), len(rows) - 1)
        before = rows[max(0, first - around) : first]
        after = rows[last + 1 : last + 1 + around]
        return (
            text[before[0][0] : quote.start].strip() if before else "",
            quote.text,
            text[quote.end : after[-1][1]].strip() if after else "",
        )
