"""Queries of the feeds role: feeds (one row per URL), the collections following each, and the items
each has seen. Polls and announcements are claimed by conditional UPDATEs that succeed for one caller
only, on SQLite and PostgreSQL alike, so several processes never poll one feed or post one item twice."""

from __future__ import annotations

from collections.abc import Sequence

from index.storage.database import OWN_ROWS, Database
from index.storage.rows import FeedItemRow, FeedRow, SubscriptionRow

FEED_COLUMNS = (
    "id, url, title, etag, last_modified, body_hash, next_poll, claimed_until, failures, failing_since,"
    " last_error, paused_reason, last_polled, created"
)
SUBSCRIPTION_COLUMNS = "feed_id, collection, channel, announce, paused, primed, notice, created"
ITEM_COLUMNS = "feed_id, collection, item_key, entry_hash, article_id, announce, seen, announced"
# A feed is polled while at least one collection follows it unpaused.
_FOLLOWED = "EXISTS (SELECT 1 FROM feed_subscriptions s WHERE s.feed_id = feeds.id AND s.paused = 0)"
# A feed's row (what it knows of the feed) goes with its last follower.
UNFOLLOWED_FEEDS = "DELETE FROM feeds WHERE NOT EXISTS (SELECT 1 FROM feed_subscriptions s WHERE s.feed_id = feeds.id)"


def _subscription(row: Sequence) -> SubscriptionRow:
    feed_id, collection, channel, announce, paused, primed, notice, created = row
    return SubscriptionRow(feed_id, collection, channel, bool(announce), bool(paused), bool(primed), notice, created)


