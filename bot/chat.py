"""The terminal chat: `python -m bot run` without a Discord token. Same engine, same answers."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from bot import render
from bot.config import SAMPLE_ARTICLES
from index.errors import BylineError

if TYPE_CHECKING:
    from index.engine import Engine

HELP = """Ask a question, or use a command:
  /list               the articles
  /summary ID [N]     an N-sentence summary of article ID
  /topic TEXT         what the articles say about a topic, quoted across articles
  /digest [DAYS]      the last DAYS days' articles (default 7), grouped by story
  /add PATH-or-URL    add a file, a directory or a web page
  /remove ID          remove an article
  /help, /quit"""


def ingest_samples(engine: Engine, collection: str) -> None:
    errors: list[tuple[str, BylineError]] = []
    print(f"The collection is empty: adding the sample articles from {SAMPLE_ARTICLES} ...", flush=True)
    docs = engine.documents(str(SAMPLE_ARTICLES), errors)
    for result in engine.add_documents(collection, docs, errors=errors):
        print("  " + render.add_result_text(result))
    for source, exc in errors:
        print(f"  error: {source}: {exc}", file=sys.stderr)


# Who asked, in the answer log: the terminal has one local member (insights count askers, never name them).
ASKER = "terminal"


def handle(engine: Engine, collection: str, line: str) -> str | None:
    """One line of input → the reply text; None means quit."""
    if not line.startswith("/"):
        answer = engine.ask(collection, line)
        # logged like Discord's answers, so that a terminal session shows up in `python -m bot insights`
        engine.feedback.log_answer(collection, answer, ASKER)
        return render.answer_text(answer)
    command, _, rest = line[1:].partition(" ")
    rest = rest.strip()
    if command in ("quit", "exit", "q"):
        return None
    if command == "help":
        return HELP
    if command == "list":
        return "\n".join(render.article_line(a) for a in engine.list_articles(collection)) or "No articles yet."
    if command in ("summary", "remove"):
        parts = rest.split()
        if not parts or not parts[0].lstrip("#").isdigit():
            return f"Usage: /{command} ID (see /list for the ids)."
        article_id = int(parts[0].lstrip("#"))
        if command == "remove":
            return f"Removed #{article_id}: {engine.remove(collection, article_id).title}"
        n = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 3
        return render.summary_text(engine.summarize(collection, article_id, n))
    if command == "topic":
        if not rest:
            return "Usage: /topic TEXT"
        return render.topic_summary_text(engine.summarize_topic(collection, rest))
    if command == "digest":
        if rest and not rest.isdigit():
            return "Usage: /digest [DAYS]"
        return render.digest_text(engine.digest(collection, int(rest or 7)))
    if command == "add":
        if not rest:
            return "Usage: /add PATH-or-URL"
        errors: list[tuple[str, BylineError]] = []
        results = engine.add_documents(collection, engine.documents(rest, errors), errors=errors)
        lines = [render.add_result_text(r) for r in results] + [f"error: {s}: {e}" for s, e in errors]
        return "\n".join(lines)
    return f"Unknown command /{command}. " + HELP


def run(engine: Engine, collection: str) -> int:
    if not engine.list_articles(collection):
        ingest_samples(engine, collection)
    count = len(engine.list_articles(collection))
    print(f"Byline — {count} articles in collection {collection!r}. Type /help for commands, /quit to leave.")
    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            print()
            return 0
        if not line:
            continue
        try:
            reply = handle(engine, collection, line)
        except BylineError as exc:
            reply = f"Sorry: {exc}"
        if reply is None:
            return 0
        print(reply + "\n", flush=True)
