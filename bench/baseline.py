"""The pipeline most people would wire up themselves, as the baseline for every quality bench.

Fixed 1,000-character chunks with 200 characters of overlap, split like LangChain's
RecursiveCharacterTextSplitter (paragraphs first, then lines, sentences, words, characters), the same
all-MiniLM-L6-v2 model through Byline's Embedder, a FAISS IndexFlatIP over the normalised vectors, and
the top-k chunks returned as the "answer". Nothing else: no BM25, no sentence scoring, no abstention
other than a threshold on the top-1 cosine.

Chunks carry their character offsets, so a hit is measured exactly as for Byline (a chunk overlapping
the gold paragraph)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
SEPARATORS = ("\n\n", "\n", ". ", " ", "")
CACHE = Path("/tmp/byline_bench/baseline")


@dataclass(frozen=True)
class BaselineChunk:
    doc: int  # index of the document it came from
    start: int
    end: int
    text: str


def _pieces(text: str, start: int, end: int, separators: tuple[str, ...]) -> list[tuple[int, int]]:
    """Split text[start:end] into spans no longer than CHUNK_SIZE, on the first separator that occurs,
    recursing with the finer ones into pieces that are still too long (the separator stays with the
    piece before it, so the spans tile the text)."""
    if end - start <= CHUNK_SIZE:
        return [(start, end)]
    for i, sep in enumerate(separators):
        if sep == "":
            return [(s, min(s + CHUNK_SIZE, end)) for s in range(start, end, CHUNK_SIZE)]
        if text.find(sep, start, end) < 0:
            continue
        spans, at = [], start
        while at < end:
            found = text.find(sep, at, end)
            stop = end if found < 0 else found + len(sep)
            spans.extend(_pieces(text, at, stop, separators[i + 1 :]))
            at = stop
        return spans
    return [(start, end)]


def split(text: str) -> list[tuple[int, int]]:
    """Merge the pieces greedily into chunks of at most CHUNK_SIZE characters; each new chunk starts
    with the previous chunk's trailing pieces that fit in CHUNK_OVERLAP characters."""
    pieces = _pieces(text, 0, len(text), SEPARATORS)
    chunks: list[tuple[int, int]] = []
    current: list[tuple[int, int]] = []
    for piece in pieces:
        if current and piece[1] - current[0][0] > CHUNK_SIZE:
            chunks.append((current[0][0], current[-1][1]))
            while current and (current[-1][1] - current[0][0] > CHUNK_OVERLAP or piece[1] - current[0][0] > CHUNK_SIZE):
                current.pop(0)
        current.append(piece)
    if current:
        chunks.append((current[0][0], current[-1][1]))
    # Like LangChain (strip_whitespace=True): a chunk's text is stripped; keep the offsets in step.
    out = []
    for start, end in chunks:
        raw = text[start:end]
        lead = len(raw) - len(raw.lstrip())
        trail = len(raw) - len(raw.rstrip())
        if end - trail > start + lead:
            out.append((start + lead, end - trail))
    return out


class Baseline:
    """Chunks of a list of documents, their vectors (cached on disk by content), and a flat FAISS index
    per subset of documents."""

    def __init__(self, texts: list[str], name: str, embedder=None) -> None:
        self.chunks = [BaselineChunk(d, s, e, t[s:e]) for d, t in enumerate(texts) for s, e in split(t)]
        self.vectors = self._embed(name, embedder)

    def _embed(self, name: str, embedder) -> np.ndarray:
        digest = hashlib.sha1("\x00".join(c.text for c in self.chunks).encode()).hexdigest()[:16]
        path = CACHE / f"{name}-{digest}.npy"
        if path.exists():
            return np.load(path)
        if embedder is None:
            from index.inference.embedding import Embedder

            embedder = Embedder()
        vectors = embedder.encode([c.text for c in self.chunks]).astype(np.float32)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
        return vectors

    def index(self, docs: set[int] | None = None):
        """A FAISS IndexFlatIP over the chunks of `docs` (all when None), and the chunk positions it holds."""
        import faiss

        rows = np.array([i for i, c in enumerate(self.chunks) if docs is None or c.doc in docs], dtype=np.int64)
        index = faiss.IndexFlatIP(self.vectors.shape[1])
        index.add(self.vectors[rows])
        return index, rows

    @staticmethod
    def search(index, rows: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k chunk positions and cosines for each query vector."""
        scores, found = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return rows[found], scores
