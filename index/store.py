"""SQLite, the source of truth: articles with their clean text, sentences and chunks with character
offsets and vectors, per collection. FAISS and BM25 are caches rebuilt from here.

Schema changes are numbered migrations (PRAGMA user_version). Each write is one transaction that also
bumps the collection's revision, which is how caches (in this process or another) notice they are stale."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE collections (name TEXT PRIMARY KEY, revision INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        collection TEXT NOT NULL,
        title TEXT NOT NULL,
        url TEXT,
        published TEXT,
        added TEXT NOT NULL,
        text TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        body_end INTEGER NOT NULL,
        source TEXT
    );
    CREATE UNIQUE INDEX articles_hash ON articles (collection, content_hash);
    CREATE UNIQUE INDEX articles_url ON articles (collection, url) WHERE url IS NOT NULL;
    CREATE TABLE sentences (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        quotable INTEGER NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (article_id, idx)
    ) WITHOUT ROWID;
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        collection TEXT NOT NULL,
        first_sentence INTEGER NOT NULL,
        last_sentence INTEGER NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE INDEX chunks_article ON chunks (article_id);
    CREATE INDEX chunks_collection ON chunks (collection);
    """,
    # 2: answers given in chat (so that buttons and follow-ups outlive a restart) and members' votes.
    """
    CREATE TABLE answers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        collection TEXT NOT NULL,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        asked_by TEXT,
        message_id TEXT,
        created TEXT NOT NULL
    );
    CREATE INDEX answers_message ON answers (message_id) WHERE message_id IS NOT NULL;
    CREATE TABLE feedback (
        answer_id INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
        created TEXT NOT NULL,
        PRIMARY KEY (answer_id, user_id)
    );
    CREATE INDEX feedback_user ON feedback (user_id);
    """,
    # 3: scheduled digests, one per collection; `last_period` makes each period's post happen at most once.
    """
    CREATE TABLE digest_schedules (
        collection TEXT PRIMARY KEY,
        target TEXT NOT NULL,
        weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
        minute_of_day INTEGER NOT NULL CHECK (minute_of_day BETWEEN 0 AND 1439),
        days INTEGER NOT NULL,
        created TEXT NOT NULL,
        last_period TEXT
    );
    """,
)

# An article's day for time windows: its publication date when known, else the day it was added.
ARTICLE_DAY = "coalesce(published, substr(added, 1, 10))"


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


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def _write_vectors(
    conn: sqlite3.Connection,
    chunk_vectors: Sequence[tuple[int, np.ndarray]],
    sentence_vectors: Sequence[tuple[int, int, np.ndarray]],
) -> None:
    conn.executemany("UPDATE chunks SET vector = ? WHERE id = ?", [(_blob(v), i) for i, v in chunk_vectors])
    conn.executemany(
        "UPDATE sentences SET vector = ? WHERE article_id = ? AND idx = ?",
        [(_blob(v), a, i) for a, i, v in sentence_vectors],
    )


