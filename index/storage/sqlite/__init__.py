"""The SQLite backend: one file in the data dir, every role of index/storage/roles.py."""

from __future__ import annotations

from index.storage.queries import Queries
from index.storage.sqlite.database import SQLiteDatabase


class SQLiteStore(Queries, SQLiteDatabase):
    """Articles, layout, index source, repairs, answer log and schedules in one SQLite file."""


__all__ = ["SQLiteStore"]
