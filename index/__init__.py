"""Byline's engine: articles in, verbatim quoted answers out. Plain Python; never imports discord.

    engine.py     the facade every face calls (the composition root)
    settings.py   EngineSettings, read from the environment once
    errors.py     domain errors with a sentence a member can read, and the input checks
    models.py     the shared vocabulary: Article, Quote, Answer, Summary, Digest, ...
    asking/       question -> evidence -> judged sentences -> quotes or "the articles don't say"
    summaries/    article and topic summaries, digests, story clusters, schedules
    feeds/        RSS/Atom subscriptions, polling, announcements
    upkeep/       consistency check, cache rebuilds, store-to-store migration
    articles/     sources, safe fetching, extraction, chunking, ingest, the catalogue
    search/       FAISS + BM25 per collection, hybrid fusion, the cache of indexes
    storage/      SQLite and PostgreSQL behind role Protocols, migrations per backend
    inference/    the embedding and answer models on ONNX Runtime
    weights/      the answer model's shipped weights

Packages import downward only, in the order above read from the bottom (tests/test_architecture.py).

The names below are loaded on first use, so that `python -m bot --help` does not pay for numpy,
FAISS and bm25s. Modules that moved into packages keep their old import paths for one release
(`import index.answering` still works, with a DeprecationWarning)."""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index.engine import Engine
    from index.errors import BylineError
    from index.settings import EngineSettings

__all__ = ["BylineError", "Engine", "EngineSettings"]
_HOMES = {"Engine": "index.engine", "BylineError": "index.errors", "EngineSettings": "index.settings"}

# Old module -> its home since the engine was grouped into packages. Drop in the release after next.
MOVED = {
    "index.answer": "index.asking.scoring",
    **{f"index.{m}": f"index.asking.{m}" for m in ("answering", "casual", "dates", "evidence", "feedback", "judging")},
    **{f"index.{m}": f"index.asking.{m}" for m in ("llm", "prompts")},
    **{f"index.{m}": f"index.articles.{m}" for m in ("catalogue", "chunking", "extract", "fetch", "ingest", "sources")},
    "index.syndication": "index.feeds.syndication",
    **{f"index.{m}": f"index.summaries.{m}" for m in ("digests", "schedule", "stories")},
    **{f"index.{m}": f"index.inference.{m}" for m in ("answer_model", "embedding", "runtime")},
    "index.model_export": "index.inference.export",
    "index.cachefile": "index.search.cachefile",
    **{f"index.{m}": f"index.upkeep.{m}" for m in ("consistency", "maintenance", "migrate")},
    "index.inputs": "index.errors",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    if f"index.{name}" in MOVED:  # `from index import extract` (old style)
        return importlib.import_module(f"index.{name}")
    raise AttributeError(f"module 'index' has no attribute {name!r}")


class _MovedModules:  # a meta path finder and its loader (importlib.abc would cost the cold CLI 30 ms)
    """`import index.answering` gives index.asking.answering itself (one module object, one state), with a
    DeprecationWarning naming the new path."""

    def __init__(self) -> None:
        self.specs: dict[str, importlib.machinery.ModuleSpec] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new}; the old path goes in the next release", DeprecationWarning, stacklevel=2
        )
        module = importlib.import_module(new)
        self.specs[new] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system has just set __spec__ to the alias's: give the module its own back
        module.__spec__ = self.specs[module.__name__]


sys.meta_path.append(_MovedModules())
