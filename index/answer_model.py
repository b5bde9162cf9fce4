"""The answer-sentence model: does this sentence answer the question? A cross-encoder that reads the
question and one candidate sentence together (with the sentence before it, for "it", "the mill", and
answers that follow their topic), trained here from the bundled MiniLM weights on SQuAD
(training/train_answer_model.py, model card in index/weights/answer-sentence/MODEL_CARD.md).

It runs on ONNX Runtime from a file shipped in the repository (int8, checked against its checksum); the
quotes and the abstention are decided from its probabilities in index/answering.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import BylineError

WEIGHTS = Path(__file__).resolve().parent / "weights" / "answer-sentence"
MODEL_FILE = "model.onnx"
CARD_FILE = "model.json"  # checksum, input format, calibrated threshold
# The sentence comes first in the pair's second segment, so truncation cuts the context, never it.
CONTEXT_MARK = " [SEP] "
MAX_TOKENS = 128
CONTEXT_CHARS = 300  # the previous sentence, cut to its last characters


def pair_text(sentence: str, previous: str | None) -> str:
    """The second segment the model reads: the candidate, then the sentence before it as context."""
    if not previous:
        return sentence
    return sentence + CONTEXT_MARK + previous[-CONTEXT_CHARS:]


@dataclass(frozen=True)
class AnswerModelCard:
    sha256: str
    threshold: float  # abstain when no candidate's probability reaches it (calibrated on the tune half)
    max_tokens: int
    facts: dict

    @classmethod
    def read(cls, folder: Path = WEIGHTS) -> AnswerModelCard:
        data = json.loads((folder / CARD_FILE).read_text())
        return cls(str(data["sha256"]), float(data["threshold"]), int(data.get("max_tokens", MAX_TOKENS)), data)


class AnswerModel:
    """Probabilities that each candidate sentence answers the question. Loaded on first use; thread-safe."""

    def __init__(self, folder: Path = WEIGHTS, threads: int = 0, tokenizer_file: Path | None = None) -> None:
        self.folder = folder
        self.threads = threads
        self.tokenizer_file = tokenizer_file
        self._card: AnswerModelCard | None = None
        self._runner = None
        self._lock = threading.Lock()

    @property
    def card(self) -> AnswerModelCard:
        """The model card, read on first use (an engine that never answers never needs the model)."""
        if self._card is None:
            path = self.folder / CARD_FILE
            try:
                self._card = AnswerModelCard.read(self.folder)
            except (OSError, ValueError, KeyError) as exc:
                raise BylineError(f"The answer-sentence model's card {path} is missing or unreadable: {exc}") from exc
        return self._card

    @property
    def threshold(self) -> float:
        return self.card.threshold

    def load(self):
        with self._lock:
            if self._runner is None:
                from index.embedding import bundled_model_path
                from index.runtime import TransformerRunner, file_sha256

                model = self.folder / MODEL_FILE
                if not model.exists():
                    raise BylineError(f"The answer-sentence model is missing ({model}).")
                if file_sha256(model) != self.card.sha256:
                    raise BylineError(f"The answer-sentence model {model} does not match its checksum.")
                tokenizer = self.tokenizer_file or bundled_model_path() / "tokenizer.json"
                self._runner = TransformerRunner(model, tokenizer, self.card.max_tokens, self.threads, batch_size=64)
            return self._runner

    def logits(self, question: str, pairs: Sequence[tuple[str, str | None]]) -> np.ndarray:
        """One logit per (sentence, previous sentence) pair."""
        out = np.zeros(len(pairs), dtype=np.float32)
        if not pairs:
            return out
        inputs = [(question, pair_text(s, p)) for s, p in pairs]
        for logits, _, positions in self.load().run(inputs):
            out[positions] = logits.reshape(-1)
        return out

    def probabilities(self, question: str, pairs: Sequence[tuple[str, str | None]]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(question, pairs)))
