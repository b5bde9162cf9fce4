"""Maintenance: rebuild the search caches from the store, re-embedding everything first when the
configured model is not the one that made the stored vectors (the only time text is re-embedded)."""

from __future__ import annotations

import logging
import threading

from index.errors import check_collection
from index.inference.embedding import Embedder
from index.search.cache import SearchIndexes
from index.storage import Repairs

log = logging.getLogger(__name__)


class Maintenance:
    def __init__(self, store: Repairs, indexes: SearchIndexes, embedder: Embedder, write_lock: threading.RLock) -> None:
        self.store = store
        self.indexes = indexes
        self.embedder = embedder
        self.write_lock = write_lock

    def reindex(self, collection: str | None = None) -> dict[str, int]:
        """Rebuild FAISS and BM25 from SQLite. If the configured model differs from the one that made
        the stored vectors, re-embed every chunk and sentence first (the only time text is re-embedded)."""
        with self.write_lock:
            stored = self.store.meta("model")
            reembedded = 0
            if stored is not None and stored != self.embedder.name:
                reembedded = self.reembed_all()
            names = [check_collection(collection)] if collection is not None else self.store.collections()
            counts = {}
            for name in names:
                self.indexes.delete_files(name)
                counts[name] = len(self.indexes.get(name).vectors)
            log.info("reindexed %s (re-embedded %d texts)", counts, reembedded)
            return counts

    def reembed_all(self) -> int:
        chunks, sentences = self.store.all_texts()
        chunk_vectors = self.embedder.encode([text for _, text in chunks])
        sentence_vectors = self.embedder.encode([text for _, _, text in sentences])
        self.store.replace_vectors(
            [(chunk_id, v) for (chunk_id, _), v in zip(chunks, chunk_vectors, strict=True)],
            [(a, i, v) for (a, i, _), v in zip(sentences, sentence_vectors, strict=True)],
            model=self.embedder.name,
            dimension=self.embedder.dimension,
        )
        self.indexes.clear()
        return len(chunks) + len(sentences)
