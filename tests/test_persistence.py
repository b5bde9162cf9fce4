"""SQLite is the source of truth; FAISS and BM25 are caches that can always be rebuilt from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from index import Engine
from index.errors import ModelMismatch
from index.inference.embedding import Embedder
from tests.conftest import REPO, SAMPLES, run_cli

QUESTION = "who is Ukraine's defence minister?"

# A new process that counts every text the model is asked to embed.
COUNTING_ASK = """
import json, sys
from pathlib import Path
from index import Engine, EngineSettings
from index.inference.embedding import Embedder

class Counting(Embedder):
    texts = 0
    def encode(self, texts):
        Counting.texts += len(texts)
        return super().encode(texts)

engine = Engine(EngineSettings(data_dir=Path(sys.argv[1])), Counting())
answer = engine.ask("default", sys.argv[2])
print(json.dumps({"embedded": Counting.texts, "quotes": [q.text for q in answer.quotes]}))
"""


def ask_in_new_process(data_dir: Path, question: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", COUNTING_ASK, str(data_dir), question],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def filled(make_engine, tmp_path: Path) -> tuple[Engine, Path]:
    data_dir = tmp_path / "data"
    engine = make_engine(data_dir)
    engine.add_documents("default", engine.documents(str(SAMPLES), []))
    return engine, data_dir


def test_a_restarted_bot_answers_without_re_embedding_anything(filled):
    engine, data_dir = filled
    expected = [q.text for q in engine.ask("default", QUESTION).quotes]
    result = ask_in_new_process(data_dir, QUESTION)
    assert result["embedded"] == 1  # the question, and nothing else
    assert result["quotes"] == expected


def test_deleting_the_faiss_file_then_reindex_restores_identical_answers(filled):
    _, data_dir = filled
    before = json.loads(run_cli("--json", "ask", QUESTION, data_dir=data_dir).stdout)
    faiss_file = data_dir / "indexes" / "default.faiss"
    assert faiss_file.exists()
    faiss_file.unlink()
    done = run_cli("--json", "reindex", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["collections"]["default"] > 0
    assert faiss_file.exists()
    after = json.loads(run_cli("--json", "ask", QUESTION, data_dir=data_dir).stdout)
    assert after["quotes"] == before["quotes"]
    assert after["answer"] == before["answer"]


@pytest.mark.parametrize("damage", ["garbage", "truncate", "empty"])
def test_a_corrupt_cache_is_rebuilt_not_a_crash(filled, make_engine, damage: str):
    engine, data_dir = filled
    expected = [q.text for q in engine.ask("default", QUESTION).quotes]
    for cache in (data_dir / "indexes").iterdir():
        raw = cache.read_bytes()
        cache.write_bytes(
            {"garbage": b"\x00not a cache\n" * 50, "truncate": raw[: len(raw) // 2], "empty": b""}[damage]
        )
    reopened = make_engine(data_dir)
    assert [q.text for q in reopened.ask("default", QUESTION).quotes] == expected
    # ...and the rebuilt caches were saved, intact, for the next start.
    third = make_engine(data_dir)
    assert third.search_index("default").vectors is not None
    assert [q.text for q in third.ask("default", QUESTION).quotes] == expected


def test_a_cache_from_an_older_revision_is_not_trusted(filled, make_engine, tmp_path: Path):
    engine, data_dir = filled
    stale = {p.name: p.read_bytes() for p in (data_dir / "indexes").iterdir()}
    removed = next(a for a in engine.list_articles("default") if "Putin" in a.title)
    engine.remove("default", removed.id)
    for name, raw in stale.items():  # put back the caches from before the removal
        (data_dir / "indexes" / name).write_bytes(raw)
    reopened = make_engine(data_dir)
    answer = reopened.ask("default", QUESTION)
    assert all(q.article_id != removed.id for q in answer.quotes)


def test_another_process_adding_an_article_is_seen_without_restart(filled):
    engine, data_dir = filled
    before = len(engine.list_articles("default"))
    text = "Harbour pilots in Port Ellery reported that the new lighthouse lens was lit on Tuesday evening.\n" * 3
    added = run_cli("--json", "add", "-", "--title", "Lighthouse lit", data_dir=data_dir, stdin=text.encode())
    assert added.returncode == 0, added.stderr
    assert len(engine.list_articles("default")) == before + 1
    answer = engine.ask("default", "When was the new lighthouse lens lit in Port Ellery?")
    assert not answer.abstained
    assert "lighthouse lens was lit" in answer.quotes[0].text


def test_a_different_model_setting_is_refused_until_reindex(filled, make_engine, embedder):
    engine, _ = filled

    other = Embedder("some-other-model", backend=embedder.backend)  # same weights, but another name
    mismatched = Engine(engine.settings, other)
    with pytest.raises(ModelMismatch, match="reindex"):
        mismatched.ask("default", QUESTION)
    mismatched.reindex()  # re-embeds with the configured model
    assert not mismatched.ask("default", QUESTION).abstained
    assert mismatched.store.meta("model") == "some-other-model"
