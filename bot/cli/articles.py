"""`add`, `list`, `remove`, `collections`, `purge`: what a collection holds."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.cli.common import EXIT_OK, EXIT_USER_ERROR, AddCommand, Command, emit
from index.errors import BylineError, InvalidInput

if TYPE_CHECKING:
    from index.engine import Engine


def cmd_add(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import render
    from index.articles import extract

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
        emit(args, [r.to_json() for r in results], "\n".join(render.add_result_text(r) for r in results))
    for source, exc in errors:
        message = str(exc) if source in str(exc) else f"{source}: {exc}"
        print(f"error: {message}", file=sys.stderr)
    return EXIT_USER_ERROR if errors else EXIT_OK


def cmd_list(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import render

    articles = engine.list_articles(collection)
    text = "\n".join(render.article_line(a) for a in articles) or f"No articles in collection {collection!r} yet."
    emit(args, [a.to_json() for a in articles], text)
    return EXIT_OK


def cmd_remove(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    article = engine.remove(collection, args.article_id)
    emit(
        args,
        {"id": article.id, "title": article.title, "status": "removed"},
        f"removed   #{article.id}  {article.title}",
    )
    return EXIT_OK


def cmd_collections(engine: Engine, args: argparse.Namespace, collection: str | None) -> int:
    from bot.config import guild_of

    rows = [{**c.to_json(), "guild_id": guild_of(c.name)} for c in engine.collections()]
    lines = [
        f"{r['name']:<32} {r['articles']:>6,} articles {r['chunks']:>8,} chunks {r['answers']:>7,} answers "
        f"{r['votes']:>6,} votes" + (f"  (Discord server {r['guild_id']})" if r["guild_id"] else "")
        for r in rows
    ]
    emit(args, rows, "\n".join(lines) or "No collections yet.")
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
    emit(args, {"collection": collection, **counts, "status": "purged"}, text)
    return EXIT_OK


def add_options(parser: argparse.ArgumentParser, command: AddCommand) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE")
    parser.add_argument("--title", help="title (single source only; plain text defaults to its first line)")
    parser.add_argument("--url", help="the article's canonical URL (single source only)")
    parser.add_argument("--published", help="publication date, YYYY-MM-DD")


COMMANDS = {
    "add": Command(
        "add articles: files (.txt .md .html .pdf), directories, http(s) URLs, or - for stdin", cmd_add, add_options
    ),
    "list": Command("list the articles in the collection", cmd_list),
    "remove": Command(
        "remove an article, its chunks, vectors and lexical entries",
        cmd_remove,
        lambda parser, _: parser.add_argument("article_id", type=int, metavar="ARTICLE_ID"),
    ),
    "collections": Command(
        "list the collections with their article counts and the Discord server of each",
        cmd_collections,
        every_collection=True,
    ),
    "purge": Command(
        "delete a whole collection for good (articles, caches, logged answers and votes); needs --collection",
        cmd_purge,
        lambda parser, _: parser.add_argument(
            "--yes", action="store_true", help="confirm without being asked (required when not a tty)"
        ),
        every_collection=True,
    ),
}
