"""Feeds through Discord, end to end: a moderator subscribes the server to a feed on a loopback web server,
the first poll is silent, a new item is announced once (a quoted lead, no pings), a restart announces
nothing again, members can ask about it, and a member who is not a moderator is refused. The bot talks to
a fake Discord that speaks the real REST and gateway protocols; the test drives the engine's clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from fake_discord import FakeDiscord
from feed_server import FeedServer, rss
from test_discord import (
    ALICE,
    MOD_PERMISSIONS,
    MODERATOR,
    Clock,
    RunningBot,
    assert_no_ping,
    collection,
    only,
    text_of,
)
from test_feeds import T0, entries, story

from index import Engine, EngineSettings
from index.inference.embedding import Embedder


def _poll(running: RunningBot) -> int:
    """One round of the feed loop, as its timer would run it."""
    cog = running.bot.get_cog("Feeds")
    return asyncio.run_coroutine_threadsafe(cog.poll_once(), running.loop).result(120)  # type: ignore[union-attr]


def test_a_moderator_subscribes_and_a_new_article_is_announced_once_even_across_a_restart(
    embedder: Embedder, tmp_path: Path
):
    clock = Clock(T0)
    with FeedServer() as server:
        fake = FakeDiscord()
        guild, channel = fake.add_guild("News desk")
        fake.start()

        def make_engine() -> Engine:
            settings = EngineSettings(
                data_dir=tmp_path / "feeds", fetch_allow_private=True, fetch_allowed_ports=frozenset({server.port})
            )
            return Engine(settings, embedder, clock=clock)

        engine = make_engine()
        running = RunningBot(fake, engine)
        try:

            def announcements() -> list[dict[str, Any]]:
                return [
                    m
                    for m in fake.messages.values()
                    if m["channel_id"] == channel
                    and m["embeds"]
                    and "New from" in m["embeds"][0].get("footer", {}).get("text", "")
                ]

            url = server.publish("/news.rss", rss("Example News", entries(range(12))))
            refused = fake.slash("feed add", guild_id=guild, who=ALICE, url=url, announce=True)
            assert "Manage Server" in text_of(only(fake.wait_result(refused)))
            assert engine.feeds.list(collection(guild)) == []

            mute = fake.slash(
                "feed add",
                guild_id=guild,
                who=MODERATOR,
                permissions=MOD_PERMISSIONS,
                app_permissions=1 << 10,
                url=url,
                announce=True,
            )  # the bot may read this channel but not post in it
            assert "I can't post in this channel" in text_of(only(fake.wait_result(mute)))
            assert engine.feeds.list(collection(guild)) == []

            added = fake.slash(
                "feed add", guild_id=guild, who=MODERATOR, permissions=MOD_PERMISSIONS, url=url, announce=True
            )
            reply = text_of(only(fake.wait_result(added)))
            assert "Following **Example News**" in reply and f"<#{channel}>" in reply

            assert _poll(running) == 0 and announcements() == [], "the first poll announces nothing"
            assert len(engine.list_articles(collection(guild))) == 10

            server.publish("/news.rss", rss("Example News", entries(range(13))))
            clock.now = T0 + timedelta(minutes=15)
            assert _poll(running) == 1
            (post,) = announcements()
            embed = only(post["embeds"])
            assert embed["title"] == story(12)[0] and embed["url"] == "https://news.example/story/12"
            article = next(a for a in engine.list_articles(collection(guild)) if a.title == story(12)[0])
            lead = embed["description"].removeprefix("> ").split(" [↗]")[0].replace("\\", "")
            assert lead in engine.article_text(collection(guild), article.id), "the lead is quoted verbatim"
            assert_no_ping(post["allowed_mentions"])
            assert _poll(running) == 0 and len(announcements()) == 1
            metrics = running.bot.metrics.text().decode()
            assert "byline_feed_announcements_total 1.0" in metrics
            assert 'byline_feed_items_total{status="added"} 11.0' in metrics
            assert 'byline_feed_polls_total{outcome="changed"} 2.0' in metrics

            running.stop()
            engine.close()
            engine = make_engine()
            running = RunningBot(fake, engine)  # a restart
            clock.now = T0 + timedelta(minutes=31)
            assert _poll(running) == 0 and len(announcements()) == 1, "announced again after a restart"

            asked = fake.slash(
                "ask", guild_id=guild, who=ALICE, question="how much is fixing the town hall clock in malton gonna cost"
            )
            answer = text_of(only(fake.wait_result(asked)))
            assert "£564,000" in answer and story(12)[0] in answer, "members can ask about the new article"

            listed = fake.slash("feed list", guild_id=guild, who=MODERATOR, permissions=MOD_PERMISSIONS)
            assert "Example News" in text_of(only(fake.wait_result(listed)))
            (feed,) = engine.feeds.list(collection(guild))
            choices = fake.autocomplete("feed remove", "feed", "exam", guild_id=guild, who=MODERATOR)
            assert [c["value"] for c in choices] == [feed.id]
            gone = fake.slash("feed remove", guild_id=guild, who=MODERATOR, permissions=MOD_PERMISSIONS, feed=feed.id)
            assert "No longer following **Example News**" in text_of(only(fake.wait_result(gone)))
            assert engine.feeds.list(collection(guild)) == [] and len(engine.list_articles(collection(guild))) == 11
        finally:
            running.stop()
            engine.close()
            fake.stop()
