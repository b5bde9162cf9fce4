"""One collection's search index, valid for one store revision: the vector and lexical backends, the
tokens the lexical one is rebuilt from, and hybrid retrieval over both (each backend filters ids itself)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from index.search.fusion import Candidate, Depth, Query, fuse
from index.search.lexical import LexicalIndex
from index.search.vectors import VectorIndex


@dataclass
class SearchIndex:
    """In-memory caches of one collection, valid for one store revision."""

    revision: int
    vectors: VectorIndex
    lexical: LexicalIndex
    tokens: dict[int, list[str]] | None = None  # chunk id → BM25 tokens, filled on first write
    rebuilt: tuple[str, ...] = ()  # the caches ("faiss", "bm25") rebuilt from SQLite rather than read from files
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return len(self.vectors)

    def retrieve(self, query: Query, scoring: Depth, allowed: np.ndarray | None = None) -> list[Candidate]:
        """Hybrid candidates: FAISS and BM25 fused. With `allowed`, only those chunk ids are searched."""
        depth = scoring.candidates
        lexical = self.lexical
        with self.lock:
            dense_ids, dense_scores = self.vectors.search(query.vector, depth, allowed)
        lexical_ids, lexical_scores, all_bm25 = lexical.top(query.terms, depth, allowed)

        def cosine_of(ids: list[int]) -> np.ndarray:
            with self.lock:
                return self.vectors.vectors(ids) @ query.vector if ids else np.zeros(0)

        def bm25_of(ids: list[int]) -> np.ndarray:
            return np.array([all_bm25[lexical.position[i]] if i in lexical.position else 0.0 for i in ids])

        return fuse(dense_ids, dense_scores, lexical_ids, lexical_scores, cosine_of, bm25_of, scoring.dense_weight)
