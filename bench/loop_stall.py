"""The Discord face under load: N members send /ask at once while a moderator's /article add ingest runs,
through the real bot on the tests' loopback Discord (tests/load_scenario.py, the scenario of
tests/test_load.py). Prints the event loop's longest stall and the answer latency, and writes them into
bench/results.json under "loop_stall", with how long one full garbage collection takes once the model is
loaded, with and without gc.freeze() (the bot freezes its start-up heap; a full collection holds the GIL, so
its length is a loop stall whenever one happens under load). --compare also runs the load once with
gc.freeze() disabled; whether a full collection falls inside that window is chance (see "full_gc_ms").

    PYTHONPATH=. .venv/bin/python bench/loop_stall.py [--members 50] [--compare]"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
from common import REPO, percentiles, record

sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from load_scenario import check_answer, run_load
from test_discord import discord_world

from index import Engine, EngineSettings
from index.inference.embedding import Embedder


def one_run(embedder: Embedder, members: int, freeze: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as data_dir:
        engine = Engine(EngineSettings(data_dir=Path(data_dir)), embedder)
        patch = contextlib.nullcontext() if freeze else mock.patch.object(gc, "freeze")
        with patch, discord_world(engine, ask_cooldown=10) as (fake, running, guild, _):
            collection = f"guild-{guild}"
            errors: list = []
            engine.add_documents(collection, engine.documents(str(REPO / "examples" / "articles"), errors))
            load_before = os.getloadavg()[0]
            result = run_load(fake, running, guild, members=members)
            load_after = os.getloadavg()[0]
            wrong = [
                why
                for log, (_, expected) in zip(result.asks, result.questions, strict=True)
                if (why := check_answer(engine, collection, log, expected))
            ]
            chunks = engine.list_articles(collection)[-1].chunks
        engine.close()
        gc.unfreeze()  # the next run starts from the same heap state
    stalls = percentiles(result.stalls_ms)
    return {
        "gc_freeze": freeze,
        "members": members,
        "ingest_chunks": chunks,
        "ingest_seconds": round(result.ingest_seconds, 1),
        "answered_during_ingest": result.answered_during_ingest,
        "wrong_answers": len(wrong),
        "refused_payloads": len(result.refused),
        "longest_loop_stall_ms": round(result.longest_stall_ms, 1),
        "loop_lateness_ms": {**stalls, "p99": round(float(np.percentile(result.stalls_ms, 99)), 2)},
        "answer_ms": percentiles(result.latencies_ms),
        "full_gc_ms": [round(ms, 1) for ms in result.full_collections_ms],
        "load_average": [round(load_before, 2), round(load_after, 2)],
    }


def full_collection_ms() -> float:
    started = time.perf_counter()
    gc.collect()
    return round((time.perf_counter() - started) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--compare", action="store_true", help="also run without gc.freeze() (before the fix)")
    args = parser.parse_args()
    embedder = Embedder()
    embedder.load()
    Engine(EngineSettings(data_dir=Path(tempfile.mkdtemp())), embedder).close()  # import what the bot imports
    import bot.client  # noqa: F401

    unfrozen = full_collection_ms()
    gc.freeze()
    frozen = full_collection_ms()
    gc.unfreeze()
    print(f"one full garbage collection with the model loaded: {unfrozen} ms, after gc.freeze(): {frozen} ms")
    runs = [one_run(embedder, args.members, freeze=True)]
    if args.compare:
        runs.append(one_run(embedder, args.members, freeze=False))
    for run in runs:
        print(
            f"gc.freeze {'on ' if run['gc_freeze'] else 'off'}: {run['members']} asks during a "
            f"{run['ingest_chunks']}-chunk ingest ({run['ingest_seconds']} s): longest loop stall "
            f"{run['longest_loop_stall_ms']} ms, p99 lateness {run['loop_lateness_ms']['p99']} ms; answers "
            f"p50 {run['answer_ms']['p50']:.0f} ms, p95 {run['answer_ms']['p95']:.0f} ms; "
            f"{run['wrong_answers']} wrong, {run['refused_payloads']} refused; full GCs (ms): {run['full_gc_ms']}"
        )
    record(
        "loop_stall",
        {
            "what": "N members /ask at once while /article add embeds a long upload, real bot on the loopback "
            "Discord; the monitor sleeps 5 ms in the bot's loop and records how late it wakes",
            "full_gc_ms": {"unfrozen": unfrozen, "after_gc_freeze": frozen, "objects": len(gc.get_objects())},
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