class Store:
    """One SQLite file; a connection per thread (WAL: readers never block the one writer)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._migrate()

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=60, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE so concurrent writers (threads or processes) queue."""
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: every query inside sees the same committed state (WAL snapshot), so an
        article removed meanwhile by another thread is either wholly visible or wholly gone."""
        conn = self._connect()
        if conn.in_transaction:  # nested: the outer snapshot already holds
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.execute("COMMIT")

    def _migrate(self) -> None:
        conn = self._connect()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                # re-check under the lock: another process may have migrated meanwhile
                if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                    conn.execute("ROLLBACK")
                    continue
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Rows of one read-only query (for small rooms beside the store, such as the feedback log)."""
        return self._connect().execute(sql, tuple(params)).fetchall()

    # -- metadata -------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self._connect().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def revision(self, collection: str) -> int:
        row = self._connect().execute("SELECT revision FROM collections WHERE name = ?", (collection,)).fetchone()
        return row[0] if row else 0

    def _bump(self, conn: sqlite3.Connection, collection: str) -> None:
        conn.execute(
            "INSERT INTO collections (name, revision) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET revision = revision + 1",
            (collection,),
        )

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
        schedule) in one transaction; returns how many rows of each went. The revision is bumped, not reset,
        so that caches anywhere (another process included) see the change."""
        where_articles = "SELECT id FROM articles WHERE collection = ?"
        where_answers = "SELECT id FROM answers WHERE collection = ?"
        with self.write() as conn:
            deleted = {
                "votes": conn.execute(f"DELETE FROM feedback WHERE answer_id IN ({where_answers})", (collection,)),
                "answers": conn.execute("DELETE FROM answers WHERE collection = ?", (collection,)),
                "sentences": conn.execute(
                    f"DELETE FROM sentences WHERE article_id IN ({where_articles})", (collection,)
                ),
                "chunks": conn.execute("DELETE FROM chunks WHERE collection = ?", (collection,)),
                "articles": conn.execute("DELETE FROM articles WHERE collection = ?", (collection,)),
                "schedules": conn.execute("DELETE FROM digest_schedules WHERE collection = ?", (collection,)),
            }
            counts = {name: cursor.rowcount for name, cursor in deleted.items()}
            if any(counts.values()):
                self._bump(conn, collection)
        return counts

    # -- articles -------------------------------------------------------------------------------
    _ARTICLE_COLUMNS = "id, collection, title, url, published, added, text, content_hash, body_end"

    def _find_article(self, collection: str, column: str, value: object) -> ArticleRow | None:
        assert column in ("content_hash", "url", "id")  # never user input: a fixed set of lookups
        row = (
            self._connect()
            .execute(
                f"SELECT {self._ARTICLE_COLUMNS} FROM articles WHERE collection = ? AND {column} = ?",
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
                " AND (title LIKE ? ESCAPE '\\' OR CAST(id AS TEXT) = ?) ORDER BY id DESC LIMIT ?",
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
        marks = ",".join("?" * len(ids))
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
        marks = ",".join("?" * len(ids))
        sums: dict[int, np.ndarray] = {}
        for article_id, blob in self._connect().execute(
            f"SELECT article_id, vector FROM chunks WHERE article_id IN ({marks})", tuple(ids)
        ):
            vector = np.frombuffer(blob, dtype=np.float32)
            sums[article_id] = sums[article_id] + vector if article_id in sums else vector.copy()
        return {i: v / (np.linalg.norm(v) or 1.0) for i, v in sums.items()}

    def article_texts(self, ids: Sequence[int]) -> dict[int, ArticleRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = (
            self._connect()
            .execute(f"SELECT {self._ARTICLE_COLUMNS} FROM articles WHERE id IN ({marks})", tuple(ids))
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
    ) -> tuple[int, list[int], list[int]]:
        """Insert (or replace the content of `replace_id`) in one transaction, recording which model
        made the vectors if nothing has yet. Returns (article id, chunk ids removed, chunk ids added).
        `added` is when (ISO, UTC; default now)."""
        with self.write() as conn:
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('model', ?)", (model,))
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('dimension', ?)", (str(dimension),))
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
                    " collection) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*fields, collection),
                )
                article_id = int(cursor.lastrowid)
            added = self._insert_layout(conn, collection, article_id, new)
            self._bump(conn, collection)
        return article_id, removed, added

    @classmethod
    def _insert_layout(cls, conn: sqlite3.Connection, collection: str, article_id: int, new: NewArticle) -> list[int]:
        """Insert an article's sentences and chunks with their vectors; returns the new chunk ids."""
        cls._insert_sentences(conn, article_id, new)
        return cls._insert_chunks(conn, collection, article_id, new)

    @staticmethod
    def _insert_sentences(conn: sqlite3.Connection, article_id: int, new: NewArticle) -> None:
        conn.executemany(
            "INSERT INTO sentences (article_id, idx, start, end, quotable, vector) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (article_id, i, s, e, int(q), _blob(new.sentence_vectors[i]))
                for i, (s, e, q) in enumerate(new.sentences)
            ],
        )

    @staticmethod
    def _insert_chunks(conn: sqlite3.Connection, collection: str, article_id: int, new: NewArticle) -> list[int]:
        added = []
        for (first, last), vector in zip(new.chunks, new.chunk_vectors, strict=True):
            cursor = conn.execute(
                "INSERT INTO chunks (article_id, collection, first_sentence, last_sentence, start, end, vector)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (article_id, collection, first, last, new.sentences[first][0], new.sentences[last][1], _blob(vector)),
            )
            added.append(int(cursor.lastrowid))
        return added

    def delete_article(self, collection: str, article_id: int) -> list[int] | None:
        """Delete an article with its sentences and chunks; returns the removed chunk ids (None if absent)."""
        with self.write() as conn:
            exists = conn.execute(
                "SELECT 1 FROM articles WHERE id = ? AND collection = ?", (article_id, collection)
            ).fetchone()
            if not exists:
                return None
            removed = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE article_id = ?", (article_id,))]
            conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))
            self._bump(conn, collection)
        return removed

    # -- chunks and sentences -------------------------------------------------------------------
    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._connect().execute(
            f"SELECT id, article_id, first_sentence, last_sentence, start, end FROM chunks WHERE id IN ({marks})",
            tuple(int(i) for i in ids),
        )
        return {r[0]: ChunkRow(*r) for r in rows}

    def chunk_spans(self, ids: Sequence[int]) -> dict[int, tuple[ChunkRow, str]]:
        """Chunks with their text (only the span, not the whole article: asks stay cheap on long texts)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._connect().execute(
            "SELECT c.id, c.article_id, c.first_sentence, c.last_sentence, c.start, c.end,"
            f" substr(a.text, c.start + 1, c.end - c.start) FROM chunks c JOIN articles a ON a.id = c.article_id"
            f" WHERE c.id IN ({marks})",
            tuple(int(i) for i in ids),
        )
        return {r[0]: (ChunkRow(*r[:6]), r[6]) for r in rows}

    def sentences_in(self, ranges: Sequence[tuple[int, int, int]]) -> list[tuple[int, int, int, int, bool, np.ndarray]]:
        """(article_id, idx, start, end, quotable, vector) for several (article_id, first, last) ranges
        in one query."""
        if not ranges:
            return []
        where = " OR ".join(["(article_id = ? AND idx BETWEEN ? AND ?)"] * len(ranges))
        params = tuple(int(x) for r in ranges for x in r)
        rows = self._connect().execute(
            f"SELECT article_id, idx, start, end, quotable, vector FROM sentences WHERE {where}", params
        )
        return [(a, i, s, e, bool(q), np.frombuffer(v, dtype=np.float32)) for a, i, s, e, q, v in rows]

    def article_refs(self, ids: Sequence[int]) -> dict[int, tuple[str, str | None, str | None]]:
        """id → (title, url, published), without loading article texts."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._connect().execute(
            f"SELECT id, title, url, published FROM articles WHERE id IN ({marks})", tuple(ids)
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def chunk_vectors(self, collection: str) -> tuple[np.ndarray, np.ndarray]:
        ids, blobs = [], []
        for chunk_id, blob in self._connect().execute(
            "SELECT id, vector FROM chunks WHERE collection = ? ORDER BY id", (collection,)
        ):
            ids.append(chunk_id)
            blobs.append(blob)
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), -1)
        return np.asarray(ids, dtype=np.int64), matrix

    def all_texts(self) -> tuple[list[tuple[int, str]], list[tuple[int, int, str]]]:
        """Every chunk (id, text) and sentence (article id, index, text), for re-embedding."""
        conn = self._connect()
        chunks = conn.execute(
            "SELECT c.id, substr(a.text, c.start + 1, c.end - c.start) FROM chunks c"
            " JOIN articles a ON a.id = c.article_id ORDER BY c.id"
        ).fetchall()
        sentences = conn.execute(
            "SELECT s.article_id, s.idx, substr(a.text, s.start + 1, s.end - s.start) FROM sentences s"
            " JOIN articles a ON a.id = s.article_id ORDER BY s.article_id, s.idx"
        ).fetchall()
        return chunks, sentences

    def replace_vectors(
        self,
        chunk_vectors: Sequence[tuple[int, np.ndarray]],
        sentence_vectors: Sequence[tuple[int, int, np.ndarray]],
        *,
        model: str,
        dimension: int,
    ) -> None:
        """Swap every stored vector for one made by another model, in one transaction."""
        with self.write() as conn:
            _write_vectors(conn, chunk_vectors, sentence_vectors)
            self.set_meta(conn, "model", model)
            self.set_meta(conn, "dimension", str(dimension))
            conn.execute("UPDATE collections SET revision = revision + 1")

    def chunk_texts(self, collection: str) -> Iterator[tuple[int, str]]:
        # SQLite's substr counts characters (1-based), like Python's str offsets.
        yield from self._connect().execute(
            "SELECT c.id, substr(a.text, c.start + 1, c.end - c.start) FROM chunks c"
            " JOIN articles a ON a.id = c.article_id WHERE c.collection = ? ORDER BY c.id",
            (collection,),
        )

    def sentences(
        self, article_id: int, first: int = 0, last: int | None = None
    ) -> list[tuple[int, int, int, bool, np.ndarray]]:
        """(idx, start, end, quotable, vector) of an article's sentences first..last inclusive."""
        last = 1 << 30 if last is None else last
        rows = self._connect().execute(
            "SELECT idx, start, end, quotable, vector FROM sentences WHERE article_id = ? AND idx BETWEEN ? AND ?"
            " ORDER BY idx",
            (article_id, first, last),
        )
        return [(i, s, e, bool(q), np.frombuffer(v, dtype=np.float32)) for i, s, e, q, v in rows]

    # -- consistency (index/consistency.py) -----------------------------------------------------
    def collection_names(self) -> list[str]:
        """Every collection ever written to, including ones now empty (their caches may still exist)."""
        rows = self._connect().execute("SELECT name FROM collections UNION SELECT collection FROM articles ORDER BY 1")
        return [r[0] for r in rows]

    def delete_orphans(self) -> int:
        """Delete sentences and chunks whose article is gone; returns how many rows went. Foreign keys make
        such rows impossible unless the file was written with them off, so this is a read when all is well."""
        conn = self._connect()
        orphans = ("FROM {table} WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = {table}.article_id)").format
        found = sum(conn.execute(f"SELECT count(*) {orphans(table=t)}").fetchone()[0] for t in ("chunks", "sentences"))
        if not found:
            return 0
        with self.write() as conn:
            collections = [r[0] for r in conn.execute(f"SELECT DISTINCT collection {orphans(table='chunks')}")]
            deleted = sum(conn.execute(f"DELETE {orphans(table=t)}").rowcount for t in ("chunks", "sentences"))
            for collection in collections:
                self._bump(conn, collection)
        return deleted

    def chunk_ids(self, collection: str) -> np.ndarray:
        rows = self._connect().execute("SELECT id FROM chunks WHERE collection = ? ORDER BY id", (collection,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def layout_counts(self, collection: str) -> tuple[int, int, int]:
        """(articles, sentences, chunks) in the collection."""
        conn = self._connect()
        articles = self.article_count(collection)
        (sentences,) = conn.execute(
            "SELECT count(*) FROM sentences s JOIN articles a ON a.id = s.article_id WHERE a.collection = ?",
            (collection,),
        ).fetchone()
        (chunks,) = conn.execute("SELECT count(*) FROM chunks WHERE collection = ?", (collection,)).fetchone()
        return articles, sentences, chunks

    def articles_without_layout(self, collection: str) -> list[ArticleRow]:
        """Articles missing their sentences or their chunks (unanswerable until laid out again)."""
        rows = self._connect().execute(
            f"SELECT {self._ARTICLE_COLUMNS} FROM articles a WHERE collection = ?"
            " AND (NOT EXISTS (SELECT 1 FROM chunks c WHERE c.article_id = a.id)"
            " OR NOT EXISTS (SELECT 1 FROM sentences s WHERE s.article_id = a.id)) ORDER BY id",
            (collection,),
        )
        return [ArticleRow(*r) for r in rows]

    def bad_vectors(self, collection: str, dimension: int) -> tuple[list[int], list[tuple[int, int]]]:
        """Chunk ids and (article id, index) sentence keys whose stored vector is not `dimension` finite
        float32 values of unit length (every stored vector is L2-normalised). Reads in batches, so a large
        collection is never all in memory."""
        size = 4 * dimension

        def bad(rows: sqlite3.Cursor) -> list:
            """The keys (every column but the last) of the rows whose vector (the last column) is unsound."""
            wrong: list = []
            while batch := rows.fetchmany(4096):
                keys = [row[0] if len(row) == 2 else tuple(row[:-1]) for row in batch]
                blobs = [row[-1] for row in batch]
                wrong += [keys[n] for n, blob in enumerate(blobs) if len(blob) != size]
                sized = [n for n, blob in enumerate(blobs) if len(blob) == size]
                if sized:
                    raw = b"".join(blobs[n] for n in sized)
                    matrix = np.frombuffer(raw, dtype=np.float32).reshape(len(sized), dimension)
                    with np.errstate(all="ignore"):
                        norms = np.linalg.norm(matrix, axis=1)
                    sound = np.isfinite(matrix).all(axis=1) & (np.abs(norms - 1.0) < 1e-3)
                    wrong += [keys[sized[i]] for i in np.flatnonzero(~sound)]
            return wrong

        conn = self._connect()
        chunks = bad(conn.execute("SELECT id, vector FROM chunks WHERE collection = ?", (collection,)))
        sentences = bad(
            conn.execute(
                "SELECT s.article_id, s.idx, s.vector FROM sentences s JOIN articles a ON a.id = s.article_id"
                " WHERE a.collection = ?",
                (collection,),
            )
        )
        return sorted(chunks), sorted(sentences)

    def texts_for(
        self, chunk_ids: Sequence[int], sentence_keys: Sequence[tuple[int, int]]
    ) -> tuple[list[str], list[str]]:
        """The texts of some chunks and sentences, in the order asked, for re-embedding them."""
        conn = self._connect()
        chunks = [
            conn.execute(
                "SELECT substr(a.text, c.start + 1, c.end - c.start) FROM chunks c"
                " JOIN articles a ON a.id = c.article_id WHERE c.id = ?",
                (int(i),),
            ).fetchone()[0]
            for i in chunk_ids
        ]
        sentences = [
            conn.execute(
                "SELECT substr(a.text, s.start + 1, s.end - s.start) FROM sentences s"
                " JOIN articles a ON a.id = s.article_id WHERE s.article_id = ? AND s.idx = ?",
                (int(a), int(i)),
            ).fetchone()[0]
            for a, i in sentence_keys
        ]
        return chunks, sentences

    def update_vectors(
        self,
        collection: str,
        chunk_vectors: Sequence[tuple[int, np.ndarray]],
        sentence_vectors: Sequence[tuple[int, int, np.ndarray]],
    ) -> None:
        """Overwrite some vectors of one collection (repairs), in one transaction."""
        with self.write() as conn:
            _write_vectors(conn, chunk_vectors, sentence_vectors)
            self._bump(conn, collection)

    def replace_layout(self, collection: str, article_id: int, new: NewArticle, *, sentences: bool = True) -> list[int]:
        """Give a stored article new chunks, and new sentences unless `sentences` is False (its text and
        metadata untouched), in one transaction; returns the new chunk ids."""
        with self.write() as conn:
            conn.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
            if sentences:
                conn.execute("DELETE FROM sentences WHERE article_id = ?", (article_id,))
                self._insert_sentences(conn, article_id, new)
            conn.execute("UPDATE articles SET body_end = ? WHERE id = ?", (new.body_end, article_id))
            added = self._insert_chunks(conn, collection, article_id, new)
            self._bump(conn, collection)
        return added
