"""Answering a question: the evidence (index/asking/evidence.py) becomes verbatim quotes with citations, or
"the articles don't say" with the closest articles; with an LLM configured, the model writes the answer
over the candidate quotes and every sentence it cites is verified (index/asking/llm.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from index.asking import llm
from index.asking.evidence import Evidence, EvidenceFinder
from index.asking.judging import AnswerJudge, Judgement, pick_answering_quotes
from index.asking.scoring import ScoredSentence, Scoring, pick_quotes
from index.errors import check_collection, check_question
from index.models import Answer, ArticleRef, Quote
from index.storage import Articles

NO_ANSWER = "The articles don't say."
# With an LLM configured: the candidate quotes it is shown (the extractive choice with a larger limit).
LLM_QUOTES = 6
# "latest", "most recent": the newest of the retrieved articles gains this much on its sentences' scores
# (the oldest nothing, the rest in proportion to their date), enough to lead among equally relevant
# quotes without letting a loosely related new article beat a relevant older one.
RECENCY_WEIGHT = 0.3


@dataclass(frozen=True)
class LLMDraft:
    """What the model needs beyond the extractive answer: the candidate quotes, and the closest
    articles in case it says they do not answer."""

    pool: tuple[Quote, ...]
    related: tuple[ArticleRef, ...]


class Answering:
    def __init__(
        self,
        store: Articles,
        evidence: EvidenceFinder,
        scoring: Scoring,
        max_quotes: int,
        max_question_chars: int,
        chat: llm.ChatModel | None,
        prompts_dir,
        judge: AnswerJudge | None = None,
    ) -> None:
        self.store = store
        self.evidence = evidence
        self.scoring = scoring
        self.max_quotes = max_quotes
        self.max_question_chars = max_question_chars
        self.llm = chat
        self.prompts_dir = prompts_dir
        self.judge = judge  # None: the cheap scoring alone quotes and abstains (BYLINE_ANSWER_MODEL=off)

    def ask(self, collection: str, question: str, k: int | None = None, *, follow_up_to: str | None = None) -> Answer:
        """Answer with verbatim quotes, or abstain. `follow_up_to` is the previous question of a
        conversation: it helps find the article ("and when did it start?"), while the quotes are chosen
        for the new question alone."""
        check_collection(collection)
        question = check_question(question, self.max_question_chars)
        previous = check_question(follow_up_to, self.max_question_chars) if follow_up_to else None
        self.evidence.embedder.load()  # before the clock starts: took_ms is the answer's own time
        if self.judge is not None:
            self.judge.model.load()
        started = time.perf_counter()
        limit = max(1, min(k or self.max_quotes, 10))
        with self.evidence.gather(collection, question, previous=previous) as evidence:
            if evidence.missing == "empty":
                text = "There are no articles here yet, so the articles don't say."
                return Answer(question, text, True, (), (time.perf_counter() - started) * 1000)
            if evidence.missing == "window":
                assert evidence.window is not None
                text = f"None of the articles is dated {evidence.window.describe()}, so the articles don't say."
                return Answer(question, text, True, (), (time.perf_counter() - started) * 1000)
            answer, draft = self._answer(evidence, limit, started)
        assert evidence.query is not None
        answer = replace(answer, question=question, question_vector=evidence.query.vector)
        if draft is not None:  # outside the read snapshot: the model may take seconds
            answer = self._llm_answer(answer, draft, started)
        return answer

    def _answer(self, evidence: Evidence, limit: int, started: float) -> tuple[Answer, LLMDraft | None]:
        """The extractive answer, and what an LLM needs to write one (None without an LLM or on abstention)."""
        assert evidence.query is not None and evidence.texts is not None and evidence.chunk_scores is not None
        question = evidence.query.text
        candidates, texts, chunk_scores = list(evidence.candidates), evidence.texts, evidence.chunk_scores
        sentences, confidence = list(evidence.sentences), evidence.confidence
        took = lambda: (time.perf_counter() - started) * 1000  # noqa: E731
        judgement: Judgement | None = None
        if self.judge is not None:
            judgement = self.judge.judge(question, sentences, texts)
            confidence = judgement.confidence
            covered = bool(judgement.ranked) and confidence >= self.judge.threshold
            if not covered and not asks_wh(question):
                # SQuAD, the model's training data, is wh-questions only, so its probability says nothing
                # about "was he sacked?" or "any news on bus fares?": there the cheap scoring decides
                covered = self.evidence.covered(evidence)
        else:
            covered = self.evidence.covered(evidence)
        if not covered:
            related = self.evidence.related(candidates, chunk_scores)
            return Answer(question, no_answer(related), True, (), took(), tuple(related), confidence), None
        recent = bool(evidence.window and evidence.window.recent)  # after the abstention decision
        if judgement is not None and self.judge is not None:
            if recent:
                judgement = self.judge.reordered(judgement, self._favour_recent(list(judgement.ranked)))
            chosen = pick_answering_quotes(judgement, limit, self.judge.threshold, self.scoring)
            spans = [judgement.span_of(s, self.judge.threshold) for s in chosen]
        else:
            if recent:
                sentences = self._favour_recent(sentences)
            chosen = pick_quotes(sentences, limit, self.scoring)
            spans = None
        quotes = self._quotes(chosen, texts, spans)
        answer = "\n".join(f"“{q.text}” [{n}]" for q, n in zip(quotes, citation_numbers(quotes), strict=True))
        extractive = Answer(question, answer, False, tuple(quotes), took(), (), confidence)
        if self.llm is None:
            return extractive, None
        if judgement is not None:  # the model's best candidates, answering or not: the LLM weighs them
            pooled = pick_answering_quotes(judgement, max(limit, LLM_QUOTES), 0.0, self.scoring)
        else:
            pooled = pick_quotes(sentences, max(limit, LLM_QUOTES), self.scoring)
        pool = self._quotes(pooled, texts)
        return extractive, LLMDraft(tuple(pool), tuple(self.evidence.related(candidates, chunk_scores)))

    def _quotes(
        self,
        chosen: list[ScoredSentence],
        texts: dict[tuple[int, int], str],
        spans: list[tuple[int, int] | None] | None = None,
    ) -> list[Quote]:
        refs = self.store.article_refs(sorted({s.article_id for s in chosen}))
        spans = spans or [None] * len(chosen)
        return [
            Quote(
                texts[s.article_id, s.index],
                s.article_id,
                *refs[s.article_id],
                s.start,
                s.end,
                round(s.score, 4),
                answer_within(texts[s.article_id, s.index], span),
            )
            for s, span in zip(chosen, spans, strict=True)
        ]

    def _llm_answer(self, extractive: Answer, draft: LLMDraft, started: float) -> Answer:
        """The model's answer over the candidate quotes, if it survives verification; else the extractive
        one (with what was dropped). The model saying the quotes do not answer is an abstention."""
        assert self.llm is not None
        shown = [f"“{q.text}” ({q.title}{f', {q.published}' if q.published else ''})" for q in draft.pool]
        verified = llm.write(
            self.llm,
            "answer",
            [q.text for q in draft.pool],
            self.prompts_dir,
            question=extractive.question,
            quotes=llm.numbered(shown),
        )
        took = (time.perf_counter() - started) * 1000
        if verified is None:
            return replace(extractive, took_ms=took)
        if verified.refused:
            related = draft.related
            return replace(
                extractive,
                answer=no_answer(related),
                abstained=True,
                quotes=(),
                related=related,
                took_ms=took,
                mode="llm",
            )
        if not verified.usable:
            return replace(extractive, took_ms=took, dropped=verified.dropped)
        quotes = tuple(draft.pool[i] for i in verified.cited)
        return replace(
            extractive, answer=verified.text, quotes=quotes, took_ms=took, mode="llm", dropped=verified.dropped
        )

    def _favour_recent(self, sentences: list[ScoredSentence]) -> list[ScoredSentence]:
        """Add up to RECENCY_WEIGHT to each sentence's score, in proportion to its article's date among
        the retrieved articles (newest: all of it, oldest: none)."""
        days = self.store.article_days(sorted({s.article_id for s in sentences}))
        ordinals = {a: date.fromisoformat(d[:10]).toordinal() for a, d in days.items()}
        if not ordinals:
            return sentences
        oldest, newest = min(ordinals.values()), max(ordinals.values())
        span = max(newest - oldest, 1)
        return [
            replace(s, score=s.score + RECENCY_WEIGHT * (ordinals.get(s.article_id, oldest) - oldest) / span)
            for s in sentences
        ]


_WH = re.compile(r"\b(who|whom|whose|what|whats|when|where|which|why|how)\b", re.I)


def asks_wh(question: str) -> bool:
    """A question asking who, what, when, where, which, why or how: the kind the answer model was
    trained on. Not one: "was gerasimov sacked", "any news on bus fares", "svalbard seed vault"."""
    return bool(_WH.search(question))


def answer_within(text: str, span: tuple[int, int] | None) -> tuple[int, int] | None:
    """The answer's characters in a quote, trimmed of spaces and a trailing comma or full stop; None when
    the span is empty or is the whole quote (then nothing would stand out)."""
    if span is None:
        return None
    start, end = max(0, span[0]), min(len(text), span[1])
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",.;:"):
        end -= 1
    if end <= start or (start == 0 and end >= len(text.rstrip(" .!?"))):
        return None
    return start, end


def no_answer(related: Iterable[ArticleRef]) -> str:
    pointer = "; ".join(f"“{r.title}” (#{r.article_id})" for r in related)
    return NO_ANSWER + (f" The closest articles are {pointer}." if pointer else "")


def citation_numbers(quotes: Iterable[Quote]) -> list[int]:
    """[1], [2], ... per article in order of first appearance: two quotes from one article share a number."""
    numbers: dict[int, int] = {}
    return [numbers.setdefault(q.article_id, len(numbers) + 1) for q in quotes]
