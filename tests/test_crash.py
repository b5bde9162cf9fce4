"""Crash safety: a process killed with SIGKILL while adding, removing or reindexing leaves every article
wholly present (row, sentences, chunks, vectors, FAISS, BM25) or wholly absent, and the next start answers.
The consistency check (`python -m bot check`) repairs what outside damage can still do, re-embedding only
what is missing."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from index import Engine, EngineSettings
from index.articles.extract import from_file
from index.engine import content_hash
from index.inference.embedding import Embedder, bundled_model_path
from index.search import cachefile
from tests.conftest import REPO, cli_env, run_cli

ARTICLES = 300
COLLECTION = "default"

# -- 300 distinct small articles, made up at test time ---------------------------------------------------
_SYLLABLES = ["bran", "tel", "mor", "vask", "quin", "dar", "sel", "hollo", "pen", "rud", "ost", "lyr", "gav", "nim"]
_THINGS = ["footbridge", "library", "tram depot", "swimming pool", "ferry pier", "bus station", "market hall",
           "cycle lane", "sea wall", "fire station", "clinic", "observatory", "skate park", "school annex"]  # fmt: skip
_PLACES = ["river", "old mill", "railway yard", "harbour", "cathedral", "castle ruins", "canal basin", "quarry"]
_TRADES = ["bakery", "bookshop", "hardware store", "café", "butcher's shop", "flower stall", "garage"]

_FIRST = ["Alys", "Bertil", "Corin", "Dagny", "Ewan", "Freya", "Gideon", "Hanne", "Ivo", "Jorun", "Kasimir", "Lotte"]


@dataclass(frozen=True)
class Synthetic:
    number: int
    town: str
    thing: str
    mayor: str
    text: str

    @property
    def title(self) -> str:
        return f"{self.town} approves a new {self.thing}"

    @property
    def question(self) -> str:
        return f"What did the mayor of {self.town} say the new {self.thing} would cost?"


def synthetic(number: int) -> Synthetic:
    rng = random.Random(number)
    # A town name per number (its base-14 digits as syllables), so that no two articles share their key word.
    digits, n = [], number + len(_SYLLABLES) ** 2
    while n:
        n, d = divmod(n, len(_SYLLABLES))
        digits.append(_SYLLABLES[d])
    town = "".join(digits).capitalize()
    thing, place, trade = rng.choice(_THINGS), rng.choice(_PLACES), rng.choice(_TRADES)
    mayor = f"{rng.choice(_FIRST)} {''.join(rng.sample(_SYLLABLES, 2)).capitalize()}"
    shopkeeper = f"{rng.choice(_FIRST)} {''.join(rng.sample(_SYLLABLES, 2)).capitalize()}"
    body = (
        f"{town} council voted on Tuesday to build a new {thing} beside the {place}. "
        f"The mayor, {mayor}, said it would cost {rng.randint(120, 990)} thousand pounds. "
        f"{shopkeeper}, who runs a {trade} in {town}, called the decision long overdue."
    )
    return Synthetic(number, town, thing, mayor, f"{town} approves a new {thing}\n\n{body}")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Synthetic]]:
    folder = tmp_path_factory.mktemp("articles")
    articles = [synthetic(n) for n in range(ARTICLES)]
    for article in articles:
        (folder / f"article-{article.number:03d}.txt").write_text(article.text, encoding="utf-8")
    assert len({a.town for a in articles}) == ARTICLES
    return folder, articles


# -- killing a child process at a random point ---------------------------------------------------------
SEED = 20261125


def start(argv: list[str], data_dir: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        cwd=data_dir.parent,  # outside the repo: a developer's .env cannot change what the child sees
        env=cli_env(data_dir, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def article_count(data_dir: Path) -> int:
    """Committed articles, read as a separate reader would (read-only, never blocking the writer)."""
    try:
        with sqlite3.connect(f"file:{data_dir / 'byline.sqlite3'}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def kill_when(proc: subprocess.Popen, ready, extra_delay: float, poll: float = 0.02) -> bool:
    """SIGKILL the child once ready() holds, plus a delay; False if it finished first."""
    while not ready():
        if proc.poll() is not None:
            return False
        time.sleep(poll)
    time.sleep(extra_delay)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()  # drain and close the pipes
    return True


# -- what must hold after any kill -----------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    sentences: int
    chunks: int


@pytest.fixture(scope="module")
def expected(corpus, embedder, tmp_path_factory) -> dict[str, tuple[Synthetic, Layout]]:
    """Each article's content hash → the article and the layout a complete save gives it."""
    folder, articles = corpus
    engine = Engine(EngineSettings(data_dir=tmp_path_factory.mktemp("layouts")), embedder)
    table = {}
    for article in articles:
        doc = from_file(folder / f"article-{article.number:03d}.txt", 1_000_000)
        plan = engine.ingest.layout(doc, title=None, url=None, published=None, digest="")
        table[content_hash(article.text)] = (article, Layout(len(plan.sentence_texts), len(plan.chunk_texts)))
    engine.close()
    return table


