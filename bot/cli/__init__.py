"""`python -m bot ...`: the command-line face. A public contract (names, options, JSON keys, exit
codes): extend it, never break it. Exit 0 on success, 1 on a user error (one sentence on stderr),
2 on a usage error. With --json, stdout carries only JSON."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from index.errors import BylineError, InvalidInput

if TYPE_CHECKING:
    from index.engine import Engine

EXIT_OK, EXIT_USER_ERROR, EXIT_USAGE = 0, 1, 2
DEFAULT_COLLECTION = "default"


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Byline: answers questions about your articles by quoting them, with sources.",
    )
    _global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, within: Any = commands) -> argparse.ArgumentParser:
        sub = within.add_parser(name, help=help_text, description=help_text)
        _global_options(sub, suppress=True)
        return sub

    add = command("add", "add articles: files (.txt .md .html .pdf), directories, http(s) URLs, or - for stdin")
    add.add_argument("sources", nargs="+", metavar="SOURCE")
    add.add_argument("--title", help="title (single source only; plain text defaults to its first line)")
    add.add_argument("--url", help="the article's canonical URL (single source only)")
    add.add_argument("--published", help="publication date, YYYY-MM-DD")

    ask = command("ask", "answer a question with verbatim quotes from the articles")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=None, metavar="N", help="at most N quotes (default 3)")

    summary = command("summary", "extractive summary of one article, or of a topic across articles (--topic)")
    summary.add_argument("article_id", type=int, nargs="?", metavar="ARTICLE_ID")
    summary.add_argument("--topic", help="summarise what the articles say about this topic, citing each sentence")
    summary.add_argument("--since", metavar="DATE", help="with --topic: only articles dated on or after DATE")
    summary.add_argument(
        "--sentences", type=int, default=None, metavar="N", help="number of sentences (default 3; 5 with --topic)"
    )

    digest = command("digest", "the articles of the last days, grouped by story, newest first, each with a lead")
    digest.add_argument(
        "--days", type=int, default=7, metavar="N", help="how many days back, today included (default 7)"
    )
    command("list", "list the articles in the collection")
    remove = command("remove", "remove an article, its chunks, vectors and lexical entries")
    remove.add_argument("article_id", type=int, metavar="ARTICLE_ID")
    command("reindex", "rebuild the FAISS and BM25 caches from SQLite (all collections unless --collection)")
    command(
        "check",
        "verify that SQLite, FAISS and BM25 agree, repairing what does not (all collections unless --collection)",
    )
    command("run", "chat in the terminal (or connect to Discord when DISCORD_TOKEN is set)")
    feedback = command("feedback", "export members' 👍/👎 votes with the questions and answers they were about")
    feedback.add_argument("--delete-user", metavar="USER_ID", help="delete one member's votes and questions instead")
    command(
        "prepare",
        "make the ONNX copy of the bundled model now, from its own weights (make install does; else first use)",
    )
    command("collections", "list the collections with their article counts and the Discord server of each")
    purge = command(
        "purge", "delete a whole collection for good (articles, caches, logged answers and votes); needs --collection"
    )
    purge.add_argument("--yes", action="store_true", help="confirm without being asked (required when not a tty)")
    feed = command("feed", 'follow RSS/Atom feeds: new articles arrive by themselves (see README "Feeds")')
    feeds = feed.add_subparsers(dest="feed_command", required=True, metavar="FEED_COMMAND")

    def feed_command(name: str, help_text: str) -> argparse.ArgumentParser:
        return command(name, help_text, feeds)

    feed_add = feed_command("add", "follow a feed (or the feed a web page names); polled from now on")
    feed_add.add_argument("url", metavar="URL")
    feed_add.add_argument("--channel", metavar="CHANNEL_ID", help="the Discord channel to announce new articles in")
    feed_add.add_argument("--announce", action="store_true", help="announce new articles in --channel")
    feed_command("list", "the feeds the collection follows, with their state")
    for name, help_text in (
        ("remove", "stop following a feed (the articles it brought stay)"),
        ("pause", "stop polling a feed for this collection until resumed"),
        ("resume", "poll a paused feed again (one paused for failing: now)"),
    ):
        feed_command(name, help_text).add_argument("feed_id", type=int, metavar="ID")
    feed_poll = feed_command("poll", "poll every due feed once, now (every collection's)")
    feed_poll.add_argument("--force", action="store_true", help="poll every followed feed, due or not")
    feed_test = feed_command("test", "a dry run: what following URL would add; nothing is stored")
    feed_test.add_argument("url", metavar="URL")
    migrate = command(
        "migrate",
        "copy this data dir's SQLite store into PostgreSQL (no re-embedding; resumable; checked at the end)",
    )
    migrate.add_argument("--to", required=True, metavar="URL", help="the target, postgresql://user:pass@host/db")
    return parser


def _emit(args: argparse.Namespace, payload: Any, text: str) -> None:
    if args.json:
        json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif text:
        print(text)


def _open_engine(args: argparse.Namespace) -> Engine:
    from bot import config
    from index.engine import Engine

    return Engine(config.load(args.data_dir).engine)


def cmd_add(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import render
    from index import extract

    if len(args.sources) > 1 and (args.title or args.url):
        raise InvalidInput("--title and --url apply to a single source; add the files one at a time.")
    errors: list[tuple[str, BylineError]] = []
    docs: list[extract.Document] = []
    for source in args.sources:
        if source == "-":
            data = sys.stdin.buffer.read()
            try:
                kind = "html" if extract.looks_like_html(data[:4096].decode("utf-8", "replace")) else "text"
                docs.append(
                    extract.from_bytes(data, "stdin", kind, url=args.url, max_bytes=engine.settings.max_article_bytes)
                )
            except BylineError as exc:
                errors.append(("stdin", exc))
        else:
            docs.extend(engine.documents(source, errors))
        if len(docs) > 1 and (args.title or args.url):
            raise InvalidInput("--title and --url apply to a single article, but that source holds several.")
    results = (
        engine.add_documents(collection, docs, title=args.title, url=args.url, published=args.published, errors=errors)
        if docs
        else []
    )
    if results or not errors:  # on total failure stdout stays empty, like every other user error
        _emit(args, [r.to_json() for r in results], "\n".join(render.add_result_text(r) for r in results))
    for source, exc in errors:
        message = str(exc) if source in str(exc) else f"{source}: {exc}"
        print(f"error: {message}", file=sys.stderr)
    return EXIT_USER_ERROR if errors else EXIT_OK


def cmd_ask(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import render

    if args.k is not None and args.k < 1:
        raise InvalidInput("-k must be at least 1.")
    answer = engine.ask(collection, args.question, k=args.k)
    _emit(args, answer.to_json(), render.answer_text(answer))
    return EXIT_OK


def cmd_summary(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import render

    if args.sentences is not None and args.sentences < 1:
        raise InvalidInput("--sentences must be at least 1.")
    if args.topic is None:
        if args.since:
            raise InvalidInput("--since applies to --topic summaries.")
        summary = engine.summarize(collection, args.article_id, args.sentences or 3)
        _emit(args, summary.to_json(), render.summary_text(summary))
        return EXIT_OK
    from index.chunking import parse_date

    since = None
    if args.since:
        parsed = parse_date(args.since)
        if parsed is None:
            raise InvalidInput(f"--since must be a date like 2024-03-14, not {args.since!r}.")
        since = date.fromisoformat(parsed)
    topic = engine.summarize_topic(collection, args.topic, since=since, sentences=args.sentences or 5)
    _emit(args, topic.to_json(), render.topic_summary_text(topic))
    return EXIT_OK


def cmd_digest(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import render

    digest = engine.digest(collection, args.days)
    _emit(args, digest.to_json(), render.digest_text(digest))
    return EXIT_OK


def cmd_list(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import render

    articles = engine.list_articles(collection)
    text = "\n".join(render.article_line(a) for a in articles) or f"No articles in collection {collection!r} yet."
    _emit(args, [a.to_json() for a in articles], text)
    return EXIT_OK


def cmd_remove(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    article = engine.remove(collection, args.article_id)
    _emit(
        args,
        {"id": article.id, "title": article.title, "status": "removed"},
        f"removed   #{article.id}  {article.title}",
    )
    return EXIT_OK


def cmd_reindex(engine: Engine, args: argparse.Namespace, collection: str | None) -> int:
    counts = engine.reindex(collection)
    text = "\n".join(f"{name}: {n} chunks" for name, n in counts.items()) or "Nothing to reindex."
    _emit(args, {"collections": counts}, text)
    return EXIT_OK


def cmd_check(engine: Engine, args: argparse.Namespace, collection: str | None) -> int:
    from bot import render

    report = engine.check(collection)
    _emit(args, report.to_json(), render.check_report_text(report))
    return EXIT_OK  # consistent, or made so; a check that cannot repair raises (exit 1)


def _startup_check(engine: Engine) -> None:
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
        _startup_check(engine)
        return client.run(engine, settings)
    _startup_check(engine)
    return chat.run(engine, collection)


def cmd_feedback(engine: Engine, args: argparse.Namespace, collection: str | None) -> int:
    if args.delete_user:
        deleted = engine.feedback.delete_user(args.delete_user)
        _emit(
            args, {"user_id": args.delete_user, "deleted": deleted}, f"Deleted {deleted} rows for {args.delete_user}."
        )
        return EXIT_OK
    rows = engine.feedback.export(collection)
    text = "\n".join(
        f"{r['created']}  {'👍' if r['vote'] == 'up' else '👎'}  {r['collection']}  {r['question']}" for r in rows
    )
    _emit(args, rows, text or "No feedback yet.")
    return EXIT_OK


def cmd_prepare(args: argparse.Namespace) -> int:
    import time

    from bot import config
    from index.embedding import Embedder

    settings = config.load(args.data_dir).engine
    embedder = Embedder(settings.model, runtime=settings.runtime, cache_dir=settings.model_cache)
    if settings.model or settings.runtime != "onnx":
        payload = {"model": embedder.name, "runtime": "torch", "path": None, "made": False, "seconds": 0.0}
        _emit(args, payload, f"{embedder.name} runs on sentence-transformers: there is no ONNX copy to make.")
        return EXIT_OK
    started = time.perf_counter()
    folder, made = embedder.prepare()
    seconds = round(time.perf_counter() - started, 1)
    payload = {"model": embedder.name, "runtime": "onnx", "path": str(folder), "made": made, "seconds": seconds}
    verb = f"made and verified in {seconds:.1f} s" if made else "present and verified"
    lines = [f"ONNX copy of {embedder.name}: {verb} ({folder})"]
    if settings.answer_model:  # shipped in the repository: only checked (checksum) and loaded here
        from index.answer_model import AnswerModel

        judge = AnswerModel(threads=1)
        judge.load()
        payload["answer_model"] = {"path": str(judge.folder), "sha256": judge.card.sha256, "threshold": judge.threshold}
        lines.append(f"Answer-sentence model: verified ({judge.folder}, threshold {judge.threshold:.2f})")
    _emit(args, payload, "\n".join(lines))
    return EXIT_OK


def cmd_feed(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import render

    feeds = engine.feeds
    action = args.feed_command
    if action == "add":
        feed, new = feeds.add(collection, args.url, channel=args.channel, announce=args.announce)
        payload = {"id": feed.id, "url": feed.url, "title": feed.title, "status": "added" if new else "exists"}
        _emit(args, payload, f"{'following' if new else 'already following'}  {render.feed_line(feed)}")
    elif action == "list":
        listed = feeds.list(collection)
        text = "\n".join(render.feed_line(f) for f in listed) or f"Collection {collection!r} follows no feeds yet."
        _emit(args, [f.to_json() for f in listed], text)
    elif action in ("remove", "pause", "resume"):
        feed = getattr(feeds, action)(collection, args.feed_id)
        status = "removed" if action == "remove" else feed.status
        _emit(
            args,
            {"id": feed.id, "url": feed.url, "title": feed.title, "status": status},
            f"{status:<9} {render.feed_line(feed)}",
        )
    elif action == "poll":
        reports = feeds.poll_due(force=args.force)
        text = "\n".join(render.poll_report_text(r) for r in reports) or "No feed is due."
        _emit(args, {"feeds": [r.to_json() for r in reports]}, text)
    else:  # test
        preview = feeds.preview(args.url)
        _emit(args, preview.to_json(), render.feed_preview_text(preview))
    return EXIT_OK


def cmd_collections(engine: Engine, args: argparse.Namespace, collection: str | None) -> int:
    from bot.config import guild_of

    rows = [{**c.to_json(), "guild_id": guild_of(c.name)} for c in engine.collections()]
    lines = [
        f"{r['name']:<32} {r['articles']:>6,} articles {r['chunks']:>8,} chunks {r['answers']:>7,} answers "
        f"{r['votes']:>6,} votes" + (f"  (Discord server {r['guild_id']})" if r["guild_id"] else "")
        for r in rows
    ]
    _emit(args, rows, "\n".join(lines) or "No collections yet.")
    return EXIT_OK


def cmd_purge(engine: Engine, args: argparse.Namespace, collection: str | None) -> int:
    if not collection:
        raise InvalidInput("purge needs --collection NAME (`python -m bot collections` lists them).")
    if not args.yes:
        if not sys.stdin.isatty():
            raise InvalidInput(f"Purging deletes everything in {collection!r} for good: add --yes to confirm.")
        held = next((c for c in engine.collections() if c.name == collection), None)
        what = f"{held.articles:,} articles and {held.answers:,} logged answers" if held else "everything"
        typed = input(f"This deletes {what} in {collection!r} for good. Type the collection name to confirm: ")
        if typed.strip() != collection:
            raise InvalidInput("Not confirmed: nothing was deleted.")
    counts = engine.purge(collection)
    text = f"purged    {collection}: " + ", ".join(f"{n:,} {kind}" for kind, n in counts.items())
    _emit(args, {"collection": collection, **counts, "status": "purged"}, text)
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    from bot import config
    from index.engine import Engine
    from index.migrate import copy_store
    from index.storage import open_store, sqlite_url

    settings = config.load(args.data_dir).engine
    if not args.to.startswith(("postgresql://", "postgres://")):
        raise InvalidInput("migrate --to takes a postgresql:// URL.")
    database = Path(settings.data_dir) / "byline.sqlite3"
    if not database.exists():
        raise InvalidInput(f"There is no Byline database in {settings.data_dir} to copy ({database} is missing).")
    source, target = open_store(sqlite_url(database)), open_store(args.to)
    try:

        def progress(done: int, total: int) -> None:
            if args.verbose and (done % 100 == 0 or done == total):
                print(f"{done:,}/{total:,} articles", file=sys.stderr)

        report = copy_store(source, target, progress)
    finally:
        source.close()
        target.close()
    # verified the way any process would: caches built from the new store (in a folder of their own) agree
    with tempfile.TemporaryDirectory(prefix="byline-migrate-") as caches:
        engine = Engine(replace(settings, database_url=args.to, data_dir=Path(caches)))
        try:
            checked = engine.check()
        finally:
            engine.close()
    payload = {**report.to_json(), "check": checked.to_json()}
    copied = report.copied
    text = (
        f"copied    {copied['articles']:,} articles ({copied['chunks']:,} chunks, {copied['sentences']:,} sentences),"
        f" {copied['answers']:,} answers, {copied['feedback']:,} votes, {copied['digest_schedules']:,} schedules"
        f" in {report.seconds:.1f} s; {report.skipped_articles:,} articles were already there\n"
        f"check     {'consistent' if checked.consistent else 'repaired'}; "
        f"{'complete' if report.complete else 'INCOMPLETE'}"
    )
    _emit(args, payload, text)
    return EXIT_OK if report.complete else EXIT_USER_ERROR


COMMANDS = {
    "add": cmd_add,
    "ask": cmd_ask,
    "summary": cmd_summary,
    "digest": cmd_digest,
    "list": cmd_list,
    "remove": cmd_remove,
    "reindex": cmd_reindex,
    "check": cmd_check,
    "run": cmd_run,
    "feedback": cmd_feedback,
    "collections": cmd_collections,
    "purge": cmd_purge,
    "feed": cmd_feed,
}


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
        if args.command == "prepare":  # needs the model, not the data dir
            return cmd_prepare(args)
        if args.command == "migrate":  # two stores, not the configured one
            return cmd_migrate(args)
        engine = _open_engine(args)
        # these take no collection (all of them) or insist on one given explicitly
        every_collection = args.command in ("reindex", "check", "feedback", "collections", "purge")
        collection = args.collection if every_collection else (args.collection or DEFAULT_COLLECTION)
        try:
            return COMMANDS[args.command](engine, args, collection)
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
