"""Feeds: collections follow RSS/Atom feeds, and new articles arrive by themselves. Feed bytes become
documents in `syndication.py`; `following.py` is the room (follow, poll, back off, announce) and
`records.py` what it hands the faces.

Imports downward only: index.articles (fetching, extraction), index.storage and the shared modules
at the top; the engine wires in what it needs of asking and ingest as plain callables."""

from __future__ import annotations

from typing import Any

# `from index.feeds import Feeds, Feed, ...` worked when this package was one module: kept for one release.
_MOVED = {
    "Feeds": "index.feeds.following",
    **dict.fromkeys(("Announcement", "Feed", "FeedPreview", "Notice", "PollReport"), "index.feeds.records"),
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'index.feeds' has no attribute {name!r}")
