"""Settings from the environment (and a .env file), read once at start-up. Every variable is
documented in .env.example."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from index.settings import EngineSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_ARTICLES = REPO_ROOT / "examples" / "articles"


@dataclass(frozen=True)
class Config:
    engine: EngineSettings
    discord_token: str | None


def load(data_dir: str | None = None) -> Config:
    from dotenv import load_dotenv

    # A real environment variable wins over .env, so one-off overrides on the command line work.
    load_dotenv(Path.cwd() / ".env", override=False)
    overrides: dict[str, object] = {}
    if data_dir:
        overrides["data_dir"] = Path(data_dir)
    engine = EngineSettings.from_env(os.environ, **overrides)
    return Config(engine=engine, discord_token=os.environ.get("DISCORD_TOKEN") or None)
