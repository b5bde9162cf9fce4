"""Moderators' commands: /article add (a URL, an attached file, or pasted text), /article remove and
/article list. Hidden from members by default (default_permissions: Manage Server) and checked again at run
time, because a server's admins can override the defaults for any role or channel."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.client import require_moderator
from bot.cogs.asking import article_choices, resolve_article
from bot.pages import Pages
from index.articles import extract
from index.errors import InvalidInput, human_size

if TYPE_CHECKING:
    from bot.client import Byline

log = logging.getLogger(__name__)
PROGRESS_INTERVAL = 1.0  # seconds between two edits of the "working…" reply (Discord rate-limits edits)


class Progress:
    """Shows an ingest's progress by editing the deferred reply. Called from the worker thread; edits are
    throttled, and none can land after the final result (they share a lock and a finished flag)."""

    def __init__(self, interaction: discord.Interaction, loop: asyncio.AbstractEventLoop) -> None:
        self.interaction = interaction
        self.loop = loop
        self.lock = asyncio.Lock()
        self.finished = False
        self.last = 0.0

    def __call__(self, line: str) -> None:  # from the worker thread
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL:
            return
        self.last = now
        asyncio.run_coroutine_threadsafe(self.show(line), self.loop)

    async def show(self, line: str) -> None:
        async with self.lock:
            if self.finished:
                return
            try:
                await self.interaction.edit_original_response(content=line)
            except discord.HTTPException:
                log.debug("progress edit failed", exc_info=True)

    async def finish(self, **message: object) -> None:
        async with self.lock:
            self.finished = True
            await self.interaction.edit_original_response(**message)  # type: ignore[arg-type]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Articles(commands.GroupCog, group_name="article", group_description="Add, remove and list articles"):
    def __init__(self, bot: Byline) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        require_moderator(interaction)
        return True

    @app_commands.command(name="add", description="Add an article from a link, a file, or pasted text.")
    @app_commands.describe(
        url="Link to the article (http or https)",
        file="The article as a .txt, .md, .html or .pdf file",
        text="The article's text (give a title too)",
        title="Title (needed with text; otherwise taken from the article)",
        published="Publication date, YYYY-MM-DD",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        url: str | None = None,
        file: discord.Attachment | None = None,
        text: str | None = None,
        title: str | None = None,
        published: str | None = None,
    ) -> None:
        engine = self.bot.engine
        collection = self.bot.collection_for(interaction.guild_id)
        given = [name for name, value in (("url", url), ("file", file), ("text", text)) if value]
        if len(given) != 1:
            raise InvalidInput("Give exactly one of url, file or text.")
        if text is not None and not (title and title.strip()):
            raise InvalidInput("Pasted text needs a title: fill in the title option too.")
        if file is not None:
            kind = extract.kind_for_name(file.filename)
            if file.size > self.bot.limits.max_article_bytes:
                raise InvalidInput(
                    f"{file.filename} is {human_size(file.size)}; the limit is "
                    f"{human_size(self.bot.limits.max_article_bytes)}."
                )
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            progress = Progress(interaction, asyncio.get_running_loop())
            if url is not None:
                await progress.show(f"Fetching <{url.strip()}>…")
                doc = await self.bot.run_long(engine.fetch_url, url.strip())
            elif file is not None:
                await progress.show(f"Reading {file.filename}…")
                data = await file.read()
                doc = await self.bot.run_long(
                    extract.from_bytes, data, file.filename, kind, max_bytes=self.bot.limits.max_article_bytes
                )
            else:
                doc = await self.bot.run_long(
                    extract.from_bytes,
                    (text or "").encode(),
                    "text",
                    "text",
                    max_bytes=self.bot.limits.max_article_bytes,
                )
            results = await self.bot.run_long(
                engine.add_documents,
                collection,
                [doc],
                title=title.strip() if title else None,
                published=published.strip() if published else None,
                progress=progress,
            )
        except Exception:
            self.bot.metrics.failed_ingest()
            raise
        self.bot.metrics.ingested(results)
        await progress.finish(content="\n".join(embeds.add_result_line(r) for r in results))
        log.info("guild %s: %s", interaction.guild_id, "; ".join(f"{r.status} #{r.id}" for r in results))

    @app_commands.command(name="remove", description="Remove an article (its quotes stop appearing at once).")
    @app_commands.describe(article="Start typing a title")
    async def remove(self, interaction: discord.Interaction, article: str) -> None:
        collection = self.bot.collection_for(interaction.guild_id)
        article_id = await resolve_article(self.bot, collection, article)
        # Removing rebuilds the keyword index, which can outlast Discord's 3-second window to reply.
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed = await self.bot.run_engine(self.bot.engine.remove, collection, article_id)
        title = embeds.escape(embeds.no_pings(embeds.trim(removed.title, 150)))
        await interaction.followup.send(f"Removed **{title}** (#{removed.id}).", ephemeral=True)
        log.info("guild %s: removed #%d", interaction.guild_id, removed.id)

    @remove.autocomplete("article")
    async def remove_article(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await article_choices(self.bot, interaction.guild_id, current)

    @app_commands.command(name="list", description="List this server's articles.")
    async def list(self, interaction: discord.Interaction) -> None:
        collection = self.bot.collection_for(interaction.guild_id)
        articles = await self.bot.run_engine(self.bot.engine.list_articles, collection)
        articles.reverse()  # newest first
        size = self.bot.settings.list_page_size
        view = Pages(
            "list",
            lambda page: embeds.article_list_embed(articles, page, size),
            -(-len(articles) // size),
            interaction.user.id,
        )
        self.bot.open_views.add(view)
        await interaction.response.send_message(embed=view.embed(), view=view, ephemeral=True)


async def setup(bot: Byline) -> None:
    await bot.add_cog(Articles(bot))
