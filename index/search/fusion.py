"""Hybrid retrieval: the top chunks by cosine (FAISS) and by BM25 (bm25s), as a union, each scored on both
signals and fused as  w * cosine + (1 - w) * bm25 / (the query's best BM25),  w = dense_weight.
Plain reciprocal rank fusion throws the scores away and loses to BM25 alone at rank 1.

The asking package's Question and Scoring satisfy the two Protocols below; search never imports them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Query(Protocol):
    """What retrieval needs of a question."""

    vector: np.ndarray  # L2-normalised embedding
    terms: list[str]  # BM25 tokens


class Depth(Protocol):
    """What retrieval needs of the scoring settings."""

    candidates: int  # taken from each backend before fusion
    dense_weight: float


@dataclass(frozen=True)
class Candidate:
    chunk_id: int
    cosine: float
    bm25: float  # scaled to [0, 1] by the query's best BM25 score
    fused: float


def fuse(
    dense_ids: np.ndarray,
    dense_scores: np.ndarray,
    lexical_ids: np.ndarray,
    lexical_scores: np.ndarray,
    cosine_of: Callable[[list[int]], np.ndarray],
    bm25_of: Callable[[list[int]], np.ndarray],
    dense_weight: float,
) -> list[Candidate]:
    """Union of both candidate lists, each scored on both signals, best first."""
    cosine = {int(i): float(s) for i, s in zip(dense_ids, dense_scores, strict=True)}
    bm25 = {int(i): float(s) for i, s in zip(lexical_ids, lexical_scores, strict=True)}
    missing_cos = [i for i in bm25 if i not in cosine]
    for i, s in zip(missing_cos, cosine_of(missing_cos), strict=True):
        cosine[i] = float(s)
    missing_bm25 = [i for i in cosine if i not in bm25]
    for i, s in zip(missing_bm25, bm25_of(missing_bm25), strict=True):
        bm25[i] = float(s)
    top = max(bm25.values(), default=0.0)
    scale = 1.0 / top if top > 0 else 0.0
    w = dense_weight
    out = [Candidate(i, cosine[i], bm25[i] * scale, w * cosine[i] + (1 - w) * bm25[i] * scale) for i in cosine]
    out.sort(key=lambda c: c.fused, reverse=True)
    return out
