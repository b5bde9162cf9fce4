"""The queries of every role (index/storage/roles.py) in the SQL that SQLite and PostgreSQL share, over a
backend's connection room (index/storage/database.py)."""

from __future__ import annotations

from index.storage.queries.articles import ArticleQueries
from index.storage.queries.layout import LayoutQueries
from index.storage.queries.log import LogQueries


class Queries(ArticleQueries, LayoutQueries, LogQueries):
    """Articles, layout, index source, repairs, answer log and schedules."""


__all__ = ["Queries"]
