"""The engine's vocabulary: frozen dataclasses passed between the store, the answerer and the faces."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

AddStatus = Literal["added", "updated", "duplicate"]
# "extractive": the articles' own sentences. "llm": text a model wrote over the quotes, every sentence
# verified against the quotes it cites (index/asking/llm.py); its [n] refers to quotes[n-1] / sentences[n-1].
Mode = Literal["extractive", "llm"]


@dataclass(frozen=True)
class Dropped:
    """A sentence the model wrote that failed verification and was never shown, with the reason."""

    sentence: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"sentence": self.sentence, "reason": self.reason}


@dataclass(frozen=True)
class Article:
    id: int
    collection: str
    title: str
    url: str | None
    published: str | None
    added: str
    chunks: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "published": self.published,
            "added": self.added,
            "chunks": self.chunks,
        }


@dataclass(frozen=True)
class AddResult:
    id: int
    title: str
    url: str | None
    published: str | None
    chunks: int
    status: AddStatus
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "published": self.published,
            "chunks": self.chunks,
            "status": self.status,
        }


@dataclass(frozen=True)
class CollectionStats:
    """What one collection holds: its articles and chunks, and the answers logged and votes cast in it."""

    name: str
    articles: int
    chunks: int
    answers: int
    votes: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Quote:
    """A verbatim span of an article: text == article_text[start:end]."""

    text: str
    article_id: int
    title: str
    url: str | None
    published: str | None
    start: int
    end: int
    score: float
    # Where the answer lies inside the quote (characters of `text`, end exclusive), when the answer model
    # found it: the quote stays verbatim, the faces only emphasise text[answer_span[0]:answer_span[1]].
    answer_span: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Quote:
        """The inverse of to_json; a quote logged before answer spans existed has none."""
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if fields.get("answer_span") is not None:
            fields["answer_span"] = tuple(fields["answer_span"])
        return cls(**fields)


@dataclass(frozen=True)
class ArticleRef:
    """A pointer to an article (used when the bot abstains: 'the closest articles are ...')."""

    article_id: int
    title: str
    url: str | None
    published: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """In extractive mode `answer` is the quotes themselves with per-article citation numbers; in LLM mode it
    is the model's verified text, whose [n] is quotes[n-1] (the quotes it cites, in order of first citation).
    `dropped` lists the model's sentences that failed verification (also when it fell back to extractive)."""

    question: str
    answer: str
    abstained: bool
    quotes: tuple[Quote, ...]
    took_ms: float
    related: tuple[ArticleRef, ...] = ()
    confidence: float = 0.0
    mode: Mode = "extractive"
    dropped: tuple[Dropped, ...] = ()
    # The question's embedding as retrieval used it (a float32 array; None where nothing was retrieved). The
    # answer log keeps it, so insights group members' questions without embedding them again. Not in to_json.
    question_vector: Any = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "quotes": [q.to_json() for q in self.quotes],
            "took_ms": round(self.took_ms, 1),
            "related": [r.to_json() for r in self.related],
            "confidence": round(self.confidence, 4),
            "mode": self.mode,
            "dropped": [d.to_json() for d in self.dropped],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        """The inverse of to_json (keys it does not know are ignored)."""
        return cls(
            question=data["question"],
            answer=data["answer"],
            abstained=data["abstained"],
            quotes=tuple(Quote.from_json(q) for q in data.get("quotes", ())),
            took_ms=data.get("took_ms", 0.0),
            related=tuple(
                ArticleRef(**{k: r[k] for k in ArticleRef.__dataclass_fields__}) for r in data.get("related", ())
            ),
            confidence=data.get("confidence", 0.0),
            mode=data.get("mode", "extractive"),
            dropped=tuple(Dropped(d["sentence"], d["reason"]) for d in data.get("dropped", ())),
        )


@dataclass(frozen=True)
class SummarySentence:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Summary:
    """Extractive: `sentences` are the summary, in article order, and `summary` is None. LLM: `summary` is
    the model's verified text and `sentences` the article sentences it cites ([n] is sentences[n-1])."""

    article_id: int
    title: str
    url: str | None
    sentences: tuple[SummarySentence, ...] = field(default_factory=tuple)
    mode: Mode = "extractive"
    summary: str | None = None
    dropped: tuple[Dropped, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "sentences": [asdict(s) for s in self.sentences],
            "mode": self.mode,
            "summary": self.summary,
            "dropped": [d.to_json() for d in self.dropped],
        }


