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

from index.storage.database import EVERYTHING, Database, numbered_scripts, statements, transaction

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations" / "sqlite"


@cache
def migrations() -> tuple[str, ...]:
    return numbered_scripts(MIGRATIONS_DIR)


class SQLiteDatabase(Database):
    """One SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._migrate()
        self.store_id()  # made once, outside any read snapshot

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
    def write(self, scope: str | None = EVERYTHING) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE so concurrent writers (threads or processes) queue:
        SQLite has one writer at a time whatever the scope."""
        with transaction(self._connect(), "BEGIN IMMEDIATE") as conn:
            yield conn

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
            with transaction(conn, "BEGIN IMMEDIATE"):
                # re-check under the lock: another process may have migrated meanwhile
                if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                    continue
                for statement in statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
