"""What every command group of the CLI shares: exit codes, the global options, JSON or text output, opening
the engine, and the `Command` each group lists (its help, its options, its handler)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index.engine import Engine

EXIT_OK, EXIT_USER_ERROR, EXIT_USAGE = 0, 1, 2
DEFAULT_COLLECTION = "default"

# adds a (sub)command with the global options: (name, help, within) -> its parser
AddCommand = Callable[..., argparse.ArgumentParser]


@dataclass(frozen=True)
class Command:
    """One `python -m bot NAME`: its help line, its options, and what runs it."""

    help: str
    run: Callable[..., int]  # (engine, args, collection) -> exit code; (args) when engine is False
    options: Callable[[argparse.ArgumentParser, AddCommand], None] | None = None
    engine: bool = True  # False: the command opens what it needs itself (the model, two stores)
    every_collection: bool = False  # no --collection means all collections (or it insists on one)


def global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The global options, accepted before or after the command (`--json ask ...` or `ask ... --json`)."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--data-dir", default=default, help="data directory (default $BYLINE_DATA_DIR, else ./data)")
    parser.add_argument("--collection", default=default, help=f"collection name (default {DEFAULT_COLLECTION!r})")
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="machine-readable output on stdout",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS if suppress else 0,
        help="log progress to stderr (-vv for debug)",
    )


def emit(args: argparse.Namespace, payload: Any, text: str) -> None:
    if args.json:
        json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif text:
        print(text)


def open_engine(args: argparse.Namespace) -> Engine:
    from bot import config
    from index.engine import Engine

    return Engine(config.load(args.data_dir).engine)
