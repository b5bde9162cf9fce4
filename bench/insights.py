"""Insights over a busy week: 10,000 logged questions on one collection (the 6 sample articles and the
25 BBC articles of the members' set), timed through `Engine.insights` whole, the gap re-check included.

The log is generated, not asked (asking 10,000 questions would take the answer model ~15 minutes): the
members' answerable questions (bench/members/) are logged as answered, quoting their article; SQuAD v1.1
dev questions (about articles the collection does not hold) and the members' off-topic and unanswerable
questions as "the articles don't say", repeated as members repeat themselves; a 👎 on one answer in 20.
Spread over the last 7 days; the articles were added 30 days before. One new article is added just before
insights run, so 10 gaps are asked again (the re-check's most expensive case).

The faces log each question's vector with it (the embedding retrieval made while answering), so the log is
generated with those vectors. Three timings: first (the first insights over this log), warm (the next call,
after 100 more questions asked and logged through the engine), and a log whose vectors do not serve (written
before the log kept them, or by another model: every distinct gap question is embedded once, then kept).

    PYTHONPATH=. .venv/bin/python bench/insights.py"""

from __future__ import annotations

import json
import logging
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH, DATA, REPO, record

BASE = Path("/tmp/byline_insights_v2")  # the collection and its generated log, made once and copied per run
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
QUESTIONS = 10_000
SQUAD = DATA / "squad-v1.1-dev" / "dev-v1.1.json"
MEMBERS = BENCH / "members" / "members_questions.jsonl"
BBC = DATA / "bbc-news-summary" / "bbc_news_summary.jsonl"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _answer(question: str, quote: dict | None) -> str:
    """What a face logs: Answer.to_json(), with a quote when it answered."""
    return json.dumps(
        {
            "question": question,
            "answer": quote["text"] if quote else "The articles don't say.",
            "abstained": quote is None,
            "quotes": [quote] if quote else [],
            "took_ms": 90.0,
            "related": [],
            "confidence": 0.9 if quote else 0.1,
            "mode": "extractive",
            "dropped": [],
        },
        ensure_ascii=False,
    )


def build(base: Path = BASE) -> None:
    from index import Engine, EngineSettings
    from index.storage import utc_iso

    members = [json.loads(line) for line in MEMBERS.read_text(encoding="utf-8").splitlines() if line.strip()]
    wanted = {m["article"] for m in members if m["source"] == "bbc"}
    bbc = {}
    for line in BBC.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["id"] in wanted:
            bbc[item["id"]] = item["article"]
    engine = Engine(EngineSettings(data_dir=base), clock=Clock(NOW - timedelta(days=30)))
    ids: dict[str, tuple[int, str]] = {}
    for path in sorted((REPO / "examples" / "articles").glob("*.txt")):
        result = engine.add_file("default", path)
        ids[path.name] = (result.id, result.title)
    for key, text in bbc.items():
        result = engine.add_text("default", text, source=key)
        ids[key] = (result.id, result.title)

    squad = [q["question"] for a in json.loads(SQUAD.read_text())["data"] for p in a["paragraphs"] for q in p["qas"]]
    answerable = [m for m in members if m["answerable"] and m["article"] in ids]
    missing = [m["question"] for m in members if not m["answerable"]]
    rng = random.Random(29)
    rows = []
    for _ in range(QUESTIONS):
        roll = rng.random()
        if roll < 0.55:  # answered, quoting its article
            member = rng.choice(answerable)
            article_id, title = ids[member["article"]]
            quote = {"text": member["gold_sentence"] or "", "article_id": article_id, "title": title, "url": None}
            quote |= {"published": None, "start": 0, "end": 1, "score": 0.9, "answer_span": None}
            question, answer = member["question"], _answer(member["question"], quote)
        else:  # the articles don't say: SQuAD's questions (some asked again and again), members' off-topic ones
            question = rng.choice(missing) if roll < 0.65 else rng.choice(squad[: 3000 if roll < 0.8 else None])
            answer = _answer(question, None)
        created = NOW - timedelta(seconds=rng.randrange(6 * 86400 + 12 * 3600))  # inside the 7-day window
        rows.append((question, answer, f"member-{rng.randrange(400)}", utc_iso(created)))
    rows.sort(key=lambda row: row[3])
    # each question's vector, as the faces log it (the embedding retrieval made while answering)
    distinct = sorted({row[0] for row in rows})
    vectors = dict(zip(distinct, engine.embedder.encode(distinct), strict=True))
    for question, answer, asker, created in rows:
        answer_id = engine.store.insert_answer(
            "default", question, answer, asker, created, vectors[question], engine.embedder.name
        )
        if rng.random() < 0.05:
            engine.store.put_vote(answer_id, asker, -1 if rng.random() < 0.5 else 1, created)
    engine.close()


def main() -> None:
    from index import Engine, EngineSettings

    if not (BASE / "byline.sqlite3").exists():
        print(f"building {BASE} (the collection and 10,000 logged questions) ...", flush=True)
        build()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(BASE, data)
        clock = Clock(NOW)
        engine = Engine(EngineSettings(data_dir=data), clock=clock)
        engine.embedder.load()
        engine.ask("default", "warm-up: when did webb go up?")  # the answer model loaded, as in a running bot
        clock.now = NOW + timedelta(minutes=1)
        engine.add_text("default", "The Port Ellery lighthouse lens was lit on Tuesday evening.\n" * 3)
        clock.now = NOW + timedelta(minutes=2)
        started = time.perf_counter()
        cold = engine.insights("default", 7)
        cold_s = time.perf_counter() - started
        for n in range(100):  # a hundred more questions, new to the log
            engine.feedback.log_answer("default", engine.ask("default", f"question {n} about nothing at all"), "m")
        started = time.perf_counter()
        warm = engine.insights("default", 7)
        warm_s = time.perf_counter() - started
        # a log whose vectors no longer serve (written before the log kept them, or by another model): every
        # distinct gap question is embedded once, then kept
        stale = np.zeros(engine.embedder.dimension, dtype=np.float32)
        engine.store.put_question_vectors([(row.id, stale) for row in engine.store.answers("default")], "old-model")
        started = time.perf_counter()
        engine.insights("default", 7)
        unembedded_s = time.perf_counter() - started
        engine.close()
    gap_questions = sum(g.count for g in warm.gaps) + sum(g.count for g in warm.closed)
    numbers = {
        "questions": warm.questions,
        "answered": warm.answered,
        "abstained": warm.abstained,
        "gaps_shown": len(warm.gaps),
        "gap_questions_in_shown_gaps": gap_questions,
        "closed": len(cold.closed),
        "first_s": round(cold_s, 2),
        "warm_s": round(warm_s, 2),
        "unembedded_log_s": round(unembedded_s, 2),
    }
    print(json.dumps(numbers, indent=2))
    record("insights", numbers)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
