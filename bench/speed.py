"""Speed and scale: ingest throughput, ask latency at each collection size, resident memory, cold start,
each on both runtimes of the bundled model in the same run: ONNX Runtime (the default) and
sentence-transformers on torch (BYLINE_RUNTIME=torch, what Byline ran before), with their ratios.

  * Ingest: BBC articles into an empty data dir through Engine.add_documents, in chunks/s and articles/s,
    against bare encode of the same chunks in the same run (ratio), and against the baseline pipeline
    (bench/baseline.py: 1,000/200 character chunks, encode, FAISS add) on the same articles.
  * Ask latency, p50/p95 over article titles asked as questions (warm), against one bare question
    embedding + FAISS search on the same index in the same process (the baseline's whole ask), for each
    collection built by bench/corpora.py; the question embedding alone, quiet and with the other core
    busy. Each collection is measured in a fresh process that also imports the Discord face (as the bot
    does) and reports its resident memory (VmRSS) after loading the model, the indexes and answering.
  * Cold start of `python -m bot --json ask`: the wall time of the real command, and a breakdown from a
    harness that does the same steps (interpreter, imports, the model runtime, model load, index load
    from the cache files, first answer).

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
def ingest(n_articles: int, runtime: str) -> dict[str, object]:
    from bench.baseline import split
    from index import Engine, EngineSettings
    from index.inference.embedding import Embedder

    rows = bbc_sample(bbc_rows(), n_articles)
    docs = [d for _, d in bbc_documents(rows)]
    embedder = Embedder(runtime=runtime)
    embedder.load()
    embedder.encode(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(EngineSettings(data_dir=Path(tmp)), embedder)
        started = time.perf_counter()
        results = engine.add_documents("bench", docs)
        ours_s = time.perf_counter() - started
        chunks = [text for _, text in engine.store.chunk_texts("bench")]
        sentences = engine.store.layout_counts("bench")[1]
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
        "runtime": runtime,
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
def busy_core() -> subprocess.Popen:
    """Another process spinning on one core, as a second bot shard or an ingest would."""
    return subprocess.Popen([PY, "-c", "while True: pass"])


def embed_timings(engine, questions: list[str]) -> list[float]:
    timings = []
    for question in questions:
        started = time.perf_counter()
        engine.embedder.encode([question])
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def latency_child(collection: str, n_questions: int, runtime: str, answer_model: bool = True) -> dict[str, object]:
    import bot.client  # noqa: F401  (the Discord face: a bot process holds it too)
    from index import Engine, EngineSettings

    memory = {"start": rss_mb()}
    engine = Engine(EngineSettings(data_dir=NEWS_DIR, runtime=runtime, answer_model=answer_model))
    engine.embedder.load()
    memory["model_loaded"] = rss_mb()
    state = engine.search_index(collection)
    memory["indexes_loaded"] = rss_mb()
    titles = [a.title for a in engine.list_articles(collection)]
    questions = random.Random(1).sample(titles, min(n_questions, len(titles)))
    ours, bare = time_asks(engine, collection, questions)
    memory["after_asks"] = rss_mb()
    embed_quiet = embed_timings(engine, questions)
    spinner = busy_core()
    try:
        time.sleep(0.5)
        embed_busy = embed_timings(engine, questions)
    finally:
        spinner.kill()
        spinner.wait()
    p_ours, p_bare = percentiles(ours), percentiles(bare)
    return {
        "runtime": runtime,
        "answer_model": answer_model,
        "collection": collection,
        "embed_question_ms": percentiles(embed_quiet),
        "embed_question_other_core_busy_ms": percentiles(embed_busy),
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
import json, os, sys, time
t = [time.perf_counter()]
import bot.cli, index.engine, bot.config, bot.render
t.append(time.perf_counter())
if os.environ.get("BYLINE_RUNTIME") == "torch":
    import torch, sentence_transformers
else:
    import onnxruntime, tokenizers
t.append(time.perf_counter())
from index.engine import Engine
from bot import config
engine = Engine(config.load(None).engine)
engine.embedder.load()
t.append(time.perf_counter())
engine.search_index(sys.argv[1])
t.append(time.perf_counter())
engine.ask(sys.argv[1], sys.argv[2])
t.append(time.perf_counter())
steps = ["imports (bot, index)", "import the model runtime", "model load", "index load", "first answer"]
print(json.dumps({s: round((b - a) * 1000) for s, a, b in zip(steps, t, t[1:])}))
"""


