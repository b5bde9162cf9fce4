"""Logs: structured (text or one JSON object per line) on stderr, with levels, and no secret ever in them:
not the Discord token, not the LLM API key, not an interaction token, whoever logs them."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SAMPLES, run_cli
from fake_discord import FakeDiscord, user
from fake_openai import FakeOpenAI, Reply

from bot import logs

pytestmark = pytest.mark.usefixtures("loopback_only")

# Shaped like the real thing, so that the patterns (not only the configured values) are exercised.
TOKEN = "MTI4NzY1NDMyMTAxMjM0NTY3OA.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
API_KEY = "sk-test-4f6a1e0b9c2d47e8a5b3c1d0e9f8a7b6"
ALICE = user("1001", "alice")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger writing JSON into a buffer, as `python -m bot` sets it up; restored afterwards."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    stream = io.StringIO()
    logs.setup(logging.DEBUG, "json", [TOKEN, API_KEY], stream=stream)
    yield stream
    root.handlers[:], root.level = before
    logging.captureWarnings(False)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_secrets_are_redacted_from_messages_arguments_exceptions_and_third_party_loggers(captured: io.StringIO):
    logging.getLogger("bot.client").info("connecting with %s", TOKEN)
    logging.getLogger("discord.http").debug("headers {'Authorization': 'Bot %s'}", TOKEN)
    logging.getLogger("httpx").debug("Authorization: Bearer %s", API_KEY)
    logging.getLogger("openai").debug("options: {'api_key': '%s'}", API_KEY)
    logging.getLogger("discord.webhook").debug("POST /api/v10/webhooks/123/aW50ZXJhY3Rpb246dG9rZW4 returned 200")
    other_token = "OTk5OTk5OTk5OTk5OTk5OTk5.YmFzZTY.0123456789abcdefghijklmnopqrstuvw"  # not configured
    try:
        raise RuntimeError(f"login failed for {TOKEN} and {other_token}")
    except RuntimeError:
        logging.getLogger("discord.client").exception("crash")
    out = captured.getvalue()
    assert TOKEN not in out and API_KEY not in out and other_token not in out
    assert "aW50ZXJhY3Rpb246dG9rZW4" not in out
    records = lines(captured)
    assert [r["level"] for r in records] == ["INFO", "DEBUG", "DEBUG", "DEBUG", "DEBUG", "ERROR"]
    assert records[0] == {**records[0], "logger": "bot.client", "message": "connecting with [redacted]"}
    assert "Bot [redacted]" in records[1]["message"] and "Bearer [redacted]" in records[2]["message"]
    assert "RuntimeError: login failed for [redacted]" in records[-1]["exception"]
    assert all(set(r) >= {"time", "level", "logger", "message"} for r in records)


def test_ordinary_text_is_left_alone(captured: io.StringIO):
    message = "Bot Byline connected as byline (1234) to 2 servers; max_tokens=400; the interaction token expired"
    logging.getLogger("bot").warning(message)
    assert lines(captured)[0]["message"] == message


def test_text_format_redacts_too():
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        logs.setup(logging.INFO, "text", [TOKEN], stream=stream)
        logging.getLogger("discord.gateway").info("identify %s", TOKEN)
    finally:
        root.handlers[:], root.level = before
        logging.captureWarnings(False)
    assert stream.getvalue().rstrip().endswith("INFO discord.gateway: identify [redacted]")


@pytest.mark.parametrize(("variable", "value"), [("BYLINE_LOG_LEVEL", "LOUD"), ("BYLINE_LOG_FORMAT", "xml")])
def test_a_bad_log_setting_is_one_sentence_and_exit_1(tmp_path: Path, variable: str, value: str):
    out = run_cli("list", data_dir=tmp_path / "data", env={variable: value})
    assert out.returncode == 1
    assert out.stderr.decode().strip().startswith(f"error: {variable} must be")


def test_one_shot_commands_log_at_the_level_asked_for(tmp_path: Path):
    quiet = run_cli("list", data_dir=tmp_path / "data", env={"BYLINE_LOG_FORMAT": "json"})
    assert quiet.returncode == 0 and quiet.stderr == b""  # WARNING by default: nothing to say
    chatty = run_cli("list", data_dir=tmp_path / "data", env={"BYLINE_LOG_FORMAT": "json", "BYLINE_LOG_LEVEL": "debug"})
    assert chatty.returncode == 0
    records = [json.loads(line) for line in chatty.stderr.decode().splitlines()]
    assert records and all(r["level"] in logs.LEVELS for r in records)


@pytest.mark.slow
def test_the_running_bot_at_debug_logs_json_lines_without_the_token_or_the_api_key(tmp_path: Path):
    """`python -m bot run` at DEBUG in JSON, connected to the loopback Discord, answering through an LLM that
    receives the API key: every stderr line is a JSON record with a level; neither secret is anywhere."""
    fake = FakeDiscord()
    fake.token = TOKEN
    guild, _ = fake.add_guild("Guild A")
    fake.start()
    data_dir = tmp_path / "data"
    added = run_cli("--collection", f"guild-{guild}", "add", str(SAMPLES), data_dir=data_dir)
    assert added.returncode == 0, added.stderr

    def answer(request: dict[str, Any]) -> str:
        prompt = next(m["content"] for m in request["messages"] if m["role"] == "user")
        number = next(line[1] for line in prompt.splitlines() if "Reznikov" in line)
        return f"Oleksii Reznikov is the defence minister [{number}]."

    with FakeOpenAI() as model:
        model.reply(Reply(answer))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "BYLINE_"))},
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_BASE": fake.api_base,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "BYLINE_DATA_DIR": str(data_dir),
            "BYLINE_LLM_BASE_URL": model.url,
            "BYLINE_LLM_MODEL": "m",
            "BYLINE_LLM_API_KEY": API_KEY,
            "BYLINE_LOG_LEVEL": "DEBUG",
            "BYLINE_LOG_FORMAT": "json",
            "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": str(REPO),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            fake.wait_ready(timeout=180)
            log = fake.slash("ask", guild_id=guild, who=ALICE, question="Who is Ukraine's defence minister?")
            fake.wait_result(log, timeout=120)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                _, stderr = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                _, stderr = process.communicate()
            fake.stop()
        sent_key = [r.headers.get("authorization") for r in model.requests]
    assert sent_key == [f"Bearer {API_KEY}"]  # the key really went through the process
    assert any(TOKEN in r.headers.get("Authorization", "") for r in fake.requests)  # and the token
    text = stderr.decode()
    assert TOKEN not in text and API_KEY not in text
    assert log.token not in text  # the interaction token (in webhook URLs) neither
    records = [json.loads(line) for line in text.splitlines()]
    assert len(records) > 20
    assert all(r["level"] in logs.LEVELS and r["logger"] and "time" in r for r in records)
    loggers = {r["logger"].split(".")[0] for r in records}
    assert {"discord", "bot"} <= loggers, loggers  # third parties' DEBUG logs are in, redacted
    assert any(name.startswith(("httpx", "openai")) for name in loggers), loggers  # the LLM client's too
    assert any(r["level"] == "DEBUG" for r in records) and any(r["level"] == "INFO" for r in records)
