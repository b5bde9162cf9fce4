"""No payload the bot sends can ping anyone, whatever a language model writes: @everyone, @here, a role or a
user mention in an LLM answer or summary survives verification (it cites real quotes) and is shown, but
defused twice: every payload carries allowed_mentions with nothing to parse, and the model's wording has a
zero-width space after each @. Quotes stay verbatim."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Reply
from test_discord import ALICE, _sends_text, assert_no_ping, discord_world, only, unescape

from bot import embeds
from index import Engine
from index.inference.embedding import Embedder

pytestmark = pytest.mark.usefixtures("loopback_only")

ARTICLE = (
    "Lighthouse lamp room reopens after repainting\n\n"
    "The Northgate lighthouse reopened its lamp room on Friday after a month of repainting. "
    "Visitors can again climb the 123 steps to the gallery, which holds 456 people a day in summer. "
    "The keeper said the new paint should last for a decade."
)
PINGS = ("@everyone", "@here", "<@&123>", "<@456>")


def _numbered(request: dict[str, Any], needle: str) -> str:
    prompt = next(m["content"] for m in request["messages"] if m["role"] == "user")
    return next(n for n, text in re.findall(r"^\[(\d+)\] (.*)$", prompt, re.M) if needle in text)


def answer_with_pings(request: dict[str, Any]) -> str:
    n = _numbered(request, "123 steps")
    # Every number in it (123, 456, the ids in the mentions) is in the cited quote, so it passes verification.
    return f"Hey @everyone and @here: <@&123> <@456> visitors can climb 123 steps and 456 fit in the gallery [{n}]."


def summary_with_pings(request: dict[str, Any]) -> str:
    n = _numbered(request, "123 steps")
    return f"@everyone @here <@&123> <@456>: the 123 steps are open again [{n}]."


def test_llm_text_with_mentions_is_shown_defused_and_no_payload_can_ping(
    engine: Engine, tmp_path: Path, embedder: Embedder
):
    with FakeOpenAI() as model:
        model.reply(Reply(answer_with_pings), Reply(summary_with_pings))
        settings = replace(engine.settings, data_dir=tmp_path / "llm", llm_base_url=model.url, llm_model="m")
        llm_engine = Engine(settings, embedder)
        with discord_world(llm_engine) as (fake, _, guild, _):
            collection = f"guild-{guild}"
            added = llm_engine.add_text(collection, ARTICLE)
            log = fake.slash(
                "ask",
                guild_id=guild,
                who=ALICE,
                question="How many steps do visitors climb to the Northgate lighthouse gallery?",
            )
            embed = only(only(fake.wait_result(log))["embeds"])
            summarised = fake.slash("summary", guild_id=guild, who=ALICE, article=str(added.id), sentences=2)
            summary = only(only(fake.wait_result(summarised))["embeds"])
            sent = [r for r in fake.requests if _sends_text(r)]
        article_text = llm_engine.article_text(collection, added.id)
        logged = [json.loads(row.answer_json) for row in llm_engine.store.answers(collection)]
        llm_engine.close()

    # what survives verification: the model's sentence, mentions and all, citing the real quote
    lead = unescape(embed["description"]).split("\n\n")[0]
    assert lead.startswith("Hey @\u200beveryone and @\u200bhere: <@\u200b&123> <@\u200b456> visitors can climb")
    assert "worded by a language model" in embed["footer"]["text"]
    assert unescape(summary["description"]).startswith("@\u200beveryone @\u200bhere <@\u200b&123> <@\u200b456>:")
    # the quotes under them are still verbatim
    quotes = re.findall(r"^> (.*) \[\d+\]$", embed["description"], re.M)
    assert quotes and all(unescape(q) in article_text for q in quotes)
    # no live mention anywhere, and every payload tells Discord to parse none
    everything = json.dumps([r.body for r in sent], ensure_ascii=False)
    for ping in PINGS:
        assert ping not in everything, ping
    assert sent
    for recorded in sent:
        body = recorded.body.get("data", recorded.body) if "/callback" in recorded.path else recorded.body
        assert_no_ping(body.get("allowed_mentions"))
    # only the display is defused: the engine's answer (what --json and the answer log hold) is the verified text
    assert only(logged)["answer"].startswith("Hey @everyone and @here: <@&123> <@456> visitors can climb")


def test_no_pings_defuses_mentions_and_leaves_other_at_signs():
    text = "@everyone @here <@123456789012345678> <@!42> <@&99> mail me at news@example.org @ noon"
    defused = embeds.no_pings(text)
    assert defused == (
        "@\u200beveryone @\u200bhere <@\u200b123456789012345678> <@\u200b!42> <@\u200b&99> "
        "mail me at news@example.org @ noon"
    )


@pytest.fixture
def engine(embedder: Embedder, tmp_path: Path) -> Engine:
    from index import EngineSettings

    return Engine(EngineSettings(data_dir=tmp_path / "base"), embedder)
