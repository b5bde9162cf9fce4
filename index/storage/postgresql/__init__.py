"""The PostgreSQL backend (BYLINE_DATABASE_URL=postgresql://...): every role of index/storage/roles.py in
one database that any number of processes and machines share."""

from __future__ import annotations

from index.storage.database import EVERYTHING
from index.storage.postgresql.database import PostgresDatabase
from index.storage.queries import Queries
from index.storage.queries.transfer import IDENTITY_TABLES


class PostgresStore(Queries, PostgresDatabase):
    """Articles, layout, index source, repairs, answer log and schedules in one PostgreSQL database."""

    def after_copy(self) -> None:
        """Identity columns count on from the highest id copied in (explicit ids do not move them)."""
        with self.write(EVERYTHING) as conn:
            for table in IDENTITY_TABLES:
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false)"
                    f" FROM {table}"
                )


__all__ = ["PostgresStore"]
