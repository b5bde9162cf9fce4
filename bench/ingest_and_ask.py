"""Ingest throughput, chunk truncation and ask latency, on the sample articles and on the 2,225 BBC
articles in ../shared/data/bbc-news-summary. Prints numbers and writes them to bench/results.json.

    python bench/ingest_and_ask.py            # all 2,225 BBC articles (~15 min on 2 cores)
    python bench/ingest_and_ask.py --quick    # 300 articles"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from common import DATA, REPO, percentiles, record, time_asks

from index import Engine, EngineSettings
from index.articles.extract import from_text
from index.asking.scoring import analyse_question
from index.inference.embedding import Embedder


def chunk_texts(engine: Engine) -> list[str]:
    return [text for name in engine.store.collections() for _, text in engine.store.chunk_texts(name)]


def ask_latency(engine: Engine, collection: str, questions: list[str]) -> dict[str, object]:
    full, bare = time_asks(engine, collection, questions)
    ours, baseline = percentiles(full), percentiles(bare)
    return {"ask_ms": ours, "embed_plus_faiss_ms": baseline, "ratio_p50": round(ours["p50"] / baseline["p50"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="300 BBC articles instead of 2,225")
    args = parser.parse_args()
    embedder = Embedder()
    embedder.load()

    # -- the bundled sample articles ----------------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(EngineSettings(data_dir=Path(tmp)), embedder)
        engine.add_documents("default", engine.documents(str(REPO / "examples" / "articles"), []))
        questions = [
            "who is Ukraine's defence minister?",
            "When did DART hit Dimorphos?",
            "What rocket launched Webb?",
            "How tall are the Queensferry Crossing towers?",
            "Where is the seed vault?",
            "Which sports debuted at Tokyo 2020?",
            "What is the capital of Peru?",
        ] * 5
        samples = ask_latency(engine, "default", questions)
        engine.close()

    # -- BBC news --------------------------------------------------------------------------------
    rows = [json.loads(line) for line in (DATA / "bbc-news-summary" / "bbc_news_summary.jsonl").open()]
    if args.quick:
        rows = random.Random(7).sample(rows, 300)
    docs = [from_text(r["article"], f"bbc/{r['category']}/{r['id']}") for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(EngineSettings(data_dir=Path(tmp)), embedder)
        started = time.perf_counter()
        results = engine.add_documents("bbc", docs)
        ingest_s = time.perf_counter() - started
        chunks = chunk_texts(engine)
        sentences = sum(engine.store.layout_counts(name)[1] for name in engine.store.collections())
        started = time.perf_counter()
        embedder.encode(chunks)
        raw_s = time.perf_counter() - started
        counts = embedder.count_tokens(chunks)
        truncated = sum(1 for c in counts if c + 2 > embedder.max_tokens)
        titles = [from_text(r["article"], "q").title or "" for r in random.Random(1).sample(rows, 200)]
        bbc = ask_latency(engine, "bbc", titles)
        analyse_question("warm", embedder.encode(["warm"])[0])
        engine.close()

    record(
        "ingest_and_ask",
        {
            "articles": len(results),
            "chunks": len(chunks),
            "sentences_embedded": sentences,
            "ingest_seconds": round(ingest_s, 1),
            "ingest_chunks_per_s": round(len(chunks) / ingest_s, 1),
            "raw_encode_chunks_per_s": round(len(chunks) / raw_s, 1),
            "ingest_vs_raw_encode": round((len(chunks) / ingest_s) / (len(chunks) / raw_s), 2),
            "truncated_chunks": truncated,
            "truncated_share": round(truncated / max(len(chunks), 1), 4),
            "max_chunk_tokens": max(counts) + 2 if counts else 0,
            "sample_corpus": samples,
            "bbc": bbc,
        },
    )


if __name__ == "__main__":
    main()
