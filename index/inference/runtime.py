"""ONNX Runtime: where the bundled models run at question time, without torch.

A `TransformerRunner` holds one tokenizer (the `tokenizers` library, from the model's tokenizer.json) and
one ONNX Runtime session of one BERT-style graph (inputs input_ids / attention_mask / token_type_ids). It
encodes texts or (text, text) pairs in length-sorted batches, padded per batch, and returns each batch's
first output with its attention mask, in the caller's order.

The session has `threads` intra-op threads and serves every encode, a question's and an ingest's alike
(a session may run from several threads at once). Measured against a second, one-thread session for
questions: a question takes 2.5 ms instead of 4.7 on a quiet machine, 7.3 ms instead of 4.4 with another
process keeping a core busy, the same 9 ms while an ingest runs in the same process, and the process
holds one session, not two.

The graph's weights sit in a file beside it (model.data) that ONNX Runtime maps into memory instead of
copying: a session costs 52 MB of resident memory instead of 127, word-embedding rows no text uses are
never read in, and every process on the machine shares the same pages. The files are checked against
their manifest (sha256) before a session is made.

Nothing here imports torch; `index/inference/export.py` makes the files this module reads."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import BylineError

MANIFEST = "manifest.json"


class ModelFileError(BylineError):
    """An ONNX model file is missing, damaged or not the one its manifest describes."""


MODEL_FILES = ("model.onnx", "model.data")  # the graph, and its weights beside it (memory-mapped)


@dataclass(frozen=True)
class Manifest:
    """What `model_export` wrote beside an ONNX model, read back to check its files before use."""

    source_checksum: str  # the checksum of the model files it was made from
    files: dict[str, tuple[str, int]]  # name -> (sha256, size), for each of MODEL_FILES
    facts: dict  # dimension, max_tokens, pooling, verification numbers, versions

    @classmethod
    def read(cls, folder: Path) -> Manifest | None:
        try:
            raw = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            files = {name: (str(raw["files"][name]["sha256"]), int(raw["files"][name]["size"])) for name in MODEL_FILES}
            return cls(raw["source_checksum"], files, dict(raw.get("facts", {})))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def to_json(self) -> dict[str, object]:
        files = {name: {"sha256": digest, "size": size} for name, (digest, size) in self.files.items()}
        return {"source_checksum": self.source_checksum, "files": files, "facts": self.facts}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_model(folder: Path, source_checksum: str | None = None) -> Manifest:
    """The manifest of the ONNX model in folder, after checking its files are whole and the ones it describes."""
    manifest = Manifest.read(folder)
    if manifest is None or not all((folder / name).is_file() for name in MODEL_FILES):
        raise ModelFileError(f"No ONNX model in {folder}.")
    if source_checksum is not None and manifest.source_checksum != source_checksum:
        raise ModelFileError(f"The ONNX model in {folder} was made from other model files.")
    for name, (digest, size) in manifest.files.items():
        path = folder / name
        if path.stat().st_size != size or file_sha256(path) != digest:
            raise ModelFileError(
                f"The ONNX model in {folder} is damaged ({name} does not match its checksum); delete it."
            )
    return manifest


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class TransformerRunner:
    """One ONNX BERT-style graph and its tokenizer; thread-safe."""

    def __init__(
        self, model_file: Path, tokenizer_file: Path, max_tokens: int, threads: int = 0, batch_size: int = 32
    ) -> None:
        from tokenizers import Tokenizer

        self.model_file = model_file
        self.max_tokens = max_tokens
        self.threads = threads or default_threads()
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()  # padding is per batch, below
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._counter = Tokenizer.from_file(str(tokenizer_file))  # a second copy: no truncation, for counting
        self._counter.no_padding()
        self._counter.no_truncation()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle intra-op threads would spin for the next piece of work, holding the cores that FAISS and
        # NumPy need right after an encode: with spinning, an ask on 96,768 chunks took 53 ms p50, without
        # it 18 ms (the encode itself 3.3 ms against 3.2).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # an unreadable graph becomes one sentence
            raise ModelFileError(f"ONNX Runtime could not load {model_file}: {exc}") from exc

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without the special tokens the model adds."""
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=False)]

    def run(
        self, inputs: Sequence[str] | Sequence[tuple[str, str]]
    ) -> Iterator[tuple[np.ndarray, np.ndarray, list[int]]]:
        """Yields (first output, attention mask, positions in `inputs`) per length-sorted batch."""
        for outputs, mask, positions, _ in self.run_all(inputs):
            yield outputs[0], mask, positions

    def run_all(
        self, inputs: Sequence[str] | Sequence[tuple[str, str]]
    ) -> Iterator[tuple[list, np.ndarray, list, list]]:
        """Yields (every output, attention mask, positions in `inputs`, their encodings) per length-sorted
        batch: the encodings' offsets map a per-piece output back to characters of the texts."""
        encodings = self._tokenizer.encode_batch(list(inputs))
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            positions = order[start : start + self.batch_size]
            width = len(encodings[positions[0]].ids)
            ids = np.zeros((len(positions), width), dtype=np.int64)
            types = np.zeros_like(ids)
            mask = np.zeros_like(ids)
            for row, position in enumerate(positions):
                encoding = encodings[position]
                n = len(encoding.ids)
                ids[row, :n] = encoding.ids
                types[row, :n] = encoding.type_ids
                mask[row, :n] = 1
            outputs = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
            yield outputs, mask, positions, [encodings[p] for p in positions]


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling over the real tokens, then L2 normalisation."""
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    vectors = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
