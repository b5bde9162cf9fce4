"""What the weekly posts share (the digest and the moderators' insights): the `set`, `off` and `show`
subcommands of a `/…-schedule` group, over one of the engine's schedule books. Each cog keeps its own
decorated commands (their names and descriptions are Discord's contract) and calls these with its words."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.client import require_moderator
from bot.embeds import NO_MENTIONS
from index.summaries.schedule import DigestSchedule, DigestSchedules, parse_time

if TYPE_CHECKING:
    from bot.client import Byline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Words:
    """How a cog names its weekly post in replies ("The digest is posted …", "The insights are posted …")."""

    name: str  # "digest", "insights"
    the: str  # "The digest", "The insights"
    is_: str  # "is", "are"
    was: str  # "was no weekly digest", "were no weekly insights"


def described(schedule: DigestSchedule) -> str:
    return f"{schedule.when}, in <#{schedule.target}>, covering the last {schedule.days} days"


async def set_schedule(
    bot: Byline,
    book: DigestSchedules,
    words: Words,
    interaction: discord.Interaction,
    weekday: int,
    time: str,
    days: int,
    channel: discord.abc.GuildChannel | None,
) -> None:
    require_moderator(interaction)
    collection = bot.collection_for(interaction.guild_id)
    minute = parse_time(time)
    target = str(channel.id if channel is not None else interaction.channel_id)
    schedule = await bot.run_engine(book.set, collection, target, weekday, minute, days, bot.clock())
    await interaction.response.send_message(
        f"{words.the} will be posted {described(schedule)}.", ephemeral=True, allowed_mentions=NO_MENTIONS
    )
    log.info("guild %s: %s scheduled %s", interaction.guild_id, words.name, schedule.to_json())


async def clear_schedule(bot: Byline, book: DigestSchedules, words: Words, interaction: discord.Interaction) -> None:
    require_moderator(interaction)
    cleared = await bot.run_engine(book.clear, bot.collection_for(interaction.guild_id))
    text = f"The weekly {words.name} {words.is_} off." if cleared else f"There {words.was} to turn off."
    await interaction.response.send_message(text, ephemeral=True)


async def show_schedule(bot: Byline, book: DigestSchedules, words: Words, interaction: discord.Interaction) -> None:
    require_moderator(interaction)
    schedule = await bot.run_engine(book.get, bot.collection_for(interaction.guild_id))
    text = (
        f"{words.the} {words.is_} posted {described(schedule)}."
        if schedule
        else f"No weekly {words.name} {words.is_} scheduled."
    )
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
