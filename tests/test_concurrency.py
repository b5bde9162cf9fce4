"""The Discord face calls the engine from many threads: asks run while articles are added and removed, on
either backend."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import pytest

from index import Engine
from index.errors import NotFound
from tests.conftest import SAMPLES, assert_verbatim


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, make_engine: Callable[..., Engine]) -> Engine:
    if request.param == "postgresql":
        return make_engine(database_url=request.getfixturevalue("postgres_url"))
    return make_engine()


def test_asks_in_threads_while_articles_are_added_and_removed(engine: Engine):
    docs = engine.documents(str(SAMPLES), [])
    engine.add_documents("default", docs[:2])
    failures: list[BaseException] = []
    answers = []
    stop = threading.Event()
    removing: set[int] = set()

    def asker(question: str) -> None:
        try:
            while not stop.is_set():
                answer = engine.ask("default", question)
                answers.append(answer)
                # Readers never see half an article: every quote resolves to stored text (unless the
                # article was removed after the answer was given).
                for quote in answer.quotes:
                    try:
                        assert_verbatim(engine, "default", [quote])
                    except NotFound:
                        assert quote.article_id in removing
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=asker, args=(q,))
        for q in ["who is Ukraine's defence minister?", "When did DART hit Dimorphos?", "Tokyo medal table"]
    ]
    for thread in threads:
        thread.start()
    try:
        for doc in docs[2:]:
            engine.add_document("default", doc)
        removed = engine.list_articles("default")[0]
        removing.add(removed.id)
        engine.remove("default", removed.id)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert not failures, failures
    assert answers
    final = engine.ask("default", "who is Ukraine's defence minister?")
    assert any("Reznikov" in q.text for q in final.quotes)
    assert all(q.article_id != removed.id for q in final.quotes)


def test_two_threads_adding_the_same_article_store_it_once(engine: Engine):
    doc = engine.documents(str(SAMPLES / "ukraine-belarus.txt"), [])[0]
    results = []
    threads = [threading.Thread(target=lambda: results.append(engine.add_document("default", doc))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status for r in results) == ["added", "duplicate", "duplicate"]
    assert len(engine.list_articles("default")) == 1


def test_two_processes_saving_one_article_at_the_same_moment_store_it_once(engine: Engine, make_engine):
    """Two engines on one store stand for two processes (each has its own in-process lock): both pass the
    early duplicate check, both embed, and meet in save_article at once. The store decides, inside its
    write transaction: one adds, the other learns it is a duplicate (or, for the same URL, an update)."""
    settings = engine.settings
    other = make_engine(settings.data_dir.parent / "other", database_url=settings.database_url)
    if not settings.database_url:  # SQLite: the other process opens the same file
        other.close()
        other = make_engine(settings.data_dir)
    at_once = threading.Barrier(2, timeout=30)
    for each in (engine, other):
        real = each.store.save_article
        each.store.save_article = lambda *a, real=real, **k: (at_once.wait(), real(*a, **k))[1]
    text = (SAMPLES / "ukraine-belarus.txt").read_text(encoding="utf-8")
    edited = text.replace("Ukraine", "Ukraine's", 1)
    for url, second_text, expected in (
        (None, text, ["added", "duplicate"]),  # the same text twice
        ("https://example.org/x", edited, ["added", "updated"]),  # the same URL, edited: the second replaces
    ):
        collection = f"race-{expected[1]}"
        adds = [functools.partial(engine.add_text, collection, text, url=url)]
        adds.append(functools.partial(other.add_text, collection, second_text, url=url))
        results = race(adds)
        assert sorted(r.status for r in results) == expected
        assert len({r.id for r in results}) == 1
        assert engine.article_count(collection) == 1 == other.article_count(collection)
        answer = other.ask(collection, "who is ukraine's defence minister?")
        assert answer.quotes
        assert_verbatim(other, collection, answer.quotes)


def race(calls: list[Callable[[], object]]) -> list:
    """Run the calls in threads at once; their results, or the first exception one of them raised."""
    results, failures = [], []

    def run(call: Callable[[], object]) -> None:
        try:
            results.append(call())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if failures:
        raise failures[0]
    return results