class FeedQueries(Database):
    # -- feeds ------------------------------------------------------------------------------------
    def feed(self, feed_id: int) -> FeedRow | None:
        row = self._connect().execute(f"SELECT {FEED_COLUMNS} FROM feeds WHERE id = ?", (feed_id,)).fetchone()
        return FeedRow(*row) if row else None

    def feed_by_url(self, url: str) -> FeedRow | None:
        row = self._connect().execute(f"SELECT {FEED_COLUMNS} FROM feeds WHERE url = ?", (url,)).fetchone()
        return FeedRow(*row) if row else None

    def subscribe(
        self, url: str, title: str, collection: str, channel: str | None, announce: bool, now: str, limit: int
    ) -> tuple[FeedRow, bool] | None:
        """Follow the feed at `url` from `collection` (making the feed's row if it is new, due now).
        (feed, True) if subscribed now, (feed, False) if it already was (its channel and announce are
        updated), None if the collection already follows `limit` feeds."""
        with self.write(OWN_ROWS) as conn:
            updated = conn.execute(
                "UPDATE feed_subscriptions SET channel = ?, announce = ? WHERE collection = ?"
                " AND feed_id = (SELECT id FROM feeds WHERE url = ?)",
                (channel, int(announce), collection, url),
            ).rowcount
            if not updated:
                count = conn.execute(
                    "SELECT count(*) FROM feed_subscriptions WHERE collection = ?", (collection,)
                ).fetchone()[0]
                if count >= limit:
                    return None
            conn.execute(
                "INSERT INTO feeds (url, title, next_poll, created) VALUES (?, ?, ?, ?) ON CONFLICT (url) DO NOTHING",
                (url, title, now, now),
            )
            feed = FeedRow(*conn.execute(f"SELECT {FEED_COLUMNS} FROM feeds WHERE url = ?", (url,)).fetchone())
            if updated:
                return feed, False
            conn.execute(
                "INSERT INTO feed_subscriptions (feed_id, collection, channel, announce, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (feed.id, collection, channel, int(announce), now),
            )
            # a feed nobody polled lately (all its followers had paused it) is due for the newcomer now
            conn.execute("UPDATE feeds SET next_poll = ? WHERE id = ? AND next_poll > ?", (now, feed.id, now))
            return feed, True

    def unsubscribe(self, feed_id: int, collection: str) -> bool:
        """Stop following; the feed's row (and what it knows of the feed) goes with its last follower."""
        with self.write(OWN_ROWS) as conn:
            gone = conn.execute(
                "DELETE FROM feed_subscriptions WHERE feed_id = ? AND collection = ?", (feed_id, collection)
            ).rowcount
            conn.execute("DELETE FROM feed_items WHERE feed_id = ? AND collection = ?", (feed_id, collection))
            conn.execute(UNFOLLOWED_FEEDS + " AND id = ?", (feed_id,))
            return gone > 0

    def due_feeds(self, now: str, force: bool = False) -> list[FeedRow]:
        """Feeds someone follows unpaused, not paused for failing, not claimed, and due (any time: force)."""
        sql = f"SELECT {FEED_COLUMNS} FROM feeds WHERE paused_reason IS NULL AND {_FOLLOWED}"
        sql += " AND (claimed_until IS NULL OR claimed_until <= ?)"
        params: list[object] = [now]
        if not force:
            sql += " AND next_poll <= ?"
            params.append(now)
        rows = self._connect().execute(sql + " ORDER BY next_poll, id", params).fetchall()
        return [FeedRow(*row) for row in rows]

    def claim_feed(self, feed_id: int, now: str, until: str, force: bool = False) -> bool:
        """Take the feed's next poll: True for one caller only, until `until` (a crashed poller's claim
        lapses then, and another process polls the feed)."""
        sql = (
            "UPDATE feeds SET claimed_until = ? WHERE id = ? AND paused_reason IS NULL"
            " AND (claimed_until IS NULL OR claimed_until <= ?)"
        )
        params: list[object] = [until, feed_id, now]
        if not force:
            sql += " AND next_poll <= ?"
            params.append(now)
        with self.write(OWN_ROWS) as conn:
            return conn.execute(sql, params).rowcount == 1

    def finish_poll(
        self,
        feed_id: int,
        *,
        next_poll: str,
        polled: str,
        title: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        body_hash: str | None = None,
        keep_validators: bool = False,
        failures: int = 0,
        failing_since: str | None = None,
        last_error: str | None = None,
        paused_reason: str | None = None,
    ) -> None:
        """Record a poll's outcome and release the claim; a feed paused here tells its followers once."""
        with self.write(OWN_ROWS) as conn:
            validators = "" if keep_validators else ", etag = ?, last_modified = ?, body_hash = ?"
            params: list[object] = [next_poll, polled, failures, failing_since, last_error, paused_reason]
            if not keep_validators:
                params += [etag, last_modified, body_hash]
            conn.execute(
                "UPDATE feeds SET claimed_until = NULL, next_poll = ?, last_polled = ?, failures = ?,"
                f" failing_since = ?, last_error = ?, paused_reason = ?{validators}"
                + (", title = ?" if title else "")
                + " WHERE id = ?",
                [*params, *([title] if title else []), feed_id],
            )
            if paused_reason:
                conn.execute(
                    "UPDATE feed_subscriptions SET notice = 'pending' WHERE feed_id = ? AND notice IS NULL",
                    (feed_id,),
                )

    def resume_feed(self, feed_id: int, collection: str, now: str) -> bool:
        """A moderator resumes: their subscription, and the feed itself if it was paused for failing."""
        with self.write(OWN_ROWS) as conn:
            found = conn.execute(
                "UPDATE feed_subscriptions SET paused = 0, notice = NULL WHERE feed_id = ? AND collection = ?",
                (feed_id, collection),
            ).rowcount
            if found:
                conn.execute(
                    "UPDATE feeds SET paused_reason = NULL, failures = 0, failing_since = NULL, next_poll = ?"
                    " WHERE id = ? AND (paused_reason IS NOT NULL OR next_poll > ?)",
                    (now, feed_id, now),
                )
            return found > 0

    # -- subscriptions ----------------------------------------------------------------------------
    def subscription(self, feed_id: int, collection: str) -> SubscriptionRow | None:
        row = (
            self._connect()
            .execute(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM feed_subscriptions WHERE feed_id = ? AND collection = ?",
                (feed_id, collection),
            )
            .fetchone()
        )
        return _subscription(row) if row else None

    def subscriptions(
        self, *, collection: str | None = None, feed_id: int | None = None, notice: str | None = None
    ) -> list[SubscriptionRow]:
        sql = f"SELECT {SUBSCRIPTION_COLUMNS} FROM feed_subscriptions WHERE 1 = 1"
        params: list[object] = []
        for column, value in (("collection", collection), ("feed_id", feed_id), ("notice", notice)):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        rows = self._connect().execute(sql + " ORDER BY feed_id, collection", params).fetchall()
        return [_subscription(row) for row in rows]

    def set_subscription_paused(self, feed_id: int, collection: str, paused: bool) -> bool:
        with self.write(OWN_ROWS) as conn:
            return (
                conn.execute(
                    "UPDATE feed_subscriptions SET paused = ? WHERE feed_id = ? AND collection = ?",
                    (int(paused), feed_id, collection),
                ).rowcount
                > 0
            )

    def mark_primed(self, feed_id: int, collection: str) -> None:
        with self.write(OWN_ROWS) as conn:
            conn.execute(
                "UPDATE feed_subscriptions SET primed = 1 WHERE feed_id = ? AND collection = ?", (feed_id, collection)
            )

    def claim_notice(self, feed_id: int, collection: str) -> bool:
        """Take a pending pause notice: True for one caller only (the notice is posted at most once)."""
        with self.write(OWN_ROWS) as conn:
            return (
                conn.execute(
                    "UPDATE feed_subscriptions SET notice = 'sent' WHERE feed_id = ? AND collection = ?"
                    " AND notice = 'pending'",
                    (feed_id, collection),
                ).rowcount
                == 1
            )

    # -- items ------------------------------------------------------------------------------------
    def feed_items(self, feed_id: int, collection: str) -> dict[str, FeedItemRow]:
        rows = self._connect().execute(
            f"SELECT {ITEM_COLUMNS} FROM feed_items WHERE feed_id = ? AND collection = ?", (feed_id, collection)
        )
        return {row[2]: FeedItemRow(*row) for row in rows}

    def put_feed_items(self, rows: Sequence[FeedItemRow]) -> None:
        """Insert or update items (an edit keeps the row's announcement state)."""
        if not rows:
            return
        with self.write(OWN_ROWS) as conn:
            conn.executemany(
                f"INSERT INTO feed_items ({ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (feed_id, collection, item_key) DO UPDATE SET entry_hash = excluded.entry_hash,"
                " article_id = excluded.article_id",
                [
                    (r.feed_id, r.collection, r.item_key, r.entry_hash, r.article_id, r.announce, r.seen, r.announced)
                    for r in rows
                ],
            )

    def pending_announcements(self) -> list[FeedItemRow]:
        rows = self._connect().execute(
            f"SELECT {ITEM_COLUMNS} FROM feed_items WHERE announce = 'pending' ORDER BY seen, feed_id, item_key"
        )
        return [FeedItemRow(*row) for row in rows]

    def claim_announcement(self, item: FeedItemRow, state: str, now: str) -> bool:
        """Move a pending announcement to `state` ("posted" or "dropped"): True for one caller only."""
        with self.write(OWN_ROWS) as conn:
            return (
                conn.execute(
                    "UPDATE feed_items SET announce = ?, announced = ? WHERE feed_id = ? AND collection = ?"
                    " AND item_key = ? AND announce = 'pending'",
                    (state, now, item.feed_id, item.collection, item.item_key),
                ).rowcount
                == 1
            )

    def announced_since(self, channel: str, since: str) -> int:
        """Announcements posted in a channel since `since` (the hourly limit counts them)."""
        row = (
            self._connect()
            .execute(
                "SELECT count(*) FROM feed_items i JOIN feed_subscriptions s"
                " ON s.feed_id = i.feed_id AND s.collection = i.collection"
                " WHERE s.channel = ? AND i.announce = 'posted' AND i.announced >= ?",
                (channel, since),
            )
            .fetchone()
        )
        return int(row[0])

    def claim_limit_notice(self, channel: str, hour: str) -> bool:
        """Take the channel's "announcement limit reached" notice for this hour: True for one caller only."""
        with self.write(OWN_ROWS) as conn:
            return (
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                    " SET value = excluded.value WHERE meta.value != excluded.value",
                    (f"feed_limit_notice:{channel}", hour),
                ).rowcount
                == 1
            )
