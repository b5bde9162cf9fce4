"""Summaries: of one article (its most central sentences, or an LLM's verified summary of them), and of
a topic across articles (the central, non-repeating sentences of the articles the evidence finds)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np

from index.articles.catalogue import Catalogue, cited_sentence
from index.asking import llm
from index.asking.evidence import EvidenceFinder
from index.errors import check_collection, check_question
from index.models import ArticleRef, Summary, SummarySentence, TopicSummary
from index.storage import Store
from index.summaries import stories

# With an LLM configured: the most central sentences of an article it summarises from.
LLM_SUMMARY_SENTENCES = 12
# Topic summaries: articles whose best sentence scores within this of the best article's are about the topic.
TOPIC_MARGIN = 0.6
TOPIC_ARTICLES = 8
NOT_COVERED = "The articles don't cover this."


class Summaries:
    def __init__(
        self,
        store: Store,
        catalogue: Catalogue,
        evidence: EvidenceFinder,
        max_question_chars: int,
        chat: llm.ChatModel | None,
        prompts_dir: Path | None,
    ) -> None:
        self.store = store
        self.catalogue = catalogue
        self.evidence = evidence
        self.max_question_chars = max_question_chars
        self.llm = chat
        self.prompts_dir = prompts_dir

    def summarize(self, collection: str, article_id: int, sentences: int = 3) -> Summary:
        """Extractive summary: the most central sentences (cosine to the article's mean sentence
        vector, with a gentle preference for the lead, as news puts the key facts first), picked with
        a redundancy penalty and returned in article order. With an LLM configured, the model summarises
        the most central sentences instead, each of its sentences cited and verified like an answer's; the
        extractive summary stays the fallback."""
        row = self.catalogue.article_row(collection, article_id)
        n = max(1, min(sentences, 20))
        rows = [r for r in self.store.sentences(article_id) if r[3]]
        if not rows:
            return Summary(row.id, row.title, row.url, ())
        matrix = np.vstack([r[4] for r in rows])
        spans = [SummarySentence(row.text[s:e], s, e) for _, s, e, _, _ in rows]
        extractive = Summary(row.id, row.title, row.url, tuple(spans[i] for i in central_sentences(matrix, n)))
        if self.llm is None:
            return extractive
        # The model sees the most central sentences in article order and writes at most n sentences.
        pool = [spans[i] for i in central_sentences(matrix, max(n, LLM_SUMMARY_SENTENCES))]
        verified = llm.write(
            self.llm,
            "summary",
            [s.text for s in pool],
            self.prompts_dir,
            title=row.title,
            count=n,
            sentences=llm.numbered([s.text for s in pool]),
        )
        if verified is None:
            return extractive
        if not verified.usable:
            return replace(extractive, dropped=verified.dropped)
        return replace(
            extractive,
            sentences=tuple(pool[i] for i in verified.cited),
            mode="llm",
            summary=verified.text,
            dropped=verified.dropped,
        )

    def summarize_topic(
        self, collection: str, topic: str, *, since: date | None = None, sentences: int = 5
    ) -> TopicSummary:
        """The central, non-repeating sentences across the articles about a topic, each cited, ordered by
        date then position. Articles are found as for a question (hybrid retrieval, the same abstention);
        time words in the topic ("this week") or `since` limit the articles' dates."""
        check_collection(collection)
        topic = check_question(topic, self.max_question_chars)
        n = max(1, min(sentences, 20))
        self.evidence.embedder.load()
        started = time.perf_counter()
        with self.evidence.gather(collection, topic, since=since) as evidence:
            window = evidence.window
            bounds = {
                "since": window.start.isoformat() if window and window.start else None,
                "until": window.end.isoformat() if window and window.end else None,
            }

            def not_covered(related: Iterable[ArticleRef] = (), why: str = NOT_COVERED) -> TopicSummary:
                took = (time.perf_counter() - started) * 1000
                return TopicSummary(topic, (), tuple(related), True, why, took_ms=took, **bounds)

            if evidence.missing == "empty":
                return not_covered(why="There are no articles here yet, so the articles don't cover this.")
            if evidence.missing == "window":
                assert window is not None
                return not_covered(why=f"None of the articles is dated {window.describe()}, so they don't cover this.")
            best, query = evidence.best, evidence.query
            if best is None or not self.evidence.covered(evidence):
                return not_covered(self.evidence.related(list(evidence.candidates), evidence.chunk_scores or {}))
            scored = evidence.sentences
            by_article: dict[int, float] = {}
            for sentence in scored:
                by_article[sentence.article_id] = max(by_article.get(sentence.article_id, -np.inf), sentence.score)
            ranked = [
                a
                for a, score in sorted(by_article.items(), key=lambda kv: -kv[1])
                if score >= best.score - TOPIC_MARGIN
            ]
            # Syndicated copies would otherwise fill the member slots with one text (bench/topics.py on
            # bbc_x8: 7.9 members but 1.2 distinct texts); keep the best-ranked copy of each.
            members = stories.distinct(ranked, self.store.article_vectors(ranked))[:TOPIC_ARTICLES]
            rows = self.store.article_texts(members)
            pool = [(a, *r) for a in members for r in self.store.sentences(a) if r[3]]
            matrix = np.vstack([p[5] for p in pool])
            positions = np.array([p[1] for p in pool], dtype=np.float32)
            chosen = stories.pick(matrix, stories.topic_relevance(matrix, query.vector, positions), n)
        days = self.store.article_days(members)
        chosen.sort(key=lambda i: (days.get(pool[i][0], ""), pool[i][0], pool[i][1]))
        cited = tuple(cited_sentence(rows[pool[i][0]], pool[i][2], pool[i][3]) for i in chosen)
        used = list(dict.fromkeys(c.article_id for c in cited))
        articles = tuple(ArticleRef(a, rows[a].title, rows[a].url, rows[a].published) for a in used)
        took = (time.perf_counter() - started) * 1000
        return TopicSummary(topic, cited, articles, took_ms=took, **bounds)


def central_sentences(matrix: np.ndarray, n: int) -> list[int]:
    """Indexes (in article order) of the n most central sentence vectors: cosine to the mean, plus a gentle
    lead bonus, picked with a redundancy penalty."""
    centroid = matrix.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    centrality = matrix @ centroid
    lead = 0.15 * np.exp(-np.arange(len(matrix)) / 3.0)
    score = centrality + lead
    chosen: list[int] = []
    while len(chosen) < min(n, len(matrix)):
        if chosen:
            redundancy = (matrix @ matrix[chosen].T).max(axis=1)
            mmr = score - 0.5 * np.maximum(redundancy - 0.5, 0.0)
            mmr[chosen] = -np.inf
        else:
            mmr = score.copy()
        chosen.append(int(np.argmax(mmr)))
    return sorted(chosen)
