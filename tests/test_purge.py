"""A server's data: kept when the bot is removed from it, deleted only by the operator (`python -m bot
purge`), and never reachable from another server."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SAMPLES, run_cli
from test_discord import (
    ALICE,
    BOB,
    MOD_PERMISSIONS,
    MODERATOR,
    add_article,
    custom_ids,
    discord_world,
    only,
    text_of,
)

from index import Engine
from index.errors import NotFound
from index.storage import FeedItemRow

pytestmark = pytest.mark.usefixtures("loopback_only")

QUESTION = "How tall are the towers of the Queensferry Crossing?"


def add_samples(engine: Engine, collection: str) -> None:
    errors: list = []
    engine.add_documents(collection, engine.documents(str(SAMPLES), errors), errors=errors)
    assert not errors


def rows_of(engine: Engine, collection: str) -> dict[str, int]:
    """Rows per table that belong to the collection, counted straight from SQLite."""
    conn = sqlite3.connect(Path(engine.settings.data_dir) / "byline.sqlite3")
    try:
        one = lambda sql: conn.execute(sql, (collection,)).fetchone()[0]  # noqa: E731
        return {
            "articles": one("SELECT count(*) FROM articles WHERE collection = ?"),
            "sentences": one(
                "SELECT count(*) FROM sentences WHERE article_id IN (SELECT id FROM articles WHERE collection = ?)"
            ),
            "chunks": one("SELECT count(*) FROM chunks WHERE collection = ?"),
            "answers": one("SELECT count(*) FROM answers WHERE collection = ?"),
            "votes": one(
                "SELECT count(*) FROM feedback WHERE answer_id IN (SELECT id FROM answers WHERE collection = ?)"
            ),
            "schedules": one("SELECT count(*) FROM digest_schedules WHERE collection = ?"),
            "feed_items": one("SELECT count(*) FROM feed_items WHERE collection = ?"),
            "feeds": one("SELECT count(*) FROM feed_subscriptions WHERE collection = ?"),
        }
    finally:
        conn.close()


def ask_and_vote(engine: Engine, collection: str, user_id: str) -> None:
    answer = engine.ask(collection, QUESTION)
    answer_id = engine.feedback.log_answer(collection, answer, user_id)
    engine.feedback.record(answer_id, collection, user_id, "up")


@pytest.fixture
def two_servers(make_engine: Callable[..., Engine]) -> Engine:
    engine = make_engine()
    for name in ("guild-111", "guild-222"):
        add_samples(engine, name)
        ask_and_vote(engine, name, "42")
        engine.schedules.set(name, "333", weekday=0, minute_of_day=540, days=7, now=datetime.now(UTC))
        # both follow one feed (one row for it), each with an item it has seen
        feed, _ = engine.store.subscribe("https://news.example/rss", "News", name, "333", True, "2026-12-01", 10)
        engine.store.put_feed_items([FeedItemRow(feed.id, name, "id:1", "h", None, None, "2026-12-01", None)])
    return engine


def test_purge_deletes_everything_of_one_collection_and_nothing_of_another(two_servers: Engine):
    engine = two_servers
    kept_before = rows_of(engine, "guild-222")
    gone_before = rows_of(engine, "guild-111")
    caches = Path(engine.settings.data_dir) / "indexes"
    assert (caches / "guild-111.faiss").exists() and (caches / "guild-111.bm25").exists()

    counts = engine.purge("guild-111")

    assert counts == gone_before  # what it says it deleted is what there was
    assert rows_of(engine, "guild-111") == dict.fromkeys(gone_before, 0)
    assert not (caches / "guild-111.faiss").exists() and not (caches / "guild-111.bm25").exists()
    assert engine.ask("guild-111", QUESTION).answer.startswith("There are no articles here yet")
    assert rows_of(engine, "guild-222") == kept_before
    assert (caches / "guild-222.faiss").exists()
    assert "207 metres" in " ".join(q.text for q in engine.ask("guild-222", QUESTION).quotes)
    assert [c.name for c in engine.collections()] == ["guild-222"]
    assert [f.url for f in engine.feeds.list("guild-222")] == ["https://news.example/rss"], "the feed stays"
    with pytest.raises(NotFound, match="holds nothing"):
        engine.purge("guild-111")


def test_a_purged_collection_can_be_filled_again(two_servers: Engine):
    engine = two_servers
    engine.purge("guild-111")
    add_samples(engine, "guild-111")
    assert "207 metres" in " ".join(q.text for q in engine.ask("guild-111", QUESTION).quotes)


def test_the_cli_lists_collections_and_purges_only_with_confirmation(two_servers: Engine):
    data_dir = Path(two_servers.settings.data_dir)
    listed = run_cli("--json", "collections", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [
        {"name": name, "articles": 6, "chunks": rows_of(two_servers, name)["chunks"], "answers": 1, "votes": 1,
         "guild_id": guild}
        for name, guild in (("guild-111", 111), ("guild-222", 222))
    ]  # fmt: skip
    plain = run_cli("collections", data_dir=data_dir)
    assert "guild-111" in plain.stdout.decode() and "(Discord server 111)" in plain.stdout.decode()

    refused = run_cli("purge", "--collection", "guild-111", data_dir=data_dir, stdin=b"guild-111\n")
    assert refused.returncode == 1 and refused.stdout == b""
    assert refused.stderr.decode().strip() == (
        "error: Purging deletes everything in 'guild-111' for good: add --yes to confirm."
    )
    no_name = run_cli("purge", "--yes", data_dir=data_dir)
    assert no_name.returncode == 1 and "purge needs --collection NAME" in no_name.stderr.decode()
    unknown = run_cli("purge", "--collection", "guild-999", "--yes", data_dir=data_dir)
    assert unknown.returncode == 1 and "holds nothing" in unknown.stderr.decode()
    assert rows_of(two_servers, "guild-111")["articles"] == 6  # nothing happened yet

    purged = run_cli("--json", "purge", "--collection", "guild-111", "--yes", data_dir=data_dir)
    assert purged.returncode == 0, purged.stderr
    result = json.loads(purged.stdout)
    assert result == {"collection": "guild-111", **result, "status": "purged"}
    assert result["articles"] == 6 and result["answers"] == 1 and result["votes"] == 1 and result["schedules"] == 1
    assert set(result) == {
        "collection",
        "votes",
        "answers",
        "sentences",
        "chunks",
        "articles",
        "schedules",
        "feed_items",
        "feeds",
        "status",
    }
    assert rows_of(two_servers, "guild-111")["articles"] == 0
    assert rows_of(two_servers, "guild-222")["articles"] == 6
    # the running engine (think: the bot) sees the purge made by another process at its next question
    assert two_servers.ask("guild-111", QUESTION).answer.startswith("There are no articles here yet")


@pytest.fixture(scope="module")
def engine(embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    from index import EngineSettings

    engine = Engine(EngineSettings(data_dir=tmp_path_factory.mktemp("purge")), embedder)
    yield engine
    engine.close()


def test_removing_the_bot_from_a_server_keeps_its_data_until_the_operator_purges_it(
    engine: Engine, caplog: pytest.LogCaptureFixture
):
    with discord_world(engine) as (fake, running, guild_a, guild_b):
        add_samples(engine, f"guild-{guild_a}")
        add_samples(engine, f"guild-{guild_b}")
        asked = fake.slash("ask", guild_id=guild_a, who=ALICE, question=QUESTION)
        assert "207 metres" in text_of(only(fake.wait_result(asked)))
        before = rows_of(engine, f"guild-{guild_a}")

        with caplog.at_level(logging.INFO, logger="bot.client"):
            fake.remove_guild(guild_a)
            fake.wait(lambda: running.bot.get_guild(int(guild_a)) is None, what="the bot to leave the guild")
            fake.wait(lambda: "removed from guild" in caplog.text, what="the log line")
        line = next(r.getMessage() for r in caplog.records if "removed from guild" in r.getMessage())
        assert f"collection guild-{guild_a}" in line
        assert f"python -m bot purge --collection guild-{guild_a} --yes" in line
        assert rows_of(engine, f"guild-{guild_a}") == before  # kept

        purged = run_cli("purge", "--collection", f"guild-{guild_a}", "--yes", data_dir=Path(engine.settings.data_dir))
        assert purged.returncode == 0, purged.stderr
        # If the server invites the bot back, it starts from nothing; the other server is untouched.
        again = fake.slash("ask", guild_id=guild_a, who=ALICE, question=QUESTION)
        shown = text_of(only(fake.wait_result(again)))
        assert "There are no articles here yet" in shown and "207" not in shown
        other = fake.slash("ask", guild_id=guild_b, who=ALICE, question=QUESTION)
        assert "207 metres" in text_of(only(fake.wait_result(other)))
        # the purged answer's buttons are dead
        answer = only(asked.messages())
        sources = fake.click(answer, custom_ids(answer)[0], guild_id=guild_a, who=BOB)
        assert "no longer available" in text_of(only(fake.wait_result(sources)))


def test_every_command_with_a_foreign_article_or_answer_reveals_nothing(engine: Engine):
    """Guild B's moderator and members try guild A's article id and answer id in every command."""
    with discord_world(engine, list_page_size=25) as (fake, _, guild_a, guild_b):
        add_samples(engine, f"guild-{guild_a}")
        added = add_article(
            fake,
            guild_b,
            text="The Northgate harbour ferry returned to service on Monday after six weeks of repairs to its hull. "
            "The operator said the crossing would run every twenty minutes.",
            title="Harbour ferry returns after repairs",
        )
        assert only(fake.wait_result(added))["content"].startswith("Added")
        article_a = next(a for a in engine.list_articles(f"guild-{guild_a}") if "Queensferry" in a.title)

        listed = fake.slash("article list", guild_id=guild_b, who=MODERATOR, permissions=MOD_PERMISSIONS)
        shown = text_of(only(fake.wait_result(listed)))
        assert "Harbour ferry" in shown and f"#{article_a.id}`" not in shown
        assert not any(a.title in shown for a in engine.list_articles(f"guild-{guild_a}"))
        assert "Page 1 of 1 · 1 article" in shown

        for command, values in [
            ("summary", {"article": str(article_a.id)}),
            ("summary", {"article": f"#{article_a.id}"}),
            ("summary", {"article": article_a.title}),
            ("article remove", {"article": str(article_a.id)}),
            ("article remove", {"article": article_a.title}),
        ]:
            log = fake.slash(command, guild_id=guild_b, who=MODERATOR, permissions=MOD_PERMISSIONS, **values)
            shown = text_of(only(fake.wait_result(log))).strip()
            # the member's own words may be echoed back ("No single article matches '…'"), nothing of A's
            assert shown.startswith((f"There is no article {article_a.id} ", "No single article matches")), shown
            assert "207" not in shown and "Queen Elizabeth" not in shown  # nothing from its text
        assert fake.autocomplete("summary", "article", str(article_a.id), guild_id=guild_b, who=ALICE) == []

        in_a = fake.slash("ask", guild_id=guild_a, who=ALICE, question=QUESTION)
        answer_a = only(fake.wait_result(in_a))
        for custom_id in custom_ids(answer_a):  # Sources, 👍, 👎 pressed from guild B
            pressed = fake.click(answer_a, custom_id, guild_id=guild_b, who=BOB)
            message = only(fake.wait_result(pressed))
            assert "no longer available" in text_of(message) and "Queensferry" not in text_of(message)
        assert engine.feedback.export(f"guild-{guild_a}") == []  # no vote landed
        assert engine.article(f"guild-{guild_a}", article_a.id).title == article_a.title  # still there
