"""The Discord face: a commands.Bot that receives the engine, loads the cogs in setup_hook and turns every
error into one ephemeral sentence. Everything slow runs in a worker thread, so the event loop keeps answering
heartbeats and other members while the model works: questions and other short engine calls in a pool of one
thread per core, a moderator's ingest (fetch, extract, embed) in a second pool beside it, both at a
lower OS priority than the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import logging
import os
import signal
import sys
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.config import DiscordSettings, guild_collection
from index.errors import BylineError
from index.inference.runtime import default_threads

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from index.asking.feedback import FeedbackLog
    from index.engine import Engine
    from index.settings import Limits
    from index.summaries.schedule import DigestSchedules

log = logging.getLogger(__name__)
T = TypeVar("T")

COGS = ("bot.cogs.asking", "bot.cogs.articles", "bot.cogs.digests", "bot.cogs.feeds", "bot.cogs.insights")
WORKER_NICENESS = 5  # how much lower than the event loop the worker threads run (Linux niceness)
SWITCH_INTERVAL = 0.001  # seconds a thread holds the GIL before it is asked to hand it over
GENERIC_ERROR = "Something went wrong on my side; the bot's operator can find the details in its log."


class NotAvailableHere(BylineError):
    """A command used where it has no collection (a DM without BYLINE_DM_COLLECTION)."""


SHUTTING_DOWN = "I'm restarting: ask again in a minute."


class BylineTree(app_commands.CommandTree):
    """Every slash command and autocompletion passes here first: while the bot shuts down it takes no new
    work (one sentence instead), and the ones it takes are counted as in flight until they finish."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        bot: Byline = self.client  # type: ignore[assignment]
        if bot.take_work():
            return True
        if interaction.type is discord.InteractionType.application_command:
            await report_error(interaction, BylineError(SHUTTING_DOWN))
        return False