@dataclass(frozen=True)
class CitedSentence:
    """A verbatim sentence of an article (text == article_text[start:end]) with what is needed to cite it."""

    text: str
    article_id: int
    title: str
    url: str | None
    published: str | None
    start: int
    end: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TopicSummary:
    """Central, non-repeating sentences across the articles about a topic, ordered by date then position.
    `abstained` when the articles don't cover the topic (then `message` says so and `articles` holds the
    closest ones); `since`/`until` are the window searched, if any (ISO dates)."""

    topic: str
    sentences: tuple[CitedSentence, ...]
    articles: tuple[ArticleRef, ...]
    abstained: bool = False
    message: str = ""
    since: str | None = None
    until: str | None = None
    took_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "sentences": [s.to_json() for s in self.sentences],
            "articles": [a.to_json() for a in self.articles],
            "abstained": self.abstained,
            "message": self.message,
            "since": self.since,
            "until": self.until,
            "took_ms": round(self.took_ms, 1),
        }


@dataclass(frozen=True)
class Story:
    """Articles about one story (near-duplicates and follow-ups), newest first, with a short extractive lead."""

    lead: tuple[CitedSentence, ...]
    articles: tuple[Article, ...]

    def to_json(self) -> dict[str, Any]:
        return {"lead": [s.to_json() for s in self.lead], "articles": [a.to_json() for a in self.articles]}


@dataclass(frozen=True)
class Digest:
    """The articles added or published from `since` to `until` (ISO dates, inclusive), grouped by story,
    newest story first."""

    days: int
    since: str
    until: str
    stories: tuple[Story, ...]

    @property
    def article_count(self) -> int:
        return sum(len(s.articles) for s in self.stories)

    def to_json(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "since": self.since,
            "until": self.until,
            "articles": self.article_count,
            "stories": [s.to_json() for s in self.stories],
        }


@dataclass(frozen=True)
class Gap:
    """Questions of one meaning that the articles did not answer (abstained) or that members voted 👎.
    `closed_by`: the article that answers its question now, when re-asking it today gets quotes."""

    count: int
    first_asked: str  # ISO datetimes, UTC
    last_asked: str
    examples: tuple[str, ...]  # up to 3 distinct questions, the most typical first
    abstained: int
    downvoted: int
    closed_by: ArticleRef | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "first_asked": self.first_asked,
            "last_asked": self.last_asked,
            "examples": list(self.examples),
            "abstained": self.abstained,
            "downvoted": self.downvoted,
            "closed": self.closed_by is not None,
            "closed_by": self.closed_by.to_json() if self.closed_by else None,
        }


@dataclass(frozen=True)
class DayCount:
    day: str  # ISO date, UTC
    answered: int
    abstained: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QuotedArticle:
    article_id: int
    title: str
    url: str | None
    answers: int  # answers in the window that quoted it

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Insights:
    """What members asked one collection from `since` to `until` (ISO dates, inclusive) and what the articles
    could not answer. `askers` is a count: no name or id of a member is ever in here. `gaps` are the open
    ones, biggest first; `closed` the gaps an article added since answers now."""

    collection: str
    days: int
    since: str
    until: str
    questions: int
    answered: int
    abstained: int
    up: int
    down: int
    askers: int
    per_day: tuple[DayCount, ...]
    gaps: tuple[Gap, ...]
    closed: tuple[Gap, ...]
    most_quoted: tuple[QuotedArticle, ...]
    never_quoted: tuple[ArticleRef, ...]
    never_quoted_count: int
    kept_days: int  # how long the log is kept (BYLINE_ANSWER_LOG_DAYS)

    def to_json(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "days": self.days,
            "since": self.since,
            "until": self.until,
            "questions": self.questions,
            "answered": self.answered,
            "abstained": self.abstained,
            "votes": {"up": self.up, "down": self.down},
            "askers": self.askers,
            "per_day": [d.to_json() for d in self.per_day],
            "gaps": [g.to_json() for g in self.gaps],
            "closed_gaps": [g.to_json() for g in self.closed],
            "most_quoted": [a.to_json() for a in self.most_quoted],
            "never_quoted": [a.to_json() for a in self.never_quoted],
            "never_quoted_count": self.never_quoted_count,
            "kept_days": self.kept_days,
        }
