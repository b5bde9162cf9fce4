"""Ingestion: documents -> layout (sentences, chunks within the model's budget) -> one embedding call per
group of articles -> one store transaction per article -> the search indexes updated in place.

A duplicate (same text, whitespace-insensitive) is found before any embedding; the same URL with new text
replaces the article under its id; a bad document is reported and the others still go in."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from index.articles import chunking, extract
from index.errors import BylineError, InvalidInput
from index.inference.embedding import Embedder
from index.models import AddResult
from index.search.cache import SearchIndexes
from index.settings import EngineSettings
from index.storage import ArticleRow, Articles, NewArticle, StoredTwin, utc_iso

log = logging.getLogger(__name__)

# Articles embedded together in one model call when several are added at once.
EMBED_GROUP = 16


@dataclass(frozen=True)
class Plan:
    """An article split and chunked; its vectors are filled in by one model call for a group of articles."""

    new: NewArticle
    chunk_texts: list[str]
    sentence_texts: list[str]


def content_hash(text: str) -> str:
    # Whitespace-insensitive, so a re-pasted copy with different line wrapping is still a duplicate.
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def add_result(row: ArticleRow, status: str, source: str) -> AddResult:
    return AddResult(row.id, row.title, row.url, row.published, row.chunks, status, source)  # type: ignore[arg-type]


class Ingest:
    def __init__(
        self,
        store: Articles,
        indexes: SearchIndexes,
        embedder: Embedder,
        settings: EngineSettings,
        clock: Callable[[], datetime],
        write_lock: threading.RLock,
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.embedder = embedder
        self.settings = settings
        self.clock = clock
        self.write_lock = write_lock

    def add_documents(
        self,
        collection: str,
        docs: Iterable[extract.Document],
        *,
        title: str | None = None,
        url: str | None = None,
        published: str | None = None,
        errors: list[tuple[str, BylineError]] | None = None,
        progress: Callable[[str], None] | None = None,
        rebuild_lexical: bool = True,
    ) -> list[AddResult]:
        """Add several documents, each in its own transaction; BM25 is rebuilt once at the end (or by the
        caller, once after several calls, with rebuild_lexical=False: a poll round over many feeds).
        With `errors` given, a bad document is reported there and the others still go in.
        `progress` receives a short line before each step (a chat face shows it while the user waits).

        Documents are embedded EMBED_GROUP at a time in one model call: sorted by length across the
        group, short sentences are no longer padded to the length of the chunks they sit beside."""
        if published is not None and chunking.parse_date(published) is None:
            raise InvalidInput(f"--published must be a date like 2024-03-14, not {published!r}.")
        results: list[AddResult] = []
        touched = False
        group: list[extract.Document] = []

        done = 0

        def flush() -> None:
            nonlocal touched, done
            if group and progress is not None:
                progress(f"Reading and embedding {plural(len(group), 'article')} ({done} done so far)…")
            done += len(group)
            for doc, outcome in zip(group, self._group(collection, group, title, url, published), strict=True):
                if isinstance(outcome, BylineError):
                    if errors is None:
                        raise outcome
                    errors.append((doc.source, outcome))
                else:
                    result, wrote = outcome
                    touched = touched or wrote
                    results.append(result)
            group.clear()

        try:
            for doc in docs:
                group.append(doc)
                if len(group) >= EMBED_GROUP:
                    flush()
            flush()
        finally:
            if touched and rebuild_lexical:
                if progress is not None:
                    progress("Updating the keyword index…")
                self.indexes.rebuild_lexical(collection)
        return results

    def _group(
        self,
        collection: str,
        docs: list[extract.Document],
        title: str | None,
        url: str | None,
        published: str | None,
    ) -> list[tuple[AddResult, bool] | BylineError]:
        """Plan each document (or find it is a duplicate or invalid), embed all planned texts in one call,
        then store each article in its own transaction. One outcome per document, in order."""
        outcomes: list[tuple[AddResult, bool] | BylineError | Plan] = []
        for doc in docs:
            try:
                outcomes.append(self._plan(collection, doc, title, url, published))
            except BylineError as exc:
                outcomes.append(exc)
        plans = [o for o in outcomes if isinstance(o, Plan)]
        twins = {id(plan): self._twin(plan) for plan in plans}
        fresh = [plan for plan in plans if twins[id(plan)] is None]
        vectors = self.embedder.encode([t for plan in fresh for t in plan.chunk_texts + plan.sentence_texts])
        done: list[tuple[AddResult, bool] | BylineError] = []
        at = 0
        for outcome in outcomes:
            if not isinstance(outcome, Plan):
                done.append(outcome)
                continue
            twin = twins[id(outcome)]
            if twin is not None:
                new = replace(outcome.new, chunk_vectors=twin.chunk_vectors, sentence_vectors=twin.sentence_vectors)
            else:
                n_chunks, n_sentences = len(outcome.chunk_texts), len(outcome.sentence_texts)
                new = replace(
                    outcome.new,
                    chunk_vectors=vectors[at : at + n_chunks],
                    sentence_vectors=vectors[at + n_chunks : at + n_chunks + n_sentences],
                )
                at += n_chunks + n_sentences
            try:
                done.append(self._store(collection, new, outcome.chunk_texts))
            except BylineError as exc:
                done.append(exc)
        return done

    def _twin(self, plan: Plan) -> StoredTwin | None:
        """The same text stored already (in another collection: a feed item many servers follow): its
        vectors serve again when its layout is this one (the same text and chunk budget give the same)."""
        twin = self.store.stored_twin(plan.new.content_hash, plan.new.text)
        if twin is None or twin.sentences != list(plan.new.sentences) or twin.chunks != list(plan.new.chunks):
            return None
        if twin.chunk_vectors.shape[1] != self.embedder.dimension:
            return None
        return twin

    def _plan(
        self, collection: str, doc: extract.Document, title: str | None, url: str | None, published: str | None
    ) -> tuple[AddResult, bool] | Plan:
        """A duplicate's result, or the article laid out and chunked, waiting for its vectors."""
        text = doc.text
        if len(text) > self.settings.max_article_chars:
            raise InvalidInput(
                f"{doc.source} has {len(text):,} characters, over the {self.settings.max_article_chars:,} limit."
            )
        digest = content_hash(text)
        url = url or doc.url
        existing = self.store.find_by_hash(collection, digest)
        if existing is not None:
            return add_result(existing, "duplicate", doc.source), False
        by_url = self.store.find_by_url(collection, url) if url else None
        if by_url is None and self.store.article_count(collection) >= self.settings.max_articles_per_collection:
            raise InvalidInput(
                f"This collection already holds {self.settings.max_articles_per_collection:,} articles, the limit; "
                "remove some first."
            )
        return self.layout(doc, title=title, url=url, published=published, digest=digest)

    def _store(self, collection: str, new: NewArticle, chunk_texts: list[str]) -> tuple[AddResult, bool]:
        """Write one embedded article (or find that another writer, in this process or another, got there
        first: the store checks inside its write transaction) and update the caches."""
        with self.write_lock:
            self.indexes.check_model()
            self.indexes.get(collection)  # make sure the caches are current before applying a delta
            saved = self.store.save_article(
                collection,
                new,
                model=self.embedder.name,
                dimension=self.embedder.dimension,
                added=utc_iso(self.clock()),
            )
            if saved.status != "duplicate":
                revision = self.store.revision(collection)
                self.indexes.apply(
                    collection, revision, saved.removed, saved.added, new.chunk_vectors, chunk_texts, save=False
                )
        row = self.store.article(collection, saved.id)
        assert row is not None
        if saved.status == "duplicate":  # added meanwhile, or twice in one batch
            return add_result(row, "duplicate", new.source), False
        log.info("%s article %d %r (%d chunks) in %s", saved.status, saved.id, row.title, row.chunks, collection)
        return add_result(row, saved.status, new.source), True

    def layout(
        self, doc: extract.Document, *, title: str | None, url: str | None, published: str | None, digest: str
    ) -> Plan:
        text = doc.text
        page = chunking.layout(text, first_line_is_title=doc.first_line_is_title and not title)
        spans = list(page.sentences)
        if not any(s.quotable for s in spans):
            raise InvalidInput(f"{doc.source} has no sentences to quote (only headings or boilerplate).")
        budget = self.settings.chunk_tokens
        counts = self.embedder.count_tokens([text[s.start : s.end] for s in spans])
        sentences: list[tuple[int, int, bool]] = []
        token_counts: list[int] = []
        for span, count in zip(spans, counts, strict=True):
            pieces = chunking.split_long(
                text,
                chunking.Span(span.start, span.end),
                count,
                budget,
                lambda piece: self.embedder.count_tokens([piece])[0],
            )
            piece_counts = (
                [count] if len(pieces) == 1 else self.embedder.count_tokens([text[p.start : p.end] for p in pieces])
            )
            for piece, piece_count in zip(pieces, piece_counts, strict=True):
                sentences.append((piece.start, piece.end, span.quotable))
                token_counts.append(piece_count)
        windows = chunking.windows(token_counts, budget)
        if title:
            final_title = title.strip()
        elif doc.first_line_is_title and page.title is None:
            final_title = title_from_text(text, page)  # the first line is prose, not a headline
        else:
            final_title = (doc.title or "").strip() or title_from_text(text, page)
        empty = np.zeros((0, 0), dtype=np.float32)
        return Plan(
            new=NewArticle(
                title=final_title[:300],
                url=url,
                published=chunking.parse_date(published) if published else (doc.published or page.published),
                text=text,
                content_hash=digest,
                body_end=page.body_end,
                source=doc.source,
                sentences=sentences,
                sentence_vectors=empty,
                chunks=windows,
                chunk_vectors=empty,
            ),
            chunk_texts=[text[sentences[a][0] : sentences[b][1]] for a, b in windows],
            sentence_texts=[text[s:e] for s, e, _ in sentences],
        )


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def title_from_text(text: str, page: chunking.Layout) -> str:
    """No headline line: use the start of the first sentence."""
    first = page.sentences[0] if page.sentences else None
    sentence = text[first.start : first.end] if first else text.strip()
    return sentence if len(sentence) <= 100 else sentence[:97].rsplit(" ", 1)[0] + "…"
