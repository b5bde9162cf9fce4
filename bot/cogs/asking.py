"""Asking: /ask, questions by mention (and follow-ups by replying to an answer), /summary, and the
buttons under each answer (Sources, 👍, 👎). The buttons are dynamic items whose custom id carries the
logged answer's id, so they keep working after a restart."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.client import SHUTTING_DOWN, report_error, sentence_for
from index.errors import BylineError, InvalidInput, NotFound

if TYPE_CHECKING:
    from bot.client import Byline
    from index.models import Answer

log = logging.getLogger(__name__)
_MENTION = re.compile(r"<@!?(\d+)>")


def answer_view(answer_id: int, answer: Answer) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if answer.quotes:
        view.add_item(SourcesButton(answer_id))
    view.add_item(VoteButton(answer_id, "up"))
    view.add_item(VoteButton(answer_id, "down"))
    return view


class SourcesButton(discord.ui.DynamicItem[discord.ui.Button], template=r"byline:sources:(?P<answer>\d+)"):
    """Shows the quoted passages in full, in context, to the member who pressed it only."""

    def __init__(self, answer_id: int) -> None:
        super().__init__(
            discord.ui.Button(label="Sources", emoji="📄", custom_id=f"byline:sources:{answer_id}"),
        )
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> SourcesButton:
        return cls(int(match["answer"]))

    async def callback(self, interaction: discord.Interaction[Byline]) -> None:
        bot = interaction.client
        try:
            collection = bot.collection_for(interaction.guild_id)

            def load() -> tuple[Answer, list[tuple[str, str, str]]]:
                logged = bot.answer_log.answer(self.answer_id, collection)
                return logged.answer, [bot.engine.passage(collection, q) for q in logged.answer.quotes]

            answer, passages = await bot.run_engine(load)
            batches = embed_batches(embeds.passages_embeds(answer, passages))
            await interaction.response.send_message(embeds=batches[0], ephemeral=True)
            for batch in batches[1:]:
                await interaction.followup.send(embeds=batch, ephemeral=True)
        except Exception as exc:
            await report_error(interaction, exc)


class VoteButton(discord.ui.DynamicItem[discord.ui.Button], template=r"byline:vote:(?P<vote>up|down):(?P<answer>\d+)"):
    """👍 / 👎: stored with the question and the answer (python -m bot feedback --json exports them)."""

    def __init__(self, answer_id: int, vote: str) -> None:
        super().__init__(
            discord.ui.Button(
                emoji="👍" if vote == "up" else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"byline:vote:{vote}:{answer_id}",
            )
        )
        self.answer_id = answer_id
        self.vote = vote

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> VoteButton:
        return cls(int(match["answer"]), match["vote"])

    async def callback(self, interaction: discord.Interaction[Byline]) -> None:
        bot = interaction.client
        try:
            collection = bot.collection_for(interaction.guild_id)
            await bot.run_engine(bot.answer_log.record, self.answer_id, collection, str(interaction.user.id), self.vote)
            thanks = "Thanks, noted: 👍" if self.vote == "up" else "Thanks, noted: 👎. The operator reviews these."
            await interaction.response.send_message(thanks, ephemeral=True)
        except Exception as exc:
            await report_error(interaction, exc)


def embed_batches(items: list[discord.Embed]) -> list[list[discord.Embed]]:
    """Group embeds into messages: at most 10 per message and 6,000 characters in all."""
    batches: list[list[discord.Embed]] = [[]]
    size = 0
    for embed in items:
        if batches[-1] and (len(batches[-1]) == 10 or size + len(embed) > embeds.EMBED_TOTAL_LIMIT):
            batches.append([])
            size = 0
        batches[-1].append(embed)
        size += len(embed)
    return batches


async def article_choices(bot: Byline, guild_id: int | None, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete: the newest articles whose title contains what the member typed."""
    try:
        collection = bot.collection_for(guild_id)
        found = await bot.run_engine(bot.engine.find_articles, collection, current, 25)
    except BylineError:
        return []
    return [app_commands.Choice(name=embeds.article_choice_name(*row), value=str(row[0])) for row in found]


async def resolve_article(bot: Byline, collection: str, given: str) -> int:
    """An article id from an autocomplete value ("12"), "#12", or a title typed in full."""
    given = given.strip()
    if given.lstrip("#").isdigit():
        return int(given.lstrip("#"))
    found = await bot.run_engine(bot.engine.find_articles, collection, given, 2)
    exact = [i for i, title, _ in found if title.casefold() == given.casefold()]
    if exact or len(found) == 1:
        return (exact or [found[0][0]])[0]
    raise NotFound(f"No single article matches {given!r}: pick one from the list as you type.")


