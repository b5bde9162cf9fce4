"""What an operator running many bot processes watches: /healthz (the process is alive), /readyz (its
database answers and every gateway shard is connected) and /metrics (Prometheus text format), served on
BYLINE_HEALTH_HOST:BYLINE_HEALTH_PORT (127.0.0.1 by default) from the bot's own event loop.

The counters live in one registry per bot (not prometheus_client's global one), so a process running a bot
twice, as the tests do, counts each on its own."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from index.engine import Engine
    from index.feeds.records import PollReport
    from index.models import AddResult, Answer

log = logging.getLogger(__name__)


class Served(Protocol):
    """What the health server and the metrics read of the Discord client (bot/client.py's Byline); typed
    here so that this module never imports the client that starts it."""

    engine: Engine
    metrics: Metrics
    draining: bool

    @property
    def latencies(self) -> list[tuple[int, float]]: ...

    @property
    def shards(self) -> Mapping[int, Any]: ...

    def is_ready(self) -> bool: ...

    async def run_engine(self, function: Callable[..., Any], *args: Any) -> Any: ...


READY_TIMEOUT = 3.0  # seconds /readyz waits for the database before it says it is unreachable
# Answer latency buckets (seconds): a warm answer is ~10-50 ms, a cold collection or the LLM mode seconds.
ANSWER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, bot: Served) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.questions = Counter("byline_questions", "Questions answered, by face", ["face"], registry=self.registry)
        self.abstentions = Counter(
            "byline_abstentions", "Questions answered with 'the articles don't say'", ["face"], registry=self.registry
        )
        self.answer_seconds = Histogram(
            "byline_answer_seconds",
            "Time from a question reaching the engine to its answer",
            buckets=ANSWER_BUCKETS,
            registry=self.registry,
        )
        self.ingests = Counter(
            "byline_ingests",
            "Articles a moderator sent, by result (added, updated, duplicate, failed)",
            ["status"],
            registry=self.registry,
        )
        self.feed_polls = Counter(
            "byline_feed_polls",
            "Feeds this process polled, by outcome (changed, not_modified, failed)",
            ["outcome"],
            registry=self.registry,
        )
        self.feed_items = Counter(
            "byline_feed_items",
            "Feed items this process stored, by status (added, updated)",
            ["status"],
            registry=self.registry,
        )
        self.feed_announcements = Counter(
            "byline_feed_announcements", "New-article announcements this process posted", registry=self.registry
        )
        self.registry.register(_LiveCollector(bot))

    @contextmanager
    def timing(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.answer_seconds.observe(time.perf_counter() - start)

    def answered(self, face: str, answer: Answer) -> None:
        self.questions.labels(face).inc()
        if answer.abstained:
            self.abstentions.labels(face).inc()

    def ingested(self, results: list[AddResult]) -> None:
        for result in results:
            self.ingests.labels(result.status).inc()

    def failed_ingest(self) -> None:
        self.ingests.labels("failed").inc()

    def polled(self, reports: list[PollReport]) -> None:
        for report in reports:
            outcome = "failed" if report.error else "not_modified" if report.not_modified else "changed"
            self.feed_polls.labels(outcome).inc()
            self.feed_items.labels("added").inc(report.added)
            self.feed_items.labels("updated").inc(report.updated)

    def text(self) -> bytes:
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    """Values read when scraped: each shard's gateway latency, the search cache's counts."""

    def __init__(self, bot: Served) -> None:
        self.bot = bot

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        latency = GaugeMetricFamily(
            "byline_gateway_latency_seconds", "Heartbeat round trip of each gateway shard", labels=["shard"]
        )
        for shard_id, seconds in self.bot.latencies:
            if seconds == seconds and seconds != float("inf"):  # no heartbeat acknowledged yet: nan or inf
                latency.add_metric([str(shard_id)], seconds)
        yield latency
        shards = GaugeMetricFamily("byline_gateway_shards_connected", "Gateway shards connected in this process")
        shards.add_metric([], sum(1 for shard in self.bot.shards.values() if not shard.is_closed()))
        yield shards
        counts = self.bot.engine.indexes.counts
        cache = CounterMetricFamily(
            "byline_search_cache", "How each collection's search index was found for a question", labels=["result"]
        )
        cache.add_metric(["hit"], counts.hits)
        cache.add_metric(["load"], counts.loads)
        cache.add_metric(["rebuild"], counts.rebuilds)
        yield cache
        evictions = CounterMetricFamily(
            "byline_search_cache_evictions", "Collections let go (BYLINE_CACHE_COLLECTIONS reached)"
        )
        evictions.add_metric([], counts.evictions)
        yield evictions
        held = GaugeMetricFamily("byline_search_cache_collections", "Collections whose indexes are in memory")
        held.add_metric([], len(self.bot.engine.indexes.held()))
        yield held


class HealthServer:
    def __init__(self, bot: Served, host: str, port: int) -> None:
        self.bot = bot
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        log.info("health checks on http://%s:%s/healthz, /readyz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self, request: web.Request) -> web.Response:
        return _json({"alive": True}, 200)

    async def readyz(self, request: web.Request) -> web.Response:
        bot = self.bot
        problems: list[str] = []
        try:
            await asyncio.wait_for(bot.run_engine(bot.engine.store.ping), READY_TIMEOUT)
            database = True
        except Exception as exc:  # any failure means not ready; the reason goes to the body and the log
            database = False
            problems.append(f"database: {type(exc).__name__}: {exc}".strip())
        shards = {str(i): not shard.is_closed() for i, shard in bot.shards.items()}
        gateway = bot.is_ready() and bool(shards) and all(shards.values())
        if not gateway:
            problems.append("gateway: not connected" if not shards else "gateway: a shard is not connected")
        if bot.draining:
            problems.append("shutting down")
        ready = database and gateway and not bot.draining
        if not ready:
            log.info("not ready: %s", "; ".join(problems))
        body = {"ready": ready, "database": database, "gateway": gateway, "shards": shards, "problems": problems}
        return _json(body, 200 if ready else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        body = self.bot.metrics.text()  # a few dozen values: cheap enough for the loop
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _json(body: object, status: int) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")