def assert_whole(engine: Engine, expected: dict[str, tuple[Synthetic, Layout]]) -> set[int]:
    """Every stored article is complete (sentences, chunks, sound vectors, in FAISS and BM25), nothing
    belongs to no article, and the caches hold exactly SQLite's chunks. Returns the present numbers."""

    def q(sql: str, params: list | tuple = ()) -> list[tuple]:  # read behind the engine's back, as a check would
        return raw_sql(Path(engine.settings.data_dir), sql, tuple(params))

    dimension = engine.embedder.dimension
    present = set()
    for article_id, digest, text in q("SELECT id, content_hash, text FROM articles WHERE collection = ?", [COLLECTION]):
        article, layout = expected[digest]
        assert text == article.text
        assert article.number not in present
        present.add(article.number)
        for table, count in (("sentences", layout.sentences), ("chunks", layout.chunks)):
            blobs = [b for (b,) in q(f"SELECT vector FROM {table} WHERE article_id = ?", [article_id])]
            assert len(blobs) == count, (article.number, table)
            assert all(len(b) == 4 * dimension for b in blobs)
            vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(count, dimension)
            assert np.isfinite(vectors).all() and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)
    for table in ("sentences", "chunks"):
        orphans = q(f"SELECT count(*) FROM {table} WHERE article_id NOT IN (SELECT id FROM articles)")[0][0]
        assert orphans == 0, table
    chunk_ids = set(engine.store.chunk_ids(COLLECTION).tolist())
    state = engine.search_index(COLLECTION)
    assert sorted(state.vectors.ids().tolist()) == sorted(chunk_ids)
    assert sorted(state.lexical.ids.tolist()) == sorted(chunk_ids)
    return present


def assert_restart_answers(engine: Engine, expected, present: set[int], rng: random.Random) -> None:
    """After a restart the check finds nothing to repair, leaves no temporary file, and asks work."""
    report = engine.check()
    assert report.orphans_deleted == 0
    assert not any(c.repaired for c in report.collections.values()), report.to_json()
    assert not list(engine.cache_dir.glob("*.tmp"))
    by_number = {article.number: article for article, _ in expected.values()}
    for number in rng.sample(sorted(present), min(3, len(present))):
        article = by_number[number]
        answer = engine.ask(COLLECTION, article.question)
        assert not answer.abstained, article.question
        assert engine.article(COLLECTION, answer.quotes[0].article_id).title == article.title
        for quote in answer.quotes:
            text = engine.article_text(COLLECTION, quote.article_id)
            assert text[quote.start : quote.end] == quote.text


@dataclass(frozen=True)
class Kill:
    at: str  # what the child was doing, as far as the parent knows
    present: int  # articles present after the restart
    temp_files: int  # temporary cache files the killed child left behind


def restart_and_verify(data_dir: Path, embedder: Embedder, expected, rng: random.Random, at: str) -> Kill:
    """Start again on the data the killed child left: everything must be whole, and answer."""
    killed_at = time.monotonic()
    temp_files = len(list((data_dir / "indexes").glob("*.tmp")))
    time.sleep(max(0.0, cachefile.LEFTOVER_MIN_AGE + 0.1 - (time.monotonic() - killed_at)))
    # The cheap scoring answers here: the synthetic articles differ only by made-up town names the answer
    # model reads as near-identical word pieces (a known weakness, README Limits), and this test is about
    # what a crash leaves on disk, not about telling "Dardartel" from "Darquintel".
    engine = Engine(EngineSettings(data_dir=data_dir, answer_model=False), embedder)
    try:
        present = assert_whole(engine, expected)
        assert_restart_answers(engine, expected, present, rng)
        return Kill(at, len(present), temp_files)
    finally:
        engine.close()


