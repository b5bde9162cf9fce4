"""Queries of the articles role: find, list, write (one transaction each), delete, purge. The SQL is the
dialect SQLite and PostgreSQL share ("?" placeholders, which the PostgreSQL room turns into its own)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from index.storage.database import Connection, Database, blob
from index.storage.database import marks as sqlmarks
from index.storage.queries.feeds import UNFOLLOWED_FEEDS
from index.storage.rows import ArticleRow, NewArticle, SavedArticle, utc_now

# An article's day for time windows: its publication date when known, else the day it was added.
ARTICLE_DAY = "coalesce(published, substr(added, 1, 10))"
ARTICLE_COLUMNS = "id, collection, title, url, published, added, text, content_hash, body_end"


def insert_sentences(conn: Connection, article_id: int, new: NewArticle) -> None:
    conn.executemany(
        'INSERT INTO sentences (article_id, idx, start, "end", quotable, vector) VALUES (?, ?, ?, ?, ?, ?)',
        [(article_id, i, s, e, int(q), blob(new.sentence_vectors[i])) for i, (s, e, q) in enumerate(new.sentences)],
    )


def insert_chunks(conn: Connection, collection: str, article_id: int, new: NewArticle) -> list[int]:
    """Insert an article's chunks with their vectors; returns the new chunk ids."""
    added = []
    for (first, last), vector in zip(new.chunks, new.chunk_vectors, strict=True):
        cursor = conn.execute(
            'INSERT INTO chunks (article_id, collection, first_sentence, last_sentence, start, "end", vector)'
            " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (article_id, collection, first, last, new.sentences[first][0], new.sentences[last][1], blob(vector)),
        )
        added.append(int(cursor.fetchone()[0]))
    return added


