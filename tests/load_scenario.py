"""Load on the Discord face, shared by tests/test_load.py and bench/loop_stall.py: many members send /ask at
once while a moderator's `/article add` ingest runs, through the real bot on the loopback Discord. A monitor
task in the bot's own event loop measures how late the loop wakes up (its longest stall)."""

from __future__ import annotations

import asyncio
import gc
import re
import time
from dataclasses import dataclass, field
from typing import Any

from fake_discord import FakeDiscord, InteractionLog, user
from test_discord import RunningBot, add_article, text_of, unescape

from index import Engine

# (question, words its first-ranked quote holds): one fact from each sample article.
FACTS = [
    ("who is Ukraine's defence minister?", "Oleksii Reznikov"),
    ("When did DART hit Dimorphos?", "26 September 2022"),
    ("How tall are the towers of the Queensferry Crossing?", "207 metres"),
    ("At what temperature are seeds stored in the Svalbard vault?", "minus 18 degrees Celsius"),
    ("Which country topped the medal table at the Tokyo Olympics?", "The United States"),
    ("What rocket launched the James Webb Space Telescope?", "Ariane 5"),
]
MONITOR_TICK = 0.005  # seconds the monitor sleeps; anything later than that is the loop being blocked


def long_article(paragraphs: int) -> bytes:
    """A long, plain council report (unrelated to the sample articles) that takes seconds to embed."""
    districts = ["Northgate", "Eastfield", "Millbrook", "Harbourside", "Westmoor", "Kingsbridge", "Ashcombe"]
    topics = ["drainage", "library", "bus lane", "playground", "street lighting", "recycling", "school crossing"]
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    lines = ["Borough council records its quarterly review of local works", "Published: 2024-06-30", ""]
    for i in range(paragraphs):
        district, topic, day = districts[i % 7], topics[(i * 3) % 7], days[i % 5]
        lines.append(
            f"Item {i + 1}: the {district} committee reviewed the {topic} scheme on {day} and heard from "
            f"{40 + i * 7} residents who had answered the consultation. Officers said work on the {topic} scheme "
            f"would cost about {12 + i} thousand pounds and take {2 + i % 9} weeks once contractors were "
            f"appointed. Councillor {chr(65 + i % 26)}. Reed asked for a report on the {district} {topic} "
            f"scheme before the next meeting, and the committee agreed to publish it online in draft number {i}."
        )
        lines.append("")
    return "\n".join(lines).encode()


@dataclass
class LoadResult:
    asks: list[InteractionLog]
    questions: list[tuple[str, str]]
    latencies_ms: list[float]  # /ask sent → the answer shown, per member
    stalls_ms: list[float]  # how late each monitor wake-up was
    ingest: InteractionLog
    ingest_seconds: float
    answered_during_ingest: int  # answers shown before the ingest's result was
    ingest_started_before_asks: bool
    refused: list[str] = field(default_factory=list)  # payloads the loopback Discord refused
    full_collections_ms: list[float] = field(default_factory=list)  # each generation-2 GC during the run

    @property
    def longest_stall_ms(self) -> float:
        return max(self.stalls_ms, default=0.0)