# -- adding ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ingested(corpus, expected, embedder, tmp_path_factory) -> tuple[Path, list[Kill], dict]:
    """`python -m bot add FOLDER` of 300 articles, SIGKILLed at four seeded random points, each kill
    followed by a restart that must find every article whole or absent; then run once more to the end.
    Returns the data dir (300 articles), the kills, and the count before the last run with its statuses."""
    folder, _ = corpus
    data_dir = tmp_path_factory.mktemp("ingest") / "data"
    rng = random.Random(SEED)
    kills = []
    for band in range(4):  # one kill point in each of four bands of 60 articles, well before the end
        target = rng.randint(10 + 60 * band, 50 + 60 * band)
        delay = rng.uniform(0.0, 0.5)
        proc = start([sys.executable, "-m", "bot", "--json", "add", str(folder)], data_dir)
        if not kill_when(proc, lambda t=target: article_count(data_dir) >= t, delay):
            assert proc.returncode == 0, proc.communicate()[1]
            break  # it finished before the kill point
        kills.append(restart_and_verify(data_dir, embedder, expected, rng, f"{target} committed + {delay:.2f} s"))
    # Run once more to the end (in this process: a fifth child would only add ten seconds of start-up).
    engine = Engine(EngineSettings(data_dir=data_dir), embedder)
    try:
        before = engine.article_count(COLLECTION)
        results = engine.add_documents(COLLECTION, engine.documents(str(folder), []))
    finally:
        engine.close()
    return data_dir, kills, {"before": before, "statuses": [r.status for r in results]}


@pytest.mark.slow
def test_an_ingest_killed_at_random_points_leaves_each_article_whole_or_absent(ingested, expected, embedder):
    data_dir, kills, last = ingested
    print("\n".join(f"add killed at {k.at}: {k.present} present, {k.temp_files} temp files" for k in kills))
    assert len(kills) == 4
    assert all(0 < k.present < ARTICLES for k in kills)
    assert [k.present for k in kills] == sorted(k.present for k in kills)  # each run resumed the last
    # Re-running the ingest adds exactly the missing ones: no duplicates, 300 in the end.
    statuses = last["statuses"]
    assert statuses.count("added") == ARTICLES - last["before"]
    assert statuses.count("duplicate") == last["before"]
    engine = Engine(EngineSettings(data_dir=data_dir), embedder)
    try:
        assert assert_whole(engine, expected) == set(range(ARTICLES))
    finally:
        engine.close()


# -- removing --------------------------------------------------------------------------------------
PAUSE_BEFORE_RENAME = """
import os, time
_replace = os.replace
def _slow_replace(src, dst):
    if str(src).endswith(".tmp"):
        time.sleep(60)
    return _replace(src, dst)
os.replace = _slow_replace
"""
REMOVE_ALL = """
import sys
from pathlib import Path
from index import Engine, EngineSettings

engine = Engine(EngineSettings(data_dir=Path(sys.argv[1])))
for article in engine.list_articles("default"):
    engine.remove("default", article.id)
"""


