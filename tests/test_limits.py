"""The articles-per-collection limit (BYLINE_MAX_ARTICLES): one clear sentence, nothing stored, per server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run_cli
from test_discord import EPHEMERAL, add_article, discord_world, only, text_of
from test_inputs import assert_one_clear_sentence, stored_rows

from index import Engine
from index.errors import InvalidInput

pytestmark = pytest.mark.usefixtures("loopback_only")


def story(n: int) -> str:
    return (
        f"Ferry timetable change number {n}\n\nThe harbour ferry will run {n} extra crossings each weekday from "
        f"June, the operator said on Monday. Commuters had asked for later sailings for {n + 2} years."
    )


LIMIT_SENTENCE = "This collection already holds 2 articles, the limit; remove some first."


def test_a_collection_at_its_limit_refuses_new_articles_and_stores_nothing(make_engine: Callable[..., Engine]):
    engine = make_engine(max_articles_per_collection=2)
    engine.add_text("default", story(1), url="https://news.example/1")
    engine.add_text("default", story(2))
    before = stored_rows(engine)

    with pytest.raises(InvalidInput) as refused:
        engine.add_text("default", story(3))

    assert str(refused.value) == LIMIT_SENTENCE
    assert_one_clear_sentence(refused.value)
    assert stored_rows(engine) == before
    # still allowed at the limit: a duplicate, a new version of an article already there, another collection
    assert engine.add_text("default", story(2)).status == "duplicate"
    assert engine.add_text("default", story(4), url="https://news.example/1").status == "updated"
    assert engine.add_text("other", story(3)).status == "added"
    engine.remove("default", engine.list_articles("default")[0].id)
    assert engine.add_text("default", story(3)).status == "added"  # room again


def test_the_cli_reports_the_limit_with_exit_1(tmp_path: Path):
    data_dir = tmp_path / "data"
    env = {"BYLINE_MAX_ARTICLES": "2"}
    for n in (1, 2):
        assert run_cli("add", "-", data_dir=data_dir, stdin=story(n).encode(), env=env).returncode == 0
    third = run_cli("add", "-", data_dir=data_dir, stdin=story(3).encode(), env=env)
    assert third.returncode == 1 and third.stdout == b""
    assert third.stderr.decode().strip() == f"error: stdin: {LIMIT_SENTENCE}"


def test_a_moderator_at_the_limit_gets_the_sentence_on_discord(make_engine: Callable[..., Engine]):
    engine = make_engine(max_articles_per_collection=2)
    with discord_world(engine) as (fake, _, guild, other_guild):
        for n in (1, 2):
            added = add_article(fake, guild, text=story(n), title=f"Ferry change {n}")
            assert only(fake.wait_result(added))["content"].startswith("Added")
        refused = add_article(fake, guild, text=story(3), title="Ferry change 3")
        message = only(fake.wait_result(refused))
        assert message["flags"] & EPHEMERAL and text_of(message).strip() == LIMIT_SENTENCE
        assert engine.article_count(f"guild-{guild}") == 2
        elsewhere = add_article(fake, other_guild, text=story(3), title="Ferry change 3")
        assert only(fake.wait_result(elsewhere))["content"].startswith("Added")  # the limit is per server
