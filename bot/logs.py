"""Logging for every face: one handler on the root logger, writing to stderr as text or as one JSON object
per line (BYLINE_LOG_FORMAT), at BYLINE_LOG_LEVEL. Every record passes through `redact` on its way out,
whoever logged it (ours, discord.py, httpx, openai) and whatever it carries (arguments, exception text,
stack): the Discord token, the LLM API key, anything shaped like a Discord token or an OpenAI key,
`Bot …` / `Bearer …` credentials and interaction tokens in webhook URLs become `[redacted]`."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from index.errors import InvalidInput

REDACTED = "[redacted]"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Shapes of credentials, whatever their value: a leaked token from another configuration is still a token.
_PATTERNS = (
    # Discord bot tokens: base64 user id . timestamp . HMAC
    (re.compile(r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"), REDACTED),
    # OpenAI-style keys (sk-..., sk-proj-...)
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
    # Authorization header values, in any rendering (header line, dict repr, JSON)
    # (long values only, so that "Bot Byline" in a sentence is left alone)
    (re.compile(r"\b(Bot|Bearer|bearer)(?:\s+|%20)[A-Za-z0-9._~+/=-]{16,}"), rf"\1 {REDACTED}"),
    (
        re.compile(r"""(["']?(?:authorization|api[_-]?key|token)["']?\s*[:=]\s*["']?)[^"'\s,}]{8,}""", re.IGNORECASE),
        rf"\1{REDACTED}",
    ),
    # An interaction token in a webhook or callback URL lets anyone answer as the bot for 15 minutes.
    (re.compile(r"(/webhooks/\d+/)[A-Za-z0-9._-]+"), rf"\1{REDACTED}"),
    (re.compile(r"(/interactions/\d+/)[A-Za-z0-9._-]+"), rf"\1{REDACTED}"),
)
# Shorter configured values are not redacted verbatim: replacing "abc" everywhere would garble the log
# (and a real token or key is never that short; the patterns above still apply).
MIN_SECRET_LENGTH = 6


class Redactor:
    """Replaces the configured secrets and anything shaped like a credential in a string."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._secrets = re.compile("|".join(re.escape(s) for s in values)) if values else None

    def __call__(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(REDACTED, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__(TEXT_FORMAT)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and exception / stack."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = self.redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = self.redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


def parse_level(value: str | None) -> int | None:
    """BYLINE_LOG_LEVEL as a logging level; None when unset."""
    if not value or not value.strip():
        return None
    name = value.strip().upper()
    if name not in LEVELS:
        raise InvalidInput(f"BYLINE_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {value.strip()!r}.")
    return getattr(logging, name)


def parse_format(value: str | None) -> str:
    name = (value or "").strip().lower() or "text"
    if name not in FORMATS:
        raise InvalidInput(f"BYLINE_LOG_FORMAT must be text or json, not {value!r}.")
    return name


def setup(level: int, fmt: str = "text", secrets: Iterable[str | None] = (), stream: TextIO | None = None) -> None:
    """Send every log record (ours and third parties') to stderr through one redacting handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    redact = Redactor(secrets)
    handler.setFormatter(JSONFormatter(redact) if fmt == "json" else TextFormatter(redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "byline", False):
            root.removeHandler(old)
    handler.byline = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # warnings too go through the handler (and its redaction)
