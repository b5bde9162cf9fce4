"""What the shared queries (index/storage/queries/) need of a backend's connection room: a connection for
this thread, write transactions that queue, read snapshots, the meta table and the revision counters.
SQLite (sqlite/database.py) and PostgreSQL (postgresql/database.py) each provide it; the SQL of the
queries is the dialect both speak, with "?" placeholders."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

import numpy as np


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any: ...


def blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def marks(n: int) -> str:
    return ",".join("?" * n)


@contextmanager
def transaction(conn: Connection, begin: str = "BEGIN") -> Iterator[Connection]:
    """`begin`, then COMMIT, or ROLLBACK if anything inside raised (and re-raise)."""
    conn.execute(begin)
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# What a write transaction touches, for write(): a collection's name (its articles, sentences, chunks and
# revision), EVERYTHING (rows of many collections at once: a model swap, a copy, orphan repairs) or
# OWN_ROWS (rows no other writer races for: the answer log, votes, schedules, meta keys added once).
EVERYTHING = None
OWN_ROWS = ""


class Database:
    """The base every backend's connection room implements (see the module docstring)."""

    # LIKE that ignores case (SQLite's LIKE does for ASCII; PostgreSQL's needs ILIKE)
    CASELESS_LIKE = "LIKE"

    def _connect(self) -> Connection:
        raise NotImplementedError

    def write(self, scope: str | None = EVERYTHING) -> AbstractContextManager[Connection]:
        """One write transaction. Writers of one collection queue behind each other (threads, processes
        and machines alike), an EVERYTHING writer behind all of them; a backend may let writers of other
        collections, and OWN_ROWS writers, go at the same time."""
        raise NotImplementedError

    def snapshot(self) -> AbstractContextManager[None]:
        """One read transaction: every query inside sees the same committed state."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def ping(self) -> None:
        """Raise if the database cannot answer a query (a health check)."""
        self._connect().execute("SELECT 1").fetchone()

    # -- metadata and revisions -----------------------------------------------------------------
    def store_id(self) -> str:
        """This store's own random id, made when it was created: caches record it, so that a cache built
        from one store (a SQLite file) is never trusted for another (a PostgreSQL database) whose
        collection and revision happen to match."""
        found = self.meta("store_id")
        if found is None:
            with self.write(OWN_ROWS) as conn:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('store_id', ?) ON CONFLICT (key) DO NOTHING",
                    (uuid.uuid4().hex,),
                )
            found = self.meta("store_id")
        assert found is not None
        return found

    def meta(self, key: str) -> str | None:
        row = self._connect().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @staticmethod
    def _set_meta(conn: Connection, key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def revision(self, collection: str) -> int:
        row = self._connect().execute("SELECT revision FROM collections WHERE name = ?", (collection,)).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _bump(conn: Connection, collection: str) -> None:
        conn.execute(
            "INSERT INTO collections (name, revision) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET revision = collections.revision + 1",
            (collection,),
        )


def numbered_scripts(folder: Any) -> tuple[str, ...]:
    """The migration scripts of a folder in order (file names start with their number, 1..n), without
    their comment lines."""
    files = sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    numbers = [int(f.name[:4]) for f in files]
    assert numbers == list(range(1, len(files) + 1)), f"migrations must be numbered 1..n: {numbers}"
    scripts = []
    for file in files:
        lines = file.read_text(encoding="utf-8").splitlines()
        scripts.append("\n".join(line for line in lines if not line.lstrip().startswith("--")))
    return tuple(scripts)


def statements(script: str) -> Iterator[str]:
    """The statements of a migration script (they hold no semicolons inside)."""
    return (s for s in script.split(";") if s.strip())