class Cooldown:
    """Per-member pause between questions (slash command and mentions share it)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._last: dict[int, float] = {}

    def check(self, user_id: int) -> None:
        """Raise if the member asked less than `seconds` ago; otherwise start their pause."""
        if self.seconds <= 0:
            return
        now = self.clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self.seconds:
            wait = self.seconds - (now - last)
            raise BylineError(f"One question at a time: you can ask again in {wait:.0f} s.")
        self._last[user_id] = now
        if len(self._last) > 10_000:  # forget members whose pause is long over
            self._last = {u: t for u, t in self._last.items() if now - t < self.seconds}


class Byline(commands.AutoShardedBot):
    """Sharded from the start: one process runs every shard Discord recommends, or BYLINE_SHARD_IDS of
    BYLINE_SHARD_COUNT when several processes (on one shared PostgreSQL store) split them."""

    def __init__(self, engine: Engine, settings: DiscordSettings) -> None:
        intents = discord.Intents.default()
        intents.message_content = settings.message_content  # replies to the bot's answers (follow-ups) need it
        super().__init__(
            shard_count=settings.shard_count,
            shard_ids=list(settings.shard_ids) if settings.shard_ids is not None else None,
            command_prefix=commands.when_mentioned,  # no text commands: mentions are questions (see asking.py)
            intents=intents,
            help_command=None,
            tree_cls=BylineTree,
            # Nothing the bot sends may ping anyone, whatever an article or a question contains.
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.engine = engine
        # The services the cogs use beside the engine's methods, as typed handles.
        self.answer_log: FeedbackLog = engine.feedback
        self.schedules: DigestSchedules = engine.schedules
        self.limits: Limits = engine.settings.limits
        self.clock: Callable[[], datetime] = engine.clock
        self.settings = settings
        self.cooldown = Cooldown(settings.ask_cooldown)
        from bot.health import Metrics

        self.metrics = Metrics(self)
        # SIGTERM: no new work once draining; the tasks in flight get settings.shutdown_grace to finish.
        self.draining = False
        self.in_flight: set[asyncio.Task[Any]] = set()
        # Views with a timeout (e.g. /article list pages), stopped on close so no timer outlives the bot.
        self.open_views: weakref.WeakSet[discord.ui.View] = weakref.WeakSet()
        # Answering is mostly Python holding the GIL between model calls: more threads than cores add no
        # throughput, only more threads in the queue for the GIL that the event loop waits in too
        # (asyncio's default pool has cores + 4).
        self.workers = ThreadPoolExecutor(
            max_workers=default_threads(), thread_name_prefix="byline-engine", initializer=lower_priority
        )
        # Moderators' uploads at once; more wait their turn.
        self.long_workers = ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="byline-long", initializer=lower_priority
        )

    def take_work(self) -> bool:
        """Called by a handler about to do work (a command, a question by mention): False while shutting
        down; otherwise the current task counts as in flight until it ends."""
        if self.draining:
            return False
        task = asyncio.current_task()
        if task is not None and task not in self.in_flight:
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)
        return True

    async def shutdown(self, grace: float) -> None:
        """Stop taking new work, give the work in flight up to `grace` seconds, then disconnect."""
        self.draining = True
        pending = {task for task in self.in_flight if task is not asyncio.current_task()}
        log.info("shutting down: %d answers in flight, waiting up to %.0f s for them", len(pending), grace)
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            if late:
                log.warning("shutting down with %d answers unfinished after %.0f s", len(late), grace)
                for task in late:
                    task.cancel()
        await self.close()

    async def close(self) -> None:
        for view in list(self.open_views):
            view.stop()
        await super().close()
        self.workers.shutdown(wait=False, cancel_futures=True)
        self.long_workers.shutdown(wait=False, cancel_futures=True)

    async def setup_hook(self) -> None:
        # Load the model now rather than on the first question, without blocking the connection.
        # (in a worker: ONNX Runtime's threads are made by it and inherit its lower priority)
        await self.run_long(self.engine.embedder.load)
        # Worker threads run Python between model calls, and a thread that wants the GIL waits for each
        # holder's turn (5 ms by default) in a queue. The event loop takes the GIL after every socket
        # call, so with a few busy workers it woke up to 150 ms late; 1 ms turns keep it under ~50 ms
        # (tests/test_load.py: 50 questions during an ingest, longest stall 23-52 ms against 37-146 ms)
        # for about 20% more answer time under that load. The bot process is latency-bound: it pays.
        sys.setswitchinterval(SWITCH_INTERVAL)
        for cog in COGS:
            await self.load_extension(cog)
        # The model, torch and discord.py leave ~500k long-lived objects; a full garbage collection walks
        # them all while holding the GIL, which froze the event loop for 0.5-0.7 s under load (tests/test_load.py).
        # Frozen objects are never walked again; everything allocated from now on is collected as usual.
        gc.collect()
        gc.freeze()
        self.tree.on_error = self.on_app_command_error
        if not self.settings.syncs_commands:
            log.info("slash commands are synced by the process running shard 0, not this one")
            return
        if self.settings.guild_id:
            guild = discord.Object(id=self.settings.guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        log.info("synced %d slash commands%s", len(synced), " to one guild" if self.settings.guild_id else "")

    async def on_ready(self) -> None:
        log.info(
            "connected as %s (%s) to %d servers on shards %s of %s",
            self.user,
            getattr(self.user, "id", "?"),
            len(self.guilds),
            ",".join(str(i) for i in sorted(self.shards)),
            self.shard_count,
        )

    async def on_guild_join(self, guild: discord.Guild) -> None:
        # The operator's map from a server to its data (`python -m bot collections` knows only the id).
        log.info("joined guild %s (%s): its collection is %s", guild.id, guild.name, guild_collection(guild.id))

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server (kicked, or the server deleted): its articles and answers are kept, so a
        mistaken kick loses nothing; deleting them is the operator's decision."""
        collection = guild_collection(guild.id)
        log.info(
            "removed from guild %s (%s): its data is kept in collection %s; to delete it for good run "
            "`python -m bot purge --collection %s --yes`",
            guild.id,
            guild.name,
            collection,
            collection,
        )

    async def on_message(self, message: discord.Message) -> None:
        """Mentions are questions, handled by the asking cog's listener; there are no text commands."""

    def collection_for(self, guild_id: int | None) -> str:
        """Each server has its own collection; DMs use BYLINE_DM_COLLECTION or are refused."""
        if guild_id is not None:
            return guild_collection(guild_id)
        if self.settings.dm_collection:
            return self.settings.dm_collection
        raise NotAvailableHere("I only answer in servers: ask me there, about that server's articles.")

    async def run_engine(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run an engine call (a question, a summary, a lookup) in the bot's pool of one thread per core."""
        return await run_in(self.workers, function, *args, **kwargs)

    async def run_long(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a moderator's long call (fetch, extract, ingest) outside the question pool, so a long upload
        never holds a thread that questions wait for."""
        return await run_in(self.long_workers, function, *args, **kwargs)

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError | Exception
    ) -> None:
        await report_error(interaction, error)


async def run_in(pool: ThreadPoolExecutor, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """asyncio.to_thread, in a given pool: the call sees this task's context variables."""
    call = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(pool, call)


def lower_priority() -> None:
    """Run this thread (and the threads it starts) WORKER_NICENESS below the event loop, so the loop gets a
    core first when it wakes: Discord heartbeats and acknowledgements never wait behind the model."""
    try:
        thread = threading.get_native_id()
        now = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, now + WORKER_NICENESS))
    except (AttributeError, OSError):  # not Linux, or not allowed: same priority as the loop
        pass


