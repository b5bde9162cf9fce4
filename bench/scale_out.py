"""Scale-out bench: PostgreSQL against SQLite, two processes against one, and many small collections.

  * Ask latency, warm, p50/p95 over 200 article titles asked as questions on "bbc" (all 2,225 BBC articles,
    ~12k chunks, bench/corpora.py), in one process holding two engines: the SQLite data dir, and a
    PostgreSQL copy of it made by `python -m bot migrate --to` (timed: a copy without re-embedding). The
    questions alternate between the two, so both see the same CPU; the ratio is PostgreSQL / SQLite.
  * Cache build: a collection's FAISS and BM25 indexes rebuilt from each store (its cache files removed),
    median of 3, per backend.
  * Throughput: questions answered per second over 30 s by 1 process, then by 2 processes, each an engine
    on the PostgreSQL store with its own cache dir and as many askers as the bot's answering pool has
    threads (its cores), with defaults; then the same with each process pinned to one core of its own (a
    container of one CPU each). With the CPU seconds the askers used and the machine's busy seconds, so
    that the ceiling (the cores) shows.
  * Memory: the resident memory (VmRSS) of a process with the Discord face imported and the model loaded,
    then after asking each of 100 small server collections (5 BBC articles each, rows copied from "bbc",
    no embedding) once, so that all 100 search indexes are in memory.

PostgreSQL is the pgserver wheel (requirements-dev.txt), started in /tmp/byline_bench/postgres on a Unix
socket only; the copy is made into a fresh database each run.

    python bench/scale_out.py              # ~6 min once "bbc" exists (bench/corpora.py builds it: ~15 min)
    python bench/scale_out.py --seconds 10 # shorter throughput runs"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, percentiles, record
from bench.corpora import NEWS_DIR, copy_article, ensure

PY = sys.executable
PG_DIR = Path("/tmp/byline_bench/postgres")
COLLECTION = "bbc"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", **extra}


# -- PostgreSQL ----------------------------------------------------------------------------------
def postgres_copy() -> tuple[object, str, dict[str, object]]:
    """A running server, the URL of a fresh database holding the copy of NEWS_DIR, and the copy's report."""
    import pgserver

    PG_DIR.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(PG_DIR, cleanup_mode="stop")
    server.psql("DROP DATABASE IF EXISTS byline_bench WITH (FORCE);")
    server.psql("CREATE DATABASE byline_bench;")
    url = server.get_uri("byline_bench")
    started = time.perf_counter()
    out = subprocess.run(
        [PY, "-m", "bot", "--json", "migrate", "--to", url],
        env=env(BYLINE_DATA_DIR=str(NEWS_DIR)),
        cwd=REPO,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - started
    report = json.loads(out.stdout)
    copied = report["copied"]
    return (
        server,
        url,
        {
            "articles": copied["articles"],
            "chunks": copied["chunks"],
            "sentences": copied["sentences"],
            "copy_seconds": report["seconds"],
            "command_wall_seconds": round(wall, 1),
            "check_consistent": report["check"]["consistent"],
        },
    )


# -- latency and cache build (one process, both stores) ------------------------------------------
def questions_of(engine, n: int = 200) -> list[str]:
    titles = [a.title for a in engine.list_articles(COLLECTION)]
    return random.Random(1).sample(titles, min(n, len(titles)))


def latency(url: str) -> dict[str, object]:
    from index import Engine, EngineSettings

    pg_caches = Path(tempfile.mkdtemp(prefix="byline-bench-pg-"))
    engines = {
        "sqlite": Engine(EngineSettings(data_dir=NEWS_DIR)),
        "postgresql": Engine(EngineSettings(data_dir=pg_caches, database_url=url)),
    }
    try:
        build: dict[str, list[float]] = {name: [] for name in engines}
        for _ in range(3):
            for name, engine in engines.items():
                engine.indexes.delete_files(COLLECTION)
                started = time.perf_counter()
                engine.search_index(COLLECTION)
                build[name].append((time.perf_counter() - started) * 1000)
        questions = questions_of(engines["sqlite"])
        for engine in engines.values():
            for question in questions[:5]:
                engine.ask(COLLECTION, question)
        took: dict[str, list[float]] = {name: [] for name in engines}
        same = 0
        for question in questions:
            answers = {}
            for name, engine in engines.items():
                started = time.perf_counter()
                answers[name] = engine.ask(COLLECTION, question)
                took[name].append((time.perf_counter() - started) * 1000)
            same += [q.text for q in answers["sqlite"].quotes] == [q.text for q in answers["postgresql"].quotes]
        ask = {name: percentiles(values) for name, values in took.items()}
        return {
            "chunks": len(engines["sqlite"].search_index(COLLECTION).vectors),
            "ask_ms": ask,
            "ratio_p50": round(ask["postgresql"]["p50"] / ask["sqlite"]["p50"], 2),
            "ratio_p95": round(ask["postgresql"]["p95"] / ask["sqlite"]["p95"], 2),
            "same_quotes": f"{same}/{len(questions)}",
            "cache_build_ms": {name: round(statistics.median(values)) for name, values in build.items()},
        }
    finally:
        for engine in engines.values():
            engine.close()
        shutil.rmtree(pg_caches, ignore_errors=True)


# -- throughput (child processes) ----------------------------------------------------------------
def throughput_child(url: str, cache_dir: str, cpu: str) -> None:
    """Warm up, say "ready", wait for a line on stdin, then ask from as many threads as the bot's answering
    pool has for the number of seconds that line gives; print what was answered. `cpu` "all", or the one
    core this process may run on (as a container limited to one CPU: the model and the answering pool
    then take one thread each, as the bot would)."""
    import threading

    if cpu != "all":
        os.sched_setaffinity(0, {int(cpu)})

    import bot.client  # noqa: F401  (the Discord face: a bot process holds it too)
    from index import Engine, EngineSettings
    from index.inference.runtime import default_threads

    engine = Engine(EngineSettings(data_dir=Path(cache_dir), database_url=url))
    questions = questions_of(engine)
    for question in questions[:5]:
        engine.ask(COLLECTION, question)
    print("ready", flush=True)
    seconds = float(sys.stdin.readline())
    deadline = time.perf_counter() + seconds
    counts: list[int] = []

    def asker(offset: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            engine.ask(COLLECTION, questions[(offset + n) % len(questions)])
            n += 1
        counts.append(n)

    askers = [threading.Thread(target=asker, args=(k * 37,)) for k in range(default_threads())]
    started, cpu = time.perf_counter(), time.process_time()
    for thread in askers:
        thread.start()
    for thread in askers:
        thread.join()
    took = {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu}
    print(json.dumps({"questions": sum(counts), **took}), flush=True)
    engine.close()


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (every core, /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def throughput(url: str, processes: int, pinned: bool, seconds: float) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="byline-bench-tp-"))
    children = []
    try:
        for k in range(processes):
            (folder / str(k)).mkdir()
            children.append(
                subprocess.Popen(
                    [PY, __file__, "--throughput-child", url, str(folder / str(k)), str(k) if pinned else "all"],
                    env=env(),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        busy = busy_seconds()
        for child in children:
            child.stdin.write(f"{seconds}\n")
            child.stdin.flush()
        results = [json.loads(child.stdout.readline()) for child in children]
        busy = busy_seconds() - busy
        for child in children:
            child.wait(60)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        shutil.rmtree(folder, ignore_errors=True)
    answered = sum(r["questions"] for r in results)
    wall = max(r["seconds"] for r in results)
    return {
        "processes": processes,
        "cores_each": "one (pinned)" if pinned else "all",
        "questions": answered,
        "seconds": round(wall, 1),
        "questions_per_s": round(answered / wall, 2),
        # where the cores went: the askers' own processes, and everything else (PostgreSQL's backends)
        "cpu_seconds_askers": round(sum(r["cpu_seconds"] for r in results), 1),
        "cpu_seconds_machine": round(busy, 1),
    }


# -- memory of many small collections (child process) --------------------------------------------
def memory_child(n_collections: int, per_collection: int) -> dict[str, object]:
    import bot.client  # noqa: F401
    from index import Engine, EngineSettings
    from index.storage import open_store, sqlite_url

    folder = Path(tempfile.mkdtemp(prefix="byline-bench-mem-"))
    try:
        source = open_store(sqlite_url(NEWS_DIR / "byline.sqlite3"))
        rows = source.articles(COLLECTION)
        picked = random.Random(3).sample(rows, n_collections * per_collection)
        texts = source.article_texts([r.id for r in picked])
        engine = Engine(EngineSettings(data_dir=folder))
        for k in range(n_collections):
            for row in picked[k * per_collection : (k + 1) * per_collection]:
                copy_article(source, engine.store, texts[row.id], f"guild-{k}")
        source.close()
        engine.close()  # a fresh process would find the store as it is now
        engine = Engine(EngineSettings(data_dir=folder))
        engine.embedder.load()
        engine.ask("guild-0", "what happened?")
        first = rss_mb()
        chunks = 0
        for k in range(n_collections):
            engine.ask(f"guild-{k}", "who said it would happen?")
            chunks += len(engine.search_index(f"guild-{k}").vectors)
        held = len(engine.indexes.held())
        last = rss_mb()
        engine.close()
        return {
            "collections": n_collections,
            "articles_each": per_collection,
            "chunks": chunks,
            "indexes_in_memory": held,
            "rss_mb_one_collection": first,
            "rss_mb_all_collections": last,
            "mb_per_collection": round((last - first) / max(1, n_collections - 1), 2),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="each throughput run (default 30)")
    parser.add_argument("--throughput-child", nargs=3, metavar=("URL", "CACHES", "CPU"), help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.throughput_child:
        throughput_child(*args.throughput_child)
        return
    if args.memory_child:
        print(json.dumps(memory_child(100, 5)))
        return
    ensure(("bbc",))
    server, url, copy = postgres_copy()
    try:
        numbers: dict[str, object] = {"migrate": copy}
        print(json.dumps(copy), flush=True)
        numbers["latency"] = latency(url)
        print(json.dumps(numbers["latency"]), flush=True)
        runs = {}
        for name, processes, pinned in (
            ("one", 1, False),
            ("two", 2, False),
            ("one_pinned", 1, True),
            ("two_pinned", 2, True),
        ):
            runs[name] = throughput(url, processes, pinned, args.seconds)
            print(json.dumps(runs[name]), flush=True)
        rate = {name: run["questions_per_s"] for name, run in runs.items()}
        numbers["throughput"] = {
            **runs,
            # a second process beside one that may use every core
            "two_over_one": round(rate["two"] / rate["one"], 2),
            # one process per core (a container of one CPU each, or one machine each)
            "two_pinned_over_one_pinned": round(rate["two_pinned"] / rate["one_pinned"], 2),
            "two_pinned_over_one": round(rate["two_pinned"] / rate["one"], 2),
        }
        out = subprocess.run([PY, __file__, "--memory-child"], env=env(), check=True, stdout=subprocess.PIPE, text=True)
        numbers["memory"] = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(numbers["memory"]), flush=True)
        numbers["load_average"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    finally:
        server.cleanup()
    record("scale_out", numbers)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
