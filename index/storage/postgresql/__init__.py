"""The PostgreSQL backend (BYLINE_DATABASE_URL=postgresql://...): every role of index/storage/roles.py in
one database that any number of processes and machines share."""

from __future__ import annotations

from index.storage.postgresql.database import PostgresDatabase
from index.storage.queries import Queries


class PostgresStore(Queries, PostgresDatabase):
    """Articles, layout, index source, repairs, answer log and schedules in one PostgreSQL database."""


__all__ = ["PostgresStore"]
