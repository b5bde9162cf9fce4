"""`ask`, `summary`, `digest`, `run` (the terminal chat or Discord), `feedback`: what members see."""

from __future__ import annotations

import argparse
import logging
from datetime import date
from typing import TYPE_CHECKING

from bot.cli.common import EXIT_OK, AddCommand, Command, emit
from index.errors import BylineError, InvalidInput

if TYPE_CHECKING:
    from index.engine import Engine


def cmd_ask(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import render

    if args.k is not None and args.k < 1:
        raise InvalidInput("-k must be at least 1.")
    answer = engine.ask(collection, args.question, k=args.k)
    emit(args, answer.to_json(), render.answer_text(answer))
    return EXIT_OK


def cmd_summary(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import render

    if args.sentences is not None and args.sentences < 1:
        raise InvalidInput("--sentences must be at least 1.")
    if args.topic is None:
        if args.since:
            raise InvalidInput("--since applies to --topic summaries.")
        summary = engine.summarize(collection, args.article_id, args.sentences or 3)
        emit(args, summary.to_json(), render.summary_text(summary))
        return EXIT_OK
    from index.articles.chunking import parse_date

    since = None
    if args.since:
        parsed = parse_date(args.since)
        if parsed is None:
            raise InvalidInput(f"--since must be a date like 2024-03-14, not {args.since!r}.")
        since = date.fromisoformat(parsed)
    topic = engine.summarize_topic(collection, args.topic, since=since, sentences=args.sentences or 5)
    emit(args, topic.to_json(), render.topic_summary_text(topic))
    return EXIT_OK


def cmd_digest(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import render

    digest = engine.digest(collection, args.days)
    emit(args, digest.to_json(), render.digest_text(digest))
    return EXIT_OK


def startup_check(engine: Engine) -> None:
    """Before a long-running face starts: repair what a crash or outside damage left (logged at WARNING).
    A model mismatch is only logged here: every question already explains it."""
    try:
        report = engine.check()
    except BylineError as exc:
        logging.getLogger(__name__).warning("consistency check skipped: %s", exc)
        return
    logging.getLogger(__name__).info(
        "consistency check: %s in %.0f ms", "consistent" if report.consistent else "repaired", report.seconds * 1000
    )


def cmd_run(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import chat, config

    settings = config.load(args.data_dir).discord
    if settings.token:
        from bot import client

        if not args.verbose and config.load_logging().level is None:
            logging.getLogger().setLevel(logging.INFO)  # a server: show connections, refusals and errors
        startup_check(engine)
        return client.run(engine, settings)
    startup_check(engine)
    return chat.run(engine, collection)


def cmd_feedback(engine: Engine, args: argparse.Namespace, collection: str | None) -> int:
    if args.delete_user:
        deleted = engine.feedback.delete_user(args.delete_user)
        emit(args, {"user_id": args.delete_user, "deleted": deleted}, f"Deleted {deleted} rows for {args.delete_user}.")
        return EXIT_OK
    rows = engine.feedback.export(collection)
    text = "\n".join(
        f"{r['created']}  {'👍' if r['vote'] == 'up' else '👎'}  {r['collection']}  {r['question']}" for r in rows
    )
    emit(args, rows, text or "No feedback yet.")
    return EXIT_OK


def summary_options(parser: argparse.ArgumentParser, command: AddCommand) -> None:
    parser.add_argument("article_id", type=int, nargs="?", metavar="ARTICLE_ID")
    parser.add_argument("--topic", help="summarise what the articles say about this topic, citing each sentence")
    parser.add_argument("--since", metavar="DATE", help="with --topic: only articles dated on or after DATE")
    parser.add_argument(
        "--sentences", type=int, default=None, metavar="N", help="number of sentences (default 3; 5 with --topic)"
    )


def ask_options(parser: argparse.ArgumentParser, command: AddCommand) -> None:
    parser.add_argument("question")
    parser.add_argument("-k", type=int, default=None, metavar="N", help="at most N quotes (default 3)")


def digest_options(parser: argparse.ArgumentParser, command: AddCommand) -> None:
    parser.add_argument(
        "--days", type=int, default=7, metavar="N", help="how many days back, today included (default 7)"
    )


def feedback_options(parser: argparse.ArgumentParser, command: AddCommand) -> None:
    parser.add_argument("--delete-user", metavar="USER_ID", help="delete one member's votes and questions instead")


COMMANDS = {
    "ask": Command("answer a question with verbatim quotes from the articles", cmd_ask, ask_options),
    "summary": Command(
        "extractive summary of one article, or of a topic across articles (--topic)", cmd_summary, summary_options
    ),
    "digest": Command(
        "the articles of the last days, grouped by story, newest first, each with a lead", cmd_digest, digest_options
    ),
    "run": Command("chat in the terminal (or connect to Discord when DISCORD_TOKEN is set)", cmd_run),
    "feedback": Command(
        "export members' 👍/👎 votes with the questions and answers they were about",
        cmd_feedback,
        feedback_options,
        every_collection=True,
    ),
}
