"""The queries of every role (index/storage/roles.py) in the SQL that SQLite and PostgreSQL share, over a
backend's connection room (index/storage/database.py)."""

from __future__ import annotations

from index.storage.queries.articles import ArticleQueries
from index.storage.queries.feeds import FeedQueries
from index.storage.queries.layout import LayoutQueries
from index.storage.queries.log import LogQueries
from index.storage.queries.transfer import TransferQueries


class Queries(ArticleQueries, LayoutQueries, LogQueries, FeedQueries, TransferQueries):
    """Articles, layout, index source, repairs, answer log, schedules and feeds; rows for copying a store."""


__all__ = ["Queries"]
