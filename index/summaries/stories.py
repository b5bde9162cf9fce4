"""Summaries across articles: choosing central, non-repeating sentences from several articles, and grouping
articles into stories. Plain NumPy over the stored (normalised) vectors; the engine supplies them.

Syndicated copies and follow-ups of a news story repeat whole sentences, so every choice here skips a
sentence that is a near-duplicate of one already chosen, and articles whose content is close enough are
one story."""

from __future__ import annotations

import numpy as np

# Two sentences at least this close (cosine) say the same thing: the second is never shown. bench/topics.py:
# 0.8 catches 87% of lightly edited sentence copies (0.85: 75%) while 0.04% of pairs of different sentences
# of one article reach it.
NEAR_DUPLICATE = 0.8
# Two articles whose mean chunk vectors are this close are copies of one text (near-duplicate BBC pairs sit
# at 0.88-1.0, the closest 1% of unrelated pairs below 0.67).
SAME_TEXT = 0.95
# Redundancy penalty of maximal marginal relevance: score - this * (closest chosen sentence's cosine).
REDUNDANCY_WEIGHT = 0.6
# Two groups of articles are one story when their articles' mean vectors average at least this cosine
# (average linkage). Same-event reports from different outlets sit around 0.75-0.95 with MiniLM, different
# events on one subject (two matches of one club) around 0.5-0.7.
STORY_COSINE = 0.72


def distinct(ranked: list[int], vectors: dict[int, np.ndarray], same: float = SAME_TEXT) -> list[int]:
    """The ranked article ids without the copies: an article within `same` cosine of a better-ranked one
    that was kept is left out."""
    kept: list[int] = []
    for article_id in ranked:
        vector = vectors.get(article_id)
        if vector is None:
            continue
        if all(float(vector @ vectors[k]) < same for k in kept):
            kept.append(article_id)
    return kept


def topic_relevance(vectors: np.ndarray, topic: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """How well each sentence summarises a topic: its cosine to the topic, its centrality among the most
    topical sentences (what the articles agree on), and a small bonus for a lead position."""
    on_topic = vectors @ topic
    top = np.argsort(-on_topic)[: max(5, min(20, len(vectors) // 3))]
    centroid = vectors[top].mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    lead = 0.1 * np.exp(-positions / 3.0)
    return 0.5 * on_topic + 0.5 * (vectors @ centroid) + lead


def centrality(vectors: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """How central each sentence is to the whole set, with the same lead bonus (for a story's lead)."""
    centroid = vectors.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    return vectors @ centroid + 0.15 * np.exp(-positions / 3.0)


def pick(vectors: np.ndarray, scores: np.ndarray, n: int, duplicate: float = NEAR_DUPLICATE) -> list[int]:
    """Up to n indexes by maximal marginal relevance; a sentence within `duplicate` cosine of a chosen one
    is never picked (it would repeat it). Returned in the order chosen (best first)."""
    chosen: list[int] = []
    closest = np.full(len(vectors), -1.0, dtype=np.float32)
    available = np.ones(len(vectors), dtype=bool)
    while len(chosen) < n and available.any():
        mmr = scores - REDUNDANCY_WEIGHT * np.maximum(closest, 0.0)
        mmr[~available] = -np.inf
        best = int(np.argmax(mmr))
        chosen.append(best)
        closest = np.maximum(closest, vectors @ vectors[best])
        available &= closest < duplicate
    return chosen


def cluster(vectors: np.ndarray, threshold: float = STORY_COSINE) -> list[list[int]]:
    """Average-linkage clusters of normalised vectors: merge the two closest groups while their average
    pairwise cosine is at least `threshold`. Each group lists row indexes in ascending order."""
    n = len(vectors)
    groups: list[list[int]] = [[i] for i in range(n)]
    if n < 2:
        return groups
    similarity = (vectors @ vectors.T).astype(np.float64)
    np.fill_diagonal(similarity, -np.inf)
    alive = np.ones(n, dtype=bool)
    while True:
        masked = np.where(alive[:, None] & alive[None, :], similarity, -np.inf)
        flat = int(np.argmax(masked))
        a, b = divmod(flat, n)
        if masked[a, b] < threshold:
            break
        size_a, size_b = len(groups[a]), len(groups[b])
        # Lance-Williams update for average linkage: the merged group's mean similarity to every other group
        merged = (size_a * similarity[a] + size_b * similarity[b]) / (size_a + size_b)
        similarity[a], similarity[:, a] = merged, merged
        similarity[a, a] = -np.inf
        alive[b] = False
        groups[a] = sorted(groups[a] + groups[b])
        groups[b] = []
    return [g for g, keep in zip(groups, alive, strict=True) if keep]
