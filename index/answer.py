"""Retrieval fusion, quote selection and abstention: the part that decides what the bot says.

1. Candidates: the top chunks by cosine (FAISS) and by BM25 (bm25s), as a union.
2. Fusion: a weighted sum of the cosine and the BM25 score scaled by the query's best BM25 score.
   Plain reciprocal rank fusion throws the scores away and loses to BM25 alone at rank 1.
3. Sentences: every sentence of the best chunks is scored against the question itself: cosine of the
   sentence vector plus the idf-weighted share of the question's terms it contains. Chunks are
   re-ranked with their best sentence, and the best sentences become the quotes.
4. Abstention: the best sentence's score is the confidence; below the calibrated threshold the bot
   says the articles don't cover the question.

The weights were fitted on SQuAD v1.1 dev (see README "How answers are chosen")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.lexical import tokenize

# Words that shape a question but never appear in its answer.
QUESTION_WORDS = frozenset(tokenize("who whom whose what which when where why how did does do was were is are has have"))


@dataclass(frozen=True)
class Scoring:
    candidates: int = 50  # taken from each retriever before fusion
    dense_weight: float = 0.5  # fused = w * cosine + (1 - w) * bm25 / max(bm25)
    rerank_depth: int = 12  # chunks whose sentences are scored
    overlap_weight: float = 0.4  # sentence = cosine + this * idf-weighted question-term coverage
    sentence_weight: float = 1.0  # chunk = fused + this * best sentence score
    quote_margin: float = 0.12  # extra quotes must score within this of the best one
    duplicate_cosine: float = 0.95  # a quote this close to one already chosen is a repeat


DEFAULT_SCORING = Scoring()


@dataclass(frozen=True)
class Candidate:
    chunk_id: int
    cosine: float
    bm25: float  # scaled to [0, 1] by the query's best BM25 score
    fused: float


@dataclass(frozen=True)
class ScoredSentence:
    article_id: int
    index: int
    start: int
    end: int
    cosine: float
    coverage: float
    score: float
    chunk_id: int
    vector: np.ndarray


def fuse(
    dense_ids: np.ndarray,
    dense_scores: np.ndarray,
    lexical_ids: np.ndarray,
    lexical_scores: np.ndarray,
    cosine_of: Callable[[list[int]], np.ndarray],
    bm25_of: Callable[[list[int]], np.ndarray],
    scoring: Scoring = DEFAULT_SCORING,
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
    w = scoring.dense_weight
    out = [
        Candidate(i, cosine[i], bm25[i] * scale, w * cosine[i] + (1 - w) * bm25[i] * scale) for i in cosine
    ]
    out.sort(key=lambda c: c.fused, reverse=True)
    return out


@dataclass(frozen=True)
class Question:
    text: str
    vector: np.ndarray
    terms: list[str]  # BM25 tokens, for retrieval
    content_terms: list[str]  # without question words, for coverage


def analyse_question(text: str, vector: np.ndarray) -> Question:
    terms = tokenize(text)
    content = [t for t in terms if t not in QUESTION_WORDS] or terms
    return Question(text, vector, terms, content)


def score_sentence(
    question: Question,
    text: str,
    vector: np.ndarray,
    chunk: Candidate,
    idf: Callable[[str], float],
    scoring: Scoring = DEFAULT_SCORING,
) -> tuple[float, float, float]:
    """(score, cosine, coverage) of one candidate sentence for the question."""
    cosine = float(vector @ question.vector)
    cover = coverage(question.content_terms, set(tokenize(text)), idf)
    return cosine + scoring.overlap_weight * cover, cosine, cover


def coverage(question_terms: Sequence[str], sentence_terms: set[str], idf: Callable[[str], float]) -> float:
    """Share of the question's distinct terms (weighted by idf) that the sentence contains."""
    terms = set(question_terms)
    total = sum(idf(t) for t in terms)
    if total <= 0:
        return 0.0
    return sum(idf(t) for t in terms if t in sentence_terms) / total


def pick_quotes(sentences: list[ScoredSentence], limit: int, scoring: Scoring = DEFAULT_SCORING) -> list[ScoredSentence]:
    """The best sentence, then up to limit-1 more that score nearly as well and say something new."""
    ranked = sorted(sentences, key=lambda s: s.score, reverse=True)
    chosen: list[ScoredSentence] = []
    for sentence in ranked:
        if len(chosen) >= limit:
            break
        if chosen and sentence.score < chosen[0].score - scoring.quote_margin:
            break
        if any(
            (s.article_id == sentence.article_id and s.index == sentence.index)
            or float(np.dot(s.vector, sentence.vector)) >= scoring.duplicate_cosine
            for s in chosen
        ):
            continue
        chosen.append(sentence)
    return chosen
