"""What the feeds room hands the faces: a followed feed (`Feed`), one poll's report (`PollReport`), a dry
run's preview (`FeedPreview`), and what to post in Discord (`Announcement`, `Notice`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from index.feeds import syndication
from index.models import Article, CitedSentence
from index.storage import FeedRow, SubscriptionRow


@dataclass(frozen=True)
class Feed:
    """A feed as one collection follows it."""

    id: int
    url: str
    title: str
    collection: str
    channel: str | None
    announce: bool
    paused: bool  # by a moderator of this collection
    paused_reason: str | None  # the feed itself, after failing for a week
    failures: int
    last_error: str | None
    last_polled: str | None
    next_poll: str
    created: str

    @property
    def status(self) -> str:
        if self.paused_reason:
            return f"paused: {self.paused_reason}"
        if self.paused:
            return "paused"
        if self.failures:
            return "failing"
        return "active"

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "channel": self.channel,
            "announce": self.announce,
            "status": self.status,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_polled": self.last_polled,
            "next_poll": self.next_poll,
        }


def feed_of(row: FeedRow, sub: SubscriptionRow) -> Feed:
    return Feed(
        row.id,
        row.url,
        row.title,
        sub.collection,
        sub.channel,
        sub.announce,
        sub.paused,
        row.paused_reason,
        row.failures,
        row.last_error,
        row.last_polled,
        row.next_poll,
        sub.created,
    )


@dataclass
class PollReport:
    """One feed's poll, summed over the collections following it."""

    id: int
    url: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    error: str | None = None
    not_modified: bool = False  # a 304, or the same bytes as last time: nothing was parsed
    problems: list[str] = field(default_factory=list)  # items that could not be stored, one sentence each

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "url": self.url,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "error": self.error,
            "not_modified": self.not_modified,
            "problems": self.problems,
        }


@dataclass(frozen=True)
class FeedPreview:
    """What following a feed would do (nothing stored): its items, and how many the first poll takes."""

    url: str
    title: str
    items: tuple[syndication.FeedItem, ...]
    backfill: int
    malformed: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "title": self.title,
            "items": [item.to_json() for item in self.items],
            "would_add": min(self.backfill, len(self.items)),
            "malformed": self.malformed,
        }


@dataclass(frozen=True)
class Announcement:
    """A new item to post once in a channel: its article and one quoted lead sentence."""

    collection: str
    channel: str
    feed_title: str
    article: Article
    lead: CitedSentence | None


@dataclass(frozen=True)
class Notice:
    """One sentence for a collection's moderators' channel (a feed paused, a limit reached)."""

    collection: str
    channel: str
    text: str
