"""Scale-out end to end: two real `python -m bot run` processes, shards 0 and 1 of 2, on one PostgreSQL,
against a loopback Discord with four servers (two on each shard), and the CLI as a third process.

Each question is answered by the process that holds its server's shard (each process's /metrics counts
only its own), from that server's articles; what one process (or the CLI) writes, the others quote on
their next question; a process SIGKILLed mid-ingest loses nothing while the other keeps answering, and
comes back consistent; a digest schedule is posted once although both processes poll it."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from index import Engine
from index.summaries.schedule import DigestSchedules
from tests.conftest import SAMPLES, HeldPageServer, cli_env, run_cli
from tests.fake_discord import FakeDiscord
from tests.test_discord import ALICE, add_article, text_of
from tests.test_sharding import free_port, get

pytestmark = [pytest.mark.usefixtures("loopback_only"), pytest.mark.slow]

# (server, shard) → the one sample article its collection holds, a question it answers, words of the answer
SERVERS = {
    "webb": (0, "james-webb-space-telescope-launch.txt", "when did the webb telescope launch?", "December 2021"),
    "bridge": (0, "queensferry-crossing-opening.txt", "how tall are the towers of the new bridge?", "207"),
    "seeds": (1, "svalbard-global-seed-vault.txt", "where did icarda rebuild its seed collections?", "Lebanon"),
    "dart": (1, "dart-asteroid-impact.txt", "which asteroid did dart hit?", "Dimorphos"),
}
LIGHTHOUSE = "Harbour pilots in Port Ellery reported that the new lighthouse lens was lit on Tuesday evening.\n" * 3
FERRY = "The Kelvaig ferry will sail twice a day from Monday, the island council announced on Friday.\n" * 3


class BotProcess:
    """`python -m bot run` for some shards, its stderr in a file (an unread pipe would fill and block it)."""

    def __init__(self, env: dict[str, str], folder: Path, name: str) -> None:
        self.env, self.folder, self.name = env, folder, name
        self.health = f"http://127.0.0.1:{env['BYLINE_HEALTH_PORT']}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with (self.folder / f"{self.name}-{self.starts}.log").open("wb") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                cwd=self.folder,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )

    def ready(self) -> bool:
        try:
            return self.alive() and get(f"{self.health}/readyz")[0] == 200
        except OSError:  # its health server is not listening yet
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def metric(self, name: str) -> float:
        """One sample of this process's /metrics (0 if it has none yet)."""
        text = get(f"{self.health}/metrics")[1].decode()
        match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
        return float(match[1]) if match else 0.0

    def log(self) -> str:
        return (self.folder / f"{self.name}-{self.starts}.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def ask(fake: FakeDiscord, guild_id: str | None, question: str) -> str:
    log = fake.slash("ask", guild_id=guild_id, who=ALICE, question=question)
    return " ".join(text_of(m) for m in fake.wait_result(log, timeout=120))


def test_two_processes_share_one_postgresql_and_split_the_servers_by_shard(
    make_engine: Callable[..., Engine], postgres_url: str, held_page: HeldPageServer, tmp_path: Path
):
    fake = FakeDiscord()
    guilds = {name: fake.add_guild(name, shard=(spec[0], 2)) for name, spec in SERVERS.items()}
    fake.start()
    # The servers' articles, written by this (test) process straight into the shared database.
    writer = make_engine(tmp_path / "writer-caches", database_url=postgres_url)
    for name, (_, filename, _, _) in SERVERS.items():
        writer.add_text(f"guild-{guilds[name][0]}", (SAMPLES / filename).read_text(encoding="utf-8"))
    # A weekly digest for the bridge server, set last week: its period has come, and both processes poll it.
    bridge_guild, bridge_channel = guilds["bridge"]
    a_week_ago = datetime.now(UTC) - timedelta(days=8)
    DigestSchedules(writer.store).set(f"guild-{bridge_guild}", bridge_channel, 0, 0, 31, now=a_week_ago)

    seeds_guild = guilds["seeds"][0]
    processes = []
    for shard in (0, 1):
        env = cli_env(
            tmp_path / f"shard{shard}" / "data",  # its own caches; everything else is in PostgreSQL
            {
                "DISCORD_TOKEN": fake.token,
                "DISCORD_API_BASE": fake.api_base,
                "DISCORD_GATEWAY_URL": fake.gateway_url,
                "BYLINE_DATABASE_URL": postgres_url,
                "BYLINE_SHARD_COUNT": "2",
                "BYLINE_SHARD_IDS": str(shard),
                "BYLINE_HEALTH_PORT": str(free_port()),
                "BYLINE_ASK_COOLDOWN": "0",
                "BYLINE_DM_COLLECTION": f"guild-{seeds_guild}",  # DMs (shard 0's) read the seeds server's articles
                "BYLINE_FETCH_ALLOW_PRIVATE": "1",
                "BYLINE_FETCH_ALLOWED_PORTS": str(held_page.port),
            },
        )
        (tmp_path / f"shard{shard}").mkdir()
        processes.append(BotProcess(env, tmp_path / f"shard{shard}", f"shard{shard}"))
    first, second = processes
    try:
        for process in processes:
            process.start()
        fake.wait(lambda: all(p.ready() for p in processes), timeout=180, what="both processes' /readyz")
        assert fake.shards_connected() == [(0, 2), (1, 2)]
        assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]
        assert list(fake.commands) == [None]  # synced once, by shard 0's process

        # Every server is answered from its own articles, by the process holding its shard.
        for name, (_, _, question, words) in SERVERS.items():
            assert words in ask(fake, guilds[name][0], question), name
        webb_question = SERVERS["webb"][2]
        assert "December 2021" not in ask(fake, guilds["dart"][0], webb_question)  # not in that server's articles
        assert first.metric('byline_questions_total{face="slash"}') == 2  # webb, bridge
        assert second.metric('byline_questions_total{face="slash"}') == 3  # seeds, dart, dart again

        # The digest was due when both started polling: it is posted once.
        def digests() -> list[dict]:
            # posted in the channel by the bot itself, not as the answer to an interaction
            return [m for m in fake.messages.values() if m["channel_id"] == bridge_channel and m["type"] == 0]

        fake.wait(digests, what="the scheduled digest")
        assert len(digests()) == 1 and "Queensferry" in json.dumps(digests())
        logs = "".join(p.log() for p in processes)
        assert logs.count("posted the scheduled digest") == 1 and "not posted" not in logs
        claimed = DigestSchedules(writer.store).get(f"guild-{bridge_guild}")
        assert claimed is not None and claimed.last_period is not None

        # A moderator adds an article through the second process; the first quotes it (a DM: shard 0).
        added = add_article(fake, seeds_guild, text=LIGHTHOUSE, title="Lighthouse lit")
        assert "Added" in " ".join(text_of(m) for m in fake.wait_result(added, timeout=120))
        assert "lighthouse lens was lit" in ask(fake, None, "when was the port ellery lighthouse lit?")
        assert first.metric('byline_questions_total{face="slash"}') == 3
        # The CLI (a third process) adds one; the second process quotes it on the next question.
        env = {"BYLINE_DATABASE_URL": postgres_url}
        cli = run_cli(
            "--json", "add", "-", "--collection", f"guild-{guilds['dart'][0]}", "--title", "Ferry",
            data_dir=tmp_path / "cli" / "data", stdin=FERRY.encode(), env=env,
        )  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        assert "twice a day" in ask(fake, guilds["dart"][0], "how often will the kelvaig ferry sail?")

        # SIGKILL the second process while it ingests a page; the first keeps answering meanwhile.
        dart_guild = guilds["dart"][0]
        before = {a.title for a in writer.list_articles(f"guild-{dart_guild}")}
        held = add_article(fake, dart_guild, url=f"http://127.0.0.1:{held_page.port}/river")
        fake.wait(lambda: any("Fetching" in json.dumps(p) for p in held.payloads), what="the fetch to start")
        assert second.proc is not None
        second.proc.send_signal(signal.SIGKILL)
        assert second.proc.wait(30) == -signal.SIGKILL
        fake.wait(lambda: fake.shards_connected() == [(0, 2)], what="shard 1's connection to drop")
        assert "207" in ask(fake, guilds["bridge"][0], SERVERS["bridge"][2])
        held_page.release()  # the page would now arrive, but nobody is reading it
        assert {a.title for a in writer.list_articles(f"guild-{dart_guild}")} == before  # nothing half-written
        second.start()
        fake.wait(second.ready, timeout=180, what="the second process to come back")
        assert fake.shards_connected() == [(0, 2), (1, 2)]
        assert "Dimorphos" in ask(fake, dart_guild, SERVERS["dart"][2])
        checked = run_cli("--json", "check", data_dir=tmp_path / "cli" / "data", env=env)
        assert checked.returncode == 0, checked.stderr
        report = json.loads(checked.stdout)
        assert report["consistent"] and report["orphans_deleted"] == 0, report
        assert not any(c["repaired"] for c in report["collections"].values()), report
        # The moderator tries again after the restart: the article is added once.
        again = add_article(fake, dart_guild, url=f"http://127.0.0.1:{held_page.port}/river")
        assert "Added" in " ".join(text_of(m) for m in fake.wait_result(again, timeout=120))
        assert len(writer.list_articles(f"guild-{dart_guild}")) == len(before) + 1
        # Still one digest: the restarted process polled the schedule again and found it claimed.
        assert len(digests()) == 1
    finally:
        held_page.release()
        for process in processes:
            process.stop()
        fake.stop()
    for process in processes:
        assert process.proc is not None and process.proc.returncode == 0, process.log()[-3000:]
