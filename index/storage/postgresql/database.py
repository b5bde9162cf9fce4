"""The PostgreSQL connection room (psycopg 3): a pool of connections, one lent to each thread while it
works, in autocommit so a lone read is one statement; write transactions that queue across threads,
processes and machines (transaction-scoped advisory locks: one per collection, so writers of one
collection queue while other collections' writers go on, under a store-wide lock that writers of many
collections take alone); read snapshots (REPEATABLE READ, read only); and the numbered migrations in
index/storage/migrations/postgresql/ (the table schema_migrations counts the ones applied, under a
session advisory lock so that processes starting together migrate once). A stock PostgreSQL ≥ 14, no
extension needed."""

from __future__ import annotations

import threading
import weakref
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from index.errors import InvalidInput
from index.storage.database import EVERYTHING, OWN_ROWS, Database, numbered_scripts, statements, transaction

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations" / "postgresql"
# advisory lock keys (any 64-bit numbers of our own: "byline" in ASCII, then a role); a collection's lock
# is a pair of 32-bit keys, a space of its own: "byli", then the CRC-32 of its name (two names sharing a
# CRC only queue behind each other, which is safe)
WRITE_LOCK = 0x6279_6C69_6E65_0001
MIGRATION_LOCK = 0x6279_6C69_6E65_0002
COLLECTION_LOCKS = 0x6279_6C69


def collection_key(collection: str) -> int:
    """The collection's half of its advisory lock key, as PostgreSQL's signed int4."""
    crc = zlib.crc32(collection.encode("utf-8"))
    return crc - (1 << 32) if crc >= 1 << 31 else crc


@cache
def migrations() -> tuple[str, ...]:
    return numbered_scripts(MIGRATIONS_DIR)


@lru_cache(maxsize=1024)  # every query goes through it: the few hundred distinct statements, once each
def dialect(sql: str) -> str:
    """The shared SQL's "?" placeholders as psycopg's "%s" (the queries hold no "?" or "%" otherwise)."""
    return sql.replace("%", "%%").replace("?", "%s")


class Connection:
    """A psycopg connection that speaks the shared SQL (index/storage/database.py's Connection)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.release: weakref.finalize | None = None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(dialect(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        cursor = self.raw.cursor()
        cursor.executemany(dialect(sql), [tuple(r) for r in rows])
        return cursor


class PostgresDatabase(Database):
    """One PostgreSQL database, named by a postgresql:// URL (libpq's, passed to psycopg as it is)."""

    CASELESS_LIKE = "ILIKE"

    def __init__(self, url: str, pool_size: int = 8) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:  # pragma: no cover - both are in requirements.txt
            raise InvalidInput("PostgreSQL needs the psycopg and psycopg-pool packages (requirements.txt).") from None
        self.url = url
        self._idle = psycopg.pq.TransactionStatus.IDLE  # looked up once: snapshots ask on every question
        try:  # one plain connection first: a wrong URL is one sentence now, not a pool retrying for 30 s
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise InvalidInput(f"Cannot reach the PostgreSQL database in BYLINE_DATABASE_URL: {reason}") from None
        self._local = threading.local()
        self._pool = ConnectionPool(
            url, min_size=1, max_size=pool_size, kwargs={"autocommit": True}, open=False, name="byline"
        )
        try:
            self._pool.open(wait=True, timeout=30)
        except Exception as error:
            self._pool.close()
            raise InvalidInput(f"Cannot reach the PostgreSQL database in BYLINE_DATABASE_URL: {error}") from None
        self._migrate()
        self.store_id()  # made once, outside any read snapshot

    # -- connections ------------------------------------------------------------------------------
    def _connect(self) -> Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.raw.closed:
            raw = self._pool.getconn()
            conn = Connection(raw)
            # back to the pool when the thread ends (its locals go) or the store closes
            conn.release = weakref.finalize(conn, self._give_back, raw)
            self._local.conn = conn
        return conn

    def _give_back(self, raw: Any) -> None:
        if not self._pool.closed:
            self._pool.putconn(raw)

    def _in_transaction(self, conn: Connection) -> bool:
        return conn.raw.info.transaction_status != self._idle

    @contextmanager
    def write(self, scope: str | None = EVERYTHING) -> Iterator[Connection]:
        with transaction(self._connect()) as conn:
            if scope is EVERYTHING:
                conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
            elif scope != OWN_ROWS:  # a collection: shares the store lock, holds its own (always in that order)
                conn.execute("SELECT pg_advisory_xact_lock_shared(?)", (WRITE_LOCK,))
                conn.execute("SELECT pg_advisory_xact_lock(?, ?)", (COLLECTION_LOCKS, collection_key(scope)))
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        conn = self._connect()
        if self._in_transaction(conn):  # nested: the outer snapshot already holds
            yield
            return
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None and conn.release is not None:
            conn.release()
        self._pool.close()

    # -- migrations -------------------------------------------------------------------------------
    def _migrate(self) -> None:
        conn = self._connect()
        conn.execute("SELECT pg_advisory_lock(?)", (MIGRATION_LOCK,))
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
            version = int(row[0] or 0)
            for number, script in enumerate(migrations()[version:], start=version + 1):
                with transaction(conn):
                    for statement in statements(script):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (number,))
        finally:
            conn.execute("SELECT pg_advisory_unlock(?)", (MIGRATION_LOCK,))
