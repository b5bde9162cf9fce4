"""Adding, updating, removing articles, and keeping collections (one per Discord guild) apart."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from index import Engine
from index.errors import NotFound
from tests.conftest import SAMPLES, assert_verbatim

BELARUS = (SAMPLES / "ukraine-belarus.txt").read_text(encoding="utf-8")
WEBB = (SAMPLES / "james-webb-space-telescope-launch.txt").read_text(encoding="utf-8")


def faiss_ids(engine: Engine, collection: str) -> set[int]:
    state = engine.search_index(collection)
    return set(faiss.vector_to_array(state.vectors.index.id_map).tolist())


def bm25_ids(engine: Engine, collection: str) -> set[int]:
    return set(engine.search_index(collection).lexical.ids.tolist())


def chunk_ids(engine: Engine, article_id: int) -> set[int]:
    return {chunk.id for chunk, _ in engine.store.article_chunks(article_id)}


def test_re_adding_the_same_article_is_a_duplicate(engine: Engine):
    first = engine.add_text("default", BELARUS)
    again = engine.add_text("default", BELARUS)
    rewrapped = engine.add_text("default", "\n\n".join(BELARUS.split("\n")))  # same words, other line breaks
    assert first.status == "added"
    assert again.status == "duplicate" and again.id == first.id
    assert rewrapped.status == "duplicate"
    assert len(engine.list_articles("default")) == 1


def test_an_updated_url_replaces_the_old_chunks(engine: Engine):
    url = "https://news.example.org/belarus"
    first = engine.add_text("default", BELARUS, url=url)
    old_chunks = chunk_ids(engine, first.id)
    assert old_chunks <= faiss_ids(engine, "default")
    changed = BELARUS.replace("Oleksii Reznikov", "Rustem Umerov")
    second = engine.add_text("default", changed, url=url)
    assert second.status == "updated" and second.id == first.id
    new_chunks = chunk_ids(engine, first.id)
    assert not old_chunks & new_chunks
    assert faiss_ids(engine, "default") == new_chunks
    assert bm25_ids(engine, "default") == new_chunks
    answer = engine.ask("default", "Who is Ukraine's defence minister?")
    assert any("Rustem Umerov" in q.text for q in answer.quotes)
    assert not any("Oleksii Reznikov" in q.text for q in answer.quotes)
    assert_verbatim(engine, "default", answer.quotes)
    assert [a.id for a in engine.list_articles("default")] == [first.id]


def test_remove_really_removes_rows_vectors_and_lexical_entries(engine: Engine):
    kept = engine.add_text("default", WEBB)
    gone = engine.add_text("default", BELARUS)
    gone_chunks = chunk_ids(engine, gone.id)
    assert gone_chunks <= faiss_ids(engine, "default")
    engine.remove("default", gone.id)
    assert engine.store.article_chunks(gone.id) == []
    assert engine.store.sentences(gone.id) == []
    assert not gone_chunks & faiss_ids(engine, "default")
    assert not gone_chunks & bm25_ids(engine, "default")
    assert faiss_ids(engine, "default") == chunk_ids(engine, kept.id)
    answer = engine.ask("default", "Who is Ukraine's defence minister?")
    assert all(q.article_id == kept.id for q in answer.quotes)
    with pytest.raises(NotFound):
        engine.remove("default", gone.id)
    # A new process (fresh engine on the same files) agrees.
    reopened = Engine(engine.settings, engine.embedder)
    assert not gone_chunks & faiss_ids(reopened, "default")
    assert not gone_chunks & bm25_ids(reopened, "default")


def test_collections_are_isolated(engine: Engine):
    a = engine.add_text("guild-a", BELARUS)
    b = engine.add_text("guild-b", WEBB)
    # The same text may live in two guilds: each has its own copy.
    assert engine.add_text("guild-b", BELARUS).status == "added"
    engine.remove("guild-b", engine.list_articles("guild-b")[-1].id)

    answer = engine.ask("guild-b", "Who is Ukraine's defence minister?")
    assert all(q.article_id == b.id for q in answer.quotes)
    assert all(r.article_id == b.id for r in answer.related)
    assert [x.id for x in engine.list_articles("guild-b")] == [b.id]
    with pytest.raises(NotFound):
        engine.summarize("guild-b", a.id)
    with pytest.raises(NotFound):
        engine.remove("guild-b", a.id)
    with pytest.raises(NotFound):
        engine.article_text("guild-b", a.id)
    assert [x.id for x in engine.list_articles("guild-a")] == [a.id]
    assert not faiss_ids(engine, "guild-a") & faiss_ids(engine, "guild-b")


def test_faiss_search_agrees_with_brute_force(engine: Engine):
    engine.add_documents("default", engine.documents(str(SAMPLES), []))
    ids, matrix = engine.store.chunk_vectors("default")
    state = engine.search_index("default")
    for question in ["rocket launch", "seed vault temperature", "Olympic medals"]:
        query = engine.embedder.encode([question])[0]
        found_ids, found_scores = state.vectors.search(query, 5)
        oracle = np.argsort(-(matrix @ query))[:5]
        assert found_ids.tolist() == ids[oracle].tolist()
        np.testing.assert_allclose(found_scores, (matrix @ query)[oracle], rtol=1e-5)


def test_a_process_holds_at_most_cache_collections_indexes_least_recently_asked_first_out(make_engine):
    engine = make_engine(cache_collections=2)
    for name, text in (("one", BELARUS), ("two", WEBB), ("three", BELARUS)):
        engine.add_text(name, text)
    question = "Who is Ukraine's defence minister?"
    first = engine.ask("one", question)
    engine.ask("two", "When did the James Webb telescope launch?")
    engine.ask("one", question)  # "one" is now the most recently asked
    engine.ask("three", question)  # a third collection: "two" goes
    assert engine.indexes.held() == ["one", "three"]
    assert engine.indexes.counts.evictions >= 1
    rebuilds = engine.indexes.counts.rebuilds
    loads = engine.indexes.counts.loads
    again = engine.ask("two", "When did the James Webb telescope launch?")
    # Coming back costs a read of its cache files, not a rebuild from the store, and answers the same.
    assert engine.indexes.counts.loads == loads + 1 and engine.indexes.counts.rebuilds == rebuilds
    assert engine.indexes.held() == ["three", "two"]
    assert again.quotes and "Webb" in again.quotes[0].title + again.quotes[0].text
    assert [q.text for q in engine.ask("one", question).quotes] == [q.text for q in first.quotes]