class ArticleQueries(Database):
    def collections(self) -> list[str]:
        rows = self._connect().execute("SELECT DISTINCT collection FROM articles ORDER BY collection")
        return [r[0] for r in rows]

    def collection_stats(self) -> list[tuple[str, int, int, int, int]]:
        """(name, articles, chunks, answers, votes) of every collection holding articles, logged answers or a
        digest schedule."""
        return (
            self._connect()
            .execute(
                "WITH names AS (SELECT collection AS name FROM articles UNION SELECT collection FROM answers"
                " UNION SELECT collection FROM digest_schedules)"
                " SELECT n.name,"
                " (SELECT count(*) FROM articles a WHERE a.collection = n.name),"
                " (SELECT count(*) FROM chunks c WHERE c.collection = n.name),"
                " (SELECT count(*) FROM answers q WHERE q.collection = n.name),"
                " (SELECT count(*) FROM feedback f JOIN answers q ON q.id = f.answer_id WHERE q.collection = n.name)"
                " FROM names n ORDER BY n.name"
            )
            .fetchall()
        )

    def purge(self, collection: str) -> dict[str, int]:
        """Delete everything a collection holds (articles, sentences, chunks, logged answers, votes, its digest
        schedule, the feeds it follows) in one transaction; returns how many rows of each went. The revision
        is bumped, not reset, so that caches anywhere (another process included) see the change."""
        where_articles = "SELECT id FROM articles WHERE collection = ?"
        where_answers = "SELECT id FROM answers WHERE collection = ?"
        with self.write(collection) as conn:
            deleted = {
                "votes": conn.execute(f"DELETE FROM feedback WHERE answer_id IN ({where_answers})", (collection,)),
                "answers": conn.execute("DELETE FROM answers WHERE collection = ?", (collection,)),
                "sentences": conn.execute(
                    f"DELETE FROM sentences WHERE article_id IN ({where_articles})", (collection,)
                ),
                "chunks": conn.execute("DELETE FROM chunks WHERE collection = ?", (collection,)),
                "articles": conn.execute("DELETE FROM articles WHERE collection = ?", (collection,)),
                "schedules": conn.execute("DELETE FROM digest_schedules WHERE collection = ?", (collection,)),
                "insight_schedules": conn.execute("DELETE FROM insight_schedules WHERE collection = ?", (collection,)),
                "feed_items": conn.execute("DELETE FROM feed_items WHERE collection = ?", (collection,)),
                "feeds": conn.execute("DELETE FROM feed_subscriptions WHERE collection = ?", (collection,)),
            }
            # a feed's row (what it knows of the feed) goes with its last follower
            conn.execute(UNFOLLOWED_FEEDS)
            counts = {name: cursor.rowcount for name, cursor in deleted.items()}
            counts["schedules"] += counts.pop("insight_schedules")  # one count of schedules, whatever their kind
            if any(counts.values()):
                self._bump(conn, collection)
        return counts

    # -- articles -------------------------------------------------------------------------------
    def _find_article(self, collection: str, column: str, value: object) -> ArticleRow | None:
        assert column in ("content_hash", "url", "id")  # never user input: a fixed set of lookups
        row = (
            self._connect()
            .execute(
                f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE collection = ? AND {column} = ?",
                (collection, value),
            )
            .fetchone()
        )
        return self._with_chunks(ArticleRow(*row)) if row else None

    def find_by_hash(self, collection: str, content_hash: str) -> ArticleRow | None:
        return self._find_article(collection, "content_hash", content_hash)

    def find_by_url(self, collection: str, url: str) -> ArticleRow | None:
        return self._find_article(collection, "url", url)

    def article(self, collection: str, article_id: int) -> ArticleRow | None:
        return self._find_article(collection, "id", article_id)

    def _with_chunks(self, row: ArticleRow) -> ArticleRow:
        (count,) = self._connect().execute("SELECT count(*) FROM chunks WHERE article_id = ?", (row.id,)).fetchone()
        return ArticleRow(**{**row.__dict__, "chunks": count})

    def articles(self, collection: str) -> list[ArticleRow]:
        rows = self._connect().execute(
            "SELECT a.id, a.collection, a.title, a.url, a.published, a.added, '', a.content_hash, a.body_end,"
            " (SELECT count(*) FROM chunks c WHERE c.article_id = a.id)"
            " FROM articles a WHERE a.collection = ? ORDER BY a.id",
            (collection,),
        )
        return [ArticleRow(*r) for r in rows]

    def find_titles(self, collection: str, needle: str, limit: int) -> list[tuple[int, str, str | None]]:
        """(id, title, published) of the newest articles whose title contains `needle` (or whose id is it)."""
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return (
            self._connect()
            .execute(
                "SELECT id, title, published FROM articles WHERE collection = ?"
                f" AND (title {self.CASELESS_LIKE} ? ESCAPE '\\' OR CAST(id AS TEXT) = ?) ORDER BY id DESC LIMIT ?",
                (collection, pattern, needle.lstrip("#"), limit),
            )
            .fetchall()
        )

    def article_count(self, collection: str) -> int:
        return (
            self._connect().execute("SELECT count(*) FROM articles WHERE collection = ?", (collection,)).fetchone()[0]
        )

    def chunk_ids_between(self, collection: str, first: str | None, last: str | None) -> np.ndarray:
        """Ids of the chunks of articles whose day (ARTICLE_DAY) is within first..last (ISO dates, inclusive)."""
        rows = self._connect().execute(
            f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.collection = ?"
            f" AND {ARTICLE_DAY} BETWEEN ? AND ?",
            (collection, first or "0000-00-00", last or "9999-99-99"),
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def latest_year_of_month(self, collection: str, month: int, up_to: str) -> int | None:
        """The latest year (up to the ISO date `up_to`) in which the collection has articles from `month`."""
        row = (
            self._connect()
            .execute(
                f"SELECT max(substr({ARTICLE_DAY}, 1, 4)) FROM articles WHERE collection = ?"
                f" AND substr({ARTICLE_DAY}, 6, 2) = ? AND {ARTICLE_DAY} <= ?",
                (collection, f"{month:02d}", up_to),
            )
            .fetchone()
        )
        return int(row[0]) if row and row[0] else None

    def article_days(self, ids: Sequence[int]) -> dict[int, str]:
        """id → the article's day (ARTICLE_DAY), for favouring newer articles."""
        if not ids:
            return {}
        marks = sqlmarks(len(ids))
        rows = self._connect().execute(f"SELECT id, {ARTICLE_DAY} FROM articles WHERE id IN ({marks})", tuple(ids))
        return dict(rows.fetchall())

    def articles_since(self, collection: str, first: str, last: str) -> list[ArticleRow]:
        """Articles (without text) added, or published, within first..last (ISO dates, inclusive)."""
        rows = self._connect().execute(
            "SELECT a.id, a.collection, a.title, a.url, a.published, a.added, '', a.content_hash, a.body_end,"
            " (SELECT count(*) FROM chunks c WHERE c.article_id = a.id)"
            " FROM articles a WHERE a.collection = ?"
            " AND (substr(a.added, 1, 10) BETWEEN ? AND ? OR a.published BETWEEN ? AND ?) ORDER BY a.id",
            (collection, first, last, first, last),
        )
        return [ArticleRow(*r) for r in rows]

    def article_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """id → the normalised mean of the article's chunk vectors (what the article is about, as a whole)."""
        if not ids:
            return {}
        marks = sqlmarks(len(ids))
        sums: dict[int, np.ndarray] = {}
        for article_id, raw in self._connect().execute(
            f"SELECT article_id, vector FROM chunks WHERE article_id IN ({marks})", tuple(ids)
        ):
            vector = np.frombuffer(raw, dtype=np.float32)
            sums[article_id] = sums[article_id] + vector if article_id in sums else vector.copy()
        return {i: v / (np.linalg.norm(v) or 1.0) for i, v in sums.items()}

    def chunk_vectors_of(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(article id of each chunk, the chunks' vectors as rows) for the given articles, in one query."""
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        rows = (
            self._connect()
            .execute(
                f"SELECT article_id, vector FROM chunks WHERE article_id IN ({sqlmarks(len(ids))}) ORDER BY id",
                tuple(ids),
            )
            .fetchall()
        )
        owners = np.array([article_id for article_id, _ in rows], dtype=np.int64)
        if not rows:
            return owners, np.zeros((0, 0), dtype=np.float32)
        return owners, np.vstack([np.frombuffer(raw, dtype=np.float32) for _, raw in rows])

    def article_texts(self, ids: Sequence[int]) -> dict[int, ArticleRow]:
        if not ids:
            return {}
        marks = sqlmarks(len(ids))
        rows = (
            self._connect()
            .execute(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id IN ({marks})", tuple(ids))
            .fetchall()
        )
        return {r[0]: ArticleRow(*r) for r in rows}

    def save_article(
        self,
        collection: str,
        new: NewArticle,
        *,
        model: str,
        dimension: int,
        replace_id: int | None = None,
        added: str | None = None,
    ) -> SavedArticle:
        """Insert an article, or give its new content to `replace_id` (by default, to the article of the
        same URL), in one transaction under the collection's write lock, recording which model made the
        vectors if nothing has yet. The duplicate and URL checks are made inside that transaction, so two
        processes saving the same article at once store it once. `added` is when (ISO, UTC; default now)."""
        with self.write(collection) as conn:
            same = conn.execute(
                "SELECT id FROM articles WHERE collection = ? AND content_hash = ?", (collection, new.content_hash)
            ).fetchone()
            if same is not None and same[0] != replace_id:
                return SavedArticle(int(same[0]), "duplicate", [], [])
            if replace_id is None and new.url:
                by_url = conn.execute(
                    "SELECT id FROM articles WHERE collection = ? AND url = ?", (collection, new.url)
                ).fetchone()
                replace_id = int(by_url[0]) if by_url else None
            for key, value in (("model", model), ("dimension", str(dimension))):
                conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, value))
            removed: list[int] = []
            fields = (
                new.title,
                new.url,
                new.published,
                added or utc_now(),
                new.text,
                new.content_hash,
                new.body_end,
                new.source,
            )
            if replace_id is not None:
                removed = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE article_id = ?", (replace_id,))]
                conn.execute("DELETE FROM chunks WHERE article_id = ?", (replace_id,))
                conn.execute("DELETE FROM sentences WHERE article_id = ?", (replace_id,))
                conn.execute(
                    "UPDATE articles SET title = ?, url = ?, published = ?, added = ?, text = ?, content_hash = ?,"
                    " body_end = ?, source = ? WHERE id = ? AND collection = ?",
                    (*fields, replace_id, collection),
                )
                article_id = replace_id
            else:
                cursor = conn.execute(
                    "INSERT INTO articles (title, url, published, added, text, content_hash, body_end, source,"
                    " collection) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (*fields, collection),
                )
                article_id = int(cursor.fetchone()[0])
            insert_sentences(conn, article_id, new)
            chunk_ids = insert_chunks(conn, collection, article_id, new)
            self._bump(conn, collection)
        return SavedArticle(article_id, "updated" if replace_id is not None else "added", removed, chunk_ids)

    def delete_article(self, collection: str, article_id: int) -> list[int] | None:
        """Delete an article with its sentences and chunks; returns the removed chunk ids (None if absent)."""
        with self.write(collection) as conn:
            exists = conn.execute(
                "SELECT 1 FROM articles WHERE id = ? AND collection = ?", (article_id, collection)
            ).fetchone()
            if not exists:
                return None
            removed = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE article_id = ?", (article_id,))]
            conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))
            self._bump(conn, collection)
        return removed
