"""Settings from the environment (and a .env file), read and validated once at start-up. Every variable
is documented in .env.example."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from index.errors import InvalidInput
from index.settings import EngineSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
GUILD_PREFIX = "guild-"  # each Discord server has its own collection, guild-<server id>
SAMPLE_ARTICLES = REPO_ROOT / "examples" / "articles"


def guild_collection(guild_id: int) -> str:
    return f"{GUILD_PREFIX}{guild_id}"


def guild_of(collection: str) -> int | None:
    """The Discord server a collection belongs to (None for collections made by the CLI or for DMs)."""
    rest = collection.removeprefix(GUILD_PREFIX)
    return int(rest) if rest != collection and rest.isdigit() else None


@dataclass(frozen=True)
class DiscordSettings:
    token: str | None = None
    # Sync slash commands to this one server only (instant updates while developing); None = globally.
    guild_id: int | None = None
    # REST base URL, e.g. a nirn-proxy in front of Discord; None = https://discord.com/api/v10.
    api_base: str | None = None
    # Gateway websocket URL; None = Discord's own.
    gateway_url: str | None = None
    # Seconds a member waits between two questions (slash command or mention).
    ask_cooldown: float = 10.0
    # Collection answering direct messages; None = DMs are politely refused.
    dm_collection: str | None = None
    # Articles per page of /article list.
    list_page_size: int = 10
    # Ask Discord for message content (privileged intent): replies to answers without a ping need it.
    message_content: bool = True
    # Sharding (discord.py's AutoShardedBot): the total number of shards across every process, and the
    # shards this process runs. Both None: this process runs Discord's recommended number of shards.
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    # Seconds SIGTERM waits for answers in flight before the bot disconnects anyway.
    shutdown_grace: float = 20.0
    # /healthz, /readyz and /metrics on this port (None: no health server), on health_host.
    health_port: int | None = None
    health_host: str = "127.0.0.1"

    @property
    def syncs_commands(self) -> bool:
        """Exactly one process syncs the slash commands: the one running shard 0 (or the only one)."""
        return self.shard_ids is None or 0 in self.shard_ids

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DiscordSettings:
        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def number(name: str, kind: type, default: float | int | None) -> float | int | None:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise InvalidInput(f"{name} must be a number, not {raw!r}.") from None
            if value < 0:
                raise InvalidInput(f"{name} cannot be negative.")
            return value

        dm = text("BYLINE_DM_COLLECTION")
        if dm is not None:
            from index.engine import Engine

            Engine.check_collection(dm)
        api_base = text("DISCORD_API_BASE")
        gateway = text("DISCORD_GATEWAY_URL")
        if api_base and not api_base.startswith(("http://", "https://")):
            raise InvalidInput(f"DISCORD_API_BASE must be an http(s) URL, not {api_base!r}.")
        if gateway and not gateway.startswith(("ws://", "wss://")):
            raise InvalidInput(f"DISCORD_GATEWAY_URL must be a ws(s) URL, not {gateway!r}.")
        shard_count = number("BYLINE_SHARD_COUNT", int, None)
        if shard_count is not None and shard_count < 1:
            raise InvalidInput("BYLINE_SHARD_COUNT must be at least 1.")
        shard_ids = parse_shard_ids(text("BYLINE_SHARD_IDS"), shard_count)  # type: ignore[arg-type]
        health_port = number("BYLINE_HEALTH_PORT", int, None)
        if health_port is not None and not 0 < health_port < 65536:  # type: ignore[operator]
            raise InvalidInput(f"BYLINE_HEALTH_PORT must be a port number (1-65535), not {health_port}.")
        return cls(
            shard_count=shard_count,  # type: ignore[arg-type]
            shard_ids=shard_ids,
            shutdown_grace=float(number("BYLINE_SHUTDOWN_GRACE", float, cls.shutdown_grace)),  # type: ignore[arg-type]
            health_port=health_port,  # type: ignore[arg-type]
            health_host=text("BYLINE_HEALTH_HOST") or cls.health_host,
            token=text("DISCORD_TOKEN"),
            guild_id=number("DISCORD_GUILD_ID", int, None),  # type: ignore[arg-type]
            api_base=api_base.rstrip("/") if api_base else None,
            gateway_url=gateway,
            ask_cooldown=float(number("BYLINE_ASK_COOLDOWN", float, cls.ask_cooldown)),  # type: ignore[arg-type]
            dm_collection=dm,
            message_content=(text("BYLINE_MESSAGE_CONTENT") or "1").lower() not in {"0", "false", "no", "off"},
            list_page_size=max(1, min(int(number("BYLINE_LIST_PAGE_SIZE", int, cls.list_page_size)), 25)),  # type: ignore[arg-type]
        )


def parse_shard_ids(raw: str | None, count: int | None) -> tuple[int, ...] | None:
    """BYLINE_SHARD_IDS, e.g. "0,1" or "2-3": this process's shards, each below BYLINE_SHARD_COUNT."""
    if raw is None:
        return None
    if count is None:
        raise InvalidInput("BYLINE_SHARD_IDS needs BYLINE_SHARD_COUNT: the total number of shards of every process.")
    ids: list[int] = []
    try:
        for part in raw.split(","):
            first, _, last = part.strip().partition("-")
            ids.extend(range(int(first), int(last or first) + 1))
    except ValueError:
        raise InvalidInput(f"BYLINE_SHARD_IDS must be shard numbers like 0,1 or 0-3, not {raw!r}.") from None
    if not ids or any(not 0 <= i < count for i in ids):
        raise InvalidInput(
            f"BYLINE_SHARD_IDS must be shard numbers from 0 to {count - 1} (BYLINE_SHARD_COUNT={count})."
        )
    return tuple(sorted(set(ids)))


@dataclass(frozen=True)
class Config:
    engine: EngineSettings
    discord: DiscordSettings

    @property
    def discord_token(self) -> str | None:
        return self.discord.token


@dataclass(frozen=True)
class LogSettings:
    # None: INFO for a bot connected to Discord, WARNING for one-shot commands (unless -v).
    level: int | None = None
    format: str = "text"  # or "json": one object per line
    # Values never to appear in a log line (bot/logs.py redacts them, and anything shaped like them).
    secrets: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LogSettings:
        from bot import logs

        secrets = tuple(env.get(name, "").strip() for name in ("DISCORD_TOKEN", "BYLINE_LLM_API_KEY"))
        return cls(
            level=logs.parse_level(env.get("BYLINE_LOG_LEVEL")),
            format=logs.parse_format(env.get("BYLINE_LOG_FORMAT")),
            secrets=tuple(s for s in secrets if s),
        )


def load_env() -> None:
    """Read .env into the environment; a real environment variable wins, so one-off overrides work."""
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env", override=False)


def load_logging() -> LogSettings:
    load_env()
    return LogSettings.from_env(os.environ)


def load(data_dir: str | None = None) -> Config:
    load_env()
    overrides: dict[str, object] = {}
    if data_dir:
        overrides["data_dir"] = Path(data_dir)
    engine = EngineSettings.from_env(os.environ, **overrides)
    return Config(engine=engine, discord=DiscordSettings.from_env(os.environ))
