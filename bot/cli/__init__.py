"""`python -m bot ...`: the command-line face. A public contract (names, options, JSON keys, exit
codes): extend it, never break it. Exit 0 on success, 1 on a user error (one sentence on stderr),
2 on a usage error. With --json, stdout carries only JSON.

The commands come in groups, one module each: articles.py (add, list, remove, collections, purge),
asking.py (ask, summary, digest, run, feedback), feeds.py (feed ...), upkeep.py (reindex, check,
prepare, migrate), insights.py (insights); common.py holds what they share."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from bot.cli import articles, asking, feeds, insights, upkeep
from bot.cli.common import (
    DEFAULT_COLLECTION,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_USER_ERROR,
    Command,
    global_options,
    open_engine,
)
from index.errors import BylineError

__all__ = ["DEFAULT_COLLECTION", "EXIT_OK", "EXIT_USAGE", "EXIT_USER_ERROR", "build_parser", "main"]

# in the order `--help` lists them
ORDER = (
    "add",
    "ask",
    "summary",
    "digest",
    "list",
    "remove",
    "reindex",
    "check",
    "run",
    "feedback",
    "prepare",
    "collections",
    "purge",
    "feed",
    "migrate",
    "insights",
)
COMMANDS: dict[str, Command] = {
    **articles.COMMANDS,
    **asking.COMMANDS,
    **feeds.COMMANDS,
    **upkeep.COMMANDS,
    **insights.COMMANDS,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Byline: answers questions about your articles by quoting them, with sources.",
    )
    global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, within: Any = commands) -> argparse.ArgumentParser:
        sub = within.add_parser(name, help=help_text, description=help_text)
        global_options(sub, suppress=True)
        return sub

    for name in ORDER:
        spec = COMMANDS[name]
        sub = command(name, spec.help)
        if spec.options:
            spec.options(sub, command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on a usage error
    if args.command == "summary" and (args.article_id is None) == (args.topic is None):
        parser.error("summary takes either an ARTICLE_ID or --topic TEXT")
    try:
        _setup_logging(args)
        if args.collection is not None:
            from index.engine import Engine as _Engine

            _Engine.check_collection(args.collection)
        spec = COMMANDS[args.command]
        if not spec.engine:
            return spec.run(args)
        engine = open_engine(args)
        # these take no collection (all of them) or insist on one given explicitly
        collection = args.collection if spec.every_collection else (args.collection or DEFAULT_COLLECTION)
        try:
            return spec.run(engine, args, collection)
        finally:
            engine.close()
    except BylineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception:  # a bug: through the log (formatted, secrets redacted), then the usual exit 1
        logging.getLogger("bot").exception("python -m bot %s failed", args.command)
        return EXIT_USER_ERROR


def _setup_logging(args: argparse.Namespace) -> None:
    """-v / -vv win; else BYLINE_LOG_LEVEL; else WARNING (cmd_run raises it to INFO for Discord)."""
    from bot import config, logs

    settings = config.load_logging()
    if args.verbose:
        level = logging.INFO if args.verbose == 1 else logging.DEBUG
    else:
        level = settings.level if settings.level is not None else logging.WARNING
    logs.setup(level, settings.format, settings.secrets)
