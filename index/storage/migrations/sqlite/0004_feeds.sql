-- 4: feeds (RSS/Atom) that collections follow. One row per feed URL, however many servers follow it: one
-- fetch serves them all. `claimed_until` is the poll claim (one poller per feed, across processes);
-- `next_poll` the schedule; `paused_reason` set when the feed failed for a week.
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    next_poll TEXT NOT NULL,
    claimed_until TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    failing_since TEXT,
    last_error TEXT,
    paused_reason TEXT,
    last_polled TEXT,
    created TEXT NOT NULL
);
-- A collection following a feed: where to announce (or tell moderators), whether to, whether a moderator
-- paused it, whether its first poll (the silent backfill) is done, and the pause notice's state.
CREATE TABLE feed_subscriptions (
    feed_id INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    collection TEXT NOT NULL,
    channel TEXT,
    announce INTEGER NOT NULL DEFAULT 0,
    paused INTEGER NOT NULL DEFAULT 0,
    primed INTEGER NOT NULL DEFAULT 0,
    notice TEXT,
    created TEXT NOT NULL,
    PRIMARY KEY (feed_id, collection)
);
CREATE INDEX feed_subscriptions_collection ON feed_subscriptions (collection);
-- Every item a subscription has seen, by its key (entry id, else normalised link, else a hash): the
-- entry's hash tells an edit, `article_id` the stored article (NULL: seen, not stored), `announce` the
-- announcement's state (NULL none, pending, posted, dropped).
CREATE TABLE feed_items (
    feed_id INTEGER NOT NULL,
    collection TEXT NOT NULL,
    item_key TEXT NOT NULL,
    entry_hash TEXT NOT NULL,
    article_id INTEGER,
    announce TEXT,
    seen TEXT NOT NULL,
    announced TEXT,
    PRIMARY KEY (feed_id, collection, item_key),
    FOREIGN KEY (feed_id, collection) REFERENCES feed_subscriptions (feed_id, collection) ON DELETE CASCADE
);
CREATE INDEX feed_items_pending ON feed_items (announce) WHERE announce = 'pending';
-- Any collection's copy of a text, so that the same article stored for another server is not embedded again.
CREATE INDEX articles_content_hash ON articles (content_hash);
