"""Byline's engine: articles in, verbatim quoted answers out. Plain Python; never imports discord."""

from index.engine import Engine
from index.errors import BylineError
from index.settings import EngineSettings

__all__ = ["BylineError", "Engine", "EngineSettings"]
