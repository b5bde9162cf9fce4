"""Insights for moderators: /insights (what members asked, what the articles could not answer, the chart),
shown to the moderator alone, and the weekly insights a moderator schedules with /insights-schedule, posted
by a loop in a moderators' channel. Everything shown comes from one engine call, Engine.insights.

The weekly post reuses the digests' schedule machinery (index/summaries/schedule.py) with its own table:
each period is claimed in the store before posting, so it goes out once whatever restarts or second
processes happen."""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.chart import insights_chart
from bot.client import require_moderator
from bot.cogs import weekly
from bot.embeds import NO_MENTIONS
from bot.insight_embeds import CHART_FILE, insights_embeds
from bot.pages import Pages
from index.errors import BylineError
from index.summaries.schedule import WEEKDAYS

if TYPE_CHECKING:
    from bot.client import Byline
    from index.models import Insights

log = logging.getLogger(__name__)
POLL_SECONDS = 60.0


WORDS = weekly.Words("insights", "The insights", "are", "were no weekly insights")


class InsightsCog(commands.Cog, name="Insights"):
    schedule = app_commands.Group(
        name="insights-schedule",
        description="Post the moderators' insights every week in a channel",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: Byline) -> None:
        self.bot = bot
        self.schedules = bot.engine.insight_schedules

    async def cog_load(self) -> None:
        self.poll.start()

    async def cog_unload(self) -> None:
        self.poll.cancel()

    def _with_chart(self, collection: str, days: int) -> tuple[Insights, bytes]:
        """The engine's insights and their chart, both made in the worker thread (the chart takes ~0.2 s)."""
        insights = self.bot.engine.insights(collection, days)
        return insights, insights_chart(insights)

    @tasks.loop(seconds=POLL_SECONDS)
    async def poll(self) -> None:
        try:
            # retention runs here too (at most hourly), so a bot nobody asks still forgets old questions
            await self.bot.run_engine(self.bot.engine.feedback.prune_if_due, self.bot.clock())
            await self.post_due()
        except Exception:  # the loop must outlive one bad round; the next one retries
            log.exception("posting scheduled insights failed")

    @poll.before_loop
    async def _wait_until_ready(self) -> None:
        await self.bot.wait_until_ready()

    async def post_due(self) -> int:
        """Post every schedule's insights whose period has come; the period is claimed first, so they are
        posted at most once per period (a failed post is logged, not retried)."""
        now = self.bot.clock()
        posted = 0
        for schedule in await self.bot.run_engine(self.schedules.due, now):
            if not await self.bot.run_engine(self.schedules.claim, schedule, now):
                continue
            try:
                insights, chart = await self.bot.run_engine(self._with_chart, schedule.collection, schedule.days)
                channel = self.bot.get_partial_messageable(int(schedule.target))
                file = discord.File(io.BytesIO(chart), filename=CHART_FILE)
                # the first page: the biggest gaps; the rest is one /insights away
                await channel.send(embed=insights_embeds(insights)[0], file=file, allowed_mentions=NO_MENTIONS)
            except (discord.HTTPException, BylineError) as exc:
                log.warning("scheduled insights for %s in %s not posted: %s", schedule.collection, schedule.target, exc)
                continue
            posted += 1
        return posted

    @app_commands.command(name="insights", description="Moderators: what members asked that the articles can't answer.")
    @app_commands.describe(days="How many days back, today included (default 7)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def insights(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 3650] = 7) -> None:
        require_moderator(interaction)
        collection = self.bot.collection_for(interaction.guild_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        insights, chart = await self.bot.run_engine(self._with_chart, collection, days)
        pages = insights_embeds(insights)
        file = discord.File(io.BytesIO(chart), filename=CHART_FILE)
        if len(pages) == 1:
            await interaction.followup.send(embed=pages[0], file=file, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        # turning a page edits the embed only: the attached chart stays, and every page shows it
        view = Pages("insights", pages.__getitem__, len(pages), interaction.user.id)
        self.bot.open_views.add(view)
        await interaction.followup.send(
            embed=pages[0], view=view, file=file, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @schedule.command(name="set", description="Post the insights every week in this channel (or another).")
    @app_commands.describe(
        weekday="Day of the week",
        time="Time of day, HH:MM on a 24-hour clock, UTC (default 09:00)",
        days="How many days each post covers (default 7)",
        channel="Where to post them, a moderators' channel (default: this channel)",
    )
    @app_commands.choices(weekday=[app_commands.Choice(name=d.title(), value=i) for i, d in enumerate(WEEKDAYS)])
    async def schedule_set(
        self,
        interaction: discord.Interaction,
        weekday: int,
        time: str = "09:00",
        days: app_commands.Range[int, 1, 31] = 7,
        channel: discord.TextChannel | None = None,
    ) -> None:
        await weekly.set_schedule(self.bot, self.schedules, WORDS, interaction, weekday, time, days, channel)

    @schedule.command(name="off", description="Stop posting the weekly insights.")
    async def schedule_off(self, interaction: discord.Interaction) -> None:
        await weekly.clear_schedule(self.bot, self.schedules, WORDS, interaction)

    @schedule.command(name="show", description="When and where the weekly insights are posted.")
    async def schedule_show(self, interaction: discord.Interaction) -> None:
        await weekly.show_schedule(self.bot, self.schedules, WORDS, interaction)


async def setup(bot: Byline) -> None:
    await bot.add_cog(InsightsCog(bot))
