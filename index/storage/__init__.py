"""Storage: the source of truth behind role interfaces (roles.py), chosen by URL (open_store).

    sqlite:///path/to/byline.sqlite3   (or a plain path)   the embedded default, one file in the data dir
    postgresql://user:pass@host/db     (or postgres://)   a PostgreSQL server many processes share

Rooms are typed against the role they use; SQL lives only in this package, one folder of numbered
migrations per backend (migrations/<backend>/NNNN_name.sql).

Imports none of the engine's other packages: only index.errors at the top."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from index.errors import InvalidInput
from index.storage.queries.transfer import LOG_TABLES
from index.storage.roles import (
    AnswerLogStore,
    Articles,
    FeedStore,
    IndexSource,
    Layout,
    Repairs,
    ScheduleStore,
    Store,
    Transfer,
)
from index.storage.rows import (
    AnswerRow,
    ArticleRow,
    ChunkRow,
    FeedItemRow,
    FeedRow,
    LoggedRow,
    NewArticle,
    SavedArticle,
    ScheduleRow,
    StoredTwin,
    SubscriptionRow,
    VoteRow,
    utc_iso,
    utc_now,
)


def _sqlite(url: str) -> Store:
    from index.storage.sqlite import SQLiteStore

    path = url.removeprefix("sqlite://")
    return SQLiteStore(Path(path))


def _postgresql(url: str) -> Store:
    from index.storage.postgresql import PostgresStore

    return PostgresStore(url)


_BACKENDS: dict[str, Callable[[str], Store]] = {"sqlite": _sqlite, "postgresql": _postgresql, "postgres": _postgresql}


def sqlite_url(path: Path) -> str:
    return f"sqlite://{Path(path).resolve()}"


def open_store(url: str) -> Store:
    """The store a URL names: `sqlite:///abs/path.sqlite3` or a bare path (SQLite), `postgresql://…`."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        return _sqlite(url)
    try:
        return _BACKENDS[scheme](url)
    except KeyError:
        raise InvalidInput(f"No storage backend for {scheme!r} URLs (known: {', '.join(_BACKENDS)}).") from None


__all__ = [
    "LOG_TABLES",
    "AnswerLogStore",
    "AnswerRow",
    "ArticleRow",
    "Articles",
    "ChunkRow",
    "FeedItemRow",
    "FeedRow",
    "FeedStore",
    "IndexSource",
    "Layout",
    "LoggedRow",
    "NewArticle",
    "Repairs",
    "SavedArticle",
    "ScheduleRow",
    "ScheduleStore",
    "Store",
    "StoredTwin",
    "SubscriptionRow",
    "Transfer",
    "VoteRow",
    "open_store",
    "sqlite_url",
    "utc_iso",
    "utc_now",
]
