"""The Discord face, end to end: the real discord.py client (our bot) against a loopback Discord that
speaks the real REST and gateway protocols (tests/fake_discord.py), over the real engine and model."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, HEAVY, REPO, SAMPLES, fresh_database, imported, run_cli
from discord import gateway, http
from fake_discord import EPHEMERAL, MANAGE_GUILD, MEMBER_PERMISSIONS, FakeDiscord, InteractionLog, user

from bot import client as discord_client
from bot import embeds
from bot.config import DiscordSettings
from index import Engine, EngineSettings
from index.inference.embedding import Embedder
from index.models import Answer, ArticleRef, Quote

pytestmark = pytest.mark.usefixtures("loopback_only")

ALICE = user("1001", "alice")  # a member
BOB = user("1002", "bob")  # another member
MODERATOR = user("1003", "mod")
MOD_PERMISSIONS = MEMBER_PERMISSIONS | MANAGE_GUILD


class RunningBot:
    """Our bot on its own event loop in a thread, connected to a FakeDiscord."""

    def __init__(self, fake: FakeDiscord, engine: Engine, **settings: Any) -> None:
        self.settings = DiscordSettings(
            token=fake.token, api_base=fake.api_base, gateway_url=fake.gateway_url, **{"ask_cooldown": 0, **settings}
        )
        # discord.py keeps the REST base and the gateway URL in class attributes (one bot per process);
        # tests run several bots in turn, so each restores what it found when it stops.
        self._previous = (http.Route.BASE, gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord_client.point_at(self.settings)
        self.bot = discord_client.Byline(engine, self.settings)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.task = asyncio.run_coroutine_threadsafe(self.bot.start(fake.token), self.loop)
        if self.settings.syncs_commands:
            fake.wait_ready()
        fake.wait(lambda: self.bot.is_ready(), what="the bot's on_ready")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.bot.close(), self.loop).result(30)
        self.task.result(30)

        async def drain() -> None:  # what discord.py leaves behind (event handlers, READY timers)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(drain(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        http.Route.BASE, gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._previous


@contextmanager
def discord_world(engine: Engine, **settings: Any) -> Iterator[tuple[FakeDiscord, RunningBot, str, str]]:
    """A fake Discord with guilds A and B and our bot connected to it."""
    fake = FakeDiscord()
    guild_a, _ = fake.add_guild("Guild A")
    guild_b, _ = fake.add_guild("Guild B")
    fake.start()
    running = RunningBot(fake, engine, **settings)
    try:
        yield fake, running, guild_a, guild_b
    finally:
        running.stop()
        fake.stop()


class _Pages(BaseHTTPRequestHandler):
    release = threading.Event()  # /slow answers when a test sets it (or after 20 s)

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = (FIXTURES / "article_page.html").read_bytes()
        if self.path == "/slow":
            _Pages.release.wait(20)
            body = body.replace(b"River Wend", b"River Slowe")
            self.path = "/river"
        self.send_response(200 if self.path == "/river" else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    """A news site on 127.0.0.1 for /article add url."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory, pages: str
) -> Iterator[Engine]:
    """The bot's engine; every test of the shared world runs on each backend (a PostgreSQL database of
    its own, the data dir then holding only caches)."""
    port = int(pages.rsplit(":", 1)[1])
    with ExitStack() as stack:
        url = ""
        if request.param == "postgresql":
            url = stack.enter_context(fresh_database(request.getfixturevalue("postgres_server")))
        settings = EngineSettings(
            data_dir=tmp_path_factory.mktemp("discord"),
            database_url=url,
            fetch_allow_private=True,
            fetch_allowed_ports=frozenset({port}),
        )
        engine = Engine(settings, embedder)
        stack.callback(engine.close)
        yield engine


@pytest.fixture(scope="module")
def world(engine: Engine) -> Iterator[tuple[FakeDiscord, RunningBot, str, str]]:
    with discord_world(engine, list_page_size=2) as (fake, running, guild_a, guild_b):
        errors: list = []
        engine.add_documents(f"guild-{guild_a}", engine.documents(str(SAMPLES), errors), errors=errors)
        assert not errors
        yield fake, running, guild_a, guild_b


@pytest.fixture
def fake(world: tuple[FakeDiscord, RunningBot, str, str]) -> FakeDiscord:
    return world[0]


@pytest.fixture
def guild_a(world: tuple[FakeDiscord, RunningBot, str, str]) -> str:
    return world[2]


@pytest.fixture
def guild_b(world: tuple[FakeDiscord, RunningBot, str, str]) -> str:
    return world[3]


