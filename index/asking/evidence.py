"""The evidence pipeline that answers and topic summaries share: the question's time window, the chunks
it allows, the question embedded, hybrid retrieval, every sentence of the best chunks scored, and the
confidence that decides whether the articles cover it at all (index/asking/scoring.py has the formula).

`gather` holds one read snapshot while the caller turns the evidence into quotes or a summary, so an
article removed meanwhile is either wholly visible or wholly gone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from index.asking import dates
from index.asking.casual import plain_question
from index.asking.scoring import (
    Candidate,
    Question,
    ScoredSentence,
    Scoring,
    analyse_question,
    confidence,
    score_sentence,
)
from index.inference.embedding import Embedder
from index.models import ArticleRef
from index.search.cache import SearchIndexes
from index.search.index import SearchIndex
from index.storage import Store


@dataclass(frozen=True)
class Evidence:
    """What the articles offer for one question or topic. `missing` says why there is none to weigh:
    "empty" (no articles at all) or "window" (none dated in the question's window); else None."""

    query: Question | None = None  # what the sentences were scored against
    window: dates.TimeFilter | None = None
    missing: str | None = None
    candidates: tuple[Candidate, ...] = ()
    sentences: tuple[ScoredSentence, ...] = ()
    texts: dict[tuple[int, int], str] | None = None  # sentence texts by (article id, index)
    chunk_scores: dict[int, float] | None = None
    best: ScoredSentence | None = None
    confidence: float = 0.0


class EvidenceFinder:
    def __init__(
        self,
        store: Store,
        indexes: SearchIndexes,
        embedder: Embedder,
        scoring: Scoring,
        abstain_threshold: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.embedder = embedder
        self.scoring = scoring
        self.abstain_threshold = abstain_threshold
        self.clock = clock

    def covered(self, evidence: Evidence) -> bool:
        """Whether the best sentence is confident enough to quote (else: the articles don't say)."""
        return evidence.best is not None and evidence.confidence >= self.abstain_threshold

    # -- time ------------------------------------------------------------------------------------
    def today(self) -> date:
        return self.clock().astimezone(UTC).date()

    def time_filter(self, collection: str, text: str) -> tuple[dates.TimeFilter | None, str]:
        """What `text` says about time, and the text without those words (see index/asking/dates.py)."""
        today = self.today()
        return dates.time_filter(
            text, today, lambda month: self.store.latest_year_of_month(collection, month, today.isoformat())
        )

    def window_chunks(self, collection: str, window: dates.TimeFilter | None) -> np.ndarray | None:
        """The chunk ids a window allows (None: no window, all of them)."""
        if window is None or not window.filters:
            return None
        first = window.start.isoformat() if window.start else None
        last = window.end.isoformat() if window.end else None
        return self.store.chunk_ids_between(collection, first, last)

    # -- the pipeline ----------------------------------------------------------------------------
    @contextmanager
    def gather(
        self, collection: str, text: str, *, previous: str | None = None, since: date | None = None
    ) -> Iterator[Evidence]:
        """The evidence for `text` in a collection, inside one read snapshot of the store.

        Chat spellings and filler are read as the words they stand for (index/asking/casual.py). "this week", "in
        March": only articles of those days are searched; the time words themselves are
        left out of retrieval (no article is about the word "latest"). `previous` is the question before
        a follow-up: it helps find the article ("and when did it start?"), lends its window if the new
        question has none, while the sentences are scored for the new question alone. `since` (a topic
        summary's option) narrows the window's start."""
        state = self.indexes.get(collection)
        window, asked = self.time_filter(collection, plain_question(text))
        if previous:
            previous = plain_question(previous)
        if window is None and previous:
            window, _ = self.time_filter(collection, previous)
        if since is not None:
            start = max(since, window.start) if window and window.start else since
            end = window.end if window and window.end else max(since, self.today())
            window = dates.TimeFilter(f"since {since.isoformat()}", start, end)
        if len(state.vectors) == 0:
            yield Evidence(window=window, missing="empty")
            return
        allowed = self.window_chunks(collection, window)
        if allowed is not None and len(allowed) == 0:
            yield Evidence(window=window, missing="window")
            return
        if previous:
            # Retrieve with both questions (finds the article "it" is about); score the sentences for the
            # new question alone (what it asks of that article). On follow-ups such as "Who opened it?"
            # after a question about a bridge, this picked the right sentence in 8 of 10 cases against 4
            # of 10 when the sentences were scored against both questions too.
            context = f"{previous} {asked}"
            context_vector, question_vector = self.embedder.encode([context, asked])
            query = analyse_question(asked, question_vector)
            retrieval = analyse_question(context, context_vector)
        else:
            query = retrieval = analyse_question(asked, self.embedder.encode([asked])[0])
        candidates = state.retrieve(retrieval, self.scoring, allowed)
        with self.store.snapshot():
            sentences, texts, chunk_scores = self.score_sentences(state, candidates, query)
            best = max(sentences, key=lambda s: s.score) if sentences else None
            sure = confidence(query, best, self.scoring) if best else 0.0
            yield Evidence(query, window, None, tuple(candidates), tuple(sentences), texts, chunk_scores, best, sure)

    def score_sentences(
        self, state: SearchIndex, candidates: list[Candidate], query: Question
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

    def related(self, candidates: list[Candidate], chunk_scores: dict[int, float]) -> list[ArticleRef]:
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
