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
        return cls(
            token=text("DISCORD_TOKEN"),
            guild_id=number("DISCORD_GUILD_ID", int, None),  # type: ignore[arg-type]
            api_base=api_base.rstrip("/") if api_base else None,
            gateway_url=gateway,
            ask_cooldown=float(number("BYLINE_ASK_COOLDOWN", float, cls.ask_cooldown)),  # type: ignore[arg-type]
            dm_collection=dm,
            message_content=(text("BYLINE_MESSAGE_CONTENT") or "1").lower() not in {"0", "false", "no", "off"},
            list_page_size=max(1, min(int(number("BYLINE_LIST_PAGE_SIZE", int, cls.list_page_size)), 25)),  # type: ignore[arg-type]
        )


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
