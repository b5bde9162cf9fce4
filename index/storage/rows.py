"""The rows the store hands out and takes in: small frozen dataclasses, the same for every backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np


@dataclass(frozen=True)
class ArticleRow:
    id: int
    collection: str
    title: str
    url: str | None
    published: str | None
    added: str
    text: str
    content_hash: str
    body_end: int
    chunks: int = 0


@dataclass(frozen=True)
class ChunkRow:
    id: int
    article_id: int
    first_sentence: int
    last_sentence: int
    start: int
    end: int


@dataclass(frozen=True)
class NewArticle:
    """Everything needed to store an article in one transaction."""

    title: str
    url: str | None
    published: str | None
    text: str
    content_hash: str
    body_end: int
    source: str
    sentences: Sequence[tuple[int, int, bool]]  # (start, end, quotable)
    sentence_vectors: np.ndarray
    chunks: Sequence[tuple[int, int]]  # (first_sentence, last_sentence)
    chunk_vectors: np.ndarray


@dataclass(frozen=True)
class SavedArticle:
    """What save_article did: "added"; "updated" (an article of the same URL got the new content, its
    chunks `removed` and `added` anew); or "duplicate" (the same text is stored already, as `id`: nothing
    written)."""

    id: int
    status: str
    removed: list[int]
    added: list[int]


@dataclass(frozen=True)
class StoredTwin:
    """The layout and vectors of a stored article, for another copy of the same text."""

    sentences: list[tuple[int, int, bool]]  # (start, end, quotable)
    chunks: list[tuple[int, int]]  # (first_sentence, last_sentence)
    sentence_vectors: np.ndarray
    chunk_vectors: np.ndarray


@dataclass(frozen=True)
class AnswerRow:
    """One logged answer, its Answer still as the JSON text it was stored as."""

    id: int
    collection: str
    question: str
    answer_json: str
    asked_by: str | None
    message_id: str | None
    created: str


@dataclass(frozen=True)
class VoteRow:
    answer_id: int
    collection: str
    question: str
    answer_json: str
    user_id: str
    vote: int  # +1 or -1
    created: str


@dataclass(frozen=True)
class ScheduleRow:
    collection: str
    target: str
    weekday: int
    minute_of_day: int
    days: int
    created: str
    last_period: str | None


@dataclass(frozen=True)
class LoggedRow:
    """One logged answer as insights reads it: its votes summed, its question's vector if already made."""

    id: int
    question: str
    answer_json: str
    asked_by: str | None
    created: str
    question_vector: np.ndarray | None
    up: int
    down: int


# (index, start, end, quotable, vector) of one sentence of an article
SentenceRow = tuple[int, int, int, bool, np.ndarray]


def utc_iso(moment: datetime) -> str:
    """A moment as the store writes times: UTC, whole seconds, ISO 8601 (so that strings compare in order)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def utc_now() -> str:
    return utc_iso(datetime.now(UTC))


@dataclass(frozen=True)
class FeedRow:
    """A feed as polled: one row per URL, shared by every collection that follows it."""

    id: int
    url: str
    title: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_poll: str
    claimed_until: str | None
    failures: int
    failing_since: str | None
    last_error: str | None
    paused_reason: str | None
    last_polled: str | None
    created: str


@dataclass(frozen=True)
class SubscriptionRow:
    feed_id: int
    collection: str
    channel: str | None
    announce: bool
    paused: bool
    primed: bool
    notice: str | None  # the pause notice: None, "pending" or "sent"
    created: str


@dataclass(frozen=True)
class FeedItemRow:
    feed_id: int
    collection: str
    item_key: str
    entry_hash: str
    article_id: int | None
    announce: str | None  # None, "pending", "posted" or "dropped"
    seen: str
    announced: str | None
