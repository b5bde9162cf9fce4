"""The facade every face calls: add, remove, ask, summarize, list, reindex.

Thread-safe: any number of readers; writers are serialised (a lock here, BEGIN IMMEDIATE across
processes). An article becomes visible only when its SQLite transaction commits, and the in-memory
FAISS/BM25 caches follow the collection's revision counter, so another process's writes are seen too."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import faiss
import numpy as np

from index import chunking, consistency, dates, extract, llm, stories
from index.answer import (
    DEFAULT_SCORING,
    Candidate,
    Question,
    ScoredSentence,
    Scoring,
    analyse_question,
    fuse,
    pick_quotes,
    score_sentence,
)
from index.answer import (
    confidence as answer_confidence,
)
from index.embedding import Embedder
from index.errors import BylineError, InvalidInput, ModelMismatch, NotFound
from index.feedback import FeedbackLog
from index.lexical import LexicalIndex, tokenize
from index.models import (
    AddResult,
    Answer,
    Article,
    ArticleRef,
    CitedSentence,
    CollectionStats,
    Digest,
    Quote,
    Story,
    Summary,
    SummarySentence,
    TopicSummary,
)
from index.schedule import DigestSchedules
from index.settings import EngineSettings
from index.store import ArticleRow, NewArticle, Store
from index.vectors import VectorIndex

log = logging.getLogger(__name__)

_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NO_ANSWER = "The articles don't say."


@dataclass
class _CollectionIndex:
    """In-memory caches of one collection, valid for one store revision."""

    revision: int
    vectors: VectorIndex
    lexical: LexicalIndex
    tokens: dict[int, list[str]] | None = None  # chunk id → BM25 tokens, filled on first write
    rebuilt: tuple[str, ...] = ()  # the caches ("faiss", "bm25") rebuilt from SQLite rather than read from files
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class _Plan:
    """An article split and chunked; its vectors are filled in by one model call for a group of articles."""

    new: NewArticle
    chunk_texts: list[str]
    sentence_texts: list[str]


# Articles embedded together in one model call when several are added at once.
EMBED_GROUP = 16
# With an LLM configured: the candidate quotes it is shown (the extractive choice with a larger limit), and
# the most central sentences of an article it summarises from.
LLM_QUOTES = 6
LLM_SUMMARY_SENTENCES = 12
# "latest", "most recent": the newest of the retrieved articles gains this much on its sentences' scores
# (the oldest nothing, the rest in proportion to their date), enough to lead among equally relevant
# quotes without letting a loosely related new article beat a relevant older one.
RECENCY_WEIGHT = 0.3
# Topic summaries: articles whose best sentence scores within this of the best article's are about the topic.
TOPIC_MARGIN = 0.6
TOPIC_ARTICLES = 8
# Digests: a story's lead is picked from the first few sentences of each of its articles.
LEAD_POOL = 6
MAX_DIGEST_DAYS = 366
MAX_DIGEST_ARTICLES = 1000
NOT_COVERED = "The articles don't cover this."


@dataclass(frozen=True)
class _LLMDraft:
    """What the model needs beyond the extractive answer: the candidate quotes, and the closest
    articles in case it says they do not answer."""

    pool: tuple[Quote, ...]
    related: tuple[ArticleRef, ...]


def content_hash(text: str) -> str:
    # Whitespace-insensitive, so a re-pasted copy with different line wrapping is still a duplicate.
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


class Engine:
    def __init__(
        self,
        settings: EngineSettings | None = None,
        embedder: Embedder | None = None,
        scoring: Scoring = DEFAULT_SCORING,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings or EngineSettings()
        # What "today" is for "this week", "yesterday" and digests (tests inject a fixed clock).
        self.clock = clock or (lambda: datetime.now(UTC))
        self.embedder = embedder or Embedder(
            self.settings.model,
            self.settings.encode_batch_size,
            runtime=self.settings.runtime,
            threads=self.settings.threads,
            cache_dir=self.settings.model_cache,
        )
        self.scoring = scoring
        self.store = Store(Path(self.settings.data_dir) / "byline.sqlite3")
        self.feedback = FeedbackLog(self.store)
        self.schedules = DigestSchedules(self.store)
        self._indexes: dict[str, _CollectionIndex] = {}
        self._index_lock = threading.Lock()
        self._write_lock = threading.RLock()
        s = self.settings
        self.llm = (
            llm.ChatModel(s.llm_base_url, s.llm_api_key, s.llm_model, s.llm_timeout, s.llm_max_tokens)
            if s.llm_base_url
            else None
        )

    def close(self) -> None:
        self.store.close()
        if self.llm is not None:
            self.llm.close()

    # -- collections and caches -----------------------------------------------------------------
    @staticmethod
    def check_collection(name: str) -> str:
        if not _COLLECTION_NAME.match(name or ""):
            raise InvalidInput(
                "A collection name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit."
            )
        return name

    @property
    def cache_dir(self) -> Path:
        return Path(self.settings.data_dir) / "indexes"

    def _cache_paths(self, collection: str) -> tuple[Path, Path]:
        return self.cache_dir / f"{collection}.faiss", self.cache_dir / f"{collection}.bm25"

    def _header(self, collection: str, revision: int) -> dict[str, object]:
        return {"collection": collection, "revision": revision, "model": self.embedder.name}

    def _check_model(self) -> None:
        stored = self.store.meta("model")
        if stored is not None and stored != self.embedder.name:
            raise ModelMismatch(
                f"The articles were embedded with {stored!r} but the configured model is {self.embedder.name!r}; "
                "run `python -m bot reindex` to re-embed them."
            )

    def _index(self, collection: str) -> _CollectionIndex:
        """The caches for the collection at the store's current revision: memory, else files, else SQLite."""
        revision = self.store.revision(collection)
        current = self._indexes.get(collection)
        if current is not None and current.revision == revision:
            return current
        with self._index_lock:
            current = self._indexes.get(collection)
            if current is not None and current.revision == revision:
                return current
            self._check_model()
            header = self._header(collection, revision)
            faiss_path, bm25_path = self._cache_paths(collection)
            vectors = VectorIndex.load(faiss_path, header)
            lexical = LexicalIndex.load(bm25_path, header)
            tokens = None
            rebuilt = tuple(name for name, cache in (("faiss", vectors), ("bm25", lexical)) if cache is None)
            if vectors is None:
                ids, matrix = self.store.chunk_vectors(collection)
                vectors = VectorIndex(matrix.shape[1] if len(ids) else self.embedder.dimension)
                vectors.add(ids, matrix)
                vectors.save(faiss_path, header)
                log.info("rebuilt vector index for %s from SQLite (%d chunks)", collection, len(ids))
            if lexical is None:
                tokens = self._tokens_from_store(collection)
                lexical = LexicalIndex(np.fromiter(tokens.keys(), dtype=np.int64), list(tokens.values()))
                lexical.save(bm25_path, header)
                log.info("rebuilt BM25 index for %s from SQLite (%d chunks)", collection, len(tokens))
            current = _CollectionIndex(revision, vectors, lexical, tokens, rebuilt=rebuilt)
            self._indexes[collection] = current
            return current

    def _tokens_from_store(self, collection: str) -> dict[int, list[str]]:
        return {chunk_id: tokenize(text) for chunk_id, text in self.store.chunk_texts(collection)}

    def _apply(
        self,
        collection: str,
        revision: int,
        removed: list[int],
        added: list[int],
        vectors: np.ndarray,
        texts: list[str],
        *,
        save: bool = True,
    ) -> None:
        """Bring the in-memory caches from revision-1 to `revision` (or drop them if another writer
        slipped in between, so they are rebuilt from SQLite on next use)."""
        state = self._indexes.get(collection)
        if state is None or state.revision != revision - 1:
            self._indexes.pop(collection, None)
            return
        # First write since the caches were loaded from files: tokenise the collection (already holding
        # this write) before taking the lock that asks wait on.
        fresh = self._tokens_from_store(collection) if state.tokens is None else None
        with state.lock:
            if fresh is not None:
                state.tokens = fresh
            else:
                for chunk_id in removed:
                    state.tokens.pop(chunk_id, None)
                for chunk_id, text in zip(added, texts, strict=True):
                    state.tokens[chunk_id] = tokenize(text)
            state.vectors.remove(removed)
            state.vectors.add(np.asarray(added, dtype=np.int64), vectors)
            state.revision = revision
        if save:
            self._rebuild_lexical(collection)

    def _rebuild_lexical(self, collection: str) -> None:
        state = self._indexes.get(collection)
        if state is None or state.tokens is None:
            return
        with state.lock:
            ids = np.fromiter(state.tokens.keys(), dtype=np.int64)
            token_lists = list(state.tokens.values())
            revision = state.revision
        lexical = LexicalIndex(ids, token_lists)
        with state.lock:
            if state.revision != revision:  # a newer write will rebuild it again
                return
            state.lexical = lexical
            header = self._header(collection, revision)
            faiss_path, bm25_path = self._cache_paths(collection)
            state.vectors.save(faiss_path, header)
        lexical.save(bm25_path, header)

    # -- adding ---------------------------------------------------------------------------------
    def add_document(
        self,
        collection: str,
        doc: extract.Document,
        *,
        title: str | None = None,
        url: str | None = None,
        published: str | None = None,
    ) -> AddResult:
        return self.add_documents(collection, [doc], title=title, url=url, published=published)[0]

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
    ) -> list[AddResult]:
        """Add several documents, each in its own transaction; BM25 is rebuilt once at the end.
        With `errors` given, a bad document is reported there and the others still go in.
        `progress` receives a short line before each step (a chat face shows it while the user waits).

        Documents are embedded EMBED_GROUP at a time in one model call: sorted by length across the
        group, short sentences are no longer padded to the length of the chunks they sit beside."""
        self.check_collection(collection)
        if published is not None and chunking.parse_date(published) is None:
            raise InvalidInput(f"--published must be a date like 2024-03-14, not {published!r}.")
        results: list[AddResult] = []
        touched = False
        group: list[extract.Document] = []

        done = 0

        def flush() -> None:
            nonlocal touched, done
            if group and progress is not None:
                progress(f"Reading and embedding {_plural(len(group), 'article')} ({done} done so far)…")
            done += len(group)
            for doc, outcome in zip(group, self._add_group(collection, group, title, url, published), strict=True):
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
            if touched:
                if progress is not None:
                    progress("Updating the keyword index…")
                self._rebuild_lexical(collection)
        return results

    def _add_group(
        self,
        collection: str,
        docs: list[extract.Document],
        title: str | None,
        url: str | None,
        published: str | None,
    ) -> list[tuple[AddResult, bool] | BylineError]:
        """Plan each document (or find it is a duplicate or invalid), embed all planned texts in one call,
        then store each article in its own transaction. One outcome per document, in order."""
        outcomes: list[tuple[AddResult, bool] | BylineError | _Plan] = []
        for doc in docs:
            try:
                outcomes.append(self._plan(collection, doc, title, url, published))
            except BylineError as exc:
                outcomes.append(exc)
        plans = [o for o in outcomes if isinstance(o, _Plan)]
        vectors = self.embedder.encode([t for plan in plans for t in plan.chunk_texts + plan.sentence_texts])
        done: list[tuple[AddResult, bool] | BylineError] = []
        at = 0
        for outcome in outcomes:
            if not isinstance(outcome, _Plan):
                done.append(outcome)
                continue
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

    def _plan(
        self, collection: str, doc: extract.Document, title: str | None, url: str | None, published: str | None
    ) -> tuple[AddResult, bool] | _Plan:
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
            return self._result(existing, "duplicate", doc.source), False
        by_url = self.store.find_by_url(collection, url) if url else None
        if by_url is None and self.store.article_count(collection) >= self.settings.max_articles_per_collection:
            raise InvalidInput(
                f"This collection already holds {self.settings.max_articles_per_collection:,} articles, the limit; "
                "remove some first."
            )
        return self._layout(doc, title=title, url=url, published=published, digest=digest)

    def _store(self, collection: str, new: NewArticle, chunk_texts: list[str]) -> tuple[AddResult, bool]:
        """Write one embedded article (or find that another writer got there first) and update the caches."""
        with self._write_lock:
            self._check_model()
            self._index(collection)  # make sure the caches are current before applying a delta
            again = self.store.find_by_hash(collection, new.content_hash)
            if again is not None:  # added meanwhile, or twice in one batch
                return self._result(again, "duplicate", new.source), False
            by_url = self.store.find_by_url(collection, new.url) if new.url else None
            article_id, removed, added = self.store.save_article(
                collection,
                new,
                model=self.embedder.name,
                dimension=self.embedder.dimension,
                replace_id=by_url.id if by_url else None,
                added=self.clock().astimezone(UTC).replace(microsecond=0).isoformat(),
            )
            revision = self.store.revision(collection)
            self._apply(collection, revision, removed, added, new.chunk_vectors, chunk_texts, save=False)
        row = self.store.article(collection, article_id)
        assert row is not None
        status = "updated" if by_url else "added"
        log.info("%s article %d %r (%d chunks) in %s", status, article_id, row.title, row.chunks, collection)
        return self._result(row, status, new.source), True

    @staticmethod
    def _result(row: ArticleRow, status: str, source: str) -> AddResult:
        return AddResult(row.id, row.title, row.url, row.published, row.chunks, status, source)  # type: ignore[arg-type]

    def _layout(
        self, doc: extract.Document, *, title: str | None, url: str | None, published: str | None, digest: str
    ) -> _Plan:
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
            final_title = _title_from_text(text, page)  # the first line is prose, not a headline
        else:
            final_title = (doc.title or "").strip() or _title_from_text(text, page)
        empty = np.zeros((0, 0), dtype=np.float32)
        return _Plan(
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

    def add_text(
        self,
        collection: str,
        text: str,
        *,
        source: str = "text",
        title: str | None = None,
        url: str | None = None,
        published: str | None = None,
    ) -> AddResult:
        doc = extract.from_bytes(text.encode(), source, "text", max_bytes=self.settings.max_article_bytes)
        return self.add_document(collection, doc, title=title, url=url, published=published)

    def add_file(self, collection: str, path: Path, **meta: str | None) -> AddResult:
        return self.add_document(collection, extract.from_file(path, self.settings.max_article_bytes), **meta)

    def fetch_url(self, url: str) -> extract.Document:
        from index.fetch import fetch

        s = self.settings
        page = fetch(
            url,
            timeout=s.fetch_timeout,
            max_bytes=s.fetch_max_bytes,
            allowed_ports=s.fetch_allowed_ports,
            allow_private=s.fetch_allow_private,
        )
        return extract.from_bytes(
            page.body, url, page.kind, url=page.url, charset=page.charset, max_bytes=s.fetch_max_bytes
        )

    def add_url(self, collection: str, url: str, **meta: str | None) -> AddResult:
        return self.add_document(collection, self.fetch_url(url), **meta)

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

    # -- removing, listing, rebuilding --------------------------------------------------------------
    def remove(self, collection: str, article_id: int) -> Article:
        self.check_collection(collection)
        with self._write_lock:
            row = self._article_row(collection, article_id)
            self._index(collection)
            removed = self.store.delete_article(collection, article_id)
            if removed is None:
                raise _no_such_article(article_id)
            self._apply(collection, self.store.revision(collection), removed, [], np.zeros((0, 1)), [])
        log.info("removed article %d from %s", article_id, collection)
        return _article(row)

    def collections(self) -> list[CollectionStats]:
        """Every collection that holds articles, logged answers or a digest schedule, by name, with counts."""
        return [CollectionStats(*row) for row in self.store.collection_stats()]

    def purge(self, collection: str) -> dict[str, int]:
        """Delete a whole collection for good: its articles, sentences, chunks, cache files, logged answers,
        votes and digest schedule (one SQLite transaction; the caches are removed after it commits). Returns
        the rows deleted by kind. Operators only: no chat command reaches this (see `python -m bot purge`)."""
        self.check_collection(collection)
        with self._write_lock:
            counts = self.store.purge(collection)
            if not any(counts.values()):
                raise NotFound(f"Collection {collection!r} holds nothing: `python -m bot collections` lists them.")
            self._indexes.pop(collection, None)
            for path in self._cache_paths(collection):
                path.unlink(missing_ok=True)
        log.info("purged collection %s: %s", collection, counts)
        return counts

    def list_articles(self, collection: str) -> list[Article]:
        self.check_collection(collection)
        return [_article(row) for row in self.store.articles(collection)]

    def article_count(self, collection: str) -> int:
        return self.store.article_count(self.check_collection(collection))

    def find_articles(self, collection: str, needle: str = "", limit: int = 25) -> list[tuple[int, str, str | None]]:
        """(id, title, published) of up to `limit` articles, newest first, whose title contains `needle`
        (case-insensitive) or whose id it is: for pickers such as Discord's autocomplete."""
        return self.store.find_titles(self.check_collection(collection), needle.strip(), limit)

    def _article_row(self, collection: str, article_id: int) -> ArticleRow:
        row = self.store.article(self.check_collection(collection), article_id)
        if row is None:
            raise _no_such_article(article_id)
        return row

    def article(self, collection: str, article_id: int) -> Article:
        return _article(self._article_row(collection, article_id))

    def article_text(self, collection: str, article_id: int) -> str:
        return self._article_row(collection, article_id).text

    def passage(self, collection: str, quote: Quote, around: int = 1) -> tuple[str, str, str]:
        """A quote with `around` sentences either side from its article: (before, quote, after), so a
        reader can see it in context. The quote itself is re-read from the article, verbatim."""
        text = self.article_text(collection, quote.article_id)
        if text[quote.start : quote.end] != quote.text:
            raise NotFound("That article has changed since the answer was given; ask again.")
        rows = [(s, e) for _, s, e, _, _ in self.store.sentences(quote.article_id)]
        first = next((i for i, (_, end) in enumerate(rows) if end > quote.start), len(rows))
        last = next((i for i, (_, end) in enumerate(rows) if end >= quote.end), len(rows) - 1)
        before = rows[max(0, first - around) : first]
        after = rows[last + 1 : last + 1 + around]
        return (
            text[before[0][0] : quote.start].strip() if before else "",
            quote.text,
            text[quote.end : after[-1][1]].strip() if after else "",
        )

    def reindex(self, collection: str | None = None) -> dict[str, int]:
        """Rebuild FAISS and BM25 from SQLite. If the configured model differs from the one that made
        the stored vectors, re-embed every chunk and sentence first (the only time text is re-embedded)."""
        with self._write_lock:
            stored = self.store.meta("model")
            reembedded = 0
            if stored is not None and stored != self.embedder.name:
                reembedded = self._reembed_all()
            names = [self.check_collection(collection)] if collection is not None else self.store.collections()
            counts = {}
            for name in names:
                for path in self._cache_paths(name):
                    path.unlink(missing_ok=True)
                self._indexes.pop(name, None)
                counts[name] = len(self._index(name).vectors)
            log.info("reindexed %s (re-embedded %d texts)", counts, reembedded)
            return counts

    def check(self, collection: str | None = None) -> consistency.Report:
        """Verify that SQLite, FAISS and BM25 agree for one collection or all, repairing what does not
        (index/consistency.py): faces that run for long call it at start-up, after a crash perhaps."""
        return consistency.check(self, collection)

    def _reembed_all(self) -> int:
        chunks, sentences = self.store.all_texts()
        chunk_vectors = self.embedder.encode([text for _, text in chunks])
        sentence_vectors = self.embedder.encode([text for _, _, text in sentences])
        self.store.replace_vectors(
            [(chunk_id, v) for (chunk_id, _), v in zip(chunks, chunk_vectors, strict=True)],
            [(a, i, v) for (a, i, _), v in zip(sentences, sentence_vectors, strict=True)],
            model=self.embedder.name,
            dimension=self.embedder.dimension,
        )
        self._indexes.clear()
        return len(chunks) + len(sentences)

    # -- asking ---------------------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        question = " ".join((question or "").split())
        if not question:
            raise InvalidInput("Ask a question: the text was empty.")
        if len(question) > self.settings.max_question_chars:
            raise InvalidInput(
                f"That question is {len(question):,} characters; please keep it under "
                f"{self.settings.max_question_chars:,}."
            )
        return question

    def ask(self, collection: str, question: str, k: int | None = None, *, follow_up_to: str | None = None) -> Answer:
        """Answer with verbatim quotes, or abstain. `follow_up_to` is the previous question of a
        conversation: it helps find the article ("and when did it start?"), while the quotes are chosen
        for the new question alone."""
        self.check_collection(collection)
        question = self.check_question(question)
        previous = self.check_question(follow_up_to) if follow_up_to else None
        self.embedder.load()  # before the clock starts: took_ms is the answer's own time
        started = time.perf_counter()
        limit = max(1, min(k or self.settings.max_quotes, 10))
        state = self._index(collection)
        if len(state.vectors) == 0:
            return Answer(
                question,
                "There are no articles here yet, so the articles don't say.",
                True,
                (),
                (time.perf_counter() - started) * 1000,
            )
        # "this week", "in March": search only articles of those days; "latest": favour newer ones. The time
        # words themselves are left out of retrieval (no article is about the word "latest").
        window, asked = self.time_filter(collection, question)
        if window is None and previous:
            window, _ = self.time_filter(collection, previous)
        allowed = self._window_chunks(collection, window)
        if allowed is not None and len(allowed) == 0:
            assert window is not None
            text = f"None of the articles is dated {window.describe()}, so the articles don't say."
            return Answer(question, text, True, (), (time.perf_counter() - started) * 1000)
        if previous:
            # Retrieve with both questions (finds the article "it" is about); choose the quotes for the new
            # question alone (what it asks of that article). On follow-ups such as "Who opened it?" after a
            # question about a bridge, this picked the right sentence in 8 of 10 cases against 4 of 10 when the
            # quotes were scored against both questions too.
            context = f"{previous} {asked}"
            context_vector, question_vector = self.embedder.encode([context, asked])
            query = analyse_question(asked, question_vector)
            retrieval = analyse_question(context, context_vector)
        else:
            query = retrieval = analyse_question(asked, self.embedder.encode([asked])[0])
        candidates = self._retrieve(state, retrieval, allowed)
        with self.store.snapshot():
            answer, draft = self._answer(
                query, candidates, state, limit, started, recent=bool(window and window.recent)
            )
        answer = replace(answer, question=question)
        if draft is not None:  # outside the read snapshot: the model may take seconds
            answer = self._llm_answer(answer, draft, started)
        return answer

    def _answer(
        self,
        query: Question,
        candidates: list[Candidate],
        state: _CollectionIndex,
        limit: int,
        started: float,
        *,
        recent: bool = False,
    ) -> tuple[Answer, _LLMDraft | None]:
        """The extractive answer, and what an LLM needs to write one (None without an LLM or on abstention)."""
        question = query.text
        sentences, texts, chunk_scores = self._score_sentences(state, candidates, query)
        best = max(sentences, key=lambda s: s.score) if sentences else None
        confidence = answer_confidence(query, best, self.scoring) if best else 0.0
        took = lambda: (time.perf_counter() - started) * 1000  # noqa: E731
        if best is None or confidence < self.settings.abstain_threshold:
            related = self._related(candidates, chunk_scores)
            return Answer(question, _no_answer(related), True, (), took(), tuple(related), confidence), None
        if recent:  # after the abstention decision, which stays about evidence alone
            sentences = self._favour_recent(sentences)
        quotes = self._quotes(pick_quotes(sentences, limit, self.scoring), texts)
        answer = "\n".join(f"“{q.text}” [{n}]" for q, n in zip(quotes, citation_numbers(quotes), strict=True))
        extractive = Answer(question, answer, False, tuple(quotes), took(), (), confidence)
        if self.llm is None:
            return extractive, None
        pool = self._quotes(pick_quotes(sentences, max(limit, LLM_QUOTES), self.scoring), texts)
        return extractive, _LLMDraft(tuple(pool), tuple(self._related(candidates, chunk_scores)))

    def _quotes(self, chosen: list[ScoredSentence], texts: dict[tuple[int, int], str]) -> list[Quote]:
        refs = self.store.article_refs(sorted({s.article_id for s in chosen}))
        return [
            Quote(texts[s.article_id, s.index], s.article_id, *refs[s.article_id], s.start, s.end, round(s.score, 4))
            for s in chosen
        ]

    def _llm_answer(self, extractive: Answer, draft: _LLMDraft, started: float) -> Answer:
        """The model's answer over the candidate quotes, if it survives verification; else the extractive
        one (with what was dropped). The model saying the quotes do not answer is an abstention."""
        assert self.llm is not None
        shown = [f"“{q.text}” ({q.title}{f', {q.published}' if q.published else ''})" for q in draft.pool]
        verified = llm.write(
            self.llm,
            "answer",
            [q.text for q in draft.pool],
            self.settings.prompts_dir,
            question=extractive.question,
            quotes=llm.numbered(shown),
        )
        took = (time.perf_counter() - started) * 1000
        if verified is None:
            return replace(extractive, took_ms=took)
        if verified.refused:
            related = draft.related
            return replace(
                extractive,
                answer=_no_answer(related),
                abstained=True,
                quotes=(),
                related=related,
                took_ms=took,
                mode="llm",
            )
        if not verified.usable:
            return replace(extractive, took_ms=took, dropped=verified.dropped)
        quotes = tuple(draft.pool[i] for i in verified.cited)
        return replace(
            extractive, answer=verified.text, quotes=quotes, took_ms=took, mode="llm", dropped=verified.dropped
        )

    # -- time ------------------------------------------------------------------------------------
    def today(self) -> date:
        return self.clock().astimezone(UTC).date()

    def time_filter(self, collection: str, text: str) -> tuple[dates.TimeFilter | None, str]:
        """What `text` says about time, and the text without those words (see index/dates.py)."""
        today = self.today()
        return dates.time_filter(
            text, today, lambda month: self.store.latest_year_of_month(collection, month, today.isoformat())
        )

    def _window_chunks(self, collection: str, window: dates.TimeFilter | None) -> np.ndarray | None:
        """The chunk ids a window allows (None: no window, all of them)."""
        if window is None or not window.filters:
            return None
        first = window.start.isoformat() if window.start else None
        last = window.end.isoformat() if window.end else None
        return self.store.chunk_ids_between(collection, first, last)

    def _favour_recent(self, sentences: list[ScoredSentence]) -> list[ScoredSentence]:
        """Add up to RECENCY_WEIGHT to each sentence's score, in proportion to its article's date among
        the retrieved articles (newest: all of it, oldest: none)."""
        days = self.store.article_days(sorted({s.article_id for s in sentences}))
        ordinals = {a: date.fromisoformat(d[:10]).toordinal() for a, d in days.items()}
        if not ordinals:
            return sentences
        oldest, newest = min(ordinals.values()), max(ordinals.values())
        span = max(newest - oldest, 1)
        return [
            replace(s, score=s.score + RECENCY_WEIGHT * (ordinals.get(s.article_id, oldest) - oldest) / span)
            for s in sentences
        ]

    # -- retrieval ------------------------------------------------------------------------------
    def _retrieve(self, state: _CollectionIndex, query: Question, allowed: np.ndarray | None = None) -> list[Candidate]:
        """Hybrid candidates: FAISS and BM25 fused. With `allowed`, only those chunk ids are searched."""
        depth = self.scoring.candidates
        lexical = state.lexical
        params = None
        if allowed is not None:
            params = faiss.SearchParameters()
            params.sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        with state.lock:
            dense_ids, dense_scores = state.vectors.search(query.vector, depth, params)
        all_bm25 = lexical.scores(query.terms)
        if allowed is not None and len(all_bm25):
            all_bm25 = np.where(np.isin(lexical.ids, allowed), all_bm25, 0.0)
        if len(all_bm25) and all_bm25.max() > 0:
            top = np.argpartition(-all_bm25, min(depth, len(all_bm25) - 1))[:depth]
            top = top[all_bm25[top] > 0]
            lexical_ids, lexical_scores = lexical.ids[top], all_bm25[top]
        else:
            lexical_ids, lexical_scores = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)

        def cosine_of(ids: list[int]) -> np.ndarray:
            with state.lock:
                return state.vectors.vectors(ids) @ query.vector if ids else np.zeros(0)

        def bm25_of(ids: list[int]) -> np.ndarray:
            return np.array([all_bm25[lexical.position[i]] if i in lexical.position else 0.0 for i in ids])

        return fuse(dense_ids, dense_scores, lexical_ids, lexical_scores, cosine_of, bm25_of, self.scoring)

    def _score_sentences(
        self, state: _CollectionIndex, candidates: list[Candidate], query: Question
    ) -> tuple[list[ScoredSentence], dict[tuple[int, int], str], dict[int, float]]:
        """Score the sentences of the best chunks. Returns the sentences (each once, with its best
        chunk), their texts by (article id, index), and each chunk's re-ranking score."""
        top = candidates[: self.scoring.rerank_depth]
        chunks = self.store.chunk_spans([c.chunk_id for c in top])  # a chunk removed since the search is absent
        rows = self.store.sentences_in([(c.article_id, c.first_sentence, c.last_sentence) for c, _ in chunks.values()])
        by_article: dict[int, list[tuple[int, int, int, bool, np.ndarray]]] = {}
        for article_id, *rest in rows:
            by_article.setdefault(article_id, []).append(tuple(rest))  # type: ignore[arg-type]
        # coverage() asks for the idf of each question term once per sentence: look each up once
        idf = {term: state.lexical.idf(term) for term in set(query.content_terms)}.__getitem__
        best: dict[tuple[int, int], ScoredSentence] = {}
        texts: dict[tuple[int, int], str] = {}
        chunk_scores: dict[int, float] = {}
        for candidate in top:
            if candidate.chunk_id not in chunks:
                continue
            chunk, chunk_text = chunks[candidate.chunk_id]
            top_sentence = 0.0
            for index, start, end, quotable, vector in by_article.get(chunk.article_id, ()):
                if not quotable or not chunk.first_sentence <= index <= chunk.last_sentence:
                    continue
                key = (chunk.article_id, index)
                text = texts.setdefault(key, chunk_text[start - chunk.start : end - chunk.start])
                score, cosine, cover = score_sentence(query, text, vector, candidate, idf, self.scoring)
                top_sentence = max(top_sentence, score)
                if key not in best or best[key].score < score:
                    best[key] = ScoredSentence(
                        chunk.article_id, index, start, end, cosine, cover, score, chunk.id, vector, candidate.cosine
                    )
            chunk_scores[candidate.chunk_id] = candidate.fused + self.scoring.sentence_weight * top_sentence
        return list(best.values()), texts, chunk_scores

    def _related(self, candidates: list[Candidate], chunk_scores: dict[int, float]) -> list[ArticleRef]:
        """The closest articles (for an abstention): by re-ranked chunk score, then fused score."""
        chunks = self.store.chunks([c.chunk_id for c in candidates[:20]])
        fused = {c.chunk_id: c.fused for c in candidates}
        order = sorted(chunks.values(), key=lambda c: (-chunk_scores.get(c.id, -1.0), -fused.get(c.id, 0.0)))
        ids: list[int] = []
        for chunk in order:
            if chunk.article_id not in ids:
                ids.append(chunk.article_id)
        refs = self.store.article_refs(ids[:3])
        return [ArticleRef(i, *refs[i]) for i in ids[:3] if i in refs]

    # -- summaries ------------------------------------------------------------------------------
    def summarize(self, collection: str, article_id: int, sentences: int = 3) -> Summary:
        """Extractive summary: the most central sentences (cosine to the article's mean sentence
        vector, with a gentle preference for the lead, as news puts the key facts first), picked with
        a redundancy penalty and returned in article order. With an LLM configured, the model summarises
        the most central sentences instead, each of its sentences cited and verified like an answer's; the
        extractive summary stays the fallback."""
        row = self._article_row(collection, article_id)
        n = max(1, min(sentences, 20))
        rows = [r for r in self.store.sentences(article_id) if r[3]]
        if not rows:
            return Summary(row.id, row.title, row.url, ())
        matrix = np.vstack([r[4] for r in rows])
        spans = [SummarySentence(row.text[s:e], s, e) for _, s, e, _, _ in rows]
        extractive = Summary(row.id, row.title, row.url, tuple(spans[i] for i in _central_sentences(matrix, n)))
        if self.llm is None:
            return extractive
        # The model sees the most central sentences in article order and writes at most n sentences.
        pool = [spans[i] for i in _central_sentences(matrix, max(n, LLM_SUMMARY_SENTENCES))]
        verified = llm.write(
            self.llm,
            "summary",
            [s.text for s in pool],
            self.settings.prompts_dir,
            title=row.title,
            count=n,
            sentences=llm.numbered([s.text for s in pool]),
        )
        if verified is None:
            return extractive
        if not verified.usable:
            return replace(extractive, dropped=verified.dropped)
        return replace(
            extractive,
            sentences=tuple(pool[i] for i in verified.cited),
            mode="llm",
            summary=verified.text,
            dropped=verified.dropped,
        )

    def summarize_topic(
        self, collection: str, topic: str, *, since: date | None = None, sentences: int = 5
    ) -> TopicSummary:
        """The central, non-repeating sentences across the articles about a topic, each cited, ordered by
        date then position. Articles are found as for a question (hybrid retrieval, the same abstention);
        time words in the topic ("this week") or `since` limit the articles' dates."""
        self.check_collection(collection)
        topic = self.check_question(topic)
        n = max(1, min(sentences, 20))
        self.embedder.load()
        started = time.perf_counter()
        window, text = self.time_filter(collection, topic)
        if since is not None:
            start = max(since, window.start) if window and window.start else since
            end = window.end if window and window.end else max(since, self.today())
            window = dates.TimeFilter(f"since {since.isoformat()}", start, end)
        allowed = self._window_chunks(collection, window)
        bounds = {
            "since": window.start.isoformat() if window and window.start else None,
            "until": window.end.isoformat() if window and window.end else None,
        }

        def not_covered(related: Iterable[ArticleRef] = (), why: str = NOT_COVERED) -> TopicSummary:
            took = (time.perf_counter() - started) * 1000
            return TopicSummary(topic, (), tuple(related), True, why, took_ms=took, **bounds)

        state = self._index(collection)
        if len(state.vectors) == 0:
            return not_covered(why="There are no articles here yet, so the articles don't cover this.")
        if allowed is not None and len(allowed) == 0:
            assert window is not None
            return not_covered(why=f"None of the articles is dated {window.describe()}, so they don't cover this.")
        query = analyse_question(text, self.embedder.encode([text])[0])
        candidates = self._retrieve(state, query, allowed)
        with self.store.snapshot():
            scored, _, chunk_scores = self._score_sentences(state, candidates, query)
            best = max(scored, key=lambda s: s.score) if scored else None
            if best is None or answer_confidence(query, best, self.scoring) < self.settings.abstain_threshold:
                return not_covered(self._related(candidates, chunk_scores))
            by_article: dict[int, float] = {}
            for sentence in scored:
                by_article[sentence.article_id] = max(by_article.get(sentence.article_id, -np.inf), sentence.score)
            ranked = [
                a
                for a, score in sorted(by_article.items(), key=lambda kv: -kv[1])
                if score >= best.score - TOPIC_MARGIN
            ]
            # Syndicated copies would otherwise fill the member slots with one text (bench/topics.py on
            # bbc_x8: 7.9 members but 1.2 distinct texts); keep the best-ranked copy of each.
            members = stories.distinct(ranked, self.store.article_vectors(ranked))[:TOPIC_ARTICLES]
            rows = self.store.article_texts(members)
            pool = [(a, *r) for a in members for r in self.store.sentences(a) if r[3]]
            matrix = np.vstack([p[5] for p in pool])
            positions = np.array([p[1] for p in pool], dtype=np.float32)
            chosen = stories.pick(matrix, stories.topic_relevance(matrix, query.vector, positions), n)
        days = self.store.article_days(members)
        chosen.sort(key=lambda i: (days.get(pool[i][0], ""), pool[i][0], pool[i][1]))
        cited = tuple(self._cited(rows[pool[i][0]], pool[i][2], pool[i][3]) for i in chosen)
        used = list(dict.fromkeys(c.article_id for c in cited))
        articles = tuple(ArticleRef(a, rows[a].title, rows[a].url, rows[a].published) for a in used)
        took = (time.perf_counter() - started) * 1000
        return TopicSummary(topic, cited, articles, took_ms=took, **bounds)

    def digest(self, collection: str, days: int = 7) -> Digest:
        """The articles added or published in the last `days` days (today included), grouped by story
        (near-duplicates and follow-ups together), each story with a one- or two-sentence lead; newest first."""
        self.check_collection(collection)
        if not 1 <= days <= MAX_DIGEST_DAYS:
            raise InvalidInput(f"A digest covers 1 to {MAX_DIGEST_DAYS} days, not {days}.")
        today = self.today()
        first = today - timedelta(days=days - 1)
        rows = self.store.articles_since(collection, first.isoformat(), today.isoformat())
        day = {r.id: dates.article_day(r.published, r.added) for r in rows}
        rows = sorted(rows, key=lambda r: (day[r.id], r.id), reverse=True)[:MAX_DIGEST_ARTICLES]
        vectors = self.store.article_vectors([r.id for r in rows])
        rows = [r for r in rows if r.id in vectors]  # an article always has chunks; guard against a race
        if not rows:
            return Digest(days, first.isoformat(), today.isoformat(), ())
        matrix = np.vstack([vectors[r.id] for r in rows])
        groups = stories.cluster(matrix)
        texts = self.store.article_texts([r.id for r in rows])
        found: list[Story] = []
        for group in groups:  # indexes into rows, which is newest first, so each group is newest first too
            members = [rows[i] for i in group]
            lead = self._story_lead([texts[r.id] for r in members])
            found.append(Story(lead, tuple(_article(r) for r in members)))
        found.sort(key=lambda story: (day[story.articles[0].id], story.articles[0].id), reverse=True)
        return Digest(days, first.isoformat(), today.isoformat(), tuple(found))

    def _story_lead(self, members: list[ArticleRow]) -> tuple[CitedSentence, ...]:
        """One sentence for a story of one article, two for a story told by several: the most central of
        the first LEAD_POOL sentences of each article, never the same sentence twice."""
        pool = [
            (row, *r)
            for row in members
            for r in [r for r in self.store.sentences(row.id, 0, LEAD_POOL * 3) if r[3]][:LEAD_POOL]
        ]
        if not pool:
            return ()
        matrix = np.vstack([p[5] for p in pool])
        positions = np.array([p[1] for p in pool], dtype=np.float32)
        chosen = stories.pick(matrix, stories.centrality(matrix, positions), 1 if len(members) == 1 else 2)
        chosen.sort(key=lambda i: (pool[i][0].published or pool[i][0].added, pool[i][0].id, pool[i][1]))
        return tuple(self._cited(pool[i][0], pool[i][2], pool[i][3]) for i in chosen)

    @staticmethod
    def _cited(row: ArticleRow, start: int, end: int) -> CitedSentence:
        return CitedSentence(row.text[start:end], row.id, row.title, row.url, row.published, start, end)


