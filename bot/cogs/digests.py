"""Digests: /digest (the last days' articles grouped by story, paged), and the weekly digest a moderator
schedules with /digest-schedule, posted by a loop that asks the engine which schedules are due.

The engine's clock decides what "now" is (tests inject one), and the engine's schedule table decides
whether this period's digest was already posted, so a restart never posts it twice."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import embeds
from bot.cogs import weekly
from bot.cogs.asking import embed_batches
from bot.embeds import NO_MENTIONS
from bot.pages import Pages
from index.errors import BylineError
from index.summaries.schedule import WEEKDAYS

if TYPE_CHECKING:
    from bot.client import Byline

log = logging.getLogger(__name__)
POLL_SECONDS = 60.0


WORDS = weekly.Words("digest", "The digest", "is", "was no weekly digest")


class Digests(commands.Cog):
    schedule = app_commands.Group(
        name="digest-schedule",
        description="Post a digest every week in a channel",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: Byline) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.poll.start()

    async def cog_unload(self) -> None:
        self.poll.cancel()

    @tasks.loop(seconds=POLL_SECONDS)
    async def poll(self) -> None:
        try:
            await self.post_due()
        except Exception:  # the loop must outlive one bad round; the next one retries
            log.exception("posting scheduled digests failed")

    @poll.before_loop
    async def _wait_until_ready(self) -> None:
        await self.bot.wait_until_ready()

    async def post_due(self) -> int:
        """Post every digest whose period has come and was not posted yet; returns how many were posted.
        The period is claimed before posting: a digest is posted at most once per period, even if the post
        fails (it is logged) or another process polls too."""
        engine = self.bot.engine
        now = self.bot.clock()
        posted = 0
        for schedule in await self.bot.run_engine(self.bot.schedules.due, now):
            if not await self.bot.run_engine(self.bot.schedules.claim, schedule, now):
                continue
            try:
                digest = await self.bot.run_engine(engine.digest, schedule.collection, schedule.days)
                channel = self.bot.get_partial_messageable(int(schedule.target))
                for batch in embed_batches(embeds.digest_embeds(digest)):
                    await channel.send(embeds=batch, allowed_mentions=NO_MENTIONS)
            except (discord.HTTPException, BylineError) as exc:
                log.warning(
                    "scheduled digest for %s in channel %s not posted: %s", schedule.collection, schedule.target, exc
                )
                continue
            posted += 1
            log.info("posted the scheduled digest of %s in channel %s", schedule.collection, schedule.target)
        return posted

    @app_commands.command(name="digest", description="The articles of the last days, grouped by story, all quoted.")
    @app_commands.describe(days="How many days back, today included (default 7)")
    async def digest(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 90] = 7) -> None:
        collection = self.bot.collection_for(interaction.guild_id)
        self.bot.cooldown.check(interaction.user.id)
        await interaction.response.defer(thinking=True)
        digest = await self.bot.run_engine(self.bot.engine.digest, collection, days)
        pages = embeds.digest_embeds(digest)
        if len(pages) == 1:
            await interaction.followup.send(embed=pages[0], allowed_mentions=NO_MENTIONS)
            return
        view = Pages("digest", pages.__getitem__, len(pages), interaction.user.id)
        self.bot.open_views.add(view)
        await interaction.followup.send(embed=pages[0], view=view, allowed_mentions=NO_MENTIONS)

    @schedule.command(name="set", description="Post the digest every week in this channel (or another).")
    @app_commands.describe(
        weekday="Day of the week",
        time="Time of day, HH:MM on a 24-hour clock, UTC (default 09:00)",
        days="How many days each digest covers (default 7)",
        channel="Where to post it (default: this channel)",
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
        await weekly.set_schedule(self.bot, self.bot.schedules, WORDS, interaction, weekday, time, days, channel)

    @schedule.command(name="off", description="Stop posting the weekly digest.")
    async def schedule_off(self, interaction: discord.Interaction) -> None:
        await weekly.clear_schedule(self.bot, self.bot.schedules, WORDS, interaction)

    @schedule.command(name="show", description="When and where the weekly digest is posted.")
    async def schedule_show(self, interaction: discord.Interaction) -> None:
        await weekly.show_schedule(self.bot, self.bot.schedules, WORDS, interaction)


async def setup(bot: Byline) -> None:
    await bot.add_cog(Digests(bot))