def require_moderator(interaction: discord.Interaction) -> None:
    """Moderator commands: default_permissions only hides them, and a server's admins can re-enable them for
    anyone, so the permission is checked again when one is used."""
    if not interaction.permissions.manage_guild:
        raise app_commands.MissingPermissions(["manage_guild"])


def error_sentence(error: BaseException) -> str | None:
    """The sentence to show for an error we expected; None for a bug (logged with its traceback)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, BylineError):
        return str(error)
    if isinstance(error, app_commands.MissingPermissions):
        return "Only moderators (members with Manage Server) can do that."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "That command only works in a server."
    if isinstance(error, app_commands.TransformerError):
        return f"I could not understand {error.value!r} there."
    if isinstance(error, discord.HTTPException) and error.status == 413:
        return "That file is larger than Discord lets me download."
    return None


def sentence_for(error: BaseException, what: str) -> str:
    """The one sentence a member sees for an error; `what` failed is logged, with the traceback for a bug."""
    sentence = error_sentence(error)
    if sentence is None:
        log.error("%s failed", what, exc_info=getattr(error, "original", error))
        return GENERIC_ERROR
    log.info("refused %s: %s", what, sentence)
    return sentence


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """One ephemeral sentence to the member; the details (and any traceback) go to the log."""
    command = interaction.command.qualified_name if interaction.command else "a button"
    sentence = sentence_for(error, f"/{command}" if interaction.command else command)
    from bot.embeds import error_embed

    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(embed=error_embed(sentence), ephemeral=True)
            return
        if interaction.response.type == discord.InteractionResponseType.deferred_channel_message:
            # A public "thinking…" message would show the error to everyone: replace it with an ephemeral one.
            try:
                await interaction.delete_original_response()
            except discord.HTTPException:
                pass
        await interaction.followup.send(embed=error_embed(sentence), ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the member about the error (the interaction may have expired)")


def point_at(settings: DiscordSettings) -> None:
    """Route REST through DISCORD_API_BASE (e.g. a nirn-proxy) and the gateway to DISCORD_GATEWAY_URL."""
    from discord import gateway, http

    if settings.api_base:
        base = settings.api_base
        http.Route.BASE = base if base.rstrip("/").split("/")[-1].startswith("v") else f"{base}/api/v10"
    if settings.gateway_url:
        gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


def run(engine: Engine, settings: DiscordSettings) -> int:
    """Connect and serve until SIGTERM or SIGINT (then shut down gracefully: exit code 0)."""
    point_at(settings)
    try:
        asyncio.run(serve(engine, settings))
    except discord.LoginFailure:
        raise BylineError("Discord refused the token: check DISCORD_TOKEN (Bot → Reset Token).") from None
    except discord.PrivilegedIntentsRequired:
        raise BylineError(
            "Discord refused the Message Content intent: enable it for the bot in the Developer Portal "
            "(Bot → Privileged Gateway Intents), or set BYLINE_MESSAGE_CONTENT=0 (mentions still work)."
        ) from None
    return 0


async def serve(engine: Engine, settings: DiscordSettings) -> None:
    from bot.health import HealthServer

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or not Unix: Ctrl-C as before
            pass
    client = Byline(engine, settings)
    health = HealthServer(client, settings.health_host, settings.health_port) if settings.health_port else None
    async with client:
        if health is not None:
            await health.start()  # alive (and not ready) while the model loads and the shards connect
        try:
            connection = asyncio.create_task(client.start(settings.token or ""), name="byline-gateway")
            stopping = asyncio.create_task(stop.wait(), name="byline-signals")
            done, _ = await asyncio.wait({connection, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if connection in done:
                stopping.cancel()
                connection.result()  # a refused token or intent raises here
                return
            log.info("received a stop signal")
            await client.shutdown(settings.shutdown_grace)
            await asyncio.wait_for(connection, 30)
        finally:
            if health is not None:
                await health.stop()
    log.info("stopped")
