"""Sharding and the operator's view: the bot as discord.py's AutoShardedBot against a loopback Discord that
routes each guild's events to shard (guild_id >> 22) % count, and /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest

from bot.health import HealthServer
from index import Engine
from tests.conftest import SAMPLES, HeldPageServer, cli_env, run_cli
from tests.fake_discord import FakeDiscord
from tests.test_discord import ALICE, RunningBot, add_article, text_of

pytestmark = pytest.mark.usefixtures("loopback_only")
WEBB = (SAMPLES / "james-webb-space-telescope-launch.txt").read_text(encoding="utf-8")


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    fake = FakeDiscord()
    yield fake
    fake.stop()


def ask(fake: FakeDiscord, guild_id: str, question: str) -> str:
    log = fake.slash("ask", guild_id=guild_id, who=ALICE, question=question)
    return " ".join(text_of(m) for m in fake.wait_result(log))


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_one_process_runs_the_recommended_shards_and_each_guild_is_answered_on_its_own(
    fake: FakeDiscord, engine: Engine
):
    fake.recommended_shards = 2
    guilds = [fake.add_guild(f"G{i}", shard=(i % 2, 2))[0] for i in range(2)]
    fake.start()
    for guild in guilds:
        engine.add_text(f"guild-{guild}", WEBB)
    running = RunningBot(fake, engine)
    try:
        assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]
        assert fake.shards_connected() == [(0, 2), (1, 2)]
        for guild in guilds:  # the guild on shard 1 is only ever sent to shard 1's connection
            assert "December 2021" in ask(fake, guild, "when did the webb telescope launch?")
    finally:
        running.stop()


def test_a_process_given_shard_ids_identifies_only_those_and_leaves_the_command_sync_to_shard_0(
    fake: FakeDiscord, engine: Engine
):
    mine, _ = fake.add_guild("on shard 1", shard=(1, 2))
    other, _ = fake.add_guild("on shard 0", shard=(0, 2))
    fake.start()
    running = RunningBot(fake, engine, shard_count=2, shard_ids=(1,))
    try:
        assert [tuple(i["shard"]) for i in fake.identifies] == [(1, 2)]
        assert fake.commands == {}  # the process with shard 0 syncs them
        assert {g.id for g in running.bot.guilds} == {int(mine)}
        assert int(other) not in {g.id for g in running.bot.guilds}
    finally:
        running.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_health_checks_and_metrics_follow_the_bot(fake: FakeDiscord, engine: Engine):
    unused_tcp_port = free_port()
    guild, _ = fake.add_guild("G")
    fake.start()
    engine.add_text(f"guild-{guild}", WEBB)
    running = RunningBot(fake, engine)
    health = HealthServer(running.bot, "127.0.0.1", unused_tcp_port)
    asyncio.run_coroutine_threadsafe(health.start(), running.loop).result(10)
    base = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        assert get(f"{base}/healthz")[0] == 200
        status, body = get(f"{base}/readyz")
        assert status == 200, body
        assert json.loads(body) == {
            "ready": True,
            "database": True,
            "gateway": True,
            "shards": {"0": True},
            "problems": [],
        }
        ask(fake, guild, "when did the webb telescope launch?")
        ask(fake, guild, "how heavy is the moon's core?")
        status, text = get(f"{base}/metrics")
        metrics = text.decode()
        assert status == 200
        assert 'byline_questions_total{face="slash"} 2.0' in metrics
        assert "byline_answer_seconds_count 2.0" in metrics
        assert 'byline_search_cache_total{result="hit"}' in metrics
        assert (
            'byline_gateway_latency_seconds{shard="0"}' in metrics or "byline_gateway_shards_connected 1.0" in metrics
        )
        running.bot.draining = True  # what SIGTERM sets first: a load balancer stops sending work
        status, body = get(f"{base}/readyz")
        assert status == 503 and "shutting down" in json.loads(body)["problems"]
        running.bot.draining = False
    finally:
        asyncio.run_coroutine_threadsafe(health.stop(), running.loop).result(10)
        running.stop()


def test_sigterm_takes_no_new_work_lets_the_ingest_in_flight_finish_and_exits_0(
    fake: FakeDiscord, held_page: HeldPageServer, tmp_path
):
    page_port = held_page.port
    health_port = free_port()
    guild, _ = fake.add_guild("G")
    fake.start()
    data_dir = tmp_path / "data"
    env = cli_env(
        data_dir,
        {
            "DISCORD_TOKEN": fake.token,
            "DISCORD_API_BASE": fake.api_base,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "BYLINE_ASK_COOLDOWN": "0",
            "BYLINE_FETCH_ALLOW_PRIVATE": "1",
            "BYLINE_FETCH_ALLOWED_PORTS": str(page_port),
            "BYLINE_HEALTH_PORT": str(health_port),
            "BYLINE_SHUTDOWN_GRACE": "60",
        },
    )
    data_dir.mkdir(parents=True)
    log_file = tmp_path / "bot.log"  # a file, not a pipe: an unread pipe fills and blocks the bot
    with log_file.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=sink
        )
    try:
        fake.wait_ready()
        fake.wait(lambda: get(f"http://127.0.0.1:{health_port}/readyz")[0] == 200, what="/readyz")
        adding = add_article(fake, guild, url=f"http://127.0.0.1:{page_port}/river")
        fake.wait(lambda: any("Fetching" in json.dumps(p) for p in adding.payloads), what="the fetch to start")
        proc.send_signal(signal.SIGTERM)
        fake.wait(lambda: get(f"http://127.0.0.1:{health_port}/readyz")[0] == 503, what="/readyz to say draining")
        refused = fake.slash("ask", guild_id=guild, who=ALICE, question="what happened to the river?")
        assert "restarting" in " ".join(text_of(m) for m in fake.wait_result(refused))
        assert proc.poll() is None  # still waiting for the ingest in flight
        held_page.release()
        assert proc.wait(60) == 0
        final = json.dumps(adding.payloads)
        assert "Added" in final or "added" in final, final
        # Nothing lost: the article the shutdown waited for is in the store.
        listed = run_cli("--json", "list", "--collection", f"guild-{guild}", data_dir=data_dir)
        assert len(json.loads(listed.stdout)) == 1
        assert b"stopped" in log_file.read_bytes()
    finally:
        held_page.release()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