class Asking(commands.Cog):
    def __init__(self, bot: Byline) -> None:
        self.bot = bot

    async def answer(
        self, collection: str, question: str, user_id: int, follow_up_to: str | None = None, *, face: str
    ) -> tuple[int, Answer, discord.Embed, discord.ui.View]:
        engine = self.bot.engine
        metrics = self.bot.metrics

        def work() -> tuple[int, Answer, int]:
            with metrics.timing():
                answer = engine.ask(collection, question, follow_up_to=follow_up_to)
            answer_id = self.bot.answer_log.log_answer(collection, answer, str(user_id))
            return answer_id, answer, engine.article_count(collection)

        answer_id, answer, searched = await self.bot.run_engine(work)
        metrics.answered(face, answer)
        return answer_id, answer, embeds.answer_embed(answer, searched), answer_view(answer_id, answer)

    @app_commands.command(name="ask", description="Ask a question; the answer quotes this server's articles.")
    @app_commands.describe(question="What do you want to know?")
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        collection = self.bot.collection_for(interaction.guild_id)
        question = self.bot.engine.check_question(question)  # refuse before "thinking…" is shown
        self.bot.cooldown.check(interaction.user.id)
        await interaction.response.defer(thinking=True)
        answer_id, _, embed, view = await self.answer(collection, question, interaction.user.id, face="slash")
        message = await interaction.followup.send(
            embed=embed, view=view, wait=True, allowed_mentions=discord.AllowedMentions.none()
        )
        await self.bot.run_engine(self.bot.answer_log.attach_message, answer_id, str(message.id))

    @app_commands.command(
        name="summary", description="Summarise an article, or what the articles say about a topic; all quoted."
    )
    @app_commands.describe(
        article="Start typing a title",
        topic="A topic across articles, such as 'Belarus' or 'rail strikes this week'",
        sentences="How many sentences (default 3 for an article, 5 for a topic)",
    )
    async def summary(
        self,
        interaction: discord.Interaction,
        article: str | None = None,
        topic: str | None = None,
        sentences: app_commands.Range[int, 1, 10] | None = None,
    ) -> None:
        collection = self.bot.collection_for(interaction.guild_id)
        if (article is None) == (topic is None):
            raise InvalidInput("Give either an article or a topic to summarise.")
        engine = self.bot.engine
        if topic is not None:
            topic = engine.check_question(topic)
            self.bot.cooldown.check(interaction.user.id)
            await interaction.response.defer(thinking=True)
            summarised = await self.bot.run_engine(engine.summarize_topic, collection, topic, sentences=sentences or 5)
            await interaction.followup.send(
                embed=embeds.topic_summary_embed(summarised), allowed_mentions=discord.AllowedMentions.none()
            )
            return
        assert article is not None
        article_id = await resolve_article(self.bot, collection, article)
        await interaction.response.defer(thinking=True)

        def work() -> tuple:
            return (
                engine.summarize(collection, article_id, sentences or 3),
                engine.article(collection, article_id).published,
            )

        summary, published = await self.bot.run_engine(work)
        await interaction.followup.send(
            embed=embeds.summary_embed(summary, published), allowed_mentions=discord.AllowedMentions.none()
        )

    @summary.autocomplete("article")
    async def summary_article(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await article_choices(self.bot, interaction.guild_id, current)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A message mentioning the bot is a question; a reply to one of its answers is a follow-up."""
        bot = self.bot
        if message.author.bot or bot.user is None:
            return
        previous = None
        if message.reference is not None and message.reference.message_id is not None:
            logged = await bot.run_engine(bot.answer_log.answer_for_message, str(message.reference.message_id))
            if logged is not None:
                previous = logged
        # In a server a message is a question when it mentions the bot; in a DM every message is one.
        mentioned = bot.user in message.mentions or f"<@{bot.user.id}>" in message.content or message.guild is None
        if previous is None and not mentioned:
            return
        question = " ".join(_MENTION.sub(lambda m: "" if int(m[1]) == bot.user.id else m[0], message.content).split())
        try:
            if not bot.take_work():
                raise BylineError(SHUTTING_DOWN)
            collection = bot.collection_for(message.guild.id if message.guild else None)
            if previous is not None and previous.collection != collection:
                previous = None
            if not question:
                raise InvalidInput(f"Ask me something after the mention, e.g. “@{bot.user.name} what happened?”")
            question = bot.engine.check_question(question)
            bot.cooldown.check(message.author.id)
            async with message.channel.typing():
                answer_id, _, embed, view = await self.answer(
                    collection, question, message.author.id, previous.question if previous else None, face="mention"
                )
            reply = await message.reply(
                embed=embed, view=view, mention_author=False, allowed_mentions=discord.AllowedMentions.none()
            )
            await bot.run_engine(bot.answer_log.attach_message, answer_id, str(reply.id))
        except Exception as exc:
            sentence = sentence_for(exc, "answering a mention")
            try:
                await message.reply(
                    embed=embeds.error_embed(sentence),
                    mention_author=False,
                    allowed_mentions=discord.AllowedMentions.none(),
                )
            except discord.HTTPException:
                log.warning("could not reply to message %s", message.id)


async def setup(bot: Byline) -> None:
    bot.add_dynamic_items(SourcesButton, VoteButton)
    await bot.add_cog(Asking(bot))
