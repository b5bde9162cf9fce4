"""The SQLite backend: one file in the data dir, every role of index/storage/roles.py."""

from __future__ import annotations

from index.storage.sqlite.articles import ArticleQueries
from index.storage.sqlite.layout import LayoutQueries
from index.storage.sqlite.log import LogQueries


class SQLiteStore(ArticleQueries, LayoutQueries, LogQueries):
    """Articles, layout, index source, repairs, answer log and schedules in one SQLite file."""


__all__ = ["SQLiteStore"]