def cold_start(collection: str, question: str, runtime: str, runs: int = 3) -> dict[str, object]:
    env = {**os.environ, "BYLINE_DATA_DIR": str(NEWS_DIR), "PYTHONPATH": str(REPO), "BYLINE_RUNTIME": runtime}

    def wall(cmd: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)
        return (time.perf_counter() - started) * 1000

    interpreter = statistics.median(wall([PY, "-c", "pass"]) for _ in range(runs))
    command = [PY, "-m", "bot", "--json", "--collection", collection, "ask", question]
    real = statistics.median(wall(command) for _ in range(runs))
    parts = []
    for _ in range(runs):
        out = subprocess.run(
            [PY, "-c", HARNESS, collection, question], cwd=REPO, env=env, check=True, capture_output=True, text=True
        )
        parts.append(json.loads(out.stdout.strip().splitlines()[-1]))
    breakdown = {"python interpreter": round(interpreter)}
    breakdown.update({k: round(statistics.median(p[k] for p in parts)) for k in parts[0]})
    return {
        "runtime": runtime,
        "bot_ask_wall_ms": round(real),
        "runs": runs,
        "breakdown_ms": breakdown,
        "collection": collection,
    }


RUNTIMES = ("onnx", "torch")


def ratio(new: float, old: float) -> float:
    return round(new / old, 3) if old else float("nan")


def compare(numbers: dict[str, object]) -> dict[str, object]:
    """ONNX / torch ratios of the same run (below 1: ONNX takes less)."""
    out: dict[str, object] = {}
    ingest_pair = numbers["ingest"]
    out["ingest_chunks_per_s"] = ratio(ingest_pair["onnx"]["chunks_per_s"], ingest_pair["torch"]["chunks_per_s"])
    for collection, pair in numbers["latency"].items():
        onnx, torch = pair["onnx"], pair["torch"]
        out[collection] = {
            "ask_p50": ratio(onnx["ask_ms"]["p50"], torch["ask_ms"]["p50"]),
            "ask_p95": ratio(onnx["ask_ms"]["p95"], torch["ask_ms"]["p95"]),
            "embed_question_p50": ratio(onnx["embed_question_ms"]["p50"], torch["embed_question_ms"]["p50"]),
            "embed_question_p95": ratio(onnx["embed_question_ms"]["p95"], torch["embed_question_ms"]["p95"]),
            "embed_question_busy_p50": ratio(
                onnx["embed_question_other_core_busy_ms"]["p50"], torch["embed_question_other_core_busy_ms"]["p50"]
            ),
            "embed_question_busy_p95": ratio(
                onnx["embed_question_other_core_busy_ms"]["p95"], torch["embed_question_other_core_busy_ms"]["p95"]
            ),
            "rss_after_asks": ratio(onnx["rss_mb"]["after_asks"], torch["rss_mb"]["after_asks"]),
        }
    cold = numbers["cold_start"]
    out["cold_ask_wall"] = ratio(cold["onnx"]["bot_ask_wall_ms"], cold["torch"]["bot_ask_wall_ms"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small ingest, the 200-article collection only")
    parser.add_argument("--collections", help="comma-separated collections to time (default: by --quick)")
    parser.add_argument("--child", metavar="COLLECTION", help=argparse.SUPPRESS)
    parser.add_argument("--questions", type=int, default=200, help=argparse.SUPPRESS)
    parser.add_argument("--runtime", choices=RUNTIMES, default="onnx", help=argparse.SUPPRESS)
    parser.add_argument("--cheap-scoring", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(latency_child(args.child, args.questions, args.runtime, not args.cheap_scoring)))
        return
    collections = ["bbc200"] if args.quick else ["bbc200", "bbc", "bbc_x8"]
    if args.collections:
        collections = args.collections.split(",")
    ensure(tuple(collections))  # build outside the timed part
    if not args.quick and "bbc_dai" in manifest():
        collections.insert(2, "bbc_dai")
    FLAG.touch()
    try:
        numbers: dict[str, object] = {"load_average_at_start": load()}
        numbers["ingest"] = {}
        for runtime in RUNTIMES:
            numbers["ingest"][runtime] = ingest(60 if args.quick else 200, runtime)
            print(json.dumps(numbers["ingest"][runtime]), flush=True)
        numbers["latency"] = {}
        questions = 100 if args.quick else 200
        for collection in collections:
            numbers["latency"][collection] = {}
            # as shipped (the answer model on) on each runtime, and the cheap scoring alone on ONNX
            for name, flags in [
                *((r, ["--runtime", r]) for r in RUNTIMES),
                ("onnx_cheap_scoring", ["--cheap-scoring"]),
            ]:
                out = subprocess.run(
                    [PY, __file__, "--child", collection, *flags, "--questions", str(questions)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                numbers["latency"][collection][name] = json.loads(out.stdout.strip().splitlines()[-1])
                print(json.dumps(numbers["latency"][collection][name]), flush=True)
        numbers["cold_start"] = {
            runtime: cold_start(collections[min(1, len(collections) - 1)], "Who won the election?", runtime, runs=3)
            for runtime in RUNTIMES
        }
        numbers["onnx_over_torch"] = compare(numbers)
        numbers["load_average_at_end"] = load()
    finally:
        FLAG.unlink(missing_ok=True)
    if "bbc_dai" in manifest() and not args.quick:
        numbers["bbc_dai_collection"] = {k: v for k, v in manifest()["bbc_dai"].items() if k != "ids"}
    record("speed_quick" if args.quick else "speed", numbers)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
