"""Byline on PostgreSQL (BYLINE_DATABASE_URL): the same answers as on SQLite, and several processes on one
database, each with its own search caches, seeing each other's writes on their next question."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SAMPLES, assert_verbatim, run_cli

from index import Engine
from index.errors import InvalidInput
from index.storage import open_store

QUESTION = "How tall are the towers of the Queensferry Crossing?"
LIGHTHOUSE = "Harbour pilots in Port Ellery reported that the new lighthouse lens was lit on Tuesday evening.\n" * 3


@pytest.fixture
def on_postgres(make_engine: Callable[..., Engine], postgres_url: str, tmp_path: Path) -> Engine:
    engine = make_engine(tmp_path / "cache-a", database_url=postgres_url)
    errors: list = []
    engine.add_documents("default", engine.documents(str(SAMPLES), errors), errors=errors)
    assert not errors
    return engine


def test_answers_on_postgresql_are_the_answers_on_sqlite(on_postgres: Engine, make_engine, tmp_path: Path):
    on_sqlite = make_engine(tmp_path / "sqlite")
    on_sqlite.add_documents("default", on_sqlite.documents(str(SAMPLES), []))
    for question in (QUESTION, "who is Ukraine's defence minister?", "What is the capital of Peru?"):
        pg, lite = on_postgres.ask("default", question), on_sqlite.ask("default", question)
        assert pg.answer == lite.answer
        assert [q.text for q in pg.quotes] == [q.text for q in lite.quotes]
        assert pg.abstained == lite.abstained
        assert_verbatim(on_postgres, "default", pg.quotes)
    assert [a.title for a in on_postgres.list_articles("default")] == [
        a.title for a in on_sqlite.list_articles("default")
    ]


def test_a_second_process_answers_from_the_same_database_without_re_embedding(
    on_postgres: Engine, make_engine, postgres_url: str, tmp_path: Path
):
    other = make_engine(tmp_path / "cache-b", database_url=postgres_url)
    calls: list[int] = []
    real = other.embedder.encode
    other.embedder.encode = lambda texts, *a, **k: calls.append(len(texts)) or real(texts, *a, **k)
    answer = other.ask("default", QUESTION)
    assert any("207 metres" in q.text for q in answer.quotes)
    assert calls == [1]  # the question alone: every vector came from the database


def test_an_article_added_or_removed_by_another_process_is_seen_on_the_next_question(
    on_postgres: Engine, postgres_url: str, tmp_path: Path
):
    engine = on_postgres
    assert engine.ask("default", "When was the lighthouse lens lit in Port Ellery?").abstained
    # a third process: the CLI, with its own data dir (its caches) and the same database
    env = {"BYLINE_DATABASE_URL": postgres_url}
    added = run_cli(
        "--json", "add", "-", "--title", "Lighthouse lit", data_dir=tmp_path / "cli", stdin=LIGHTHOUSE.encode(), env=env
    )
    assert added.returncode == 0, added.stderr
    article_id = json.loads(added.stdout)[0]["id"]
    answer = engine.ask("default", "When was the lighthouse lens lit in Port Ellery?")
    assert not answer.abstained
    assert "lighthouse lens was lit" in answer.quotes[0].text
    removed = run_cli("--json", "remove", str(article_id), data_dir=tmp_path / "cli", env=env)
    assert removed.returncode == 0, removed.stderr
    assert engine.ask("default", "When was the lighthouse lens lit in Port Ellery?").abstained
    listed = run_cli("--json", "list", data_dir=tmp_path / "cli", env=env)
    assert [a["id"] for a in json.loads(listed.stdout)] == [a.id for a in engine.list_articles("default")]


def test_the_consistency_check_finds_a_postgresql_store_sound(on_postgres: Engine):
    report = on_postgres.check()
    assert report.consistent, report.to_json()
    assert report.collections["default"].articles == len(on_postgres.list_articles("default"))


def test_an_unreachable_database_is_one_clear_sentence(tmp_path: Path):
    # a Unix socket folder with no server in it: nothing is sent anywhere
    with pytest.raises(InvalidInput, match="Cannot reach the PostgreSQL database"):
        open_store(f"postgresql://postgres@/byline?host={tmp_path}")


def test_an_ingest_killed_mid_way_leaves_each_article_whole_or_absent(
    make_engine: Callable[..., Engine], postgres_url: str, tmp_path: Path
):
    from test_crash import kill_when, start, synthetic

    folder = tmp_path / "articles"
    folder.mkdir()
    articles = [synthetic(n) for n in range(24)]
    for article in articles:
        (folder / f"article-{article.number:03d}.txt").write_text(article.text, encoding="utf-8")
    watcher = make_engine(tmp_path / "watcher", database_url=postgres_url)
    env = {"BYLINE_DATABASE_URL": postgres_url}
    child = start([sys.executable, "-m", "bot", "--json", "add", str(folder)], tmp_path / "child", env)
    killed = kill_when(child, lambda: watcher.article_count("default") >= 3, extra_delay=0.05)
    assert killed, "the ingest finished before it could be killed"
    stored = watcher.list_articles("default")
    assert 3 <= len(stored) < len(articles)
    by_title = {a.title: a for a in articles}
    for row in stored:  # whole: its text to the last word, its sentences and chunks
        assert row.chunks > 0
        assert by_title[row.title].mayor in watcher.article_text("default", row.id)
    report = watcher.check()
    assert report.consistent, report.to_json()
    # run again: the rest is added, nothing twice
    again = run_cli("--json", "add", str(folder), data_dir=tmp_path / "child", env=env)
    assert again.returncode == 0, again.stderr
    statuses = sorted({r["status"] for r in json.loads(again.stdout)})
    assert statuses == ["added", "duplicate"]
    assert len(watcher.list_articles("default")) == len(articles)


def test_migrate_copies_a_sqlite_data_dir_without_re_embedding_and_can_resume(
    make_engine: Callable[..., Engine], postgres_url: str, tmp_path: Path
):
    from index.storage import sqlite_url
    from index.upkeep.migrate import copy_store

    data_dir = tmp_path / "laptop"
    old = make_engine(data_dir)
    old.add_documents("default", old.documents(str(SAMPLES), []))
    old.add_text("other", LIGHTHOUSE, title="Lighthouse lit")
    answer = old.ask("default", QUESTION)
    answer_id = old.feedback.log_answer("default", answer, asked_by="42")
    old.feedback.record(answer_id, "default", "43", "up")
    old.schedules.set("default", "channel:1", weekday=0, minute_of_day=540, days=7, now=datetime.now(UTC))
    followed, _ = old.store.subscribe("https://news.example/rss", "Example", "default", "5", True, "2026-12-01", 10)
    expected = {a.id: a.title for a in old.list_articles("default")}
    old.close()

    # an interrupted run: stopped after two articles, each of them whole
    class Stop(Exception):
        pass

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise Stop

    source, target = open_store(sqlite_url(data_dir / "byline.sqlite3")), open_store(postgres_url)
    with pytest.raises(Stop):
        copy_store(source, target, stop_after_two)
    assert target.table_count("articles") == 2
    source.close()
    target.close()

    migrated = run_cli("--json", "migrate", "--to", postgres_url, data_dir=data_dir)
    assert migrated.returncode == 0, migrated.stderr
    report = json.loads(migrated.stdout)
    assert report["complete"] and report["check"]["consistent"], report
    assert report["skipped_articles"] == 2
    assert report["copied"]["articles"] == len(expected) + 1 - 2
    assert report["copied"]["answers"] == 1 and report["copied"]["feedback"] == 1
    assert report["target"] == report["source"]
    again = json.loads(run_cli("--json", "migrate", "--to", postgres_url, data_dir=data_dir).stdout)
    assert sum(again["copied"].values()) == 0 and again["skipped_articles"] == len(expected) + 1

    on_pg = make_engine(tmp_path / "server", database_url=postgres_url)
    calls: list[int] = []
    real = on_pg.embedder.encode
    on_pg.embedder.encode = lambda texts, *a, **k: calls.append(len(texts)) or real(texts, *a, **k)
    assert {a.id: a.title for a in on_pg.list_articles("default")} == expected  # same ids
    moved = on_pg.ask("default", QUESTION)
    assert [q.text for q in moved.quotes] == [q.text for q in answer.quotes]
    assert calls == [1]  # the question only: no vector was made again
    assert on_pg.feedback.answer(answer_id, "default").question == QUESTION  # buttons keep working
    assert on_pg.schedules.get("default") is not None
    assert [(f.id, f.url, f.channel, f.announce) for f in on_pg.feeds.list("default")] == [
        (followed.id, "https://news.example/rss", "5", True)
    ]
    later, _ = on_pg.store.subscribe("https://other.example/rss", "Other", "default", None, False, "2026-12-02", 10)
    assert later.id > followed.id  # feed ids follow the copied ones too
    on_pg.embedder.encode = real
    new = on_pg.add_text("default", "The ferry timetable changes on Monday for the winter season.\n" * 3)
    assert new.id > max(expected) + 1  # new ids follow the copied ones


def test_writers_of_one_collection_queue_while_another_collections_writer_goes_on(postgres_url: str):
    """Two stores on one database, as two processes: a writer holding collection "a" makes a second writer
    of "a" wait, lets a writer of "b" commit, and a store-wide writer waits for both collections."""
    import threading

    from index.storage.database import EVERYTHING
    from index.storage.postgresql.database import PostgresDatabase

    first, second = PostgresDatabase(postgres_url, pool_size=4), PostgresDatabase(postgres_url, pool_size=4)
    holding, release = threading.Event(), threading.Event()
    finished: dict[str, float] = {}
    clock = __import__("time").monotonic

    def hold_a() -> None:
        with first.write("a"):
            holding.set()
            release.wait(10)
        finished["holder"] = clock()

    def write(database: PostgresDatabase, scope: str | None, name: str) -> None:
        with database.write(scope):
            pass
        finished[name] = clock()

    holder = threading.Thread(target=hold_a)
    holder.start()
    assert holding.wait(10)
    others = [
        threading.Thread(target=write, args=(second, "a", "same collection")),
        threading.Thread(target=write, args=(second, "b", "other collection")),
        threading.Thread(target=write, args=(second, EVERYTHING, "everything")),
    ]
    for thread in others:
        thread.start()
    others[1].join(10)
    assert "other collection" in finished  # "b" went on while "a" was held
    others[0].join(0.5)
    others[2].join(0.5)
    assert "same collection" not in finished and "everything" not in finished  # both still queued
    release.set()
    for thread in [holder, *others]:
        thread.join(10)
    assert finished["same collection"] >= finished["holder"] - 0.05
    assert finished["everything"] >= finished["holder"] - 0.05
    first.close()
    second.close()
