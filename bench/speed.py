"""Speed and scale: ingest throughput, ask latency at each collection size, resident memory, cold start.

  * Ingest: BBC articles into an empty data dir through Engine.add_documents, in chunks/s and articles/s,
    against bare model.encode of the same chunks in the same run (ratio), and against the baseline
    pipeline (bench/baseline.py: 1,000/200 character chunks, encode, FAISS add) on the same articles.
  * Ask latency, p50/p95 over article titles asked as questions (warm), against one bare question
    embedding + FAISS search on the same index in the same process (the baseline's whole ask), for each
    collection built by bench/corpora.py. Each collection is measured in a fresh process, which also
    reports its resident memory (VmRSS) after loading the model, the indexes and answering.
  * Cold start of `python -m bot ask`: the wall time of the real command, and a breakdown from a harness
    that does the same steps (interpreter, imports, torch + sentence-transformers, model weights, index
    load from the cache files, first answer).

While it runs, /tmp/byline_speed_bench_running exists (other work on the machine waits for it to go);
the load average is recorded with the numbers.

    python bench/speed.py            # 200-article ingest; latency on "bbc200", "bbc" (~12k chunks), "bbc_x8" (~97k)
    python bench/speed.py --quick    # 60-article ingest; latency on "bbc200" (~1k chunks)"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, percentiles, record, time_asks
from bench.corpora import NEWS_DIR, bbc_documents, bbc_rows, bbc_sample, ensure, manifest

FLAG = Path("/tmp/byline_speed_bench_running")
PY = sys.executable


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- ingest ------------------------------------------------------------------------------------------
def ingest(n_articles: int) -> dict[str, object]:
    from bench.baseline import split
    from index import Engine, EngineSettings
    from index.embedding import Embedder

    rows = bbc_sample(bbc_rows(), n_articles)
    docs = [d for _, d in bbc_documents(rows)]
    embedder = Embedder()
    embedder.load()
    embedder.encode(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(EngineSettings(data_dir=Path(tmp)), embedder)
        started = time.perf_counter()
        results = engine.add_documents("bench", docs)
        ours_s = time.perf_counter() - started
        conn = engine.store._connect()
        chunks = [
            r[0]
            for r in conn.execute(
                "SELECT substr(a.text, c.start + 1, c.end - c.start) FROM chunks c"
                " JOIN articles a ON a.id = c.article_id"
            )
        ]
        sentences = conn.execute("SELECT count(*) FROM sentences").fetchone()[0]
        engine.close()
    started = time.perf_counter()
    embedder.encode(chunks)
    raw_s = time.perf_counter() - started
    # the baseline pipeline on the same articles: split, encode, FAISS add
    import faiss

    started = time.perf_counter()
    texts = [d.text[s:e] for d in docs for s, e in split(d.text)]
    index = faiss.IndexFlatIP(embedder.dimension)
    index.add(embedder.encode(texts))
    base_s = time.perf_counter() - started
    articles = len({r.id for r in results})
    return {
        "articles": articles,
        "chunks": len(chunks),
        "sentences_embedded": sentences,
        "seconds": round(ours_s, 1),
        "chunks_per_s": round(len(chunks) / ours_s, 1),
        "articles_per_s": round(articles / ours_s, 2),
        "raw_encode_chunks_per_s": round(len(chunks) / raw_s, 1),
        "ratio_to_raw_encode": round(raw_s / ours_s, 2),
        "baseline": {
            "chunks": len(texts),
            "seconds": round(base_s, 1),
            "chunks_per_s": round(len(texts) / base_s, 1),
            "articles_per_s": round(len(docs) / base_s, 2),
        },
    }


# -- latency (run in a child process per collection) -------------------------------------------------
def latency_child(collection: str, n_questions: int) -> dict[str, object]:
    from index import Engine, EngineSettings

    memory = {"start": rss_mb()}
    engine = Engine(EngineSettings(data_dir=NEWS_DIR))
    engine.embedder.load()
    memory["model_loaded"] = rss_mb()
    state = engine._index(collection)
    memory["indexes_loaded"] = rss_mb()
    titles = [a.title for a in engine.list_articles(collection)]
    questions = random.Random(1).sample(titles, min(n_questions, len(titles)))
    ours, bare = time_asks(engine, collection, questions)
    memory["after_asks"] = rss_mb()
    p_ours, p_bare = percentiles(ours), percentiles(bare)
    return {
        "collection": collection,
        "chunks": len(state.vectors),
        "articles": len(titles),
        "ask_ms": p_ours,
        "embed_plus_faiss_ms": p_bare,
        "ratio_p50": round(p_ours["p50"] / p_bare["p50"], 2),
        "ratio_p95": round(p_ours["p95"] / p_bare["p95"], 2),
        "rss_mb": memory,
        "load_average": load(),
    }


# -- cold start --------------------------------------------------------------------------------------
HARNESS = """
import json, sys, time
t = [time.perf_counter()]
import bot.cli, index.engine, bot.config, bot.render
t.append(time.perf_counter())
import torch, sentence_transformers
t.append(time.perf_counter())
from index.engine import Engine
from bot import config
engine = Engine(config.load(None).engine)
engine.embedder.load()
t.append(time.perf_counter())
engine._index(sys.argv[1])
t.append(time.perf_counter())
engine.ask(sys.argv[1], sys.argv[2])
t.append(time.perf_counter())
steps = ["imports (bot, index)", "import torch + sentence-transformers", "model weights", "index load", "first answer"]
print(json.dumps({s: round((b - a) * 1000) for s, a, b in zip(steps, t, t[1:])}))
"""


def cold_start(collection: str, question: str, runs: int = 3) -> dict[str, object]:
    env = {**os.environ, "BYLINE_DATA_DIR": str(NEWS_DIR), "PYTHONPATH": str(REPO)}

    def wall(cmd: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)
        return (time.perf_counter() - started) * 1000

    interpreter = statistics.median(wall([PY, "-c", "pass"]) for _ in range(runs))
    real = statistics.median(wall([PY, "-m", "bot", "--collection", collection, "ask", question]) for _ in range(runs))
    parts = []
    for _ in range(runs):
        out = subprocess.run(
            [PY, "-c", HARNESS, collection, question], cwd=REPO, env=env, check=True, capture_output=True, text=True
        )
        parts.append(json.loads(out.stdout.strip().splitlines()[-1]))
    breakdown = {"python interpreter": round(interpreter)}
    breakdown.update({k: round(statistics.median(p[k] for p in parts)) for k in parts[0]})
    return {"bot_ask_wall_ms": round(real), "runs": runs, "breakdown_ms": breakdown, "collection": collection}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small ingest, the 200-article collection only")
    parser.add_argument("--child", metavar="COLLECTION", help=argparse.SUPPRESS)
    parser.add_argument("--questions", type=int, default=200, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(latency_child(args.child, args.questions)))
        return
    collections = ["bbc200"] if args.quick else ["bbc200", "bbc", "bbc_x8"]
    ensure(tuple(collections))  # build outside the timed part
    if not args.quick and "bbc_dai" in manifest():
        collections.insert(2, "bbc_dai")
    FLAG.touch()
    try:
        numbers: dict[str, object] = {"load_average_at_start": load()}
        numbers["ingest"] = ingest(60 if args.quick else 200)
        print(json.dumps(numbers["ingest"]), flush=True)
        numbers["latency"] = {}
        for collection in collections:
            out = subprocess.run(
                [PY, __file__, "--child", collection, "--questions", "100" if args.quick else "200"],
                check=True,
                capture_output=True,
                text=True,
            )
            numbers["latency"][collection] = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(numbers["latency"][collection]), flush=True)
        numbers["cold_start"] = cold_start(
            collections[min(1, len(collections) - 1)], "Who won the election?", runs=1 if args.quick else 3
        )
        numbers["load_average_at_end"] = load()
    finally:
        FLAG.unlink(missing_ok=True)
    if "bbc_dai" in manifest() and not args.quick:
        numbers["bbc_dai_collection"] = {k: v for k, v in manifest()["bbc_dai"].items() if k != "ids"}
    record("speed_quick" if args.quick else "speed", numbers)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