async def _monitor(samples: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        await asyncio.sleep(MONITOR_TICK)
        samples.append(max(0.0, (loop.time() - started - MONITOR_TICK) * 1000))


def _answered(log: InteractionLog) -> bool:
    message = log.original
    return (log.deferred and message is not None and bool(message.get("embeds"))) or bool(log.followups)


def run_load(
    fake: FakeDiscord, running: RunningBot, guild: str, members: int = 50, paragraphs: int = 120
) -> LoadResult:
    """A moderator uploads a long article; once it is being embedded, `members` members each send one /ask.
    Waits for every answer and for the ingest; returns what happened and the loop's wake-up lateness."""
    stalls: list[float] = []
    collections: list[float] = []
    started_gc: list[float] = []

    def timed_gc(phase: str, info: dict[str, int]) -> None:  # a full GC holds the GIL: time each one
        if info["generation"] != 2:
            return
        if phase == "start":
            started_gc.append(time.perf_counter())
        elif started_gc:
            collections.append((time.perf_counter() - started_gc.pop()) * 1000)

    stop = asyncio.Event()
    monitor = asyncio.run_coroutine_threadsafe(_monitor(stalls, stop), running.loop)
    gc.callbacks.append(timed_gc)
    try:
        began = time.monotonic()
        ingest = add_article(fake, guild, file=("council-review.txt", long_article(paragraphs), "text/plain"))
        fake.wait(
            lambda: any("embedding" in (e.get("content") or "") for e in ingest.original_edits),
            timeout=120,
            what="the ingest to start embedding",
        )
        questions = [FACTS[i % len(FACTS)] for i in range(members)]
        sent: list[float] = []
        asks: list[InteractionLog] = []
        for i, (question, _) in enumerate(questions):
            sent.append(time.monotonic())
            member = user(str(2_000 + i), f"member{i}")
            asks.append(fake.slash("ask", guild_id=guild, who=member, question=question))
        ingest_started_before_asks = not ingest_done(ingest)
        shown: dict[int, float] = {}
        ingest_end: float | None = None

        def progress() -> bool:
            nonlocal ingest_end
            now = time.monotonic()
            for i, log in enumerate(asks):
                if i not in shown and _answered(log):
                    shown[i] = now
            if ingest_end is None and ingest_done(ingest):
                ingest_end = now
            return len(shown) == members and ingest_end is not None

        fake.wait(progress, timeout=600, what=f"{members} answers and the ingest")
    finally:
        gc.callbacks.remove(timed_gc)
        running.loop.call_soon_threadsafe(stop.set)
        monitor.result(10)
    assert ingest_end is not None
    return LoadResult(
        asks=asks,
        questions=questions,
        latencies_ms=[(shown[i] - sent[i]) * 1000 for i in range(members)],
        stalls_ms=stalls,
        ingest=ingest,
        ingest_seconds=ingest_end - began,
        answered_during_ingest=sum(1 for t in shown.values() if t < ingest_end),
        ingest_started_before_asks=ingest_started_before_asks,
        refused=list(fake.errors),
        full_collections_ms=collections,
    )


def ingest_done(log: InteractionLog) -> bool:
    content = (log.original or {}).get("content") or ""
    return content.startswith(("Added", "Updated", "Already here")) or bool(log.followups)


def check_answer(engine: Engine, collection: str, log: InteractionLog, expected: str) -> str | None:
    """Why the answer shown for `log` is wrong (None if right): not an error, quotes verbatim from the articles,
    the expected fact quoted, from the article that holds it."""
    message = log.original if log.original and log.original.get("embeds") else (log.followups or [{}])[0]
    embeds: list[dict[str, Any]] = message.get("embeds") or []
    if len(embeds) != 1 or not embeds[0].get("fields"):
        return f"not an answer: {text_of(message)!r}"
    embed = embeds[0]
    # verbatim once the bold marks around the answer are taken off
    quotes = [
        unescape(q.replace("**", "")) for q in re.findall(r"^> (.*) \[\d+\]$", embed.get("description") or "", re.M)
    ]
    if not quotes:
        return f"no quotes in {embed.get('description')!r}"
    texts = {a.id: engine.article_text(collection, a.id) for a in engine.list_articles(collection)}
    holder = next((i for i, t in texts.items() if expected in t), None)
    for quote in quotes:
        if not any(quote in t for t in texts.values()):
            return f"quote not verbatim from any article: {quote!r}"
    if not any(expected in q for q in quotes):
        return f"{expected!r} not quoted: {quotes!r}"
    title = engine.article(collection, holder).title if holder is not None else "?"
    if title[:40] not in unescape(embed["fields"][0]["value"]):
        return f"the source is not {title!r}: {embed['fields'][0]['value']!r}"
    return None
