"""The lexical backend: BM25 over chunks with bm25s (Lucene scoring, Snowball stemming, the 33 Lucene
English stopwords).

bm25s has no incremental update; the index is rebuilt per collection from token lists kept in memory,
so a rebuild after an add only tokenises the new chunks. Saved as one atomic cache file."""

from __future__ import annotations

import io
import json
import logging
import math
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from index.search import cachefile

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every rebuild at DEBUG otherwise
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = frozenset(STOPWORDS_EN) | {"s", "t"}
_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


# British and American spellings of common news words meet on one form (BBC "defence", AP "defense").
_SPELLING = {
    "defence": "defense",
    "offence": "offense",
    "licence": "license",
    "pretence": "pretense",
    "colour": "color",
    "favour": "favor",
    "honour": "honor",
    "labour": "labor",
    "neighbour": "neighbor",
    "behaviour": "behavior",
    "harbour": "harbor",
    "rumour": "rumor",
    "humour": "humor",
    "armour": "armor",
    "centre": "center",
    "theatre": "theater",
    "metre": "meter",
    "metres": "meters",
    "litre": "liter",
    "programme": "program",
    "programmes": "programs",
    "catalogue": "catalog",
    "travelled": "traveled",
    "organisation": "organization",
    "organisations": "organizations",
    "organise": "organize",
    "organised": "organized",
    "recognise": "recognize",
    "recognised": "recognized",
    "realise": "realize",
    "criticise": "criticize",
    "criticised": "criticized",
    "apologise": "apologize",
    "privatisation": "privatization",
    "analyse": "analyze",
    "analysed": "analyzed",
    "paralyse": "paralyze",
    "tonnes": "tons",
    "tonne": "ton",
    "aluminium": "aluminum",
    "grey": "gray",
    "tyre": "tire",
    "tyres": "tires",
    "cheque": "check",
    "jewellery": "jewelry",
    "mould": "mold",
    "plough": "plow",
    "sceptical": "skeptical",
}


def tokenize(text: str) -> list[str]:
    words = [_SPELLING.get(w, w) for w in _TOKEN.findall(text.lower()) if w not in _STOP]
    return _stemmer().stemWords(words)


class LexicalIndex:
    def __init__(self, ids: np.ndarray, token_lists: list[list[str]]) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.position = {int(i): n for n, i in enumerate(self.ids)}
        self.retriever = bm25s.BM25(method="lucene")
        self.document_frequency: dict[str, int] = {}
        if len(self.ids):
            self.retriever.index([t if t else [""] for t in token_lists], show_progress=False)
            for tokens in token_lists:
                for term in set(tokens):
                    self.document_frequency[term] = self.document_frequency.get(term, 0) + 1

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query_tokens: list[str], allowed: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every chunk (aligned with self.ids); zeros when no query term is known, and for
        chunks outside `allowed` when it is given (bm25s's weight mask: 1 for allowed ids, else 0)."""
        if not len(self.ids):
            return np.zeros(0, dtype=np.float32)
        known = [t for t in query_tokens if t in self.retriever.vocab_dict]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        found = np.asarray(self.retriever.get_scores(known), dtype=np.float32)
        if allowed is not None:
            found = found * self.weight_mask(allowed)
        return found

    def weight_mask(self, allowed: np.ndarray) -> np.ndarray:
        """bm25s's weight_mask for `allowed` chunk ids: 1.0 where a chunk may be returned, 0.0 elsewhere."""
        return np.isin(self.ids, allowed).astype(np.float32)

    def top(
        self, query_tokens: list[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, scores) of the top-k chunks with a positive score, and every chunk's score."""
        every = self.scores(query_tokens, allowed)
        if len(every) and every.max() > 0:
            top = np.argpartition(-every, min(k, len(every) - 1))[:k]
            top = top[every[top] > 0]
            return self.ids[top], every[top], every
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), every

    def idf(self, term: str) -> float:
        """Lucene-style idf, for weighting question words found in a candidate sentence."""
        n = max(len(self.ids), 1)
        df = self.document_frequency.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def save(self, path: Path, header: dict[str, Any]) -> None:
        """bm25s's own on-disk layout (public save/load), packed with our ids into one atomic file."""
        arrays: dict[str, np.ndarray] = {"ids": self.ids}
        extra = {"df": self.document_frequency, "files": []}
        if len(self.ids):
            with tempfile.TemporaryDirectory() as tmp:
                self.retriever.save(tmp)
                for file in sorted(Path(tmp).iterdir()):
                    arrays[f"file{len(extra['files'])}"] = np.frombuffer(file.read_bytes(), dtype=np.uint8)
                    extra["files"].append(file.name)
        arrays["json"] = np.frombuffer(json.dumps(extra).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        cachefile.write(path, dict(header, kind="bm25"), buffer.getvalue())

    @classmethod
    def load(cls, path: Path, header: dict[str, Any]) -> LexicalIndex | None:
        payload = cachefile.read(path, dict(header, kind="bm25"))
        if payload is None:
            return None
        try:
            arrays = np.load(io.BytesIO(payload), allow_pickle=False)
            extra = json.loads(arrays["json"].tobytes())
            loaded = cls(np.zeros(0, dtype=np.int64), [])
            loaded.ids = arrays["ids"].astype(np.int64)
            loaded.position = {int(i): n for n, i in enumerate(loaded.ids)}
            loaded.document_frequency = extra["df"]
            if len(loaded.ids):
                with tempfile.TemporaryDirectory() as tmp:
                    for n, name in enumerate(extra["files"]):
                        (Path(tmp) / name).write_bytes(arrays[f"file{n}"].tobytes())
                    loaded.retriever = bm25s.BM25.load(tmp)
            return loaded
        except (KeyError, ValueError, OSError) as exc:
            log.warning("BM25 cache %s unreadable (%s); it will be rebuilt", path, exc)
            return None
