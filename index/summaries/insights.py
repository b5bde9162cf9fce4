"""Insights for moderators: the answer log of one collection over the last days, written up. How many
questions, how many the articles answered, the votes, how many members asked (a count, never who); the
gaps (questions the articles did not answer, or answered to a 👎, grouped by meaning); which of those an
article added since answers now; the most-quoted articles and those never quoted.

Cheap by construction: the log is read in one query; each question's vector is in the log already (the
embedding retrieval made when it was answered; a row logged before that, or by another model, is embedded
once and kept); grouping is one similarity matrix; and only gaps that an article added
since their last asking could close are asked again (the few that article is closest to), through the
engine's answering, which logs nothing (only the faces log)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np

from index.asking.feedback import FeedbackLog
from index.errors import InvalidInput, check_collection
from index.models import Answer, ArticleRef, DayCount, Gap, Insights, QuotedArticle
from index.storage import AnswerLogStore, Articles, Layout, LoggedRow, utc_iso

# Two questions are one gap when their cosine (MiniLM) reaches this, measured to the gap's most typical
# question. Paraphrases sit at 0.74-0.95 ("how old is the new pope" / "the pope's age?" 0.88, "which country
# won the 2022 world cup" / "who won the world cup in 2022" 0.95); unrelated questions below 0.25, questions
# on one subject but another ask ("weather tomorrow in London" / "when will it rain in London") near 0.67.
# Questions about one person ("who is the new pope" / "how old is the new pope", 0.85) do group: one
# article answers both, which is what a moderator needs to know.
GAP_COSINE = 0.72
EXAMPLES = 3
MAX_GAPS = 50  # in the write-up; the total is counted anyway
# Gaps asked again, at most (one ask each, ~85 ms with the answer model): of those an article added since
# their last asking could answer, the ones whose question that article's nearest chunk comes closest to.
RECHECK = 10
# Distinct gap questions grouped at most (the most recent): the similarity matrix is n x n.
MAX_GAP_QUESTIONS = 4000
MOST_QUOTED = 10
NEVER_QUOTED = 25


def normalised(question: str) -> str:
    """One spelling per question for counting repeats: case, spacing and end punctuation do not matter."""
    return re.sub(r"\s+", " ", question.casefold()).strip(" ?!.")


def group(vectors: np.ndarray, threshold: float = GAP_COSINE) -> list[list[int]]:
    """Greedy centre clustering of normalised vectors: the row with the most neighbours (cosine >= threshold)
    among the rows left becomes a centre and takes those neighbours; repeat until every row is placed. Each
    group lists its centre first. O(n^2) memory and time, no iteration to converge, deterministic."""
    n = len(vectors)
    if n == 0:
        return []
    near = (vectors @ vectors.T) >= threshold
    left = np.ones(n, dtype=bool)
    counts = near.sum(axis=1)
    groups: list[list[int]] = []
    while left.any():
        centre = int(np.argmax(np.where(left, counts, -1)))
        members = np.flatnonzero(near[centre] & left)
        members = members[members != centre]
        groups.append([centre, *members.tolist()])
        taken = np.append(members, centre)
        left[taken] = False
        counts -= near[:, taken].sum(axis=1)  # neighbours already placed no longer count
    return groups


@dataclass
class _Question:
    """One distinct gap question (its spellings counted together)."""

    text: str
    rows: list[LoggedRow] = field(default_factory=list)
    abstained: int = 0
    downvoted: int = 0


class InsightsRoom:
    """Handed its collaborators (the log, the articles, the embedder, an ask that logs nothing, the clock):
    it never imports the engine."""

    def __init__(
        self,
        log: AnswerLogStore,
        articles: Articles,
        layout: Layout,
        feedback: FeedbackLog,
        encode: Callable[[Sequence[str]], np.ndarray],
        model: Callable[[], str],
        ask: Callable[[str, str], Answer],
        clock: Callable[[], datetime],
    ) -> None:
        self.log = log
        self.articles = articles
        self.layout = layout
        self.feedback = feedback
        self.encode = encode
        self.model = model
        self.ask = ask
        self.clock = clock

    def insights(self, collection: str, days: int = 7) -> Insights:
        check_collection(collection)
        keep = self.feedback.keep_days
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= keep:
            raise InvalidInput(f"Insights cover 1 to {keep} days (the answer log is kept {keep} days), not {days}.")
        now = self.clock().astimezone(UTC)  # days are UTC days, as the log's times are
        self.feedback.prune(now)  # never show what retention should already have deleted
        today = now.date()
        first = today - timedelta(days=days - 1)
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        rows = self.log.answers_between(collection, utc_iso(start), utc_iso(now + timedelta(seconds=1)), self.model())
        stored = self.articles.articles(collection)
        if not rows and not stored:
            raise InvalidInput(
                f"The collection {collection!r} has no articles and no logged questions yet: nothing to show."
            )
        answers = [json.loads(row.answer_json) for row in rows]
        abstained = [bool(a["abstained"]) for a in answers]
        per_day = {(first + timedelta(days=i)).isoformat(): [0, 0] for i in range(days)}
        for row, no in zip(rows, abstained, strict=True):
            counts = per_day.get(row.created[:10])
            if counts is not None:
                counts[no] += 1
        quoted = self._quoted(answers, abstained)
        known, cited = {r.id for r in stored}, {q.article_id for q in quoted}
        most_quoted = tuple(q for q in quoted if q.article_id in known)[:MOST_QUOTED]
        never = [ArticleRef(r.id, r.title, r.url, r.published) for r in stored if r.id not in cited]
        gaps = self._gaps([(row, no) for row, no in zip(rows, abstained, strict=True) if no or row.down > 0])
        gaps = self._recheck(collection, gaps, {r.id: r.added for r in stored})
        return Insights(
            collection=collection,
            days=days,
            since=first.isoformat(),
            until=today.isoformat(),
            questions=len(rows),
            answered=abstained.count(False),
            abstained=abstained.count(True),
            up=sum(row.up for row in rows),
            down=sum(row.down for row in rows),
            askers=len({row.asked_by for row in rows if row.asked_by is not None}),
            per_day=tuple(DayCount(day, a, n) for day, (a, n) in per_day.items()),
            gaps=tuple(g for g in gaps if g.closed_by is None)[:MAX_GAPS],
            closed=tuple(g for g in gaps if g.closed_by is not None),
            most_quoted=most_quoted,
            never_quoted=tuple(never[:NEVER_QUOTED]),
            never_quoted_count=len(never),
            kept_days=keep,
        )

    @staticmethod
    def _quoted(answers: list[dict], abstained: list[bool]) -> list[QuotedArticle]:
        """Articles by how many answers quoted them (an answer quoting one article twice counts once)."""
        counts: Counter[int] = Counter()
        refs: dict[int, tuple[str, str | None]] = {}
        for answer, no in zip(answers, abstained, strict=True):
            if no:
                continue
            for quote in answer["quotes"]:
                refs[quote["article_id"]] = (quote["title"], quote.get("url"))
            counts.update({quote["article_id"] for quote in answer["quotes"]})
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return [QuotedArticle(i, refs[i][0], refs[i][1], n) for i, n in ranked]

    def _gaps(self, flagged: list[tuple[LoggedRow, bool]]) -> list[tuple[Gap, str, np.ndarray]]:
        """The gap questions grouped by meaning, biggest first (ties: most recently asked first), each with
        the question to ask again (its most typical one) and that question's vector."""
        questions: dict[str, _Question] = {}
        for row, no in flagged:
            question = questions.setdefault(normalised(row.question), _Question(row.question))
            question.rows.append(row)
            question.abstained += no
            question.downvoted += row.down > 0
        # the most recent distinct questions when there are too many to compare pairwise
        distinct = sorted(questions.values(), key=lambda q: q.rows[-1].created, reverse=True)[:MAX_GAP_QUESTIONS]
        vectors = self._vectors(distinct)
        gaps = []
        for members in group(vectors):
            centre = distinct[members[0]]
            chosen = [distinct[m] for m in members]
            times = [row.created for q in chosen for row in q.rows]
            # examples: the centre, then the most asked others (distinct spellings by construction)
            others = sorted(chosen[1:], key=lambda q: (-len(q.rows), q.text))
            examples = tuple(q.text for q in [centre, *others][:EXAMPLES])
            gap = Gap(
                count=sum(len(q.rows) for q in chosen),
                first_asked=min(times),
                last_asked=max(times),
                examples=examples,
                abstained=sum(q.abstained for q in chosen),
                downvoted=sum(q.downvoted for q in chosen),
            )
            gaps.append((gap, centre.text, vectors[members[0]]))
        gaps.sort(key=lambda item: item[0].last_asked, reverse=True)
        gaps.sort(key=lambda item: item[0].count, reverse=True)  # stable: ties stay most recent first
        return gaps

    def _vectors(self, questions: list[_Question]) -> np.ndarray:
        """Each question's vector: the one kept in the log, or embedded now and kept for next time."""
        vectors: list[np.ndarray | None] = []
        for question in questions:
            kept = next((r.question_vector for r in question.rows if r.question_vector is not None), None)
            vectors.append(kept)
        missing = [i for i, v in enumerate(vectors) if v is None]
        if missing:
            made = self.encode([questions[i].text for i in missing])
            for i, vector in zip(missing, made, strict=True):
                vectors[i] = vector
            self.log.put_question_vectors(
                [(row.id, made[n]) for n, i in enumerate(missing) for row in questions[i].rows], self.model()
            )
        if not vectors:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack(vectors).astype(np.float32)

    def _recheck(self, collection: str, gaps: list[tuple[Gap, str, np.ndarray]], added: dict[int, str]) -> list[Gap]:
        """Ask some gaps' questions again, now. Only a gap with an article added (or updated) since it was last
        asked can close: the same articles would give the same answer. Of those, the RECHECK gaps whose
        question the nearest chunk of such a newer article comes closest to (cosine) are asked, whatever their
        size, so that a new article answering the twentieth gap is found too. A gap is closed when its answer
        now quotes a newer article (an answer from the old ones, as a 👎'd question gets again, closes
        nothing)."""
        newest = max(added.values(), default="")
        waiting = [n for n, (gap, _, _) in enumerate(gaps) if newest > gap.last_asked]
        chosen: set[int] = set()
        if waiting:
            oldest = min(gaps[n][0].last_asked for n in waiting)
            owners, chunks = self.layout.chunk_vectors_of([i for i, when in added.items() if when > oldest])
            if len(owners):
                chunk_added = np.array([added[int(i)] for i in owners])
                closeness = np.vstack([gaps[n][2] for n in waiting]) @ chunks.T  # gaps x newer chunks
                nearest = [
                    float(np.max(row[chunk_added > gaps[n][0].last_asked], initial=-1.0))
                    for n, row in zip(waiting, closeness, strict=True)
                ]
                ranked = sorted(range(len(waiting)), key=lambda k: (-nearest[k], waiting[k]))
                chosen = {waiting[k] for k in ranked[:RECHECK]}
        checked = []
        for n, (gap, question, _) in enumerate(gaps):
            if n in chosen:
                answer = self.ask(collection, question)
                newer = [q for q in answer.quotes if added.get(q.article_id, "") > gap.last_asked]
                if not answer.abstained and newer:
                    quote = newer[0]
                    gap = replace(gap, closed_by=ArticleRef(quote.article_id, quote.title, quote.url, quote.published))
            checked.append(gap)
        return checked