@pytest.mark.slow
def test_removing_articles_killed_at_random_points(ingested, expected, embedder, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(ingested[0], data_dir)
    rng = random.Random(SEED + 1)
    kills: list[Kill] = []
    for _ in range(2):
        # A removal takes milliseconds: a short delay, and enough articles left for the next kill.
        left = rng.randint(80, (kills[-1].present if kills else ARTICLES) - 40)
        delay = rng.uniform(0.0, 0.05)
        proc = start([sys.executable, "-c", REMOVE_ALL, str(data_dir)], data_dir, {"PYTHONPATH": str(REPO)})
        assert kill_when(proc, lambda n=left: article_count(data_dir) <= n, delay), proc.communicate()[1]
        kills.append(restart_and_verify(data_dir, embedder, expected, rng, f"{left} left + {delay:.2f} s"))
    # Once more, killed while a cache file is being written: its temporary file is complete but not yet
    # renamed (the child pauses there, so the kill cannot miss the moment however fast the machine is).
    proc = start(
        [sys.executable, "-c", PAUSE_BEFORE_RENAME + REMOVE_ALL, str(data_dir)], data_dir, {"PYTHONPATH": str(REPO)}
    )
    writing = lambda: any((data_dir / "indexes").glob("*.tmp"))  # noqa: E731
    assert kill_when(proc, writing, 0.0, poll=0.0005), proc.communicate()[1]
    kills.append(restart_and_verify(data_dir, embedder, expected, rng, "a cache write"))
    print("\n".join(f"remove killed at {k.at}: {k.present} present, {k.temp_files} temp files" for k in kills))
    assert 0 < kills[2].present <= kills[1].present < kills[0].present < ARTICLES
    # A removed article is gone from answers too.
    # The cheap scoring answers here: the synthetic articles differ only by made-up town names the answer
    # model reads as near-identical word pieces (a known weakness, README Limits), and this test is about
    # what a crash leaves on disk, not about telling "Dardartel" from "Darquintel".
    engine = Engine(EngineSettings(data_dir=data_dir, answer_model=False), embedder)
    try:
        present = assert_whole(engine, expected)
        by_number = {a.number: a for a, _ in expected.values()}
        removed = by_number[min(set(range(ARTICLES)) - present)]
        answer = engine.ask(COLLECTION, removed.question)
        assert all(engine.article(COLLECTION, q.article_id).title != removed.title for q in answer.quotes)
    finally:
        engine.close()


# -- reindexing ------------------------------------------------------------------------------------
def read_until(proc: subprocess.Popen, needle: str) -> None:
    """Read the child's log (stderr) until a line contains `needle`."""
    for line in proc.stderr:
        if needle in line:
            return
    raise AssertionError(f"the child exited ({proc.wait()}) before logging {needle!r}")


def stored_model(data_dir: Path) -> str:
    with sqlite3.connect(f"file:{data_dir / 'byline.sqlite3'}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()[0]


@pytest.mark.slow
def test_reindex_killed_while_re_embedding_and_while_rebuilding_the_caches(ingested, expected, embedder, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(ingested[0], data_dir)
    rng = random.Random(SEED + 2)
    kills = []
    # The same weights under another name: reindex re-embeds every chunk and sentence, then swaps them in.
    other_model = {"BYLINE_MODEL": str(bundled_model_path())}
    proc = start([sys.executable, "-m", "bot", "-v", "reindex"], data_dir, other_model)
    read_until(proc, "loaded embedding model")
    delay = rng.uniform(0.2, 2.0)
    assert kill_when(proc, lambda: True, delay), "reindex finished before it could be killed"
    assert stored_model(data_dir) == embedder.name  # the swap is one transaction: it never happened
    kills.append(restart_and_verify(data_dir, embedder, expected, rng, f"re-embedding + {delay:.2f} s"))
    # A plain reindex (same model) deletes both caches and rebuilds them: killed between the two.
    proc = start([sys.executable, "-m", "bot", "-v", "reindex"], data_dir)
    read_until(proc, "rebuilt vector index")
    delay = rng.uniform(0.0, 0.05)
    kill_when(proc, lambda: True, delay)
    kills.append(restart_and_verify(data_dir, embedder, expected, rng, f"FAISS rebuilt + {delay:.2f} s"))
    print("\n".join(f"reindex killed at {k.at}: {k.present} present, {k.temp_files} temp files" for k in kills))
    assert [k.present for k in kills] == [ARTICLES, ARTICLES]


# -- damage from outside: what the check is for --------------------------------------------------------
class CountingEmbedder(Embedder):
    """The session's model, counting the texts it is asked to embed."""

    def __init__(self, shared: Embedder) -> None:
        super().__init__(backend=shared.backend)
        self.texts = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return super().encode(texts)


SMALL = 40


@pytest.fixture(scope="module")
def small_library(corpus, embedder, tmp_path_factory) -> Path:
    """The first 40 articles, added in this process (the damage tests need no crash to start from)."""
    folder, _ = corpus
    data_dir = tmp_path_factory.mktemp("small") / "data"
    engine = Engine(EngineSettings(data_dir=data_dir), embedder)
    files = sorted(folder.iterdir())[:SMALL]
    assert {r.status for r in engine.add_documents(COLLECTION, [from_file(f, 1_000_000) for f in files])} == {"added"}
    engine.close()
    return data_dir


@pytest.fixture
def damaged(small_library, tmp_path) -> Path:
    data_dir = tmp_path / "data"
    shutil.copytree(small_library, data_dir)
    return data_dir


def raw_sql(data_dir: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """A statement run behind the engine's back (foreign keys off, no revision bump), as damage would be."""
    with sqlite3.connect(data_dir / "byline.sqlite3") as conn:
        return conn.execute(sql, params).fetchall()


def article_id_of(data_dir: Path, article: Synthetic) -> int:
    return raw_sql(data_dir, "SELECT id FROM articles WHERE content_hash = ?", (content_hash(article.text),))[0][0]


def test_the_check_re_embeds_only_damaged_vectors_and_lays_out_an_article_that_lost_its_chunks(
    damaged, expected, embedder
):
    data_dir = damaged
    articles = sorted((a for a, _ in expected.values()), key=lambda a: a.number)
    truncated, poisoned, stripped = (article_id_of(data_dir, articles[n]) for n in (11, 22, 33))
    chunk_id, good_vector = raw_sql(data_dir, "SELECT id, vector FROM chunks WHERE article_id = ?", (truncated,))[0]
    raw_sql(data_dir, "UPDATE chunks SET vector = substr(vector, 1, 100) WHERE id = ?", (chunk_id,))
    nan = np.full(embedder.dimension, np.nan, dtype=np.float32).tobytes()
    raw_sql(data_dir, "UPDATE sentences SET vector = ? WHERE article_id = ? AND idx = 1", (nan, poisoned))
    raw_sql(data_dir, "DELETE FROM chunks WHERE article_id = ?", (stripped,))
    raw_sql(data_dir, "INSERT INTO sentences VALUES (999999, 0, 0, 1, 1, x'00')")  # no such article
    leftover = data_dir / "indexes" / "default.bm25.k3j2x9.tmp"
    leftover.write_bytes(b"half a cache file")
    os.utime(leftover, (time.time() - 60, time.time() - 60))

    counting = CountingEmbedder(embedder)
    engine = Engine(EngineSettings(data_dir=data_dir), counting)
    try:
        report = engine.check()
        found = report.collections[COLLECTION]
        assert not report.consistent
        assert report.temp_files_removed == [leftover.name] and not leftover.exists()
        assert report.orphans_deleted == 1
        assert found.articles_relaid == [stripped] and found.articles_removed == []
        assert (found.chunks_reembedded, found.sentences_reembedded) == (1, 1)
        # Only what was missing went through the model: a chunk, a sentence, and the stripped article's
        # chunks (its sentences were intact); nothing else of the 300 articles.
        stripped_chunks = expected[content_hash(articles[33].text)][1].chunks
        assert counting.texts == 1 + 1 + stripped_chunks
        repaired = raw_sql(data_dir, "SELECT vector FROM chunks WHERE id = ?", (chunk_id,))[0][0]
        assert np.allclose(np.frombuffer(repaired, np.float32), np.frombuffer(good_vector, np.float32), atol=1e-5)
        assert assert_whole(engine, expected) == set(range(SMALL))
        answer = engine.ask(COLLECTION, articles[33].question)
        assert answer.quotes and answer.quotes[0].article_id == stripped

        embedded = counting.texts
        again = engine.check()  # repaired means consistent: the next check finds nothing
        assert again.consistent and counting.texts == embedded
    finally:
        engine.close()


@pytest.mark.slow
def test_a_cache_with_a_forged_header_is_rebuilt_by_check_and_at_start_up(damaged, expected, embedder):
    data_dir = damaged
    faiss_file = data_dir / "indexes" / "default.faiss"
    before = faiss_file.read_bytes()
    engine = Engine(EngineSettings(data_dir=data_dir), embedder)
    try:
        ghost = synthetic(7)
        ghost_id = article_id_of(data_dir, ghost)
        ghost_chunks = {c for (c,) in raw_sql(data_dir, "SELECT id FROM chunks WHERE article_id = ?", (ghost_id,))}
        engine.remove(COLLECTION, ghost_id)
        revision = engine.store.revision(COLLECTION)
    finally:
        engine.close()
    # The FAISS file from before the removal, its header forged to claim the current revision.
    head, payload = before.split(b"\n", 1)
    header = {k: v for k, v in json.loads(head).items() if k not in ("sha256", "length")}
    cachefile.write(faiss_file, dict(header, revision=revision), payload)
    trusting = Engine(EngineSettings(data_dir=data_dir), embedder)
    try:  # without the check, the ghost's chunks stay in FAISS
        assert ghost_chunks <= set(trusting.search_index(COLLECTION).vectors.ids().tolist())
    finally:
        trusting.close()

    checked = run_cli("--json", "check", data_dir=data_dir)
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["consistent"] is False
    assert report["collections"][COLLECTION]["caches_repaired"] == ["faiss"]
    assert report["collections"][COLLECTION]["chunks_reembedded"] == 0
    assert "disagreed with SQLite" in checked.stderr.decode()  # logged at WARNING

    # `python -m bot run` checks at start-up: a leftover temporary file goes before the chat starts.
    leftover = data_dir / "indexes" / "default.faiss.q8w7e6.tmp"
    leftover.write_bytes(b"half a cache file")
    os.utime(leftover, (time.time() - 60, time.time() - 60))
    ran = run_cli("run", data_dir=data_dir, stdin=b"/quit\n")
    assert ran.returncode == 0, ran.stderr
    assert not leftover.exists() and "interrupted" in ran.stderr.decode()

    engine = Engine(EngineSettings(data_dir=data_dir), embedder)
    try:
        assert engine.check().consistent
        assert assert_whole(engine, expected) == set(range(SMALL)) - {ghost.number}
    finally:
        engine.close()
