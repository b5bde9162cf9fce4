"""The start-up consistency check: SQLite, FAISS and BM25 agree, or are made to.

Each write is one SQLite transaction and each cache file is renamed into place, so a crash (SIGKILL,
power cut) leaves every article wholly present or wholly absent and at worst a stale cache. This check
proves it on the data at hand and repairs what outside damage could still cause, re-embedding only
what is missing:

- chunk and sentence rows whose article is gone are deleted;
- an article without sentences or chunks is laid out and embedded again from its stored text (its id,
  which answers and Discord messages cite, stays); one with nothing quotable left is removed;
- a vector that is not `dimension` finite floats of unit length is re-embedded from the stored text;
- a FAISS or BM25 cache whose ids differ from SQLite's chunk ids is rebuilt from SQLite (no embedding);
- temporary files left by a cache writer that died before renaming them are deleted.

When everything is fine it only reads ids and vectors and writes nothing: about 60 ms for 300 articles."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from index.articles import extract
from index.errors import InvalidInput, check_collection
from index.search import cachefile
from index.search.cache import SearchIndexes
from index.storage import ArticleRow, Repairs

if TYPE_CHECKING:
    from index.articles.ingest import Plan

log = logging.getLogger(__name__)


@dataclass
class CollectionCheck:
    """What the check found in one collection, and what it did about it."""

    collection: str
    articles: int = 0
    chunks: int = 0
    sentences: int = 0
    articles_relaid: list[int] = field(default_factory=list)  # re-chunked and embedded from their text
    articles_removed: list[int] = field(default_factory=list)  # nothing quotable left to lay out
    chunks_reembedded: int = 0
    sentences_reembedded: int = 0
    caches_repaired: list[str] = field(default_factory=list)  # "faiss" / "bm25": ids disagreed with SQLite
    caches_rebuilt: list[str] = field(default_factory=list)  # missing, stale or corrupt: rebuilt as usual

    @property
    def repaired(self) -> bool:
        return bool(
            self.articles_relaid
            or self.articles_removed
            or self.chunks_reembedded
            or self.sentences_reembedded
            or self.caches_repaired
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "articles": self.articles,
            "chunks": self.chunks,
            "sentences": self.sentences,
            "articles_relaid": self.articles_relaid,
            "articles_removed": self.articles_removed,
            "chunks_reembedded": self.chunks_reembedded,
            "sentences_reembedded": self.sentences_reembedded,
            "caches_repaired": self.caches_repaired,
            "caches_rebuilt": self.caches_rebuilt,
            "repaired": self.repaired,
        }


@dataclass
class Report:
    collections: dict[str, CollectionCheck] = field(default_factory=dict)
    orphans_deleted: int = 0
    temp_files_removed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def consistent(self) -> bool:
        """True when nothing needed repairing (a stale cache rebuilt as usual does not count)."""
        return not (
            self.orphans_deleted or self.temp_files_removed or any(c.repaired for c in self.collections.values())
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "consistent": self.consistent,
            "seconds": round(self.seconds, 3),
            "orphans_deleted": self.orphans_deleted,
            "temp_files_removed": self.temp_files_removed,
            "collections": {name: c.to_json() for name, c in self.collections.items()},
        }


class ConsistencyCheck:
    """Handed what it checks and repairs with: the store's repairs role, the search indexes, the ingest's
    layout (to lay an article out again), the model's encode, and the writers' lock."""

    def __init__(
        self,
        store: Repairs,
        indexes: SearchIndexes,
        lay_out: Callable[..., Plan],
        encode: Callable[[list[str]], np.ndarray],
        write_lock: threading.RLock,
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.lay_out = lay_out
        self.encode = encode
        self.write_lock = write_lock

    def run(self, collection: str | None = None) -> Report:
        """Verify (and repair) one collection, or all of them; see the module docstring."""
        return check(self, collection)


def check(ctx: ConsistencyCheck, collection: str | None = None) -> Report:
    started = time.perf_counter()
    report = Report()
    with ctx.write_lock:
        ctx.indexes.check_model()  # repairs embed with the configured model: it must be the stored one
        report.temp_files_removed = [p.name for p in cachefile.remove_leftovers(ctx.indexes.cache_dir)]
        for name in report.temp_files_removed:
            log.warning("deleted %s, left by a cache writer that was interrupted", name)
        report.orphans_deleted = ctx.store.delete_orphans()
        if report.orphans_deleted:
            log.warning("deleted %d chunk and sentence rows whose article was gone", report.orphans_deleted)
        names = [collection] if collection is not None else ctx.store.collection_names()
        for name in names:
            report.collections[name] = _check_collection(ctx, check_collection(name))
    report.seconds = time.perf_counter() - started
    return report


def _check_collection(ctx: ConsistencyCheck, collection: str) -> CollectionCheck:
    result = CollectionCheck(collection)
    store = ctx.store
    for row in store.articles_without_layout(collection):
        _relay(ctx, collection, row, result)
    dimension = store.meta("dimension")  # None until a first article is stored: nothing to check
    chunk_ids, sentence_keys = store.bad_vectors(collection, int(dimension)) if dimension else ([], [])
    if chunk_ids or sentence_keys:
        chunk_texts, sentence_texts = store.texts_for(chunk_ids, sentence_keys)
        vectors = ctx.encode(chunk_texts + sentence_texts)
        store.update_vectors(
            collection,
            list(zip(chunk_ids, vectors[: len(chunk_ids)], strict=True)),
            [(a, i, v) for (a, i), v in zip(sentence_keys, vectors[len(chunk_ids) :], strict=True)],
        )
        result.chunks_reembedded, result.sentences_reembedded = len(chunk_ids), len(sentence_keys)
        log.warning(
            "%s: re-embedded %d chunk and %d sentence vectors that were damaged",
            collection,
            len(chunk_ids),
            len(sentence_keys),
        )
    result.articles, result.sentences, result.chunks = store.layout_counts(collection)
    _check_caches(ctx, collection, result)
    return result


def _relay(ctx: ConsistencyCheck, collection: str, row: ArticleRow, result: CollectionCheck) -> None:
    """Lay an article out again from its stored text (its sentences or chunks are missing)."""
    # Plain text was laid out with its first line as the headline exactly when that line became the title.
    first_line = row.text.strip().split("\n", 1)[0].strip()
    doc = extract.Document(row.text, f"article {row.id}", first_line_is_title=first_line == row.title)
    try:
        plan = ctx.lay_out(doc, title=None, url=row.url, published=None, digest=row.content_hash)
    except InvalidInput:
        ctx.store.delete_article(collection, row.id)
        result.articles_removed.append(row.id)
        log.warning(
            "%s: removed article %d, which had no chunks and nothing quotable to make them from", collection, row.id
        )
        return
    stored = [(start, end, quotable) for _, start, end, quotable, _ in ctx.store.sentences(row.id)]
    keep_sentences = stored == [(start, end, bool(quotable)) for start, end, quotable in plan.new.sentences]
    # Sentences that are still there as the layout would make them keep their vectors (a damaged one is
    # caught by the vector check next): only the chunks are embedded.
    texts = plan.chunk_texts + ([] if keep_sentences else plan.sentence_texts)
    vectors = ctx.encode(texts)
    n = len(plan.chunk_texts)
    new = replace(plan.new, chunk_vectors=vectors[:n], sentence_vectors=vectors[n:])
    ctx.store.replace_layout(collection, row.id, new, sentences=not keep_sentences)
    result.articles_relaid.append(row.id)
    log.warning("%s: article %d had lost its sentences or chunks; laid out and embedded again", collection, row.id)


def _check_caches(ctx: ConsistencyCheck, collection: str, result: CollectionCheck) -> None:
    """Load the caches as a question would; any whose ids differ from SQLite's is rebuilt from SQLite."""
    if not result.chunks and not any(path.exists() for path in ctx.indexes.paths(collection)):
        return  # an empty or unknown collection: nothing to compare, and no reason to create caches
    ctx.indexes.drop(collection)  # judge the files on disk, not what this process holds
    state = ctx.indexes.get(collection)
    result.caches_rebuilt = list(state.rebuilt)
    with ctx.store.snapshot():
        if ctx.store.revision(collection) != state.revision:
            return  # another process wrote meanwhile: the caches follow its revision on the next question
        expected = set(ctx.store.chunk_ids(collection).tolist())
    drifted = []
    faiss_ids = state.vectors.ids()
    if len(faiss_ids) != len(expected) or set(faiss_ids.tolist()) != expected:
        drifted.append("faiss")
    if len(state.lexical.ids) != len(expected) or set(state.lexical.ids.tolist()) != expected:
        drifted.append("bm25")
    if not drifted:
        return
    faiss_path, bm25_path = ctx.indexes.paths(collection)
    for kind in drifted:
        (faiss_path if kind == "faiss" else bm25_path).unlink(missing_ok=True)
    ctx.indexes.drop(collection)
    ctx.indexes.get(collection)  # rebuilt from SQLite, which is the truth
    result.caches_repaired = drifted
    log.warning(
        "%s: the %s cache disagreed with SQLite's chunk ids; rebuilt from SQLite", collection, " and ".join(drifted)
    )
