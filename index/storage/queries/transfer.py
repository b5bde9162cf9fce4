"""Rows out of one store and into another, ids and vectors as they are: what `python -m bot migrate --to
postgresql://...` is made of (index/upkeep/migrate.py). Reading is in id order and batched; writing is one
transaction per article (its row, sentences and chunks together) or per batch of log rows, and skips what
the target already holds, so a copy cut off anywhere leaves only whole articles and a second run finishes
it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from index.storage.database import OWN_ROWS, Database
from index.storage.database import marks as sqlmarks

# table -> (its columns in copy order, its key columns)
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "articles": (
        ("id", "collection", "title", "url", "published", "added", "text", "content_hash", "body_end", "source"),
        ("id",),
    ),
    "sentences": (("article_id", "idx", "start", "end", "quotable", "vector"), ("article_id", "idx")),
    "chunks": (
        ("id", "article_id", "collection", "first_sentence", "last_sentence", "start", "end", "vector"),
        ("id",),
    ),
    "answers": (("id", "collection", "question", "answer", "asked_by", "message_id", "created"), ("id",)),
    "feedback": (("answer_id", "user_id", "vote", "created"), ("answer_id", "user_id")),
    "digest_schedules": (
        ("collection", "target", "weekday", "minute_of_day", "days", "created", "last_period"),
        ("collection",),
    ),
    "insight_schedules": (
        ("collection", "target", "weekday", "minute_of_day", "days", "created", "last_period"),
        ("collection",),
    ),
    "feeds": (
        (
            "id",
            "url",
            "title",
            "etag",
            "last_modified",
            "body_hash",
            "next_poll",
            "claimed_until",
            "failures",
            "failing_since",
            "last_error",
            "paused_reason",
            "last_polled",
            "created",
        ),
        ("id",),
    ),
    "feed_subscriptions": (
        ("feed_id", "collection", "channel", "announce", "paused", "primed", "notice", "created"),
        ("feed_id", "collection"),
    ),
    "feed_items": (
        ("feed_id", "collection", "item_key", "entry_hash", "article_id", "announce", "seen", "announced"),
        ("feed_id", "collection", "item_key"),
    ),
}
IDENTITY_TABLES = ("articles", "chunks", "answers", "feeds")
# the tables copied in batches of rows after the articles, in an order their foreign keys allow
LOG_TABLES = (
    "answers",
    "feedback",
    "digest_schedules",
    "insight_schedules",
    "feeds",
    "feed_subscriptions",
    "feed_items",
)


def _columns(table: str, prefix: str = "") -> str:
    return ", ".join(f'{prefix}"{c}"' for c in TABLES[table][0])


class TransferQueries(Database):
    def table_count(self, table: str) -> int:
        assert table in TABLES  # never user input
        return int(self._connect().execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def article_ids(self) -> list[int]:
        return [int(r[0]) for r in self._connect().execute("SELECT id FROM articles ORDER BY id")]

    def article_rows(self, article_id: int) -> tuple[tuple, list[tuple], list[tuple]]:
        """An article's own row, its sentence rows and its chunk rows, in TABLES' column order."""
        conn = self._connect()
        article = conn.execute(f"SELECT {_columns('articles')} FROM articles WHERE id = ?", (article_id,)).fetchone()
        sentences = conn.execute(
            f"SELECT {_columns('sentences')} FROM sentences WHERE article_id = ? ORDER BY idx", (article_id,)
        ).fetchall()
        chunks = conn.execute(
            f"SELECT {_columns('chunks')} FROM chunks WHERE article_id = ? ORDER BY id", (article_id,)
        ).fetchall()
        return tuple(article), [tuple(r) for r in sentences], [tuple(r) for r in chunks]

    def log_rows(self, table: str, batch: int = 1000) -> Iterator[list[tuple]]:
        """Every row of answers, feedback or digest_schedules, in key order, in batches."""
        assert table in LOG_TABLES
        keys = ", ".join(f'"{k}"' for k in TABLES[table][1])
        rows = self._connect().execute(f"SELECT {_columns(table)} FROM {table} ORDER BY {keys}").fetchall()
        for start in range(0, len(rows), batch):
            yield [tuple(r) for r in rows[start : start + batch]]

    def has_article(self, article_id: int) -> bool:
        return self._connect().execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone() is not None

    def put_article_rows(self, article: Sequence[Any], sentences: Sequence[Sequence[Any]], chunks: Sequence) -> bool:
        """Write one article whole, with its ids, unless an article of that id is already there (False)."""
        with self.write(article[1]) as conn:  # its collection
            if conn.execute("SELECT 1 FROM articles WHERE id = ?", (article[0],)).fetchone():
                return False
            for table, rows in (("articles", [article]), ("sentences", sentences), ("chunks", chunks)):
                if rows:
                    conn.executemany(
                        f"INSERT INTO {table} ({_columns(table)}) VALUES ({sqlmarks(len(TABLES[table][0]))})",
                        [tuple(r) for r in rows],
                    )
            self._bump(conn, article[1])
        return True

    def put_log_rows(self, table: str, rows: Sequence[Sequence[Any]]) -> int:
        """Insert rows the target lacks (by key); returns how many were new."""
        assert table in LOG_TABLES
        keys = ", ".join(f'"{k}"' for k in TABLES[table][1])
        sql = (
            f"INSERT INTO {table} ({_columns(table)}) VALUES ({sqlmarks(len(TABLES[table][0]))})"
            f" ON CONFLICT ({keys}) DO NOTHING"
        )
        added = 0
        with self.write(OWN_ROWS) as conn:
            for row in rows:
                added += conn.execute(sql, tuple(row)).rowcount
        return added

    def copy_meta(self, pairs: Sequence[tuple[str, str]]) -> None:
        with self.write(OWN_ROWS) as conn:
            for key, value in pairs:
                conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, value))

    def meta_items(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self._connect().execute("SELECT key, value FROM meta ORDER BY key")]

    def after_copy(self) -> None:
        """Make new ids follow the copied ones (SQLite's AUTOINCREMENT does so by itself)."""
