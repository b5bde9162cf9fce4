"""The SQLite connection room: a connection per thread (WAL: readers never block the one writer), write
transactions that queue across threads and processes (BEGIN IMMEDIATE), read snapshots, and the numbered
migrations in index/storage/migrations/sqlite/ (PRAGMA user_version counts the ones applied)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations" / "sqlite"


@cache
def migrations() -> tuple[str, ...]:
    """The migration scripts in order (file names start with their number), without their comment lines."""
    files = sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    numbers = [int(f.name[:4]) for f in files]
    assert numbers == list(range(1, len(files) + 1)), f"migrations must be numbered 1..n: {numbers}"
    scripts = []
    for file in files:
        lines = file.read_text(encoding="utf-8").splitlines()
        scripts.append("\n".join(line for line in lines if not line.lstrip().startswith("--")))
    return tuple(scripts)


def blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def marks(n: int) -> str:
    return ",".join("?" * n)


class SQLiteDatabase:
    """One SQLite file."""

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
        for number, script in enumerate(migrations()[version:], start=version + 1):
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

    # -- metadata -------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self._connect().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @staticmethod
    def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def revision(self, collection: str) -> int:
        row = self._connect().execute("SELECT revision FROM collections WHERE name = ?", (collection,)).fetchone()
        return row[0] if row else 0

    @staticmethod
    def _bump(conn: sqlite3.Connection, collection: str) -> None:
        conn.execute(
            "INSERT INTO collections (name, revision) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET revision = revision + 1",
            (collection,),
        )
