"""Judging candidate sentences: which of them answer the question, and whether any does.

The cheap scoring (index/asking/scoring.py) ranks every sentence of the best chunks; the best `candidates` of them
go to the answer-sentence model (index/inference/answer_model.py), which reads the question with each sentence and
the sentence before it. Its probability decides:
- the quotes: ranked by the model's logit plus `blend` times the cheap score (the cheap score still knows
  things the model does not, such as the chunk's match with the question); after the best one, others are
  quoted only if they answer too (probability at or above the threshold);
- the abstention: no candidate reaches the threshold, calibrated on SQuAD's tune half
  (training/calibrate_answer_model.py): the articles don't say."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from index.asking.scoring import ScoredSentence, Scoring, repeats
from index.inference.answer_model import AnswerModel
from index.storage import Layout


@dataclass(frozen=True)
class Judgement:
    ranked: tuple[ScoredSentence, ...]  # the judged candidates, best first; `score` is the ranking value
    probabilities: tuple[float, ...]  # of `ranked`, same order
    confidence: float  # the best candidate's probability of answering
    spans: tuple[tuple[int, int] | None, ...]  # of `ranked`: the answer's characters in each sentence

    def span_of(self, sentence: ScoredSentence, threshold: float) -> tuple[int, int] | None:
        """Where the answer lies in a judged sentence, if the model says it answers (probability at or
        above the threshold); None otherwise, or from a model without a span head."""
        for s, p, span in zip(self.ranked, self.probabilities, self.spans, strict=True):
            if (s.article_id, s.index) == (sentence.article_id, sentence.index):
                return span if p >= threshold else None
        return None

    def answering(self, threshold: float) -> list[ScoredSentence]:
        return [s for s, p in zip(self.ranked, self.probabilities, strict=True) if p >= threshold]


class AnswerJudge:
    def __init__(self, store: Layout, model: AnswerModel, candidates: int, threshold: float | None = None) -> None:
        self.store = store
        self.model = model
        self.candidates = candidates
        self.configured_threshold = threshold

    @property
    def threshold(self) -> float:
        """The probability a quote needs: the configured one, else the model card's calibrated one."""
        return self.model.threshold if self.configured_threshold is None else self.configured_threshold

    @property
    def blend(self) -> float:
        return float(self.model.card.facts.get("blend", 0.0))

    def judge(self, question: str, sentences: list[ScoredSentence], texts: dict[tuple[int, int], str]) -> Judgement:
        top = sorted(sentences, key=lambda s: s.score, reverse=True)[: self.candidates]
        if not top:
            return Judgement((), (), 0.0, ())
        previous = self.previous_sentences(top, texts)
        pairs = [(texts[s.article_id, s.index], previous.get((s.article_id, s.index))) for s in top]
        logits, spans = self.model.read(question, pairs)
        probabilities = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
        ranking = logits + self.blend * np.array([s.score for s in top])
        order = np.argsort(-ranking, kind="stable")
        ranked = tuple(replace(top[i], score=float(ranking[i])) for i in order)
        chosen = tuple(float(probabilities[i]) for i in order)
        return Judgement(ranked, chosen, float(probabilities.max()), tuple(spans[i] for i in order))

    def previous_sentences(
        self, sentences: list[ScoredSentence], texts: dict[tuple[int, int], str]
    ) -> dict[tuple[int, int], str]:
        return previous_sentences(self.store, sentences, texts)

    def reordered(self, judgement: Judgement, ranked: list[ScoredSentence]) -> Judgement:
        """The same judgement with new ranking values (e.g. a recency bonus), sorted again."""
        rows = sorted(
            zip(ranked, judgement.probabilities, judgement.spans, strict=True), key=lambda x: x[0].score, reverse=True
        )
        return Judgement(
            tuple(s for s, _, _ in rows), tuple(p for _, p, _ in rows), judgement.confidence, tuple(x for *_, x in rows)
        )


def previous_sentences(
    store: Layout, sentences: list[ScoredSentence], texts: dict[tuple[int, int], str]
) -> dict[tuple[int, int], str]:
    """The sentence before each candidate (its context) by the candidate's (article id, index), from the
    texts at hand or else the store."""
    wanted = [(s.article_id, s.index - 1) for s in sentences if s.index > 0]
    missing = [key for key in wanted if key not in texts]
    found = {**{k: texts[k] for k in wanted if k in texts}, **store.sentence_texts(missing)}
    return {(a, i + 1): text for (a, i), text in found.items()}


def pick_answering_quotes(judgement: Judgement, limit: int, threshold: float, scoring: Scoring) -> list[ScoredSentence]:
    """The best candidate, then up to limit-1 more that also answer and are not repeats of a chosen one."""
    chosen: list[ScoredSentence] = []
    for n, (sentence, probability) in enumerate(zip(judgement.ranked, judgement.probabilities, strict=True)):
        if len(chosen) >= limit:
            break
        if n and probability < threshold:
            continue
        if repeats(sentence, chosen, scoring):
            continue
        chosen.append(sentence)
    return chosen
