"""Queries of the layout, index-source and repairs roles: chunks and sentences with their vectors,
what the search caches are built from, and what the consistency check and reindex rewrite."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from index.storage.database import EVERYTHING, Connection, Database, blob
from index.storage.database import marks as sqlmarks
from index.storage.queries.articles import ARTICLE_COLUMNS, insert_chunks, insert_sentences
from index.storage.rows import ArticleRow, ChunkRow, NewArticle, StoredTwin


def write_vectors(
    conn: Connection,
    chunk_vectors: Sequence[tuple[int, np.ndarray]],
    sentence_vectors: Sequence[tuple[int, int, np.ndarray]],
) -> None:
    conn.executemany("UPDATE chunks SET vector = ? WHERE id = ?", [(blob(v), i) for i, v in chunk_vectors])
    conn.executemany(
        "UPDATE sentences SET vector = ? WHERE article_id = ? AND idx = ?",
        [(blob(v), a, i) for a, i, v in sentence_vectors],
    )


class LayoutQueries(Database):
    # -- chunks and sentences -------------------------------------------------------------------
    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        marks = sqlmarks(len(ids))
        rows = self._connect().execute(
            "SELECT c.id, c.article_id, c.first_sentence, c.last_sentence, c.start, c.end FROM chunks c"
            f" WHERE c.id IN ({marks})",
            tuple(int(i) for i in ids),
        )
        return {r[0]: ChunkRow(*r) for r in rows}

    def stored_twin(self, content_hash: str, text: str) -> StoredTwin | None:
        """The layout and vectors of an article with exactly this text in any collection (the same feed
        item followed by many servers, one story added in two), so it need not be embedded again."""
        row = (
            self._connect()
            .execute(
                "SELECT id FROM articles WHERE content_hash = ? AND text = ? ORDER BY id LIMIT 1", (content_hash, text)
            )
            .fetchone()
        )
        if row is None:
            return None
        sentences, chunks = self.sentences(row[0]), self.article_chunks(row[0])
        if not sentences or not chunks:
            return None
        return StoredTwin(
            [(start, end, quotable) for _, start, end, quotable, _ in sentences],
            [(chunk.first_sentence, chunk.last_sentence) for chunk, _ in chunks],
            np.vstack([vector for *_, vector in sentences]),
            np.vstack([vector for _, vector in chunks]),
        )

    def article_chunks(self, article_id: int) -> list[tuple[ChunkRow, np.ndarray]]:
        """An article's chunks with their vectors, in order."""
        rows = self._connect().execute(
            "SELECT c.id, c.article_id, c.first_sentence, c.last_sentence, c.start, c.end, c.vector FROM chunks c"
            " WHERE c.article_id = ? ORDER BY c.id",
            (article_id,),
        )
        return [(ChunkRow(*r[:6]), np.frombuffer(r[6], dtype=np.float32)) for r in rows]

    def chunk_spans(self, ids: Sequence[int]) -> dict[int, tuple[ChunkRow, str]]:
        """Chunks with their text (only the span, not the whole article: asks stay cheap on long texts)."""
        if not ids:
            return {}
        marks = sqlmarks(len(ids))
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
        where = " OR ".join(["(s.article_id = ? AND s.idx BETWEEN ? AND ?)"] * len(ranges))
        params = tuple(int(x) for r in ranges for x in r)
        rows = self._connect().execute(
            f"SELECT s.article_id, s.idx, s.start, s.end, s.quotable, s.vector FROM sentences s WHERE {where}", params
        )
        return [(a, i, s, e, bool(q), np.frombuffer(v, dtype=np.float32)) for a, i, s, e, q, v in rows]

    def sentence_texts(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], str]:
        """The text of each (article_id, idx) sentence that exists, sliced from its article in the database."""
        if not keys:
            return {}
        where = " OR ".join(["(s.article_id = ? AND s.idx = ?)"] * len(keys))
        rows = self._connect().execute(
            "SELECT s.article_id, s.idx, substr(a.text, s.start + 1, s.end - s.start)"
            f" FROM sentences s JOIN articles a ON a.id = s.article_id WHERE {where}",
            tuple(int(x) for k in keys for x in k),
        )
        return {(a, i): t for a, i, t in rows}

    def article_refs(self, ids: Sequence[int]) -> dict[int, tuple[str, str | None, str | None]]:
        """id → (title, url, published), without loading article texts."""
        if not ids:
            return {}
        marks = sqlmarks(len(ids))
        rows = self._connect().execute(
            f"SELECT id, title, url, published FROM articles WHERE id IN ({marks})", tuple(ids)
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def chunk_vectors(self, collection: str) -> tuple[np.ndarray, np.ndarray]:
        ids, blobs = [], []
        for chunk_id, raw in self._connect().execute(
            "SELECT id, vector FROM chunks WHERE collection = ? ORDER BY id", (collection,)
        ):
            ids.append(chunk_id)
            blobs.append(raw)
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
        with self.write(EVERYTHING) as conn:
            write_vectors(conn, chunk_vectors, sentence_vectors)
            self._set_meta(conn, "model", model)
            self._set_meta(conn, "dimension", str(dimension))
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
            "SELECT s.idx, s.start, s.end, s.quotable, s.vector FROM sentences s WHERE s.article_id = ?"
            " AND s.idx BETWEEN ? AND ? ORDER BY s.idx",
            (article_id, first, last),
        )
        return [(i, s, e, bool(q), np.frombuffer(v, dtype=np.float32)) for i, s, e, q, v in rows]

    # -- consistency (index/upkeep/consistency.py) -----------------------------------------------------
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
        with self.write(EVERYTHING) as conn:
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
        (articles,) = conn.execute("SELECT count(*) FROM articles WHERE collection = ?", (collection,)).fetchone()
        (sentences,) = conn.execute(
            "SELECT count(*) FROM sentences s JOIN articles a ON a.id = s.article_id WHERE a.collection = ?",
            (collection,),
        ).fetchone()
        (chunks,) = conn.execute("SELECT count(*) FROM chunks WHERE collection = ?", (collection,)).fetchone()
        return articles, sentences, chunks

    def articles_without_layout(self, collection: str) -> list[ArticleRow]:
        """Articles missing their sentences or their chunks (unanswerable until laid out again)."""
        rows = self._connect().execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles a WHERE collection = ?"
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

        def bad(rows: Any) -> list:
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
        with self.write(collection) as conn:
            write_vectors(conn, chunk_vectors, sentence_vectors)
            self._bump(conn, collection)

    def replace_layout(self, collection: str, article_id: int, new: NewArticle, *, sentences: bool = True) -> list[int]:
        """Give a stored article new chunks, and new sentences unless `sentences` is False (its text and
        metadata untouched), in one transaction; returns the new chunk ids."""
        with self.write(collection) as conn:
            conn.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
            if sentences:
                conn.execute("DELETE FROM sentences WHERE article_id = ?", (article_id,))
                insert_sentences(conn, article_id, new)
            conn.execute("UPDATE articles SET body_end = ? WHERE id = ?", (new.body_end, article_id))
            added = insert_chunks(conn, collection, article_id, new)
            self._bump(conn, collection)
        return added
