"""Shared bench helpers: machine facts, percentiles, and merging numbers into bench/results.json."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from index.engine import Engine

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DATA = REPO.parent / "shared" / "data"
RESULTS = BENCH / "results.json"
sys.path.insert(0, str(REPO))


def machine() -> dict[str, object]:
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values)
    return {
        "p50": round(float(np.percentile(array, 50)), 2),
        "p95": round(float(np.percentile(array, 95)), 2),
        "n": len(values),
    }


def record(section: str, numbers: dict[str, object]) -> None:
    """Merge one section into results.json (other sections are kept)."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[section] = {"machine": machine(), **numbers}
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({section: results[section]}, indent=2, ensure_ascii=False))


def time_asks(engine: Engine, collection: str, questions: list[str]) -> tuple[list[float], list[float]]:
    """Milliseconds per question of a whole Engine.ask, and of a bare question embedding + FAISS search on
    the same index (the baseline's entire ask), after a 5-question warm-up."""
    for question in questions[:5]:
        engine.ask(collection, question)
    state = engine.search_index(collection)
    ours, bare = [], []
    for question in questions:
        ours.append(engine.ask(collection, question).took_ms)
        started = time.perf_counter()
        vector = engine.embedder.encode([question])[0]
        state.vectors.search(vector, 10)
        bare.append((time.perf_counter() - started) * 1000)
    return ours, bare
