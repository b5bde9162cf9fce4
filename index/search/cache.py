"""The search indexes of every collection a process serves, kept current with the store.

Each collection's index is valid for one store revision: memory, else the cache files (FAISS and BM25,
each recording the collection, revision and model), else rebuilt from the store. A writer in this process
applies its delta (`apply`); a write by another process changes the revision, and the next `get` reloads.

At most `capacity` collections are held in memory, the least recently asked first out (their cache files
stay, so coming back costs a file load, not a rebuild): one process can serve thousands of small servers."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import ModelMismatch
from index.search.index import SearchIndex
from index.search.lexical import LexicalIndex, tokenize
from index.search.vectors import VectorIndex
from index.storage import IndexSource

log = logging.getLogger(__name__)


DEFAULT_CAPACITY = 256  # collections held in memory (BYLINE_CACHE_COLLECTIONS)


@dataclass
class CacheCounts:
    """How each `get` was served since the process started (the bot's /metrics reads them)."""

    hits: int = 0  # from memory, at the store's revision
    loads: int = 0  # read from the cache files
    rebuilds: int = 0  # rebuilt (at least in part) from the store
    evictions: int = 0  # collections let go to keep at most `capacity` in memory


class SearchIndexes:
    def __init__(
        self,
        store: IndexSource,
        cache_dir: Path,
        model_name: str,
        dimension: Callable[[], int],
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self.store = store
        self.cache_dir = cache_dir
        self.model_name = model_name
        self._dimension = dimension  # the model's, for an empty collection (loads the model only then)
        self.capacity = max(1, capacity)
        self._held: OrderedDict[str, SearchIndex] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()
        self.counts = CacheCounts()

    def held(self) -> list[str]:
        """The collections in memory, least recently used first."""
        return list(self._held)

    def _held_at(self, collection: str, revision: int) -> SearchIndex | None:
        """The held index if it is at `revision` (a hit: counted, and made the most recently used)."""
        current = self._held.get(collection)
        if current is None or current.revision != revision:
            return None
        self.counts.hits += 1
        try:
            self._held.move_to_end(collection)
        except KeyError:  # dropped by another thread meanwhile: the next get loads it again
            pass
        return current

    def paths(self, collection: str) -> tuple[Path, Path]:
        return self.cache_dir / f"{collection}.faiss", self.cache_dir / f"{collection}.bm25"

    def header(self, collection: str, revision: int) -> dict[str, object]:
        return {
            "store": self.store.store_id(),
            "collection": collection,
            "revision": revision,
            "model": self.model_name,
        }

    def check_model(self) -> None:
        """The stored vectors must come from the configured model (else every question says to reindex)."""
        stored = self.store.meta("model")
        if stored is not None and stored != self.model_name:
            raise ModelMismatch(
                f"The articles were embedded with {stored!r} but the configured model is {self.model_name!r}; "
                "run `python -m bot reindex` to re-embed them."
            )

    def get(self, collection: str) -> SearchIndex:
        """The index for the collection at the store's current revision: memory, else files, else the store."""
        revision = self.store.revision(collection)
        if (current := self._held_at(collection, revision)) is not None:
            return current
        with self._lock:
            if (current := self._held_at(collection, revision)) is not None:
                return current
            self.check_model()
            header = self.header(collection, revision)
            faiss_path, bm25_path = self.paths(collection)
            vectors = VectorIndex.load(faiss_path, header)
            lexical = LexicalIndex.load(bm25_path, header)
            tokens = None
            rebuilt = tuple(name for name, cache in (("faiss", vectors), ("bm25", lexical)) if cache is None)
            if vectors is None:
                ids, matrix = self.store.chunk_vectors(collection)
                vectors = VectorIndex(matrix.shape[1] if len(ids) else self._dimension())
                vectors.add(ids, matrix)
                vectors.save(faiss_path, header)
                log.info("rebuilt vector index for %s from the store (%d chunks)", collection, len(ids))
            if lexical is None:
                tokens = self.tokens_from_store(collection)
                lexical = LexicalIndex(np.fromiter(tokens.keys(), dtype=np.int64), list(tokens.values()))
                lexical.save(bm25_path, header)
                log.info("rebuilt BM25 index for %s from the store (%d chunks)", collection, len(tokens))
            current = SearchIndex(revision, vectors, lexical, tokens, rebuilt=rebuilt)
            if rebuilt:
                self.counts.rebuilds += 1
            else:
                self.counts.loads += 1
            self._held[collection] = current
            self._held.move_to_end(collection)
            while len(self._held) > self.capacity:
                gone, _ = self._held.popitem(last=False)
                self.counts.evictions += 1
                log.debug("let go of %s's index (more than %d collections in memory)", gone, self.capacity)
            return current

    def tokens_from_store(self, collection: str) -> dict[int, list[str]]:
        return {chunk_id: tokenize(text) for chunk_id, text in self.store.chunk_texts(collection)}

    def drop(self, collection: str) -> None:
        """Forget the in-memory index (the next `get` judges the files, or the store)."""
        self._held.pop(collection, None)

    def clear(self) -> None:
        self._held.clear()

    def delete_files(self, collection: str) -> None:
        self.drop(collection)
        for path in self.paths(collection):
            path.unlink(missing_ok=True)

    def apply(
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
        """Bring the in-memory index from revision-1 to `revision` (or drop it if another writer slipped
        in between, so that it is rebuilt from the store on next use)."""
        state = self._held.get(collection)
        if state is None or state.revision != revision - 1:
            self._held.pop(collection, None)
            return
        # First write since the caches were loaded from files: tokenise the collection (already holding
        # this write) before taking the lock that asks wait on.
        fresh = self.tokens_from_store(collection) if state.tokens is None else None
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
            self.rebuild_lexical(collection)

    def rebuild_lexical(self, collection: str) -> None:
        """Rebuild BM25 from the tokens held and save both caches (after a batch of writes)."""
        state = self._held.get(collection)
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
            header = self.header(collection, revision)
            faiss_path, bm25_path = self.paths(collection)
            state.vectors.save(faiss_path, header)
        lexical.save(bm25_path, header)
