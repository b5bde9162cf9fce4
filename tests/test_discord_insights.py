"""Insights through Discord, end to end: members ask with /ask (each answer logged), a member who runs
/insights is refused, a moderator sees the totals, the gaps and the chart, shown to them alone; a gap
closes once a moderator adds the article that answers it; and the weekly insights are posted once per
week in the moderators' channel. The bot talks to the loopback fake Discord; the test drives the clock."""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import SAMPLES
from fake_discord import EPHEMERAL, FakeDiscord, InteractionLog
from test_discord import ALICE, BOB, MOD_PERMISSIONS, MODERATOR, Clock, RunningBot, collection, only, text_of

from index import Engine, EngineSettings
from index.inference.embedding import Embedder

PERU = "What is the capital of Peru?"
LIGHTHOUSE_Q = "When was the lighthouse lens lit in Port Ellery?"
LIGHTHOUSE = "Harbour pilots in Port Ellery reported that the new lighthouse lens was lit on Tuesday evening.\n" * 3


def _chart(fake: FakeDiscord, log: InteractionLog) -> bytes:
    """The PNG the bot attached to its follow-up for this interaction."""
    sent = [r for r in fake.requests if log.token in r.path and r.files]
    (name, data), *_ = sent[-1].files.values()
    assert name == "insights.png"
    return data


def _insights(fake: FakeDiscord, guild: str) -> tuple[InteractionLog, dict[str, Any]]:
    log = fake.slash("insights", guild_id=guild, who=MODERATOR, permissions=MOD_PERMISSIONS, days=7)
    return log, only(fake.wait_result(log))


def test_moderators_see_what_members_asked_and_members_are_refused(embedder: Embedder, tmp_path: Path):
    clock = Clock(datetime(2026, 3, 16, 8, 0, tzinfo=UTC))  # a Monday
    fake = FakeDiscord()
    guild, channel = fake.add_guild("Newsroom")
    fake.start()
    engine = Engine(EngineSettings(data_dir=tmp_path / "insights"), embedder, clock=clock)
    running = RunningBot(fake, engine)
    try:
        errors: list = []
        engine.add_documents(collection(guild), engine.documents(str(SAMPLES), errors), errors=errors)
        for who, question in ((ALICE, PERU), (BOB, LIGHTHOUSE_Q), (ALICE, "When did DART hit Dimorphos?")):
            fake.wait_result(fake.slash("ask", guild_id=guild, who=who, question=question))

        refused = fake.slash("insights", guild_id=guild, who=ALICE)
        message = only(fake.wait_result(refused))
        assert message["flags"] & EPHEMERAL and "Manage Server" in text_of(message)

        log, shown = _insights(fake, guild)
        assert shown["flags"] & EPHEMERAL  # the moderator alone sees it
        text = text_of(shown)
        assert "3 questions from 2 members: 1 answered (33%), 2" in text
        assert PERU in text and "When was the lighthouse lens lit in Port Ellery" in text
        assert "alice" not in text and ALICE["id"] not in text  # who asked is never shown
        assert shown["embeds"][0]["image"]["url"] == "attachment://insights.png"
        png = _chart(fake, log)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (800, 400)

        # a moderator adds the article the members were missing; the gap shows as closed
        clock.now += timedelta(hours=1)
        engine.add_text(collection(guild), LIGHTHOUSE, title="Lighthouse lit")
        _, after = _insights(fake, guild)
        closed = next(f for f in after["embeds"][0]["fields"] if f["name"].startswith("Closed since"))
        assert "Lighthouse lit" in closed["value"] and "lighthouse lens" in closed["value"]
        assert "Port Ellery" not in "".join(f["value"] for f in after["embeds"][0]["fields"] if f["name"][0].isdigit())

        # weekly, in the moderators' channel, once per week
        scheduled = fake.slash(
            "insights-schedule set", guild_id=guild, who=MODERATOR, permissions=MOD_PERMISSIONS, weekday=0, time="09:00"
        )
        assert "Mondays at 09:00 UTC" in text_of(only(fake.wait_result(scheduled)))

        def posts() -> list[dict[str, Any]]:
            return [
                m
                for m in fake.messages.values()
                if m["channel_id"] == channel
                and not m["flags"] & EPHEMERAL  # the /insights replies above were the moderator's alone
                and m["embeds"]
                and m["embeds"][0].get("title", "").startswith("Insights")
            ]

        cog = running.bot.get_cog("Insights")
        clock.now = datetime(2026, 3, 16, 9, 0, 30, tzinfo=UTC)
        assert asyncio.run_coroutine_threadsafe(cog.post_due(), running.loop).result(120) == 1  # type: ignore[union-attr]
        assert asyncio.run_coroutine_threadsafe(cog.post_due(), running.loop).result(120) == 0  # type: ignore[union-attr]
        (posted,) = posts()
        assert "3 questions" in text_of(posted)
        assert any(r.path.endswith(f"/channels/{channel}/messages") and r.files for r in fake.requests)  # the chart

        def moderator(command: str) -> str:
            return text_of(
                only(fake.wait_result(fake.slash(command, guild_id=guild, who=MODERATOR, permissions=MOD_PERMISSIONS)))
            )

        assert moderator("insights-schedule show").startswith("The insights are posted Mondays at 09:00 UTC")
        assert moderator("insights-schedule off") == "The weekly insights are off."
        assert moderator("insights-schedule show") == "No weekly insights are scheduled."
        assert moderator("insights-schedule off") == "There were no weekly insights to turn off."
        refused = fake.slash("insights-schedule show", guild_id=guild, who=ALICE)
        assert "Manage Server" in text_of(only(fake.wait_result(refused)))
    finally:
        running.stop()
        engine.close()
        fake.stop()


def test_a_page_of_long_gaps_stays_inside_discords_limits():
    from bot.insight_embeds import insights_embeds
    from index.models import ArticleRef, DayCount, Gap, Insights, QuotedArticle

    long = "why " * 124 + "?"  # 500 characters, the longest question a member may ask
    gap = Gap(3, "2026-12-01T10:00:00+00:00", "2026-12-02T10:00:00+00:00", (long, long + "!", long + "?"), 3, 1)
    ref = ArticleRef(1, "T" * 250, "https://example.org/" + "a" * 200, None)
    insights = Insights(
        "default", 7, "2026-12-01", "2026-12-07", 10**6, 10**5, 9 * 10**5, 10, 10, 5000,
        tuple(DayCount(f"2026-12-0{d}", 1, 1) for d in range(1, 8)),
        (gap,) * 12, (Gap(**{**gap.__dict__, "closed_by": ref}),) * 12,
        (QuotedArticle(1, "T" * 250, None, 9),) * 10, (ref,) * 25, 30,
        90,
    )  # fmt: skip
    pages = insights_embeds(insights)
    assert len(pages) == 3  # 12 gaps, 5 a page
    for page in pages:
        assert len(page) <= 6000 and len(page.fields) <= 25
        assert all(len(f.value or "") <= 1024 and len(f.name or "") <= 256 for f in page.fields)
        assert page.image.url == "attachment://insights.png"