def only(messages: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(messages) == 1, messages
    return messages[0]


def text_of(message: dict[str, Any]) -> str:
    """Everything a member can read in a message: content, embed titles, descriptions, fields, footers."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or "", (embed.get("footer") or {}).get("text", "")]
        parts += [f"{f['name']} {f['value']}" for f in embed.get("fields") or []]
    return "\n".join(parts)


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components") or [] for c in row["components"]]


def assert_never_pings(log: InteractionLog | None = None, payloads: list[dict[str, Any]] | None = None) -> None:
    for payload in payloads if payloads is not None else log.payloads:  # type: ignore[union-attr]
        if payload.get("content") or payload.get("embeds"):
            assert_no_ping(payload.get("allowed_mentions"))


def assert_no_ping(allowed: dict[str, Any] | None) -> None:
    """Discord parses no mention at all: no @everyone/@here, roles, users, nor the replied-to author."""
    assert allowed is not None and allowed["parse"] == [], allowed
    assert not allowed.get("users") and not allowed.get("roles") and not allowed.get("replied_user"), allowed


def collection(guild_id: str) -> str:
    return f"guild-{guild_id}"


def add_article(fake: FakeDiscord, guild_id: str, **values: Any) -> InteractionLog:
    """A moderator runs /article add with these options."""
    return fake.slash("article add", guild_id=guild_id, who=MODERATOR, permissions=MOD_PERMISSIONS, **values)


# every slash command the bot syncs (subcommand groups by their group name)
SLASH_COMMANDS = {"ask", "summary", "article", "digest", "digest-schedule", "feed", "insights", "insights-schedule"}


# -- setup ------------------------------------------------------------------------------------------
def test_slash_commands_are_synced_and_moderator_commands_hidden_from_members(fake: FakeDiscord):
    synced = {c["name"]: c for c in fake.commands[None]}
    assert set(synced) == SLASH_COMMANDS
    for name, subcommands in (
        ("article", {"add", "remove", "list"}),
        ("digest-schedule", {"set", "off", "show"}),
        ("insights-schedule", {"set", "off", "show"}),
        ("feed", {"add", "list", "remove", "pause", "resume", "test"}),
    ):
        assert str(synced[name]["default_member_permissions"]) == str(MANAGE_GUILD)
        assert synced[name]["dm_permission"] is False  # guild only
        assert {o["name"] for o in synced[name]["options"]} == subcommands
    for name in ("ask", "summary", "digest"):
        assert synced[name]["default_member_permissions"] is None
    # the bot identified with the intents it needs (guilds, guild messages, message content)
    intents = fake.identifies[0]["intents"]
    assert intents & (1 << 0) and intents & (1 << 9) and intents & (1 << 15)
    assert fake.gateway_queries[0]["v"] == "10"


# -- asking -----------------------------------------------------------------------------------------
def test_a_member_asks_and_the_answer_quotes_the_article_with_its_source(
    fake: FakeDiscord, guild_a: str, engine: Engine
):
    log = fake.slash(
        "ask", guild_id=guild_a, who=ALICE, question="How tall are the towers of the Queensferry Crossing?"
    )
    answer = only(fake.wait_result(log))
    assert log.callback["type"] == 5  # deferred first ("Byline is thinking…"), then the answer
    embed = only(answer["embeds"])
    assert embed["title"] == "How tall are the towers of the Queensferry Crossing?"
    quotes = re.findall(r"^> (.*) \[\d+\]$", embed["description"], re.M)
    assert any(re.search(r"\*\*[^*]*207 metres[^*]*\*\*", q) for q in quotes), "the answer is in bold"
    article = next(a for a in engine.list_articles(collection(guild_a)) if "Queensferry" in a.title)
    for quote in quotes:  # verbatim, once the bold marks around the answer are taken off
        assert unescape(quote.replace("**", "")) in engine.article_text(collection(guild_a), article.id)
    assert "Queensferry Crossing formally opened" in embed["fields"][0]["value"]
    assert embed["footer"]["text"].startswith("Searched 6 articles")
    assert custom_ids(answer)[0].startswith("byline:sources:")
    assert {"byline:vote:up", "byline:vote:down"} <= {i.rsplit(":", 1)[0] for i in custom_ids(answer)}
    assert_never_pings(log)


def test_a_question_the_articles_do_not_cover_says_so_and_points_to_the_nearest(fake: FakeDiscord, guild_a: str):
    log = fake.slash("ask", guild_id=guild_a, who=ALICE, question="What is the capital of Peru?")
    embed = only(only(fake.wait_result(log))["embeds"])
    assert "don't cover that" in embed["description"]
    assert embed["fields"][0]["name"] == "Closest articles"
    assert embed["fields"][0]["value"].count("•") >= 1
    assert not any(i.startswith("byline:sources") for i in custom_ids(only(log.messages())))


def test_sources_shows_the_quoted_passages_in_context_to_the_member_alone(fake: FakeDiscord, guild_a: str):
    log = fake.slash(
        "ask", guild_id=guild_a, who=ALICE, question="What rocket launched the James Webb Space Telescope?"
    )
    answer = only(fake.wait_result(log))
    sources = fake.click(answer, custom_ids(answer)[0], guild_id=guild_a, who=BOB)
    shown = fake.wait_result(sources)
    assert sources.callback["type"] == 4
    assert all(m["flags"] & EPHEMERAL for m in shown)
    passages = [e for m in shown for e in m["embeds"]]
    assert any("Ariane 5" in e["description"] for e in passages)
    assert all("**" in e["description"] for e in passages)  # the quote itself is in bold, context around it
    assert all(e["title"].startswith("[1]") or e["title"].startswith("[2]") for e in passages)


def test_votes_are_stored_with_the_question_and_exported_by_the_cli(fake: FakeDiscord, guild_a: str, engine: Engine):
    log = fake.slash("ask", guild_id=guild_a, who=ALICE, question="When did DART hit Dimorphos?")
    answer = only(fake.wait_result(log))
    up = next(i for i in custom_ids(answer) if ":up:" in i)
    down = next(i for i in custom_ids(answer) if ":down:" in i)
    first = fake.click(answer, up, guild_id=guild_a, who=ALICE)
    assert "Thanks" in only(fake.wait_result(first))["content"]
    fake.wait_result(fake.click(answer, down, guild_id=guild_a, who=BOB))
    fake.wait_result(fake.click(answer, down, guild_id=guild_a, who=ALICE))  # a member can change their vote
    result = run_cli(
        "--json",
        "feedback",
        "--collection",
        collection(guild_a),
        data_dir=engine.settings.data_dir,
        env={"BYLINE_DATABASE_URL": engine.settings.database_url},
    )
    assert result.returncode == 0, result.stderr
    rows = [r for r in json.loads(result.stdout) if r["question"] == "When did DART hit Dimorphos?"]
    assert sorted((r["user_id"], r["vote"]) for r in rows) == [("1001", "down"), ("1002", "down")]
    assert all("26 September 2022" in " ".join(q["text"] for q in r["quotes"]) for r in rows)


def test_a_mention_is_a_question_and_a_reply_to_the_answer_is_a_follow_up(
    fake: FakeDiscord, guild_a: str, engine: Engine
):
    channel = next(c for c, data in fake.channels.items() if data["guild_id"] == guild_a)
    bot = fake.bot
    asked = fake.say(
        f"<@{bot['id']}> What rocket launched the James Webb Space Telescope?",
        channel_id=channel,
        who=ALICE,
        mentions=[bot],
    )
    reply = fake.wait_reply(asked)
    assert "Ariane 5" in text_of(reply)
    assert_no_ping(reply["allowed_mentions"])
    # (a person takes longer to type than the bot takes to note which message holds its answer)
    fake.wait(lambda: engine.feedback.answer_for_message(reply["id"]), what="the answer to be logged")
    # A reply to the answer, without mentioning the bot: "it" is the telescope from the first question.
    follow = fake.say("When did it launch?", channel_id=channel, who=ALICE, reply_to=reply)
    second = fake.wait_reply(follow)
    expected = engine.ask(collection(guild_a), "When did it launch?", follow_up_to=asked["content"].split("> ", 1)[1])
    assert "James Webb" in expected.quotes[0].title
    assert expected.quotes[0].text.split()[0] in unescape(text_of(second))
    assert "James Webb" in text_of(second)


def test_a_bare_mention_gets_a_hint_not_an_error(fake: FakeDiscord, guild_a: str):
    channel = next(c for c, data in fake.channels.items() if data["guild_id"] == guild_a)
    asked = fake.say(f"<@{fake.bot['id']}>", channel_id=channel, who=ALICE, mentions=[fake.bot])
    assert "Ask me something after the mention" in text_of(fake.wait_reply(asked))


def test_summary_autocompletes_titles_and_links_every_sentence(fake: FakeDiscord, guild_a: str, engine: Engine):
    choices = fake.autocomplete("summary", "article", "queensferry", guild_id=guild_a, who=ALICE)
    assert len(choices) == 1 and "Queensferry Crossing" in choices[0]["name"]
    log = fake.slash("summary", guild_id=guild_a, who=ALICE, article=choices[0]["value"], sentences=2)
    embed = only(only(fake.wait_result(log))["embeds"])
    lines = embed["description"].splitlines()
    assert len(lines) == 2
    text = engine.article_text(collection(guild_a), int(choices[0]["value"]))
    for line in lines:
        assert line.startswith("• ")
        assert unescape(line[2:]) in text  # no URL on the sample, so the whole line is the sentence
    assert_never_pings(log)


def test_summary_by_topic_quotes_across_articles_or_says_they_do_not_cover_it(
    fake: FakeDiscord, guild_a: str, engine: Engine
):
    log = fake.slash("summary", guild_id=guild_a, who=ALICE, topic="Belarus and the war in Ukraine", sentences=3)
    embed = only(only(fake.wait_result(log))["embeds"])
    blocks = [b for b in embed["description"].split("\n\n") if b]
    assert 1 <= len(blocks) <= 3
    for block in blocks:
        assert block.startswith("> ")
        sentence = unescape(re.sub(r" \[\d+\]( · [\d-]+)?$", "", block[2:]))
        assert any(
            sentence in engine.article_text(collection(guild_a), a.id)
            for a in engine.list_articles(collection(guild_a))
        )
    assert embed["fields"][0]["name"] == "Sources" and "Belarus" in embed["fields"][0]["value"]
    assert "quoted verbatim" in embed["footer"]["text"]
    assert_never_pings(log)

    uncovered = fake.slash("summary", guild_id=guild_a, who=BOB, topic="cryptocurrency regulation in Japan")
    assert "The articles don't cover this." in text_of(only(fake.wait_result(uncovered)))

    neither = fake.slash("summary", guild_id=guild_a, who=BOB)
    refusal = only(fake.wait_result(neither))
    assert refusal["flags"] & EPHEMERAL and "either an article or a topic" in text_of(refusal)


def test_digest_pages_through_stories_for_the_member_who_asked(fake: FakeDiscord, guild_a: str, engine: Engine):
    log = fake.slash("digest", guild_id=guild_a, who=ALICE, days=7)
    first = only(fake.wait_result(log))
    embed = only(first["embeds"])
    stories = engine.digest(collection(guild_a), 7).stories
    assert len(stories) > 5, "the samples make more than one page"
    assert embed["title"].startswith("Digest: ") and "Page 1 of 2" in embed["footer"]["text"]
    assert len(embed["fields"]) == 5
    assert stories[0].articles[0].title[:40] in unescape(embed["fields"][0]["name"])
    assert_never_pings(log)

    other = fake.click(first, "byline:digest:next", guild_id=guild_a, who=BOB)
    assert "belong to the member who asked" in text_of(only(fake.wait_result(other)))
    turned = fake.click(first, "byline:digest:next", guild_id=guild_a, who=ALICE)
    fake.wait_result(turned)
    assert "Page 2 of 2" in turned.callback["data"]["embeds"][0]["footer"]["text"]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _post_due(running: RunningBot) -> int:
    """One round of the digest loop, as its timer would run it (the test drives the clock, not time)."""
    cog = running.bot.get_cog("Digests")
    return asyncio.run_coroutine_threadsafe(cog.post_due(), running.loop).result(60)  # type: ignore[union-attr]


def test_a_scheduled_digest_is_posted_once_a_week_even_across_a_restart(embedder: Embedder, tmp_path: Path):
    clock = Clock(datetime(2026, 3, 16, 8, 0, tzinfo=UTC))  # a Monday, 08:00
    fake = FakeDiscord()
    guild, channel = fake.add_guild("Weekly")
    fake.start()
    engine = Engine(EngineSettings(data_dir=tmp_path / "weekly"), embedder, clock=clock)
    running = RunningBot(fake, engine)
    try:
        engine.add_file(collection(guild), SAMPLES / "queensferry-crossing-opening.txt")

        def digests() -> list[dict[str, Any]]:
            return [
                m
                for m in fake.messages.values()
                if m["channel_id"] == channel and m["embeds"] and m["embeds"][0].get("title", "").startswith("Digest: ")
            ]

        refused = fake.slash("digest-schedule set", guild_id=guild, who=ALICE, weekday=0, time="09:00")
        assert "Manage Server" in text_of(only(fake.wait_result(refused)))
        log = fake.slash(
            "digest-schedule set", guild_id=guild, who=MODERATOR, permissions=MOD_PERMISSIONS, weekday=0, time="09:00"
        )
        assert "Mondays at 09:00 UTC" in text_of(only(fake.wait_result(log)))
        shown = fake.slash("digest-schedule show", guild_id=guild, who=MODERATOR, permissions=MOD_PERMISSIONS)
        assert text_of(only(fake.wait_result(shown))).startswith("The digest is posted Mondays at 09:00 UTC")

        assert _post_due(running) == 0 and digests() == [], "posted before its time"
        clock.now = datetime(2026, 3, 16, 9, 0, 20, tzinfo=UTC)
        _post_due(running)
        (posted,) = digests()
        assert "Queensferry Crossing" in text_of(posted)
        assert_no_ping(posted["allowed_mentions"])
        assert _post_due(running) == 0 and len(digests()) == 1

        running.stop()
        engine.close()
        engine = Engine(EngineSettings(data_dir=tmp_path / "weekly"), embedder, clock=clock)
        running = RunningBot(fake, engine)  # a restart in the same week
        clock.now = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)
        assert _post_due(running) == 0 and len(digests()) == 1, "posted twice in one week after a restart"

        clock.now = datetime(2026, 3, 23, 9, 1, tzinfo=UTC)
        _post_due(running)
        assert len(digests()) == 2, "the next week's digest was not posted"

        off = fake.slash("digest-schedule off", guild_id=guild, who=MODERATOR, permissions=MOD_PERMISSIONS)
        assert text_of(only(fake.wait_result(off))) == "The weekly digest is off."
        shown = fake.slash("digest-schedule show", guild_id=guild, who=MODERATOR, permissions=MOD_PERMISSIONS)
        assert text_of(only(fake.wait_result(shown))) == "No weekly digest is scheduled."
        again = fake.slash("digest-schedule off", guild_id=guild, who=MODERATOR, permissions=MOD_PERMISSIONS)
        assert text_of(only(fake.wait_result(again))) == "There was no weekly digest to turn off."
        clock.now = datetime(2026, 3, 30, 9, 1, tzinfo=UTC)
        assert _post_due(running) == 0 and len(digests()) == 2
    finally:
        running.stop()
        engine.close()
        fake.stop()


# -- moderators -------------------------------------------------------------------------------------
def test_a_moderator_adds_a_url_and_sees_progress_then_members_can_ask_about_it(
    fake: FakeDiscord, guild_a: str, pages: str
):
    log = add_article(fake, guild_a, url=f"{pages}/river")
    result = only(fake.wait_result(log))
    assert result["flags"] & EPHEMERAL
    assert result["content"].startswith("Added: **Hundreds of volunteers clear rubbish from the River Wend")
    assert any(e.get("content", "").startswith("Fetching") for e in log.original_edits)
    asked = fake.slash("ask", guild_id=guild_a, who=ALICE, question="How many volunteers cleared the River Wend?")
    embed = only(only(fake.wait_result(asked))["embeds"])
    assert "volunteers" in embed["description"]
    canonical = "https://news.example.org/2023/03/14/river-cleanup"  # the page's own canonical link
    assert f"]({canonical})" in embed["fields"][0]["value"]  # the source links to the article
    assert f"({canonical}#:~:text=" in embed["description"]  # and each quote to its sentence on the page


def test_a_moderator_adds_a_file_and_pasted_text_and_a_duplicate_is_reported(fake: FakeDiscord, guild_b: str):
    story = (
        "Harbour ferry returns after repairs\n\nThe Northgate harbour ferry returned to service on Monday after "
        "six weeks of repairs to its hull. The operator said the crossing would run every twenty minutes from "
        "seven in the morning. Commuters had used a replacement bus that added half an hour to the journey."
    )
    attached = add_article(
        fake,
        guild_b,
        file=("ferry.md", story.encode(), "text/markdown"),
    )
    assert only(fake.wait_result(attached))["content"].startswith("Added: **Harbour ferry returns after repairs**")
    again = add_article(
        fake,
        guild_b,
        file=("ferry-copy.md", story.encode(), "text/markdown"),
    )
    assert only(fake.wait_result(again))["content"].startswith("Already here (duplicate)")
    pasted = add_article(
        fake,
        guild_b,
        text="The town council approved a new cycle lane along Mill Road on Tuesday. Work is due to start in "
        "spring and will take about four months, the council said in a statement.",
        title="Council approves Mill Road cycle lane",
        published="2024-05-02",
    )
    assert only(fake.wait_result(pasted))["content"].startswith("Added: **Council approves Mill Road cycle lane**")


def test_bad_article_input_gets_one_sentence_and_stores_nothing(fake: FakeDiscord, guild_b: str, engine: Engine):
    before = engine.article_count(collection(guild_b))
    cases = [
        ({"file": ("photo.png", b"\x89PNG\r\n", "image/png")}, "unsupported file type"),
        ({"file": ("notes.txt", b"\x00\x01\x02binary" * 40, "text/plain")}, "binary"),
        ({"text": "Some text without a title for the article."}, "needs a title"),
        ({}, "exactly one of url, file or text"),
        ({"url": "http://127.0.0.1:9/closed"}, "port"),
    ]
    for values, expected in cases:
        log = add_article(fake, guild_b, **values)
        message = only(fake.wait_result(log))
        assert message["flags"] & EPHEMERAL
        assert expected in text_of(message), (values, text_of(message))
        assert "Traceback" not in text_of(message)
    assert engine.article_count(collection(guild_b)) == before


def test_a_member_without_manage_server_is_refused(fake: FakeDiscord, guild_a: str, engine: Engine):
    count = engine.article_count(collection(guild_a))
    first = engine.list_articles(collection(guild_a))[0]
    for command, values in [
        (
            "article add",
            {"text": "A sentence long enough to be an article about nothing at all, really.", "title": "T"},
        ),
        ("article remove", {"article": str(first.id)}),
        ("article list", {}),
    ]:
        log = fake.slash(command, guild_id=guild_a, who=ALICE, **values)  # default member permissions
        message = only(fake.wait_result(log))
        assert log.callback["type"] == 4 and message["flags"] & EPHEMERAL
        assert "Only moderators" in text_of(message)
    assert engine.article_count(collection(guild_a)) == count


def test_list_pages_with_buttons_and_remove_by_autocomplete(fake: FakeDiscord, guild_a: str, engine: Engine):
    log = fake.slash("article list", guild_id=guild_a, who=MODERATOR, permissions=MOD_PERMISSIONS)
    page = only(fake.wait_result(log))
    total = engine.article_count(collection(guild_a))
    assert f"Page 1 of {-(-total // 2)}" in page["embeds"][0]["footer"]["text"]
    assert page["embeds"][0]["description"].count("`#") == 2
    turned = fake.click(page, "byline:list:next", guild_id=guild_a, who=MODERATOR, permissions=MOD_PERMISSIONS)
    fake.wait_result(turned)
    assert turned.callback["type"] == 7  # the same message, edited in place
    assert "Page 2 of" in turned.callback["data"]["embeds"][0]["footer"]["text"]

    choices = fake.autocomplete("article remove", "article", "arctic vault", guild_id=guild_a, who=MODERATOR)
    assert len(choices) == 1
    removed = fake.slash(
        "article remove", guild_id=guild_a, who=MODERATOR, permissions=MOD_PERMISSIONS, article=choices[0]["value"]
    )
    assert "Removed **Inside the Arctic vault" in only(fake.wait_result(removed))["content"]
    assert engine.article_count(collection(guild_a)) == total - 1
    asked = fake.slash("ask", guild_id=guild_a, who=ALICE, question="At what temperature are seeds stored in Svalbard?")
    assert "Arctic vault" not in text_of(only(fake.wait_result(asked)))


def test_members_get_answers_while_a_slow_ingest_runs(fake: FakeDiscord, guild_a: str, pages: str):
    _Pages.release.clear()
    adding = add_article(fake, guild_a, url=f"{pages}/slow")
    fake.wait(lambda: adding.original_edits, what="the ingest to start")
    asked = fake.slash(
        "ask", guild_id=guild_a, who=ALICE, question="How tall are the towers of the Queensferry Crossing?"
    )
    answer = only(fake.wait_result(asked))
    assert "207 metres" in text_of(answer)
    assert adding.original["content"].startswith("Fetching")  # the ingest is still waiting on the page
    _Pages.release.set()
    done = only(fake.wait_result(adding))["content"]
    assert done.startswith(("Added: **Hundreds of volunteers", "Updated: **Hundreds of volunteers")), done


def test_an_article_containing_everyone_never_pings(fake: FakeDiscord, guild_b: str):
    added = add_article(
        fake,
        guild_b,
        text="The lighthouse keeper posted a notice that read @everyone the lamp room reopens on Friday after "
        "repainting. Visitors can climb the 112 steps to the gallery again from ten o'clock. <@&55> <@1001>",
        title="Lighthouse lamp room reopens",
    )
    fake.wait_result(added)
    log = fake.slash("ask", guild_id=guild_b, who=ALICE, question="When does the lighthouse lamp room reopen?")
    answer = only(fake.wait_result(log))
    assert "@everyone" in text_of(answer)
    assert_never_pings(log)
    channel = next(c for c, data in fake.channels.items() if data["guild_id"] == guild_b)
    asked = fake.say(
        f"<@{fake.bot['id']}> what did the lighthouse notice say?", channel_id=channel, who=ALICE, mentions=[fake.bot]
    )
    reply = fake.wait_reply(asked)
    assert_no_ping(reply["allowed_mentions"])
    sent = [r for r in fake.requests if _sends_text(r)]
    assert sent
    for recorded in sent:
        body = recorded.body.get("data", recorded.body) if "/callback" in recorded.path else recorded.body
        assert_no_ping(body.get("allowed_mentions"))


def _sends_text(recorded: Any) -> bool:
    body = recorded.body if isinstance(recorded.body, dict) else {}
    body = body.get("data", body) if "/callback" in recorded.path else body
    return recorded.method in ("POST", "PATCH") and bool(body.get("content") or body.get("embeds"))


def test_guilds_never_see_each_others_articles(fake: FakeDiscord, guild_a: str, guild_b: str, engine: Engine):
    article_a = next(a for a in engine.list_articles(collection(guild_a)) if "Queensferry" in a.title)
    asked = fake.slash(
        "ask", guild_id=guild_b, who=ALICE, question="How tall are the towers of the Queensferry Crossing?"
    )
    shown = text_of(only(fake.wait_result(asked))).replace("How tall are the towers of the Queensferry Crossing?", "")
    assert "Queensferry" not in shown and "207" not in shown and "don't" in shown
    assert fake.autocomplete("summary", "article", "Queensferry", guild_id=guild_b, who=ALICE) == []
    assert fake.autocomplete("article remove", "article", str(article_a.id), guild_id=guild_b, who=MODERATOR) == []
    for command, values, permissions in [
        ("summary", {"article": str(article_a.id)}, MEMBER_PERMISSIONS),
        ("article remove", {"article": str(article_a.id)}, MOD_PERMISSIONS),
    ]:
        log = fake.slash(command, guild_id=guild_b, who=MODERATOR, permissions=permissions, **values)
        message = only(fake.wait_result(log))
        assert message["flags"] & EPHEMERAL and "There is no article" in text_of(message)
        assert "Queensferry" not in text_of(message)
    # A's answer's buttons, pressed in B (a forged interaction), reveal nothing
    in_a = fake.slash(
        "ask", guild_id=guild_a, who=ALICE, question="How tall are the towers of the Queensferry Crossing?"
    )
    answer_a = only(fake.wait_result(in_a))
    stolen = fake.click(answer_a, custom_ids(answer_a)[0], guild_id=guild_b, who=BOB)
    message = only(fake.wait_result(stolen))
    assert "no longer available" in text_of(message) and "Queensferry" not in text_of(message)
    assert engine.article(collection(guild_a), article_a.id).title == article_a.title  # still there


def test_a_dm_is_refused_politely_without_a_dm_collection(fake: FakeDiscord):
    log = fake.slash("ask", guild_id=None, who=ALICE, question="Who is Ukraine's defence minister?")
    message = only(fake.wait_result(log))
    assert message["flags"] & EPHEMERAL and "I only answer in servers" in text_of(message)


def test_a_dm_collection_answers_direct_messages_without_a_mention(engine: Engine, tmp_path: Path):
    dm_engine = Engine(replace(engine.settings, data_dir=tmp_path / "dm"), engine.embedder)
    errors: list = []
    dm_engine.add_documents("newsroom", dm_engine.documents(str(SAMPLES), errors), errors=errors)
    with discord_world(dm_engine, dm_collection="newsroom") as (fake, _, _, _):
        dm = "1299999999999999999"
        fake.channels[dm] = {"id": dm, "type": 1}
        asked = fake.say("How tall are the towers of the Queensferry Crossing?", channel_id=dm, who=ALICE)
        assert "207 metres" in text_of(fake.wait_reply(asked))
        log = fake.slash("ask", guild_id=None, who=ALICE, question="Who is Ukraine's defence minister?")
        assert "Oleksii Reznikov" in text_of(only(fake.wait_result(log)))
    dm_engine.close()


def test_an_over_long_question_is_refused_before_thinking(fake: FakeDiscord, guild_a: str):
    log = fake.slash("ask", guild_id=guild_a, who=ALICE, question="why " * 200)
    message = only(fake.wait_result(log))
    assert log.callback["type"] == 4 and message["flags"] & EPHEMERAL
    assert "please keep it under 500" in text_of(message)


# -- failures, limits, cooldown (each with its own bot) ------------------------------------------------
def test_an_engine_error_becomes_one_ephemeral_sentence_and_is_logged(
    engine: Engine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    with discord_world(engine) as (fake, running, guild_a, _):

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("disk on fire at /srv/secret/path")

        monkeypatch.setattr(running.bot.engine, "ask", broken)
        with caplog.at_level(logging.ERROR):
            log = fake.slash("ask", guild_id=guild_a, who=ALICE, question="Who is Ukraine's defence minister?")
            message = only(fake.wait_result(log))
        assert log.deferred and log.original_deleted  # the public "thinking…" is replaced
        assert message["flags"] & EPHEMERAL
        assert text_of(message).strip() == discord_client.GENERIC_ERROR
        assert not any("secret" in json.dumps(p) for p in log.payloads)
        assert any("disk on fire" in (r.exc_text or "") for r in caplog.records)


def test_the_cooldown_applies_to_slash_commands_and_mentions(engine: Engine):
    with discord_world(engine, ask_cooldown=60) as (fake, _, guild_a, _):
        first = fake.slash("ask", guild_id=guild_a, who=BOB, question="When did DART hit Dimorphos?")
        assert only(fake.wait_result(first))["embeds"]
        second = fake.slash("ask", guild_id=guild_a, who=BOB, question="What rocket launched the telescope?")
        refused = only(fake.wait_result(second))
        assert refused["flags"] & EPHEMERAL and "you can ask again in" in text_of(refused)
        channel = next(c for c, data in fake.channels.items() if data["guild_id"] == guild_a)
        asked = fake.say(f"<@{fake.bot['id']}> and now?", channel_id=channel, who=BOB, mentions=[fake.bot])
        assert "you can ask again in" in text_of(fake.wait_reply(asked))
        other = fake.slash("ask", guild_id=guild_a, who=ALICE, question="When did DART hit Dimorphos?")
        assert only(fake.wait_result(other))["embeds"]  # the pause is per member


def test_buttons_and_follow_ups_keep_working_after_a_restart(engine: Engine):
    fake = FakeDiscord()
    guild, channel = fake.add_guild("Guild R")
    fake.start()
    try:
        errors: list = []
        engine.add_documents(collection(guild), engine.documents(str(SAMPLES), errors), errors=errors)
        first = RunningBot(fake, engine)
        asked = fake.say(
            f"<@{fake.bot['id']}> What rocket launched the James Webb Space Telescope?",
            channel_id=channel,
            who=ALICE,
            mentions=[fake.bot],
        )
        answer = fake.wait_reply(asked)
        fake.wait(lambda: engine.feedback.answer_for_message(answer["id"]), what="the answer to be logged")
        first.stop()
        second = RunningBot(fake, engine)  # a new process would see the same: the state is in SQLite
        try:
            sources = fake.click(answer, custom_ids(answer)[0], guild_id=guild, who=BOB)
            assert any("Ariane 5" in e["description"] for m in fake.wait_result(sources) for e in m["embeds"])
            follow = fake.say("When did it launch?", channel_id=channel, who=ALICE, reply_to=answer)
            assert "James Webb" in text_of(fake.wait_reply(follow))
        finally:
            second.stop()
    finally:
        fake.stop()


def test_discord_guild_id_syncs_the_commands_to_that_server_only(engine: Engine):
    fake = FakeDiscord()
    guild, _ = fake.add_guild("Dev server")
    fake.start()
    running = RunningBot(fake, engine, guild_id=int(guild))
    try:
        assert set(fake.commands) == {guild}  # nothing synced globally
        assert {c["name"] for c in fake.commands[guild]} == SLASH_COMMANDS
        errors: list = []
        engine.add_documents(collection(guild), engine.documents(str(SAMPLES), errors), errors=errors)
        log = fake.slash("ask", guild_id=guild, who=ALICE, question="When did DART hit Dimorphos?")
        assert log.payload["data"]["guild_id"] == guild
        assert "26 September 2022" in text_of(only(fake.wait_result(log)))
    finally:
        running.stop()
        fake.stop()


def test_the_bot_reconnects_when_the_gateway_drops_and_keeps_answering(engine: Engine):
    with discord_world(engine) as (fake, running, guild_a, _):
        errors: list = []
        engine.add_documents(collection(guild_a), engine.documents(str(SAMPLES), errors), errors=errors)
        identified = len(fake.identifies)
        fake.drop_connections()
        # it tries to RESUME; this Discord keeps no sessions (op 9), so it identifies again
        fake.wait(lambda: len(fake.identifies) > identified and fake.sockets, timeout=60, what="a reconnect")
        fake.wait(lambda: running.bot.is_ready(), what="READY again")
        log = fake.slash("ask", guild_id=guild_a, who=ALICE, question="When did DART hit Dimorphos?")
        assert "26 September 2022" in text_of(only(fake.wait_result(log)))


def test_long_answers_fit_discords_limits(engine: Engine):
    sentence = "The committee heard evidence " + "about the long-running dispute over fishing rights " * 30 + "."
    quotes = tuple(
        Quote(
            f"{i} {sentence}",
            i,
            "A very long title " * 20,
            f"https://news.example/{i}",
            "2024-01-0" + str(i),
            0,
            9,
            1.0,
        )
        for i in range(1, 10)
    )
    answer = Answer("why? " * 100, "", False, quotes, 12.0)
    embed = embeds.answer_embed(answer, 20_000)
    fake = FakeDiscord()
    assert fake.check_message({"embeds": [embed.to_dict()]}) is None
    assert len(embed) <= embeds.EMBED_TOTAL_LIMIT and "shortened" in embed.footer.text
    assert embed.description.count("> ") == 9  # every quote is still there, trimmed at a word
    sources = embeds.passages_embeds(answer, [("before " * 400, q.text, "after " * 400) for q in quotes])
    from bot.cogs.asking import embed_batches

    for batch in embed_batches(sources):
        assert fake.check_message({"embeds": [e.to_dict() for e in batch]}) is None
    abstain = Answer("q", "x", True, (), 1.0, tuple(ArticleRef(i, "T" * 300, None, None) for i in range(3)))
    assert fake.check_message({"embeds": [embeds.answer_embed(abstain, 3).to_dict()]}) is None
    long_title = embeds.article_choice_name(12, "A headline that goes on " * 10, "2024-03-14")
    assert len(long_title) <= 100 and long_title.endswith("… · 2024-03-14")


def test_a_long_answer_end_to_end_is_sent_within_limits(engine: Engine, tmp_path: Path, embedder: Embedder):
    long_engine = Engine(replace(engine.settings, data_dir=tmp_path / "long", max_quotes=10), embedder)
    with discord_world(long_engine) as (fake, _, guild_a, _):
        causes = [
            "the council had postponed maintenance on the old stone sea defences for eleven years",
            "storm surges in the winter of 2019 had scoured the foundations beneath the eastern section",
            "contractors used the wrong mortar when they patched the cracks after the flood",
            "the port authority ignored engineers' warnings about the drainage pipes behind the wall",
            "heavier ships berthing at the quay strained the wall far beyond what it was built for",
            "budget cuts meant inspections fell from twice a year to once every three years",
        ]
        sentences = [
            f"A witness told the harbour wall inquiry that the wall failed because {cause}, and that residents "
            f"of the harbour wall streets had written to the council about the harbour wall several times "
            f"before the collapse, without ever receiving a reply that addressed the danger to their homes."
            for cause in causes
        ]
        long_engine.add_text(collection(guild_a), "Harbour wall inquiry\n\n" + " ".join(sentences))
        log = fake.slash(
            "ask",
            guild_id=guild_a,
            who=ALICE,
            question="Why did the harbour wall fail, the witnesses told the inquiry? " + "Please explain. " * 25,
        )
        embed = only(only(fake.wait_result(log))["embeds"])
        assert embed["description"].count("> ") >= 3
        assert not fake.errors  # Discord (the fake) accepted every payload
        answer = only(log.messages())
        sources = fake.click(answer, custom_ids(answer)[0], guild_id=guild_a, who=ALICE)
        quotes = embed["description"].count("> ")
        fake.wait(lambda: sum(len(m["embeds"]) for m in sources.messages()) == quotes, what="every passage")
        assert len(sources.messages()) >= 2  # more than one message's worth: split, not cut
        assert all(m["flags"] & EPHEMERAL for m in sources.messages())
        assert not fake.errors
    long_engine.close()


# -- as a user runs it ----------------------------------------------------------------------------------
def test_python_m_bot_run_connects_and_answers(tmp_path: Path):
    fake = FakeDiscord()
    guild, _ = fake.add_guild("Guild A")
    fake.start()
    data_dir = tmp_path / "data"
    added = run_cli("--collection", f"guild-{guild}", "add", str(SAMPLES), data_dir=data_dir)
    assert added.returncode == 0, added.stderr
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "BYLINE_"))},
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "BYLINE_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
    }
    # -X importtime: stderr names every module imported, to show that answering never loads torch. It goes
    # to a file: a pipe nobody reads while the bot runs fills up (64 KiB) and blocks the bot mid-write.
    errors = (tmp_path / "stderr.txt").open("w+b")
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    try:
        fake.wait_ready(timeout=180)
        log = fake.slash("ask", guild_id=guild, who=ALICE, question="Who is Ukraine's defence minister?")
        embed = only(only(fake.wait_result(log, timeout=120))["embeds"])
        assert "Oleksii Reznikov" in embed["description"]
        assert embed["footer"]["text"].startswith("Searched 6 articles")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        fake.stop()
        errors.seek(0)
        stderr = errors.read()
        errors.close()
    assert process.returncode == 0, stderr[-2000:]  # Ctrl-C is a graceful shutdown
    assert fake.token.encode() not in stderr  # the token is never logged
    assert imported(stderr.decode(), HEAVY) == set()  # the bundled model ran on ONNX Runtime


def test_a_wrong_token_is_one_clear_sentence_and_exit_1(tmp_path: Path):
    fake = FakeDiscord()
    fake.add_guild("Guild A")
    fake.start()
    try:
        env = {
            "DISCORD_TOKEN": "not-the-token",
            "DISCORD_API_BASE": fake.api_base,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
        }
        out = run_cli("run", data_dir=tmp_path / "data", env=env)
    finally:
        fake.stop()
    assert out.returncode == 1
    assert out.stderr.decode().strip().splitlines()[-1] == (
        "error: Discord refused the token: check DISCORD_TOKEN (Bot → Reset Token)."
    )
    assert b"not-the-token" not in out.stderr


def test_with_an_llm_discord_shows_only_the_verified_answer_and_its_quotes(
    engine: Engine, tmp_path: Path, embedder: Embedder
):
    from fake_openai import FakeOpenAI, Reply

    def reply(request: dict[str, Any]) -> str:
        user_prompt = next(m["content"] for m in request["messages"] if m["role"] == "user")
        n = next(num for num, text in re.findall(r"^\[(\d+)\] (.*)$", user_prompt, re.M) if "Reznikov" in text)
        return (
            f"The defence minister is Oleksii Reznikov [{n}]. "
            f"He said Russia could prepare an attack force coming from Belarus [{n}]. "
            f"He said the war had cost 900 billion dollars [{n}]."  # a number no quote holds: never shown
        )

    def summary(request: dict[str, Any]) -> str:
        user_prompt = next(m["content"] for m in request["messages"] if m["role"] == "user")
        numbered = re.findall(r"^\[(\d+)\] (.*)$", user_prompt, re.M)
        hit = next(num for num, text in numbered if "26 September 2022" in text)
        return f"DART struck Dimorphos on 26 September 2022 [{hit}]. It cost 330 million dollars [{hit}]."

    with FakeOpenAI() as model:
        model.reply(Reply(reply))
        model.reply(Reply(summary))
        settings = replace(engine.settings, data_dir=tmp_path / "llm", llm_base_url=model.url, llm_model="m")
        llm_engine = Engine(settings, embedder)
        with discord_world(llm_engine) as (fake, _, guild_a, _):
            errors: list = []
            llm_engine.add_documents(collection(guild_a), llm_engine.documents(str(SAMPLES), errors), errors=errors)
            log = fake.slash("ask", guild_id=guild_a, who=ALICE, question="Who is Ukraine's defence minister?")
            embed = only(only(fake.wait_result(log))["embeds"])
            dart = next(a.id for a in llm_engine.list_articles(collection(guild_a)) if "DART" in a.title)
            summarised = fake.slash("summary", guild_id=guild_a, who=ALICE, article=str(dart), sentences=2)
            summary_embed = only(only(fake.wait_result(summarised))["embeds"])
        llm_engine.close()
    # the summary: the verified sentence, then the article sentence it cites; the made-up cost is never shown
    assert unescape(summary_embed["description"]).startswith("DART struck Dimorphos on 26 September 2022 [1].")
    assert "330 million" not in json.dumps(summarised.payloads)
    assert re.search(r"^> .*26 September 2022.* \[1\]$", summary_embed["description"], re.M)
    assert unescape(embed["description"]).startswith(
        "The defence minister is Oleksii Reznikov [1]. He said Russia could prepare an attack force coming from "
        "Belarus [1]."
    )
    assert "900 billion" not in json.dumps(log.payloads)
    assert re.search(r"^> .*Oleksii Reznikov.* \[1\]$", embed["description"], re.M)  # the quote [1] cites
    assert "checked against the quotes" in embed["footer"]["text"]
