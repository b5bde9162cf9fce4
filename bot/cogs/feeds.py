"""Feeds: moderators make a server follow RSS/Atom feeds (/feed add, list, remove, pause, resume, test),
and a loop polls the due ones through the engine, then posts each new article's announcement once.

The engine decides everything: which feeds are due and who polls them (claimed in the database, so one
process polls a feed however many run), what is new, and which announcements are this process's to post
(claimed before posting, so a restart or a second process never posts one twice). The engine's clock
is "now" (tests inject one)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import embeds, render
from bot.client import require_moderator
from bot.embeds import NO_MENTIONS
from index.errors import BylineError

if TYPE_CHECKING:
    from bot.client import Byline
    from index.feeds.records import Feed

log = logging.getLogger(__name__)
POLL_SECONDS = 60.0


def _followed(feed: Feed, new: bool, backfill: int) -> str:
    title = embeds.escape(embeds.trim(feed.title, 150))
    if not new:
        how = f"announced in <#{feed.channel}>" if feed.announce else "not announced"
        return f"This server already follows **{title}** (#{feed.id}); its new articles are now {how}."
    later = f"then each new one is announced in <#{feed.channel}>" if feed.announce else "then each new one, silently"
    return (
        f"Following **{title}** (#{feed.id}, <{feed.url}>): its newest {backfill} articles are added within a "
        f"minute without announcing them, {later}."
    )


def _check_can_post(interaction: discord.Interaction, channel: discord.TextChannel | None) -> None:
    """Announcing where the bot cannot post would fail silently at every new article: refuse now."""
    me = interaction.guild.me if interaction.guild is not None else None
    if channel is not None and me is not None:
        allowed = channel.permissions_for(me)
    elif channel is None:
        allowed = interaction.app_permissions  # the bot's own permissions in this channel
    else:
        return  # the bot's member is not cached: Discord will say at the first post (logged)
    if not (allowed.send_messages and allowed.embed_links):
        where = f"<#{channel.id}>" if channel is not None else "this channel"
        raise BylineError(
            f"I can't post in {where}: give me Send Messages and Embed Links there, or pick another channel."
        )


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Feeds(commands.GroupCog, group_name="feed", group_description="Follow RSS/Atom feeds"):
    def __init__(self, bot: Byline) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.poll.start()

    async def cog_unload(self) -> None:
        self.poll.cancel()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        require_moderator(interaction)
        return True

    # -- the loop ---------------------------------------------------------------------------------
    @tasks.loop(seconds=POLL_SECONDS)
    async def poll(self) -> None:
        try:
            await self.poll_once()
        except Exception:  # the loop must outlive one bad round; the next one retries
            log.exception("polling feeds failed")

    @poll.before_loop
    async def _wait_until_ready(self) -> None:
        await self.bot.wait_until_ready()

    async def poll_once(self) -> int:
        """Poll the due feeds, then post the announcements and notices this process claimed; returns how
        many announcements were posted. A post that fails is logged, never retried (it was claimed)."""
        feeds = self.bot.engine.feeds
        reports = await self.bot.run_long(feeds.poll_due)
        self.bot.metrics.polled(reports)
        for report in reports:
            if report.error:
                log.info("feed %s (#%s): %s", report.url, report.id, report.error)
            elif report.added or report.updated:
                log.info("feed %s (#%s): %s", report.url, report.id, render.poll_report_text(report))
        posts, notices = await self.bot.run_engine(feeds.announcements)
        posted = 0
        for post in posts:
            if await self._send(
                post.channel, f"announcement of article {post.article.id}", embed=embeds.feed_item_embed(post)
            ):
                posted += 1
                self.bot.metrics.feed_announcements.inc()
        for notice in notices:
            await self._send(notice.channel, "feed notice", content=embeds.no_pings(notice.text))
        return posted

    async def _send(self, channel_id: str, what: str, **message: object) -> bool:
        """Post in a channel by id, without mentions; a failure is logged (what was claimed is not retried)."""
        try:
            channel = self.bot.get_partial_messageable(int(channel_id))
            await channel.send(allowed_mentions=NO_MENTIONS, **message)  # type: ignore[arg-type]
        except (discord.HTTPException, ValueError) as exc:
            log.warning("%s in channel %s not posted: %s", what, channel_id, exc)
            return False
        return True

    # -- commands ---------------------------------------------------------------------------------
    @app_commands.command(name="add", description="Follow a feed (or the feed a news site's page names).")
    @app_commands.describe(
        url="The feed's link (RSS or Atom), or a page that names its feed",
        channel="Where to announce new articles, or to tell moderators about problems (default: here)",
        announce="Post each new article in the channel, with a quoted lead (default: no)",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        url: str,
        channel: discord.TextChannel | None = None,
        announce: bool = False,
    ) -> None:
        collection = self.bot.collection_for(interaction.guild_id)
        target = str(channel.id if channel is not None else interaction.channel_id)
        if announce:
            _check_can_post(interaction, channel)
        await interaction.response.defer(ephemeral=True, thinking=True)
        feed, new = await self.bot.run_long(self.bot.engine.feeds.add, collection, url.strip(), target, announce)
        backfill = self.bot.engine.settings.feed_backfill
        await interaction.followup.send(_followed(feed, new, backfill), ephemeral=True, allowed_mentions=NO_MENTIONS)
        log.info(
            "guild %s: %s feed %s (#%s)", interaction.guild_id, "followed" if new else "updated", feed.url, feed.id
        )

    @app_commands.command(name="list", description="The feeds this server follows, with their state.")
    async def list_feeds(self, interaction: discord.Interaction) -> None:
        collection = self.bot.collection_for(interaction.guild_id)
        followed = await self.bot.run_engine(self.bot.engine.feeds.list, collection)
        if not followed:
            text = "This server follows no feeds yet: /feed add follows one."
        else:
            text = "\n".join(embeds.escape(render.feed_line(feed)) for feed in followed)
        await interaction.response.send_message(
            embeds.trim(text, 2000), ephemeral=True, allowed_mentions=NO_MENTIONS, suppress_embeds=True
        )

    @app_commands.command(name="remove", description="Stop following a feed (the articles it brought stay).")
    @app_commands.describe(feed="The feed (type to search)")
    async def remove(self, interaction: discord.Interaction, feed: int) -> None:
        await self._change(
            interaction, "remove", feed, "No longer following **{title}**; the articles it brought stay."
        )

    @app_commands.command(name="pause", description="Stop polling a feed for this server until resumed.")
    @app_commands.describe(feed="The feed (type to search)")
    async def pause(self, interaction: discord.Interaction, feed: int) -> None:
        await self._change(interaction, "pause", feed, "**{title}** is paused: /feed resume polls it again.")

    @app_commands.command(name="resume", description="Poll a paused feed again.")
    @app_commands.describe(feed="The feed (type to search)")
    async def resume(self, interaction: discord.Interaction, feed: int) -> None:
        await self._change(interaction, "resume", feed, "**{title}** is polled again.")

    async def _change(self, interaction: discord.Interaction, action: str, feed_id: int, done: str) -> None:
        collection = self.bot.collection_for(interaction.guild_id)
        feed = await self.bot.run_engine(getattr(self.bot.engine.feeds, action), collection, feed_id)
        title = embeds.escape(embeds.trim(feed.title, 150))
        await interaction.response.send_message(done.format(title=title), ephemeral=True, allowed_mentions=NO_MENTIONS)
        log.info("guild %s: feed #%s %s", interaction.guild_id, feed_id, action)

    @remove.autocomplete("feed")
    @pause.autocomplete("feed")
    @resume.autocomplete("feed")
    async def _feed_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[int]]:
        try:
            collection = self.bot.collection_for(interaction.guild_id)
            followed = await self.bot.run_engine(self.bot.engine.feeds.list, collection)
        except BylineError:
            return []
        needle = current.strip().lower().lstrip("#")
        return [
            app_commands.Choice(name=embeds.feed_choice_name(f), value=f.id)
            for f in followed
            if not needle or needle in f.title.lower() or needle in f.url.lower() or needle == str(f.id)
        ][:25]

    @app_commands.command(name="test", description="A dry run: what following a feed would add. Nothing is stored.")
    @app_commands.describe(url="The feed's link, or a page that names its feed")
    async def test(self, interaction: discord.Interaction, url: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        preview = await self.bot.run_long(self.bot.engine.feeds.preview, url.strip())
        text = embeds.escape(render.feed_preview_text(preview))
        await interaction.followup.send(
            embeds.trim(text, 2000), ephemeral=True, allowed_mentions=NO_MENTIONS, suppress_embeds=True
        )


async def setup(bot: Byline) -> None:
    await bot.add_cog(Feeds(bot))
