"""The Discord face calls the engine from many threads: asks run while articles are added and removed, on
either backend."""

from __future__ import annotations

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
