"""The vector backend, FAISS: exact inner product over L2-normalised vectors (cosine), ids = chunk rowids in SQLite.

A cache, rebuilt from the vectors stored in SQLite whenever it is missing, stale or corrupt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.search import cachefile


class VectorIndex:
    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int] | np.ndarray) -> None:
        if len(ids):
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def ids(self) -> np.ndarray:
        """Every id held, in insertion order."""
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (ids, cosine scores) for one normalised query vector; with `allowed`, only those ids are
        searched (FAISS filters them itself, through an IDSelectorBatch)."""
        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters()
            params.sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        scores, ids = self.index.search(query.reshape(1, -1).astype(np.float32), k, params=params)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def vectors(self, ids: list[int]) -> np.ndarray:
        """Stored vectors for ids (IndexIDMap2 keeps the id → row map); zeros for an unknown id."""
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        for row, chunk_id in enumerate(ids):
            try:
                out[row] = self.index.reconstruct(int(chunk_id))
            except RuntimeError:
                pass
        return out

    def save(self, path: Path, header: dict[str, Any]) -> None:
        payload = faiss.serialize_index(self.index).tobytes()
        cachefile.write(path, dict(header, dimension=self.dimension, kind="faiss"), payload)

    @classmethod
    def load(cls, path: Path, header: dict[str, Any]) -> VectorIndex | None:
        payload = cachefile.read(path, dict(header, kind="faiss"))
        if payload is None:
            return None
        try:
            index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
        except RuntimeError:
            return None
        loaded = cls(index.d)
        loaded.index = index  # already the concrete IndexIDMap2 (downcasting again would drop ownership)
        return loaded
