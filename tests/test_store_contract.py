"""The store contract: what every storage backend must do, role by role (index/storage/roles.py).

Parametrised over backends: SQLite (a file in the test's folder) and PostgreSQL (a fresh database on the
tests' own server, tests/conftest.py). No model is needed: vectors are seeded random unit vectors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from index.errors import InvalidInput
from index.storage import NewArticle, ScheduleRow, Store, open_store, sqlite_url

DIM = 8
BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "sqlite": lambda request, tmp: sqlite_url(tmp / "byline.sqlite3"),
    "postgresql": lambda request, tmp: request.getfixturevalue("postgres_url"),
}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(BACKENDS[request.param](request, tmp_path))
    yield opened
    opened.close()


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    matrix = rng.standard_normal((n, DIM)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def article(seed: int, *, url: str | None = None, sentences: int = 4) -> NewArticle:
    rng = np.random.default_rng(seed)
    words = [f"Sentence {i} of article {seed}." for i in range(sentences)]
    text = " ".join(words)
    spans, at = [], 0
    for w in words:
        spans.append((at, at + len(w), True))
        at += len(w) + 1
    chunks = [(i, min(i + 1, sentences - 1)) for i in range(0, sentences, 2)]
    return NewArticle(
        title=f"Article {seed}",
        url=url,
        published="2024-03-0" + str(1 + seed % 9),
        text=text,
        content_hash=f"hash-{seed}",
        body_end=len(text),
        source=f"test {seed}",
        sentences=spans,
        sentence_vectors=unit(rng, sentences),
        chunks=chunks,
        chunk_vectors=unit(rng, len(chunks)),
    )


def save(store: Store, collection: str, new: NewArticle, replace_id: int | None = None) -> tuple[int, list, list]:
    saved = store.save_article(collection, new, model="test-model", dimension=DIM, replace_id=replace_id)
    return saved.id, saved.removed, saved.added


def test_an_article_is_written_whole_with_vectors_that_round_trip_bit_exact(store: Store):
    new = article(1)
    article_id, removed, added = save(store, "c", new)
    assert removed == [] and len(added) == len(new.chunks)
    row = store.article("c", article_id)
    assert (row.title, row.url, row.text, row.chunks) == (new.title, None, new.text, len(new.chunks))
    assert store.find_by_hash("c", new.content_hash).id == article_id
    sentences = store.sentences(article_id)
    assert [(s, e, q) for _, s, e, q, _ in sentences] == list(new.sentences)
    assert np.array_equal(np.vstack([v for *_, v in sentences]), new.sentence_vectors)  # bit-exact
    ids, matrix = store.chunk_vectors("c")
    assert ids.tolist() == added and np.array_equal(matrix, new.chunk_vectors)
    chunks = store.article_chunks(article_id)
    assert [(c.first_sentence, c.last_sentence) for c, _ in chunks] == list(new.chunks)
    assert np.array_equal(np.vstack([v for _, v in chunks]), new.chunk_vectors)
    spans = store.chunk_spans(added)
    assert all(text == new.text[c.start : c.end] for c, text in spans.values())
    assert dict(store.chunk_texts("c")) == {cid: text for cid, (_, text) in spans.items()}
    texts = store.sentence_texts([(article_id, 0), (article_id, 3), (article_id, 99)])
    assert texts == {(article_id, 0): "Sentence 0 of article 1.", (article_id, 3): "Sentence 3 of article 1."}
    assert store.meta("model") == "test-model" and store.meta("dimension") == str(DIM)


def test_replacing_an_article_keeps_its_id_and_swaps_its_chunks_in_one_write(store: Store):
    first_id, _, first_chunks = save(store, "c", article(1, url="https://example.org/a"))
    found = store.find_by_url("c", "https://example.org/a")
    assert found is not None and found.id == first_id
    new_id, removed, added = save(store, "c", article(2, url="https://example.org/a", sentences=6), replace_id=first_id)
    assert new_id == first_id and removed == first_chunks and not set(added) & set(first_chunks)
    assert store.chunk_ids("c").tolist() == added
    assert len(store.sentences(first_id)) == 6 and store.article_count("c") == 1


def test_the_store_itself_refuses_a_duplicate_and_updates_the_article_of_the_same_url(store: Store):
    # Checked inside the write transaction: what two processes racing to save one article rely on.
    first = store.save_article("c", article(1, url="https://example.org/a"), model="m", dimension=DIM)
    revision = store.revision("c")
    again = store.save_article("c", article(1, url="https://example.org/a"), model="m", dimension=DIM)
    assert (again.id, again.status, again.removed, again.added) == (first.id, "duplicate", [], [])
    assert store.revision("c") == revision and store.article_count("c") == 1
    elsewhere = store.save_article("other", article(1), model="m", dimension=DIM)  # another collection may
    assert elsewhere.status == "added" and elsewhere.id != first.id
    edited = store.save_article("c", article(2, url="https://example.org/a"), model="m", dimension=DIM)
    assert (edited.id, edited.status, edited.removed) == (first.id, "updated", first.added)
    assert store.article_count("c") == 1 and store.article("c", first.id).title == "Article 2"


def test_a_failed_write_leaves_nothing_and_no_new_revision(store: Store):
    save(store, "c", article(1))
    revision = store.revision("c")
    broken = article(2)
    broken = NewArticle(**{**broken.__dict__, "chunk_vectors": broken.chunk_vectors[:1]})  # one vector short
    with pytest.raises(ValueError):
        save(store, "c", broken)
    assert store.article_count("c") == 1 and store.find_by_hash("c", broken.content_hash) is None
    assert store.revision("c") == revision
    assert store.layout_counts("c") == (1, 4, 2)  # no half-written sentences or chunks either


def test_every_write_bumps_its_collections_revision_only(store: Store):
    assert store.revision("c") == 0
    article_id, _, _ = save(store, "c", article(1))
    save(store, "other", article(2))
    assert store.revision("c") == 1
    removed = store.delete_article("c", article_id)
    assert removed and store.revision("c") == 2 and store.revision("other") == 1
    assert store.delete_article("c", article_id) is None and store.revision("c") == 2  # nothing to delete
    assert store.article_chunks(article_id) == [] and store.sentences(article_id) == []


def test_a_snapshot_sees_one_committed_state_while_another_thread_writes(store: Store):
    save(store, "c", article(1))
    seen: list[int] = []
    with store.snapshot():
        seen.append(store.article_count("c"))
        writer = threading.Thread(target=save, args=(store, "c", article(2)))
        writer.start()
        writer.join(timeout=30)
        seen.append(store.article_count("c"))
    seen.append(store.article_count("c"))
    assert seen == [1, 1, 2]


def test_articles_are_listed_found_and_dated(store: Store):
    ids = [save(store, "c", article(n))[0] for n in (1, 2, 3)]
    assert [a.id for a in store.articles("c")] == ids
    assert [t[0] for t in store.find_titles("c", "article 2", 10)] == [ids[1]]
    assert store.article_days(ids) == {i: f"2024-03-0{n + 1}" for i, n in zip(ids, (1, 2, 3), strict=True)}
    between = store.chunk_ids_between("c", "2024-03-03", "2024-03-04")
    assert set(between.tolist()) == {c.id for i in ids[1:] for c, _ in store.article_chunks(i)}
    assert store.latest_year_of_month("c", 3, "2030-01-01") == 2024
    assert set(store.article_vectors(ids)) == set(ids)
    owners, vectors = store.chunk_vectors_of(ids[1:])
    chunks = [(i, c, v) for i in ids[1:] for c, v in store.article_chunks(i)]
    assert owners.tolist() == [i for i, _, _ in chunks]
    assert np.array_equal(vectors, np.vstack([v for _, _, v in chunks]))  # bit-exact, in chunk order
    assert store.chunk_vectors_of([])[0].size == 0
    assert store.collections() == ["c"]


def test_vector_repairs_and_a_model_swap_are_one_write_each(store: Store):
    article_id, _, chunk_ids = save(store, "c", article(1))
    fresh = unit(np.random.default_rng(9), 2)
    store.update_vectors("c", [(chunk_ids[0], fresh[0])], [(article_id, 0, fresh[1])])
    assert np.array_equal(store.article_chunks(article_id)[0][1], fresh[0])
    assert np.array_equal(store.sentences(article_id)[0][4], fresh[1])
    assert store.bad_vectors("c", DIM) == ([], [])
    chunks, sentences = store.all_texts()
    store.replace_vectors(
        [(cid, fresh[0]) for cid, _ in chunks],
        [(a, i, fresh[1]) for a, i, _ in sentences],
        model="other",
        dimension=DIM,
    )
    assert store.meta("model") == "other"
    assert all(np.array_equal(v, fresh[0]) for _, v in store.article_chunks(article_id))


def test_the_answer_log_and_votes(store: Store):
    first = store.insert_answer("c", "who?", '{"answer": "x"}', "alice")
    second = store.insert_answer("other", "what?", '{"answer": "y"}', "bob")
    store.attach_message(first, "m1")
    assert store.answer_by_message("m1").id == first and store.answer_by_message("m2") is None
    assert store.answer_by_id(second).collection == "other"
    assert [a.id for a in store.answers("c")] == [first]
    store.put_vote(first, "bob", 1)
    store.put_vote(first, "bob", -1)  # voting again replaces the vote
    store.put_vote(second, "alice", 1)
    assert [(v.answer_id, v.user_id, v.vote) for v in store.votes("c")] == [(first, "bob", -1)]
    assert len(store.votes()) == 2
    assert store.delete_user("alice") == 2  # her vote and the question she asked
    assert store.answer_by_id(first) is None and [v.user_id for v in store.votes()] == []


def test_schedules_and_a_period_claimed_once(store: Store):
    row = ScheduleRow("c", "123", 0, 540, 7, "2024-03-01T00:00:00+00:00", None)
    store.put_schedule(row)
    assert store.schedule("c") == row and store.schedules() == [row]
    assert store.claim_period("c", row.created, "2024-03-04T09:00:00+00:00")
    assert not store.claim_period("c", row.created, "2024-03-04T09:00:00+00:00")  # once per period
    assert not store.claim_period("c", "another creation", "2024-03-11T09:00:00+00:00")  # a replaced schedule
    assert store.schedule("c").last_period == "2024-03-04T09:00:00+00:00"
    assert store.delete_schedule("c") and store.schedule("c") is None and not store.delete_schedule("c")


def test_purge_deletes_one_collection_whole_and_bumps_its_revision(store: Store):
    save(store, "c", article(1))
    save(store, "c", article(2))
    kept, _, _ = save(store, "other", article(3))
    answer = store.insert_answer("c", "q", "{}", "alice")
    store.put_vote(answer, "bob", 1)
    store.put_schedule(ScheduleRow("c", "1", 0, 0, 7, "2024-01-01T00:00:00+00:00", None))
    revision = store.revision("c")
    counts = store.purge("c")
    assert counts == {
        "votes": 1,
        "answers": 1,
        "sentences": 8,
        "chunks": 4,
        "articles": 2,
        "schedules": 1,
        "feed_items": 0,
        "feeds": 0,
    }
    assert store.revision("c") == revision + 1 and store.article_count("c") == 0
    assert store.article("other", kept) is not None and store.layout_counts("other") == (1, 4, 2)
    assert store.purge("c") == dict.fromkeys(counts, 0)


def test_the_consistency_roles_find_orphans_and_missing_layouts(store: Store):
    article_id, _, _ = save(store, "c", article(1))
    assert store.delete_orphans() == 0 and store.articles_without_layout("c") == []
    store.replace_layout("c", article_id, article(1, sentences=2))
    assert store.layout_counts("c") == (1, 2, 1)
    assert store.texts_for([], [(article_id, 1)]) == ([], ["Sentence 1 of article 1."])
    assert "c" in store.collection_names()


def test_a_store_url_names_its_backend(tmp_path: Path):
    bare = open_store(str(tmp_path / "plain.sqlite3"))  # a path is SQLite
    save(bare, "c", article(1))
    bare.close()
    again = open_store(sqlite_url(tmp_path / "plain.sqlite3"))
    assert again.article_count("c") == 1
    again.close()
    with pytest.raises(InvalidInput, match="No storage backend for 'mysql'"):
        open_store("mysql://localhost/byline")
