"""A small Discord on 127.0.0.1 for the tests: the real wire protocol over real sockets, so the real
discord.py client talks to it exactly as it talks to Discord.

- REST v10 (JSON and multipart): login (/users/@me, /oauth2/applications/@me), /gateway/bot, command sync,
  interaction callbacks (with ?with_response=1), webhook follow-ups and edits, channel messages, typing,
  and a CDN path serving attachments. It validates what Discord validates that matters here (message and
  embed size limits) and answers 400 like Discord when a payload breaks them.
- The gateway websocket: HELLO, IDENTIFY → READY (session_id, resume_gateway_url, application) and one
  GUILD_CREATE per guild, heartbeats, then INTERACTION_CREATE, MESSAGE_CREATE and GUILD_DELETE pushed by
  the tests.
- Sharding as Discord does it: /gateway/bot recommends `shards`; an IDENTIFY carries `shard: [id, count]`,
  and that connection hears only its guilds, those with (guild_id >> 22) % count == id (DMs: shard 0).

The tests drive it from their own thread with blocking helpers (slash, click, autocomplete, say) that
return a handle to wait on what the bot did in response."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

MANAGE_GUILD = 1 << 5
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 16) | (1 << 31)  # view, send, embed, history, slash
EPHEMERAL = 1 << 6
_ids = itertools.count(1_200_000_000_000_000_000)


def snowflake() -> str:
    return str(next(_ids))


def now() -> str:
    return datetime.now(UTC).isoformat()


def user(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": name,
        "discriminator": "0",
        "global_name": None if bot else name.title(),
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
        "flags": 0,
    }


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    files: dict[str, tuple[str, bytes]]
    headers: dict[str, str]


@dataclass
class InteractionLog:
    """Everything the bot did with one interaction."""

    id: str
    token: str
    payload: dict[str, Any]
    callback: dict[str, Any] | None = None  # {"type": n, "data": {...}}
    original: dict[str, Any] | None = None  # the response message, as it is now
    original_edits: list[dict[str, Any]] = field(default_factory=list)  # PATCH bodies, in order
    original_deleted: bool = False
    followups: list[dict[str, Any]] = field(default_factory=list)
    # every message payload the bot sent for this interaction (callback data, follow-ups, edits)
    payloads: list[dict[str, Any]] = field(default_factory=list)

    @property
    def deferred(self) -> bool:
        return self.callback is not None and self.callback["type"] in (5, 6)

    def messages(self) -> list[dict[str, Any]]:
        """What the member sees: the response message (unless deleted) and the follow-ups."""
        shown = [] if self.original is None or self.original_deleted else [self.original]
        return shown + self.followups


class FakeDiscord:
    def __init__(self) -> None:
        self.application_id = snowflake()
        self.bot = user(self.application_id, "byline", bot=True)
        self.owner = user(snowflake(), "owner")
        self.guilds: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self.interactions: dict[str, InteractionLog] = {}
        self.commands: dict[str | None, list[dict[str, Any]]] = {}  # guild id (None = global) → commands
        self.identifies: list[dict[str, Any]] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.cdn: dict[str, bytes] = {}
        self.errors: list[str] = []  # payloads we refused, as Discord would have
        self._changed = threading.Condition()
        self.sockets: list[web.WebSocketResponse] = []
        self.shard_of_socket: dict[web.WebSocketResponse, tuple[int, int]] = {}  # (shard id, shard count)
        self.recommended_shards = 1  # what /gateway/bot answers
        self._sequence = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fake-discord", daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> FakeDiscord:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        async def shutdown() -> None:
            for ws in list(self.sockets):
                await ws.close()
            if self._runner:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- world ------------------------------------------------------------------------------------
    def add_guild(self, name: str, shard: tuple[int, int] | None = None) -> tuple[str, str]:
        """A guild with one text channel; returns (guild_id, channel_id). `shard` (id, count): a guild id
        that Discord would send to that shard."""
        guild_id, channel_id = snowflake(), snowflake()
        if shard is not None:
            number, count = shard
            base = int(guild_id)
            guild_id = str(base + (((number - (base >> 22)) % count) << 22))
            assert shard_of(guild_id, count) == number
        channel = {
            "id": channel_id,
            "type": 0,
            "guild_id": guild_id,
            "name": "general",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        self.channels[channel_id] = channel
        self.guilds[guild_id] = {
            "id": guild_id,
            "name": name,
            "icon": None,
            "owner_id": self.owner["id"],
            "roles": [
                {
                    "id": guild_id,
                    "name": "@everyone",
                    "permissions": str(MEMBER_PERMISSIONS),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                    "icon": None,
                    "unicode_emoji": None,
                }
            ],
            "channels": [channel],
            "members": [self._member(self.bot, MEMBER_PERMISSIONS)],
            "member_count": 2,
            "large": False,
            "unavailable": False,
            "joined_at": now(),
            "features": [],
            "emojis": [],
            "stickers": [],
            "voice_states": [],
            "presences": [],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "preferred_locale": "en-US",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "description": None,
            "banner": None,
            "splash": None,
            "discovery_splash": None,
            "vanity_url_code": None,
            "max_members": 500000,
            "premium_progress_bar_enabled": False,
        }
        return guild_id, channel_id

    def remove_guild(self, guild_id: str) -> None:
        """The bot is kicked from a guild (or the guild is deleted): GUILD_DELETE without `unavailable`.
        The guild's channels stay known here, so a test can still send interactions as if it came back."""
        del self.guilds[guild_id]
        self.dispatch("GUILD_DELETE", {"id": guild_id})

    def _member(self, who: dict[str, Any], permissions: int | None = None) -> dict[str, Any]:
        member = {
            "user": who,
            "roles": [],
            "joined_at": now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "pending": False,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            member["permissions"] = str(permissions)
        return member

    # -- waiting ----------------------------------------------------------------------------------
    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait(self, predicate: Callable[[], Any], timeout: float = 60, what: str = "the bot") -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out waiting for {what}; refused payloads: {self.errors}")
                self._changed.wait(min(left, 0.5))

    def wait_ready(self, timeout: float = 120) -> None:
        self.wait(lambda: self.identifies and self.commands, timeout, "IDENTIFY and the command sync")

    def drop_connections(self, code: int = 4000) -> None:
        """Close every gateway websocket, as Discord does when it restarts a gateway node."""

        async def close() -> None:
            for ws in list(self.sockets):
                await ws.close(code=code, message=b"Unknown error.")

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)

    # -- driving the bot (from the test thread) -------------------------------------------------------
    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        asyncio.run_coroutine_threadsafe(self._dispatch(event, data), self.loop).result(10)

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        if not self.sockets:
            raise RuntimeError("the bot is not connected to the gateway")
        self._sequence += 1
        frame = {"op": 0, "t": event, "s": self._sequence, "d": data}
        guild = data.get("guild_id") or (data.get("id") if event.startswith("GUILD_") else None)
        for ws in list(self.sockets):
            number, count = self.shard_of_socket.get(ws, (0, 1))
            if (shard_of(guild, count) if guild else 0) == number:
                await ws.send_str(json.dumps(frame))

    def shards_connected(self) -> list[tuple[int, int]]:
        """The (shard id, count) of every identified gateway connection."""
        return sorted(self.shard_of_socket.values())

    def command(self, name: str, guild_id: str | None = None) -> tuple[dict[str, Any], str | None]:
        """A synced command by name (guild commands first), and the guild it was synced to."""
        for scope in (guild_id, None):
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name:
                    return cmd, scope
        raise KeyError(f"/{name} was not synced (synced: {self.commands})")

    def _options(self, schema: list[dict[str, Any]], values: dict[str, Any], resolved: dict[str, Any]) -> list:
        by_name = {o["name"]: o for o in schema}
        options = []
        for name, value in values.items():
            if name not in by_name:
                raise KeyError(f"no option {name!r}; the command has {sorted(by_name)}")
            kind = by_name[name]["type"]
            if kind == 11:  # attachment: (filename, bytes, content type)
                filename, data, content_type = value
                attachment_id = snowflake()
                self.cdn[attachment_id] = data
                resolved.setdefault("attachments", {})[attachment_id] = {
                    "id": attachment_id,
                    "filename": filename,
                    "size": len(data),
                    "url": f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/{filename}",
                    "proxy_url": f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/{filename}",
                    "content_type": content_type,
                }
                value = attachment_id
            options.append({"name": name, "type": kind, "value": value})
        return options

    def _interaction_payload(
        self,
        kind: int,
        data: dict[str, Any],
        guild_id: str | None,
        who: dict[str, Any],
        permissions: int,
        app_permissions: int = MEMBER_PERMISSIONS,
    ) -> InteractionLog:
        interaction_id, token = snowflake(), "tok-" + secrets.token_urlsafe(24)
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "app_permissions": str(app_permissions),  # the bot's own, in the channel
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild_id is not None:
            channel = next(c for c in self.channels.values() if c.get("guild_id") == guild_id)
            payload.update(
                guild_id=guild_id,
                channel_id=channel["id"],
                channel=channel,
                member=self._member(who, permissions),
                guild_locale="en-US",
                guild={"id": guild_id, "locale": "en-US", "features": []},
                authorizing_integration_owners={"0": guild_id},
                context=0,
            )
        else:
            dm = {"id": snowflake(), "type": 1, "recipients": [who], "last_message_id": None, "flags": 0}
            payload.update(channel_id=dm["id"], channel=dm, user=who, authorizing_integration_owners={"1": who["id"]})
            payload["context"] = 1
        log = InteractionLog(interaction_id, token, payload)
        self.interactions[token] = log
        return log

    def slash(
        self,
        command: str,
        *,
        guild_id: str | None,
        who: dict[str, Any],
        permissions: int = MEMBER_PERMISSIONS,
        app_permissions: int = MEMBER_PERMISSIONS,
        **values: Any,
    ) -> InteractionLog:
        """A member runs `/command` (or `/group sub`) with option values; returns the interaction's log.
        `app_permissions` are the bot's own in the channel (what it may do there)."""
        name, _, sub = command.partition(" ")
        cmd, scope = self.command(name, guild_id)
        resolved: dict[str, Any] = {}
        if sub:
            sub_schema = next(o for o in cmd.get("options", []) if o["name"] == sub)
            options = [
                {"name": sub, "type": 1, "options": self._options(sub_schema.get("options", []), values, resolved)}
            ]
        else:
            options = self._options(cmd.get("options", []), values, resolved)
        data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 1, "options": options}
        if resolved:
            data["resolved"] = resolved
        if scope is not None:
            data["guild_id"] = scope
        log = self._interaction_payload(2, data, guild_id, who, permissions, app_permissions)
        self.dispatch("INTERACTION_CREATE", log.payload)
        return log

    def autocomplete(
        self, command: str, option: str, typed: str, *, guild_id: str | None, who: dict[str, Any], **others: Any
    ) -> list[dict[str, Any]]:
        """A member types into an autocomplete option; returns the choices the bot offered."""
        name, _, sub = command.partition(" ")
        cmd, scope = self.command(name, guild_id)
        schema = cmd.get("options", [])
        if sub:
            schema = next(o for o in schema if o["name"] == sub).get("options", [])
        kind = next(o for o in schema if o["name"] == option)["type"]
        focused = [{"name": option, "type": kind, "value": typed, "focused": True}]
        options = focused + self._options(schema, others, {})
        if sub:
            options = [{"name": sub, "type": 1, "options": options}]
        data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 1, "options": options}
        if scope is not None:
            data["guild_id"] = scope
        log = self._interaction_payload(4, data, guild_id, who, MANAGE_GUILD | MEMBER_PERMISSIONS)
        self.dispatch("INTERACTION_CREATE", log.payload)
        self.wait(lambda: log.callback, what="autocomplete choices")
        assert log.callback is not None and log.callback["type"] == 8, log.callback
        return log.callback["data"]["choices"]

    def click(
        self,
        message: dict[str, Any],
        custom_id: str,
        *,
        guild_id: str | None,
        who: dict[str, Any],
        permissions: int = MEMBER_PERMISSIONS,
    ) -> InteractionLog:
        """A member presses a button on a message."""
        data = {"custom_id": custom_id, "component_type": 2}
        log = self._interaction_payload(3, data, guild_id, who, permissions)
        log.payload["message"] = message
        self.dispatch("INTERACTION_CREATE", log.payload)
        return log

    def say(
        self,
        content: str,
        *,
        channel_id: str,
        who: dict[str, Any],
        mentions: list[dict[str, Any]] = (),  # type: ignore[assignment]
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A member posts a message (optionally a reply); returns it."""
        channel = self.channels[channel_id]
        message = self._message(channel_id, who, {"content": content}, reply_to=reply_to)
        message["mentions"] = list(mentions)
        if channel.get("guild_id"):  # a DM carries neither
            message["member"] = self._member(who)
            message["guild_id"] = channel["guild_id"]
        self.dispatch("MESSAGE_CREATE", message)
        return message

    def replies_to(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages.values()
            if (m.get("message_reference") or {}).get("message_id") == message["id"]
            and m["author"]["id"] == self.application_id
        ]

    def wait_reply(self, message: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        return self.wait(lambda: (self.replies_to(message) or [None])[0], timeout, "a reply")

    def wait_result(self, log: InteractionLog, timeout: float = 60) -> list[dict[str, Any]]:
        """The messages shown for an interaction once the bot has answered it (not just 'thinking…')."""

        def done() -> list[dict[str, Any]] | None:
            if log.callback is None:
                return None
            if log.callback["type"] in (4, 7, 8):
                return log.messages() or [log.callback.get("data", {})]
            if log.followups or (log.original and (log.original["embeds"] or log.original["content"])):
                if not log.original_edits or log.followups or not _is_progress(log.original):
                    return log.messages()
            return None

        return self.wait(done, timeout, f"the answer to interaction {log.id}")

    # -- payloads -----------------------------------------------------------------------------------
    def _message(
        self,
        channel_id: str,
        author: dict[str, Any],
        body: dict[str, Any],
        *,
        reply_to: dict[str, Any] | None = None,
        interaction: InteractionLog | None = None,
    ) -> dict[str, Any]:
        message = {
            "id": snowflake(),
            "channel_id": channel_id,
            "author": author,
            "content": body.get("content") or "",
            "timestamp": now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": body.get("flags") or 0,
            "allowed_mentions": body.get("allowed_mentions"),
        }
        guild_id = self.channels.get(channel_id, {}).get("guild_id")
        if guild_id:
            message["guild_id"] = guild_id
        reference = body.get("message_reference")
        if reply_to is not None:
            reference = {"message_id": reply_to["id"], "channel_id": channel_id}
        if reference:
            message["type"] = 19
            reference = {**reference, "message_id": str(reference["message_id"]), "channel_id": channel_id}
            message["message_reference"] = {k: str(v) if k.endswith("_id") else v for k, v in reference.items()}
            referenced = self.messages.get(str(reference["message_id"]))
            if referenced is not None:
                message["referenced_message"] = {k: v for k, v in referenced.items() if k != "referenced_message"}
        if interaction is not None:
            message["type"] = 20
            message["webhook_id"] = self.application_id
            message["interaction_metadata"] = {
                "id": interaction.id,
                "type": interaction.payload["type"],
                "user": interaction.payload.get("member", {}).get("user") or interaction.payload.get("user"),
                "authorizing_integration_owners": {},
            }
        self.messages[message["id"]] = message
        return message

    def check_message(self, body: dict[str, Any]) -> str | None:
        """Discord's limits: None if the payload is acceptable, else the error message Discord gives."""
        if len(body.get("content") or "") > 2000:
            return "content: Must be 2000 or fewer in length."
        embeds = body.get("embeds") or []
        if len(embeds) > 10:
            return "embeds: Must be 10 or fewer in length."
        total = 0
        for embed in embeds:
            title = embed.get("title") or ""
            description = embed.get("description") or ""
            footer = (embed.get("footer") or {}).get("text") or ""
            if len(title) > 256 or len(description) > 4096 or len(footer) > 2048:
                return "embeds: a title, description or footer is too long."
            fields = embed.get("fields") or []
            if len(fields) > 25:
                return "embeds: Must have 25 or fewer fields."
            for f in fields:
                if len(f.get("name") or "") > 256 or len(f.get("value") or "") > 1024 or not f.get("value"):
                    return "embeds: a field is empty or too long."
            total += len(title) + len(description) + len(footer) + sum(len(f["name"]) + len(f["value"]) for f in fields)
        if total > 6000:
            return "embeds: Embed size exceeds maximum size of 6000."
        return None

    # -- REST -----------------------------------------------------------------------------------
    async def _read(self, request: web.Request) -> tuple[Any, dict[str, tuple[str, bytes]]]:
        files: dict[str, tuple[str, bytes]] = {}
        if request.content_type.startswith("multipart/"):
            body: Any = {}
            reader = await request.multipart()
            async for part in reader:
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    body = json.loads(data)
                else:
                    files[part.name or ""] = (part.filename or "", bytes(data))  # type: ignore[union-attr]
            return body, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), files

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if request.method == "GET" and path.startswith("/attachments/"):
            data = self.cdn.get(path.split("/")[2])
            return web.Response(body=data) if data is not None else web.Response(status=404)
        body, files = await self._read(request)
        recorded = Recorded(request.method, path, dict(request.query), body, files, dict(request.headers))
        self.requests.append(recorded)
        try:
            if (
                request.headers.get("Authorization") != f"Bot {self.token}"
                and "/webhooks/" not in path
                and ("/interactions/" not in path)
            ):
                return _error(401, "401: Unauthorized", 0)
            result = self._route(request.method, path.removeprefix("/api/v10"), request.query, body)
        finally:
            self._notify()
        if isinstance(result, web.StreamResponse):
            return result
        return _json(result) if result is not None else web.Response(status=204)

    token = "fake-token"

    def _route(self, method: str, path: str, query: Any, body: Any) -> Any:
        app = self.application_id
        if (method, path) == ("GET", "/users/@me"):
            return self.bot
        if (method, path) == ("GET", "/oauth2/applications/@me"):
            return {
                "id": app,
                "name": "Byline",
                "description": "",
                "icon": None,
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self.owner,
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "summary": "",
                "bot": self.bot,
            }
        if method == "GET" and path in ("/gateway", "/gateway/bot"):
            limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
            return {"url": self.gateway_url, "shards": self.recommended_shards, "session_start_limit": limit}
        if m := re.fullmatch(rf"/applications/{app}(?:/guilds/(\d+))?/commands", path):
            scope = m[1]
            if method == "PUT":
                self.commands[scope] = [
                    {
                        **cmd,
                        "id": snowflake(),
                        "application_id": app,
                        "version": snowflake(),
                        **({"guild_id": scope} if scope else {}),
                    }
                    for cmd in body
                ]
            return self.commands.get(scope, [])
        if m := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path):
            return self._callback(m[1], m[2], query, body)
        if m := re.fullmatch(rf"/webhooks/{app}/([^/]+)(?:/messages/(@original|\d+))?", path):
            return self._webhook(method, m[1], m[2], body)
        if m := re.fullmatch(r"/channels/(\d+)/messages", path):
            if method == "POST":
                problem = self.check_message(body)
                if problem:
                    self.errors.append(problem)
                    return _error(400, f"Invalid Form Body: {problem}", 50035)
                return self._message(m[1], self.bot, body)
        if re.fullmatch(r"/channels/(\d+)/typing", path):
            return None
        if m := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", path):
            message = self.messages.get(m[2])
            return message if message else _error(404, "Unknown Message", 10008)
        return _error(404, f"404: Not Found ({method} {path})", 0)

    def _callback(self, interaction_id: str, token: str, query: Any, body: Any) -> Any:
        log = self.interactions.get(token)
        if log is None or log.id != interaction_id:
            return _error(404, "Unknown interaction", 10062)
        if log.callback is not None:
            return _error(400, "Interaction has already been acknowledged.", 40060)
        data = body.get("data") or {}
        if body["type"] in (4, 7):
            problem = self.check_message(data)
            if problem:
                self.errors.append(problem)
                return _error(400, f"Invalid Form Body: {problem}", 50035)
        log.callback = body
        if body["type"] in (4, 5, 7):
            log.payloads.append(data)
        channel_id = log.payload["channel_id"]
        message = None
        if body["type"] == 4:
            message = log.original = self._message(channel_id, self.bot, data, interaction=log)
        elif body["type"] == 5:  # "Byline is thinking…"
            message = log.original = self._message(
                channel_id, self.bot, {"flags": data.get("flags", 0)}, interaction=log
            )
            message["flags"] |= 1 << 7  # LOADING
        elif body["type"] == 7:  # update the message the component is on
            message = log.original = {**log.payload["message"], **{k: v for k, v in data.items() if v is not None}}
            self.messages[message["id"]] = message
        if query.get("with_response") not in ("1", "true"):
            return None
        response: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": log.payload["type"],
                "response_message_id": message["id"] if message else None,
                "response_message_loading": body["type"] == 5,
                "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL),
            }
        }
        if message is not None:
            response["resource"] = {"type": body["type"], "message": message}
        else:
            response["resource"] = {"type": body["type"]}
        return response

    def _webhook(self, method: str, token: str, which: str | None, body: Any) -> Any:
        log = self.interactions.get(token)
        if log is None:
            return _error(404, "Unknown Webhook", 10015)
        if log.callback is None:
            return _error(404, "Unknown Webhook", 10015)  # nothing to follow up yet
        if method in ("POST", "PATCH"):
            problem = self.check_message(body)
            if problem:
                self.errors.append(problem)
                return _error(400, f"Invalid Form Body: {problem}", 50035)
            log.payloads.append(body)
        if which is None and method == "POST":
            # The first follow-up after a defer replaces the "thinking…" message, as on Discord.
            if log.deferred and log.original is not None and not log.original_deleted and _is_loading(log.original):
                log.original = {**log.original, **_message_fields(body), "flags": log.original["flags"] & ~(1 << 7)}
                self.messages[log.original["id"]] = log.original
                return log.original
            message = self._message(log.payload["channel_id"], self.bot, body, interaction=log)
            log.followups.append(message)
            return message
        target = log.original if which == "@original" else self.messages.get(which or "")
        if target is None:
            return _error(404, "Unknown Message", 10008)
        if method == "GET":
            return target
        if method == "DELETE":
            if which == "@original":
                log.original_deleted = True
            return None
        edited = {**target, **_message_fields(body), "edited_timestamp": now()}
        edited["flags"] = target["flags"] & ~(1 << 7)
        self.messages[edited["id"]] = edited
        if which == "@original" or (log.original and edited["id"] == log.original["id"]):
            log.original = edited
            log.original_edits.append(body)
        else:
            log.followups = [edited if m["id"] == edited["id"] else m for m in log.followups]
        return edited

    # -- gateway ----------------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        self.sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
        try:
            async for frame in ws:
                if frame.type != web.WSMsgType.TEXT:
                    continue
                message = json.loads(frame.data)
                if message["op"] == 1:
                    await ws.send_str(json.dumps({"op": 11, "d": None}))
                elif message["op"] == 2:
                    await self._identify(ws, message["d"])
                elif message["op"] == 6:  # RESUME: we keep no sessions, so make it identify again
                    await ws.send_str(json.dumps({"op": 9, "d": False}))
        finally:
            self.sockets.remove(ws)
            self.shard_of_socket.pop(ws, None)
            self._notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != f"Bot {self.token}" and data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        number, count = data.get("shard") or (0, 1)
        if not 0 <= number < count:
            await ws.close(code=4010, message=b"Invalid shard.")
            return
        self.identifies.append(data)
        self.shard_of_socket[ws] = (number, count)
        mine = [g for g in self.guilds.values() if shard_of(g["id"], count) == number]
        self._sequence += 1
        ready = {
            "v": 10,
            "user": self.bot,
            "guilds": [{"id": g["id"], "unavailable": True} for g in mine],
            "shard": [number, count],
            "session_id": secrets.token_hex(16),
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "_trace": ["fake-discord"],
        }
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": self._sequence, "d": ready}))
        for guild in mine:
            self._sequence += 1
            await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": self._sequence, "d": guild}))
        self._notify()


def shard_of(guild_id: str | int, count: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (int(guild_id) >> 22) % count


def _message_fields(body: dict[str, Any]) -> dict[str, Any]:
    keys = ("content", "embeds", "components", "allowed_mentions", "flags")
    return {k: body[k] for k in keys if k in body and body[k] is not None}


def _is_loading(message: dict[str, Any]) -> bool:
    return bool(message["flags"] & (1 << 7))


def _is_progress(message: dict[str, Any]) -> bool:
    return (message.get("content") or "").endswith("…")


def _json(payload: Any, status: int = 200) -> web.Response:
    # Discord sends exactly "application/json" (no charset), which is what discord.py checks for.
    return web.Response(body=json.dumps(payload).encode(), status=status, headers={"Content-Type": "application/json"})


def _error(status: int, message: str, code: int) -> web.Response:
    return _json({"message": message, "code": code}, status)
