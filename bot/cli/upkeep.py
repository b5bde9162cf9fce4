"""`reindex`, `check`, `prepare`, `migrate`: keeping the store, the caches and the models sound."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.cli.common import EXIT_OK, EXIT_USER_ERROR, AddCommand, Command, emit
from index.errors import InvalidInput

if TYPE_CHECKING:
    from index.engine import Engine


def cmd_reindex(engine: Engine, args: argparse.Namespace, collection: str | None) -> int:
    counts = engine.reindex(collection)
    text = "\n".join(f"{name}: {n} chunks" for name, n in counts.items()) or "Nothing to reindex."
    emit(args, {"collections": counts}, text)
    return EXIT_OK


def cmd_check(engine: Engine, args: argparse.Namespace, collection: str | None) -> int:
    from bot import render

    report = engine.check(collection)
    emit(args, report.to_json(), render.check_report_text(report))
    return EXIT_OK  # consistent, or made so; a check that cannot repair raises (exit 1)


def cmd_prepare(args: argparse.Namespace) -> int:
    import time

    from bot import config
    from index.inference.embedding import Embedder

    settings = config.load(args.data_dir).engine
    embedder = Embedder(settings.model, runtime=settings.runtime, cache_dir=settings.model_cache)
    if settings.model or settings.runtime != "onnx":
        payload = {"model": embedder.name, "runtime": "torch", "path": None, "made": False, "seconds": 0.0}
        emit(args, payload, f"{embedder.name} runs on sentence-transformers: there is no ONNX copy to make.")
        return EXIT_OK
    started = time.perf_counter()
    folder, made = embedder.prepare()
    seconds = round(time.perf_counter() - started, 1)
    payload = {"model": embedder.name, "runtime": "onnx", "path": str(folder), "made": made, "seconds": seconds}
    verb = f"made and verified in {seconds:.1f} s" if made else "present and verified"
    lines = [f"ONNX copy of {embedder.name}: {verb} ({folder})"]
    if settings.answer_model:  # shipped in the repository: only checked (checksum) and loaded here
        from index.inference.answer_model import AnswerModel

        judge = AnswerModel(threads=1)
        judge.load()
        payload["answer_model"] = {"path": str(judge.folder), "sha256": judge.card.sha256, "threshold": judge.threshold}
        lines.append(f"Answer-sentence model: verified ({judge.folder}, threshold {judge.threshold:.2f})")
    emit(args, payload, "\n".join(lines))
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    from bot import config
    from index.engine import Engine
    from index.storage import open_store, sqlite_url
    from index.upkeep.migrate import copy_store

    settings = config.load(args.data_dir).engine
    if not args.to.startswith(("postgresql://", "postgres://")):
        raise InvalidInput("migrate --to takes a postgresql:// URL.")
    database = Path(settings.data_dir) / "byline.sqlite3"
    if not database.exists():
        raise InvalidInput(f"There is no Byline database in {settings.data_dir} to copy ({database} is missing).")
    source, target = open_store(sqlite_url(database)), open_store(args.to)
    try:

        def progress(done: int, total: int) -> None:
            if args.verbose and (done % 100 == 0 or done == total):
                print(f"{done:,}/{total:,} articles", file=sys.stderr)

        report = copy_store(source, target, progress)
    finally:
        source.close()
        target.close()
    # verified the way any process would: caches built from the new store (in a folder of their own) agree
    with tempfile.TemporaryDirectory(prefix="byline-migrate-") as caches:
        engine = Engine(replace(settings, database_url=args.to, data_dir=Path(caches)))
        try:
            checked = engine.check()
        finally:
            engine.close()
    payload = {**report.to_json(), "check": checked.to_json()}
    copied = report.copied
    text = (
        f"copied    {copied['articles']:,} articles ({copied['chunks']:,} chunks, {copied['sentences']:,} sentences),"
        f" {copied['answers']:,} answers, {copied['feedback']:,} votes, {copied['digest_schedules']:,} schedules"
        f" in {report.seconds:.1f} s; {report.skipped_articles:,} articles were already there\n"
        f"check     {'consistent' if checked.consistent else 'repaired'}; "
        f"{'complete' if report.complete else 'INCOMPLETE'}"
    )
    emit(args, payload, text)
    return EXIT_OK if report.complete else EXIT_USER_ERROR


def migrate_options(parser: argparse.ArgumentParser, command: AddCommand) -> None:
    parser.add_argument("--to", required=True, metavar="URL", help="the target, postgresql://user:pass@host/db")


COMMANDS = {
    "reindex": Command(
        "rebuild the FAISS and BM25 caches from SQLite (all collections unless --collection)",
        cmd_reindex,
        every_collection=True,
    ),
    "check": Command(
        "verify that SQLite, FAISS and BM25 agree, repairing what does not (all collections unless --collection)",
        cmd_check,
        every_collection=True,
    ),
    "prepare": Command(
        "make the ONNX copy of the bundled model now, from its own weights (make install does; else first use)",
        cmd_prepare,
        engine=False,  # needs the model, not the data dir
    ),
    "migrate": Command(
        "copy this data dir's SQLite store into PostgreSQL (no re-embedding; resumable; checked at the end)",
        cmd_migrate,
        migrate_options,
        engine=False,  # two stores, not the configured one
    ),
}
