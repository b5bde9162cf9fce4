"""Byline's engine: articles in, verbatim quoted answers out. Plain Python; never imports discord.

The names below are loaded on first use, so that `python -m bot --help` does not pay for numpy,
FAISS and bm25s."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index.engine import Engine
    from index.errors import BylineError
    from index.settings import EngineSettings

__all__ = ["BylineError", "Engine", "EngineSettings"]
_HOMES = {"Engine": "index.engine", "BylineError": "index.errors", "EngineSettings": "index.settings"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'index' has no attribute {name!r}")
