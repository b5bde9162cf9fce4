"""The answer-sentence model: does this sentence answer the question? A cross-encoder that reads the
question and one candidate sentence together (with the sentence before it, for "it", "the mill", and
answers that follow their topic), trained here from the bundled MiniLM weights on SQuAD
(training/train_answer_model.py, model card in index/weights/answer-sentence/MODEL_CARD.md).

It runs on ONNX Runtime from a file shipped in the repository (int8, checked against its checksum); the
quotes and the abstention are decided from its probabilities in index/asking/answering.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import BylineError

WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "answer-sentence"
MODEL_FILE = "model.onnx"
CARD_FILE = "model.json"  # checksum, input format, calibrated threshold
# The sentence comes first in the pair's second segment, so truncation cuts the context, never it.
CONTEXT_MARK = " [SEP] "
MAX_TOKENS = 96  # question + sentence + context; truncation cuts the longer segment's end (the context) first
CONTEXT_CHARS = 300  # the previous sentence, cut to its last characters
MAX_ANSWER_PIECES = 30  # an answer span longer than this many word pieces is not an answer, it is the sentence


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
                from index.inference.embedding import bundled_model_path
                from index.inference.runtime import TransformerRunner, file_sha256

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
        return self.read(question, pairs)[0]

    def read(
        self, question: str, pairs: Sequence[tuple[str, str | None]]
    ) -> tuple[np.ndarray, list[tuple[int, int] | None]]:
        """One logit per (sentence, previous sentence) pair, and where in each sentence the answer lies
        (characters of the sentence; None from a model without a span head)."""
        out = np.zeros(len(pairs), dtype=np.float32)
        spans: list[tuple[int, int] | None] = [None] * len(pairs)
        if not pairs:
            return out, spans
        inputs = [(question, pair_text(s, p)) for s, p in pairs]
        for outputs, _, positions, encodings in self.load().run_all(inputs):
            out[positions] = outputs[0].reshape(-1)
            if len(outputs) >= 3:
                for row, position in enumerate(positions):
                    sentence = len(pairs[position][0])
                    spans[position] = best_span(outputs[1][row], outputs[2][row], encodings[row], sentence)
        return out, spans

    def probabilities(self, question: str, pairs: Sequence[tuple[str, str | None]]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(question, pairs)))


def best_span(starts: np.ndarray, ends: np.ndarray, encoding, sentence_chars: int) -> tuple[int, int] | None:
    """The characters (of the sentence) of the highest-scoring span start <= end within MAX_ANSWER_PIECES,
    among the pieces of the sentence itself (not the question, not the context after it)."""
    pieces = [
        t
        for t, (sequence, (_, end)) in enumerate(zip(encoding.sequence_ids, encoding.offsets, strict=True))
        if sequence == 1 and end <= sentence_chars
    ]
    if not pieces:
        return None
    first, last = pieces[0], pieces[-1] + 1
    start_scores = starts[first:last].astype(np.float64)
    end_scores = ends[first:last].astype(np.float64)
    pair = start_scores[:, None] + end_scores[None, :]
    n = len(start_scores)
    allowed = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(np.ones((n, n), dtype=bool), MAX_ANSWER_PIECES)
    pair[~allowed] = -np.inf
    i, j = np.unravel_index(int(np.argmax(pair)), pair.shape)
    return encoding.offsets[first + i][0], encoding.offsets[first + j][1]
