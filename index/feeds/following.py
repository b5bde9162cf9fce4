"""Following feeds: collections follow RSS/Atom feeds, and new articles arrive by themselves.

One row per feed URL, however many collections (Discord servers) follow it: one fetch serves them all.
A poll is claimed in the store first (a conditional UPDATE one caller wins, with a lease a crashed
poller's claim lapses after), so with several processes on one database each feed is polled by exactly
one. Polls are conditional GETs (ETag, Last-Modified); a 304 or a body identical to the last one costs
no parsing. Each feed is polled at most every `feed_interval`, later if it asks (<ttl>, Cache-Control
max-age, Retry-After, Expires); failures back off exponentially, and a feed failing for a week is paused
with its reason, its followers told once.

A collection's first poll of a feed stores its newest `feed_backfill` items and announces none (the
older ones are only remembered as seen); later, new items are stored and, where the collection asked
for announcements, queued to be announced once (claimed before posting, like digests). An edited entry
updates its article under the same id and is not announced again; an entry seen before never is."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from index.errors import BylineError, FetchError, InvalidInput, NotFound, check_collection
from index.feeds import syndication
from index.feeds.records import Announcement, Feed, FeedPreview, Notice, PollReport, feed_of
from index.models import Article, CitedSentence
from index.storage import Articles, FeedItemRow, FeedRow, FeedStore, SubscriptionRow, utc_iso

if TYPE_CHECKING:
    from index.articles import extract
    from index.articles.fetch import FetchedPage
    from index.models import AddResult
    from index.settings import EngineSettings

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # a poll claim lapses after this (the poller crashed)
MAX_BACKOFF = timedelta(hours=6)
MAX_ASKED = timedelta(hours=24)  # a feed asking for more than a day between polls gets a day
PAUSE_AFTER = timedelta(days=7)  # of failing without a success
ANNOUNCE_WITHIN = timedelta(hours=24)  # a pending announcement older than this is dropped, not posted


class Feeds:
    def __init__(
        self,
        store: FeedStore,
        articles: Articles,
        settings: EngineSettings,
        clock: Callable[[], datetime],
        fetcher: syndication.Fetcher,
        fetch_page: Callable[[str], extract.Document],
        add_documents: Callable[..., list[AddResult]],
        rebuild_lexical: Callable[[str], None],
        remove_article: Callable[[str, int], object],
        lead: Callable[[str, int], CitedSentence | None],
        article: Callable[[str, int], Article],
    ) -> None:
        self.store = store
        self.articles = articles
        self.settings = settings
        self.clock = clock
        self.fetcher = fetcher
        self.fetch_page = fetch_page
        self.add_documents = add_documents
        self.rebuild_lexical = rebuild_lexical
        self.remove_article = remove_article
        self.lead = lead
        self.article = article

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.settings.feed_interval)

    # -- following ------------------------------------------------------------------------------
    def preview(self, url: str) -> FeedPreview:
        """The feed at `url` (or the one the page names) as the first poll would take it; nothing stored."""
        _, parsed = syndication.discover(_check_url(url), self.fetcher)
        items = parsed.items[: self.settings.feed_max_items]
        return FeedPreview(parsed.url, parsed.title, items, self.settings.feed_backfill, parsed.malformed)

    def add(self, collection: str, url: str, channel: str | None = None, announce: bool = False) -> tuple[Feed, bool]:
        """Follow a feed (a page naming one will do). (feed, True) when followed now, (feed, False) when the
        collection already followed it (its channel and announcing are updated)."""
        check_collection(collection)
        if announce and not channel:
            raise InvalidInput("Announcing new articles needs a channel to post them in.")
        url = _check_url(url)
        known = self.store.feed_by_url(url)
        if known is not None:
            feed_url, title = known.url, known.title
        else:
            page, parsed = syndication.discover(url, self.fetcher)
            feed_url, title = page.url, parsed.title
        taken = self.store.subscribe(
            feed_url, title, collection, channel, announce, utc_iso(self.clock()), self.settings.max_feeds
        )
        if taken is None:
            raise InvalidInput(
                f"This server already follows {self.settings.max_feeds} feeds, the limit; remove one first."
            )
        row, new = taken
        return self.get(collection, row.id), new

    def get(self, collection: str, feed_id: int) -> Feed:
        row, sub = self.store.feed(feed_id), self.store.subscription(feed_id, collection)
        if row is None or sub is None:
            raise NotFound(f"This server follows no feed {feed_id}; /feed list shows the ones it does.")
        return feed_of(row, sub)

    def list(self, collection: str) -> list[Feed]:
        check_collection(collection)
        feeds = []
        for sub in self.store.subscriptions(collection=collection):
            row = self.store.feed(sub.feed_id)
            if row is not None:
                feeds.append(feed_of(row, sub))
        return feeds

    def remove(self, collection: str, feed_id: int) -> Feed:
        """Stop following; the articles it brought stay (remove them like any other)."""
        feed = self.get(collection, feed_id)
        self.store.unsubscribe(feed_id, collection)
        return feed

    def pause(self, collection: str, feed_id: int) -> Feed:
        self.get(collection, feed_id)
        self.store.set_subscription_paused(feed_id, collection, True)
        return self.get(collection, feed_id)

    def resume(self, collection: str, feed_id: int) -> Feed:
        """Resume a feed paused by a moderator, or by failing for a week (then it is polled again now)."""
        self.get(collection, feed_id)
        self.store.resume_feed(feed_id, collection, utc_iso(self.clock()))
        return self.get(collection, feed_id)

    # -- polling --------------------------------------------------------------------------------
    def poll_due(self, force: bool = False) -> list[PollReport]:
        """Poll every feed that is due (every followed one with `force`), each claimed first: a feed
        another process is polling, or polled meanwhile, is left to it."""
        reports = []
        touched: set[str] = set()  # collections whose keyword index is rebuilt once, after the round
        try:
            for row in self.store.due_feeds(utc_iso(self.clock()), force):
                now = self.clock()
                if not self.store.claim_feed(row.id, utc_iso(now), utc_iso(now + LEASE), force):
                    continue
                try:
                    reports.append(self._poll(row, now, touched))
                except Exception:  # a bug or a lost database: the other feeds go on; this claim lapses
                    log.exception(
                        "polling feed %s (#%s) failed; it is tried again after the claim lapses", row.url, row.id
                    )
                    reports.append(PollReport(row.id, row.url, error="Polling this feed failed on our side."))
        finally:
            for collection in sorted(touched):
                self.rebuild_lexical(collection)
        return reports

    def _poll(self, row: FeedRow, now: datetime, touched: set[str]) -> PollReport:
        report = PollReport(row.id, row.url)
        subs = [s for s in self.store.subscriptions(feed_id=row.id) if not s.paused]
        newcomer = any(not s.primed for s in subs)
        conditional = {}
        if not newcomer:  # a collection's first poll needs the items even if the feed did not change
            if row.etag:
                conditional["If-None-Match"] = row.etag
            if row.last_modified:
                conditional["If-Modified-Since"] = row.last_modified
        try:
            page = syndication.fetch_feed(row.url, self.fetcher, conditional or None)
            if page.status == 304:
                report.not_modified = True
                self._succeeded(row, now, page, None, keep_validators=True)
                return report
            body_hash = hashlib.sha256(page.body).hexdigest()
            if body_hash == row.body_hash and not newcomer:
                report.not_modified = True
                self._succeeded(row, now, page, None, body_hash=body_hash)
                return report
            parsed = syndication.parse(page)
        except BylineError as error:
            return self._failed(row, now, error, report)
        if parsed.malformed:
            log.info("feed %s is malformed (%s); read what could be read", row.url, parsed.malformed)
        items = list(parsed.items)
        if len(items) > self.settings.feed_max_items:
            report.skipped += len(items) - self.settings.feed_max_items
            report.problems.append(
                f"The feed holds {len(items)} items; only the newest {self.settings.feed_max_items} are read per poll."
            )
            items = items[: self.settings.feed_max_items]
        documents: dict[str, extract.Document | BylineError] = {}  # one fetch per item for every collection
        for sub in subs:
            try:
                self._deliver(row, sub, items, documents, report, touched)
            except BylineError as error:  # e.g. the model changed: this collection tries again next poll
                report.problems.append(str(error))
        self._succeeded(row, now, page, parsed, body_hash=body_hash)
        return report

    def _deliver(
        self,
        row: FeedRow,
        sub: SubscriptionRow,
        items: Sequence[syndication.FeedItem],
        documents: dict[str, extract.Document | BylineError],
        report: PollReport,
        touched: set[str],
    ) -> None:
        """Store a collection's new and edited items; queue announcements for the new ones."""
        known = self.store.feed_items(row.id, sub.collection)
        seen = utc_iso(self.clock())
        remember: list[FeedItemRow] = []
        wanted: list[tuple[syndication.FeedItem, FeedItemRow | None]] = []
        fresh = [item for item in items if item.key not in known]
        if not sub.primed:
            wanted = [(item, None) for item in fresh[: self.settings.feed_backfill]]
            for item in fresh[self.settings.feed_backfill :]:  # older than the backfill: seen, never stored
                remember.append(_item_row(sub, item, None, None, seen))
                report.skipped += 1
        else:
            wanted = [(item, None) for item in fresh]
        for item in items:
            previous = known.get(item.key)
            if previous is None:
                continue
            if previous.entry_hash == item.entry_hash:
                report.unchanged += 1
            elif previous.article_id is None or self.articles.article(sub.collection, previous.article_id) is None:
                # never stored, or a moderator removed it: remember the edit, do not bring it back
                remember.append(dataclasses.replace(previous, entry_hash=item.entry_hash))
                report.unchanged += 1
            else:
                wanted.append((item, previous))
        docs = []
        for item, previous in wanted:
            if item.key not in documents:
                try:
                    documents[item.key] = syndication.document(item, self.fetch_page, self.settings.max_article_bytes)
                except BylineError as error:
                    documents[item.key] = error
            doc = documents[item.key]
            if isinstance(doc, BylineError):
                report.skipped += 1
                report.problems.append(str(doc))
                if previous is None:  # nothing to store: seen, so it is not fetched again every poll
                    remember.append(_item_row(sub, item, None, None, seen))
                continue
            docs.append(doc)
        errors: list[tuple[str, BylineError]] = []
        results = {}
        if docs:
            added = self.add_documents(sub.collection, docs, errors=errors, rebuild_lexical=False)
            results = {r.source: r for r in added}
            if any(r.status != "duplicate" for r in added):
                touched.add(sub.collection)
        for source, error in errors:  # not remembered: tried again next poll (a full collection, say)
            report.skipped += 1
            report.problems.append(str(error) if source in str(error) else f"{source}: {error}")
        for item, previous in wanted:
            result = results.get(item.key)
            if result is None:
                continue
            if previous is not None:
                report.updated += 1
                if previous.article_id != result.id and result.status != "duplicate":
                    self._drop_replaced(sub.collection, previous.article_id)
                remember.append(_item_row(sub, item, result.id, None, seen))
                continue
            if result.status == "added":
                report.added += 1
            elif result.status == "updated":
                report.updated += 1
            else:
                report.unchanged += 1
            announce = "pending" if sub.primed and sub.announce and sub.channel and result.status == "added" else None
            remember.append(_item_row(sub, item, result.id, announce, seen))
        self.store.put_feed_items(remember)
        if not sub.primed:
            self.store.mark_primed(row.id, sub.collection)

    def _drop_replaced(self, collection: str, article_id: int | None) -> None:
        """An edited entry that moved to another link came back as a new article: the old one goes."""
        if article_id is None:
            return
        try:
            self.remove_article(collection, article_id)
        except NotFound:
            pass

    def _succeeded(
        self,
        row: FeedRow,
        now: datetime,
        page: FetchedPage,
        parsed: syndication.ParsedFeed | None,
        *,
        body_hash: str | None = None,
        keep_validators: bool = False,
    ) -> None:
        asked = min(timedelta(seconds=syndication.asked_interval(page, parsed, now.timestamp())), MAX_ASKED)
        self.store.finish_poll(
            row.id,
            next_poll=utc_iso(now + max(self.interval, asked)),
            polled=utc_iso(now),
            title=parsed.title if parsed is not None else None,
            etag=page.headers.get("etag"),
            last_modified=page.headers.get("last-modified"),
            body_hash=body_hash,
            keep_validators=keep_validators,
        )

    def _failed(self, row: FeedRow, now: datetime, error: BylineError, report: PollReport) -> PollReport:
        failures = row.failures + 1
        since = datetime.fromisoformat(row.failing_since) if row.failing_since else now
        delay = min(self.interval * 2**failures, MAX_BACKOFF)
        asked = error.retry_after if isinstance(error, FetchError) else None
        if asked:
            delay = max(delay, min(timedelta(seconds=asked), MAX_ASKED))
        reason = syndication.failure_reason(error)
        paused = reason if now - since >= PAUSE_AFTER else None
        self.store.finish_poll(
            row.id,
            next_poll=utc_iso(now + delay),
            polled=utc_iso(now),
            keep_validators=True,
            failures=failures,
            failing_since=utc_iso(since),
            last_error=str(error),
            paused_reason=paused,
        )
        if paused:
            log.warning("feed %s failed for a week (%s): paused", row.url, reason)
        report.error = str(error)
        return report

    # -- announcing -----------------------------------------------------------------------------
    def announcements(self) -> tuple[list[Announcement], list[Notice]]:
        """Claim the announcements to post now, each at most once whatever other processes do. One past
        its channel's hourly limit, older than a day, or whose article is gone is dropped instead; the
        first drop for the limit in an hour brings one notice for the channel."""
        now = self.clock()
        hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        posts: list[Announcement] = []
        notices: list[Notice] = []
        subs: dict[tuple[int, str], SubscriptionRow | None] = {}
        feeds: dict[int, FeedRow | None] = {}
        for item in self.store.pending_announcements():
            key = (item.feed_id, item.collection)
            if key not in subs:
                subs[key] = self.store.subscription(*key)
            if item.feed_id not in feeds:
                feeds[item.feed_id] = self.store.feed(item.feed_id)
            sub, feed = subs[key], feeds[item.feed_id]
            stale = datetime.fromisoformat(item.seen) < now - ANNOUNCE_WITHIN
            if sub is None or feed is None or not sub.channel or not sub.announce or stale or item.article_id is None:
                self.store.claim_announcement(item, "dropped", utc_iso(now))
                continue
            posted = self.store.announced_since(sub.channel, utc_iso(now - timedelta(hours=1)))
            if posted >= self.settings.feed_announce_per_hour:
                if self.store.claim_announcement(item, "dropped", utc_iso(now)) and self.store.claim_limit_notice(
                    sub.channel, utc_iso(hour)
                ):
                    notices.append(
                        Notice(
                            item.collection,
                            sub.channel,
                            f"More than {self.settings.feed_announce_per_hour} new articles arrived from feeds this"
                            " hour; the rest are stored but not announced here (members can still ask about them).",
                        )
                    )
                continue
            try:
                article = self.article(item.collection, item.article_id)
            except NotFound:
                self.store.claim_announcement(item, "dropped", utc_iso(now))
                continue
            if self.store.claim_announcement(item, "posted", utc_iso(now)):
                lead = self.lead(item.collection, article.id)
                posts.append(Announcement(item.collection, sub.channel, feed.title, article, lead))
        for sub in self.store.subscriptions(notice="pending"):
            if self.store.claim_notice(sub.feed_id, sub.collection):
                feed = self.store.feed(sub.feed_id)
                if feed is not None and sub.channel:
                    notices.append(
                        Notice(
                            sub.collection,
                            sub.channel,
                            f"The feed {feed.url} has failed for a week ({feed.paused_reason}) and is paused;"
                            f" /feed resume feed:{feed.id} tries it again.",
                        )
                    )
        return posts, notices


def _item_row(
    sub: SubscriptionRow, item: syndication.FeedItem, article_id: int | None, announce: str | None, seen: str
) -> FeedItemRow:
    return FeedItemRow(sub.feed_id, sub.collection, item.key, item.entry_hash, article_id, announce, seen, None)


def _check_url(url: str) -> str:
    url = (url or "").strip()
    if not url.startswith(("http://", "https://")):
        raise InvalidInput("A feed is an http(s) link, such as https://example.com/rss.xml.")
    return url
