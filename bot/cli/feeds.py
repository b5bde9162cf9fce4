"""`feed add|list|remove|pause|resume|poll|test`: following RSS/Atom feeds."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.common import EXIT_OK, AddCommand, Command, emit

if TYPE_CHECKING:
    from index.engine import Engine


def cmd_feed(engine: Engine, args: argparse.Namespace, collection: str) -> int:
    from bot import render

    feeds = engine.feeds
    action = args.feed_command
    if action == "add":
        feed, new = feeds.add(collection, args.url, channel=args.channel, announce=args.announce)
        payload = {"id": feed.id, "url": feed.url, "title": feed.title, "status": "added" if new else "exists"}
        emit(args, payload, f"{'following' if new else 'already following'}  {render.feed_line(feed)}")
    elif action == "list":
        listed = feeds.list(collection)
        text = "\n".join(render.feed_line(f) for f in listed) or f"Collection {collection!r} follows no feeds yet."
        emit(args, [f.to_json() for f in listed], text)
    elif action in ("remove", "pause", "resume"):
        feed = getattr(feeds, action)(collection, args.feed_id)
        status = "removed" if action == "remove" else feed.status
        emit(
            args,
            {"id": feed.id, "url": feed.url, "title": feed.title, "status": status},
            f"{status:<9} {render.feed_line(feed)}",
        )
    elif action == "poll":
        reports = feeds.poll_due(force=args.force)
        text = "\n".join(render.poll_report_text(r) for r in reports) or "No feed is due."
        emit(args, {"feeds": [r.to_json() for r in reports]}, text)
    else:  # test
        preview = feeds.preview(args.url)
        emit(args, preview.to_json(), render.feed_preview_text(preview))
    return EXIT_OK


def feed_options(parser: argparse.ArgumentParser, command: AddCommand) -> None:
    feeds = parser.add_subparsers(dest="feed_command", required=True, metavar="FEED_COMMAND")

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


COMMANDS = {
    "feed": Command(
        'follow RSS/Atom feeds: new articles arrive by themselves (see README "Feeds")', cmd_feed, feed_options
    ),
}