def _central_sentences(matrix: np.ndarray, n: int) -> list[int]:
    """Indexes (in article order) of the n most central sentence vectors: cosine to the mean, plus a gentle
    lead bonus, picked with a redundancy penalty."""
    centroid = matrix.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    centrality = matrix @ centroid
    lead = 0.15 * np.exp(-np.arange(len(matrix)) / 3.0)
    score = centrality + lead
    chosen: list[int] = []
    while len(chosen) < min(n, len(matrix)):
        if chosen:
            redundancy = (matrix @ matrix[chosen].T).max(axis=1)
            mmr = score - 0.5 * np.maximum(redundancy - 0.5, 0.0)
            mmr[chosen] = -np.inf
        else:
            mmr = score.copy()
        chosen.append(int(np.argmax(mmr)))
    return sorted(chosen)


def _no_answer(related: Iterable[ArticleRef]) -> str:
    pointer = "; ".join(f"“{r.title}” (#{r.article_id})" for r in related)
    return NO_ANSWER + (f" The closest articles are {pointer}." if pointer else "")


def _no_such_article(article_id: int) -> NotFound:
    return NotFound(f"There is no article {article_id} in this collection.")


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def citation_numbers(quotes: Iterable[Quote]) -> list[int]:
    """[1], [2], ... per article in order of first appearance: two quotes from one article share a number."""
    numbers: dict[int, int] = {}
    return [numbers.setdefault(q.article_id, len(numbers) + 1) for q in quotes]


def _article(row: ArticleRow) -> Article:
    return Article(row.id, row.collection, row.title, row.url, row.published, row.added, row.chunks)


def _title_from_text(text: str, page: chunking.Layout) -> str:
    """No headline line: use the start of the first sentence."""
    first = page.sentences[0] if page.sentences else None
    sentence = text[first.start : first.end] if first else text.strip()
    return sentence if len(sentence) <= 100 else sentence[:97].rsplit(" ", 1)[0] + "…"
