"""The engine's vocabulary: frozen dataclasses passed between the store, the answerer and the faces."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

AddStatus = Literal["added", "updated", "duplicate"]


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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
    question: str
    answer: str
    abstained: bool
    quotes: tuple[Quote, ...]
    took_ms: float
    related: tuple[ArticleRef, ...] = ()
    confidence: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "quotes": [q.to_json() for q in self.quotes],
            "took_ms": round(self.took_ms, 1),
            "related": [r.to_json() for r in self.related],
            "confidence": round(self.confidence, 4),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        """The inverse of to_json (keys it does not know are ignored)."""
        return cls(
            question=data["question"],
            answer=data["answer"],
            abstained=data["abstained"],
            quotes=tuple(Quote(**{k: q[k] for k in Quote.__dataclass_fields__}) for q in data.get("quotes", ())),
            took_ms=data.get("took_ms", 0.0),
            related=tuple(
                ArticleRef(**{k: r[k] for k in ArticleRef.__dataclass_fields__}) for r in data.get("related", ())
            ),
            confidence=data.get("confidence", 0.0),
        )


@dataclass(frozen=True)
class SummarySentence:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Summary:
    article_id: int
    title: str
    url: str | None
    sentences: tuple[SummarySentence, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "sentences": [asdict(s) for s in self.sentences],
        }
