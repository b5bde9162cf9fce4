"""Feeds at a news desk's scale: 50 feeds × 20 items on a loopback web server, polled through the engine.

The items are 1,000 BBC articles (bbc-news-summary), full text in the feeds. Rounds, with the engine's
clock moved on 15 minutes between them:
  1. first poll of all 50 feeds (a backfill of 20, so every item is stored): wall time, model time
     (inside the embedder), items per second;
  2. nothing changed: every feed answers 304 to the conditional GET;
  3. 10 feeds publish 2 new items each: 10 parsed, 40 answered 304;
  4. the same feeds served without validators (no ETag, no Last-Modified) and unchanged: every body
     fetched, none parsed (its hash is the last one's);
  5. sharing: 3 servers follow 10 other feeds: one fetch per feed serves all three.
Numbers go to bench/results.json ("feeds").

    python bench/feeds.py            # about 10 minutes on 2 cores"""

from __future__ import annotations

import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the loopback feed server

from feed_server import Entry, FeedServer, rss

from bench.common import record
from bench.corpora import bbc_rows
from index import Engine, EngineSettings

DATA_DIR = Path("/tmp/byline_bench/feeds")
FEEDS, ITEMS = 50, 20
PUBLISHED = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)  # fixed, so that an unchanged feed is the same bytes


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def entry(row: dict[str, str], n: int, when: datetime) -> Entry:
    lines = [line.strip() for line in row["article"].split("\n") if line.strip()]
    body = "".join(f"<p>{escape(p)}</p>" for p in lines[1:])
    return Entry(lines[0], f"https://news.example/bbc/{row['id']}", body, f"bbc-{row['id']}-{n}", when, True)


def main() -> None:
    rows = bbc_rows()
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    clock = Clock()
    with FeedServer() as server:
        settings = EngineSettings(
            data_dir=DATA_DIR,
            fetch_allow_private=True,
            fetch_allowed_ports=frozenset({server.port}),
            feed_backfill=ITEMS,
            max_feeds=FEEDS,
        )
        engine = Engine(settings, clock=clock)
        engine.embedder.load()
        model_seconds = [0.0]
        encode = engine.embedder.encode

        def timed(texts, *args, **kwargs):
            started = time.perf_counter()
            try:
                return encode(texts, *args, **kwargs)
            finally:
                model_seconds[0] += time.perf_counter() - started

        engine.embedder.encode = timed  # type: ignore[method-assign]

        def publish(feed: int, items: list[Entry], **options: object) -> str:
            return server.publish(f"/feed/{feed}.rss", rss(f"Desk feed {feed}", items), **options)

        def items_of(feed: int, extra: int = 0) -> list[Entry]:
            base = PUBLISHED
            picked = [rows[feed * ITEMS + i] for i in range(ITEMS)]
            found = [entry(r, i, base + timedelta(minutes=i)) for i, r in enumerate(picked)]
            for k in range(extra):
                r = rows[FEEDS * ITEMS + feed * 2 + k]
                found.append(entry(r, ITEMS + k, PUBLISHED + timedelta(days=1, minutes=k)))
            return sorted(found, key=lambda e: e.published, reverse=True)

        urls = [publish(f, items_of(f)) for f in range(FEEDS)]
        started = time.perf_counter()
        for url in urls:
            engine.feeds.add("desk", url)
        add_seconds = time.perf_counter() - started

        def round_of(name: str) -> dict[str, object]:
            clock.now += timedelta(minutes=15)
            before_hits, before_304 = sum(server.hits.values()), server.not_modified
            model_seconds[0] = 0.0
            started = time.perf_counter()
            reports = engine.feeds.poll_due()
            wall = time.perf_counter() - started
            added = sum(r.added for r in reports)
            result = {
                "feeds_polled": len(reports),
                "fetches": sum(server.hits.values()) - before_hits,
                "not_modified_304": server.not_modified - before_304,
                "parsed": sum(1 for r in reports if not r.not_modified and not r.error),
                "added": added,
                "unchanged": sum(r.unchanged for r in reports),  # duplicates among the BBC texts included
                "errors": sum(1 for r in reports if r.error),
                "wall_s": round(wall, 2),
                "model_s": round(model_seconds[0], 2),
                "items_per_s": round(added / wall, 1) if added else 0.0,
            }
            print(name, result, flush=True)
            return result

        first = round_of("first poll")
        unchanged = round_of("unchanged (304)")
        for f in range(10):
            publish(f, items_of(f, extra=2))
        new_items = round_of("10 feeds with 2 new items")
        for f in range(FEEDS):
            publish(f, items_of(f, extra=2 if f < 10 else 0), validators=False)
        server.modified.clear()
        # the bodies are the ones last parsed (the 10 changed feeds were parsed in round 3)
        no_validators = round_of("no validators, same bytes")

        # one fetch serves every server following a feed
        shared_urls = [
            publish(100 + f, [entry(rows[1200 + f * 5 + i], i, PUBLISHED) for i in range(5)]) for f in range(10)
        ]
        for guild in ("a", "b", "c"):
            for url in shared_urls:
                engine.feeds.add(f"guild-{guild}", url)
        sharing = round_of("10 feeds followed by 3 servers")
        engine.close()

    total_items = FEEDS * ITEMS
    numbers = {
        "feeds": FEEDS,
        "items_per_feed": ITEMS,
        "items": total_items,
        "add_50_feeds_s": round(add_seconds, 2),
        "first_poll": first,
        "unchanged_poll": unchanged,
        "new_items_poll": new_items,
        "no_validators_poll": no_validators,
        "shared_feeds_poll": sharing,
        "fetches_saved_by_conditional_get": f"{unchanged['not_modified_304']}/{unchanged['fetches']} bodies not sent",
    }
    print(numbers)
    record("feeds", numbers)


if __name__ == "__main__":
    main()
