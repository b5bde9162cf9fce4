"""SQuAD v1.1 dev as Byline collections, for bench/tune_scoring.py.

Each article becomes one document whose paragraphs are joined with a blank line, so a paragraph's
character span in the stored text is known exactly and the gold answer's offsets carry over.
Two collections share one data dir: "squad" (all 48 articles) and "squad_half" (the articles whose
index i has (i // 2) % 2 == 0, so both the even (tune) and odd (held-out) articles are half in, half
out, which is what the abstention measurement needs).

Run once: `PYTHONPATH=. .venv/bin/python bench/squad_collection.py` (about 5-10 minutes on 2 cores)."""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SQUAD_PATH = Path("/work/shared/data/squad-v1.1-dev/dev-v1.1.json")
DATA_DIR = Path("/tmp/squad_all")
SEPARATOR = "\n\n"


@dataclass(frozen=True)
class SquadQuestion:
    qid: str
    article: int  # index of the article in the SQuAD file
    paragraph: int  # index of the paragraph within the article
    text: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]  # offsets in the joined article text


@dataclass(frozen=True)
class SquadArticle:
    title: str
    text: str
    paragraph_spans: tuple[tuple[int, int], ...]


def in_half(article: int) -> bool:
    """Whether an article belongs to the "squad_half" collection."""
    return (article // 2) % 2 == 0


def load_squad(path: Path = SQUAD_PATH) -> tuple[list[SquadArticle], list[SquadQuestion]]:
    data = json.loads(path.read_text())["data"]
    articles: list[SquadArticle] = []
    questions: list[SquadQuestion] = []
    for a, item in enumerate(data):
        spans = []
        offset = 0
        for p, para in enumerate(item["paragraphs"]):
            context = para["context"]
            spans.append((offset, offset + len(context)))
            for qa in para["qas"]:
                questions.append(
                    SquadQuestion(
                        qa["id"],
                        a,
                        p,
                        qa["question"],
                        tuple(x["text"] for x in qa["answers"]),
                        tuple(offset + x["answer_start"] for x in qa["answers"]),
                    )
                )
            offset += len(context) + len(SEPARATOR)
        text = SEPARATOR.join(p["context"] for p in item["paragraphs"])
        articles.append(SquadArticle(item["title"], text, tuple(spans)))
    return articles, questions


def caching_embedder():
    """An Embedder that remembers vectors by text, so the half collection costs no second embedding."""
    from index.inference.embedding import Embedder

    class CachingEmbedder(Embedder):
        def __init__(self) -> None:
            super().__init__()
            self.memo: dict[str, np.ndarray] = {}
            self.misses = 0  # texts the model actually encoded

        def encode(self, texts: list[str]) -> np.ndarray:
            todo = list(dict.fromkeys(t for t in texts if t not in self.memo))
            if todo:
                self.misses += len(todo)
                for t, v in zip(todo, super().encode(todo), strict=True):
                    self.memo[t] = v
            if not texts:
                return super().encode(texts)
            return np.vstack([self.memo[t] for t in texts])

    return CachingEmbedder()


def build(data_dir: Path = DATA_DIR) -> None:
    from index import Engine, EngineSettings
    from index.articles.extract import Document

    articles, _ = load_squad()
    engine = Engine(EngineSettings(data_dir=data_dir), embedder=caching_embedder())
    docs = [
        Document(text=a.text, source=a.title, title=a.title.replace("_", " "), first_line_is_title=False)
        for a in articles
    ]
    started = time.time()
    for name, chosen in (("squad", docs), ("squad_half", [d for i, d in enumerate(docs) if in_half(i)])):
        # One at a time so the article ids follow the SQuAD order within each collection.
        for n, doc in enumerate(chosen):
            engine.add_documents(name, [doc])
            print(f"{name}: {n + 1}/{len(chosen)} after {time.time() - started:.0f}s", flush=True)
    engine.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA_DIR)
