"""Summaries: what the bot writes up rather than answers. One article or a topic across articles
(`summarising.py`), central non-repeating sentences and story clusters (`stories.py`), the last days
grouped by story (`digests.py`) and their weekly schedule (`schedule.py`).

Imports downward only: index.asking (evidence, time words, the optional LLM), index.articles,
index.storage and the shared modules at the top."""

from __future__ import annotations

from typing import Any

# `from index.summaries import Summaries` worked when this package was one module: kept for one release.
_MOVED = {"Summaries": "index.summaries.summarising"}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'index.summaries' has no attribute {name!r}")
