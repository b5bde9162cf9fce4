"""Calibrate the answer model on tune questions that look like members' questions, never a report half.

    PYTHONPATH=. .venv/bin/python training/calibrate_answer_model.py [--recorded]   (part of `make train`)

Two tune sets, asked through the engine the way members ask:
- "squad": the questions of SQuAD dev's calibration articles (training/answer_data.py: tune-half articles
  kept out of training; answerable ones from v1.1, unanswerable ones from v2.0), reworded casually as
  members type (training/answer_data.py `casual`, seeded), asked of the 48-article SQuAD collection
  (bench/squad_collection.py, built once under /tmp);
- "members": the tune half of the members' questions (bench/members_eval.py: casual questions over 31 news
  and sample articles, a quarter about an article that is there but does not say, some off-topic).
Every candidate the judge sees is recorded: its logit, cheap score and whether it holds a gold answer
from the right article. Then, offline:
- `blend`: the weight of the cheap score in the quote ranking that maximises gold in the top quote,
  averaged over the two sets (within half a point, the largest);
- `threshold`: the lowest probability at which the members' on-topic unanswerable questions abstain at
  least ON_TOPIC_ABSTAINED of the time (a question whose article is there but silent should mostly get
  "the articles don't say"); the lowest, because every step up costs answered questions. SQuAD's
  reworded questions are reported beside it, not chased: its v2.0 unanswerables are written to fool
  readers, and a threshold strict enough for them abstains on most of what members ask.
Both are written into index/weights/answer-sentence/model.json, with each set's numbers."""

from __future__ import annotations

import json
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.squad_collection import DATA_DIR, build
from bench.tune_scoring import auc
from index.inference.answer_model import CARD_FILE, WEIGHTS
from training.answer_data import SQUAD_V1, casual, questions

SEED = 2026
ON_TOPIC_ABSTAINED = 0.6  # the members' floor of the answers issue, met on the tune half

RECORDS = Path("/tmp/byline_bench/calibration_records.json")
BLENDS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)


def record_candidates(
    engine, collection: str, asked: list[tuple[str, str, list[str] | None, str | int]], ignore_case: bool = False
) -> list[dict]:
    """Per question (id, text, gold answers or None, its article's title or id): the judged candidates'
    logits, cheap scores and gold flags (in cheap-score order)."""
    judge = engine.answering.judge
    assert judge is not None
    titles = {a.id: a.title for a in engine.store.articles(collection)}
    out = []
    started = time.time()
    for n, (_, text, answers, title) in enumerate(asked):
        with engine.evidence.gather(collection, text) as evidence:
            sentences = sorted(evidence.sentences, key=lambda s: s.score, reverse=True)[: judge.candidates]
            texts = evidence.texts or {}
            previous = judge.previous_sentences(sentences, texts)
            pairs = [(texts[s.article_id, s.index], previous.get((s.article_id, s.index))) for s in sentences]
            logits = judge.model.logits(text, pairs) if pairs else np.zeros(0)
            fold = str.lower if ignore_case else str
            gold = [
                bool(answers)
                and (s.article_id == title if isinstance(title, int) else titles[s.article_id] == title)
                and any(fold(a) in fold(texts[s.article_id, s.index]) for a in answers or ())
                for s in sentences
            ]
        out.append(
            {
                "answerable": answers is not None,
                "logits": [float(x) for x in logits],
                "cheap": [float(s.score) for s in sentences],
                "gold": gold,
            }
        )
        if n % 200 == 199:
            print(f"{n + 1}/{len(asked)} questions in {time.time() - started:.0f}s", flush=True)
    return out


def evaluate(
    records: list[dict], blend: float, threshold: float, limit: int = 3, candidates: int = 64
) -> dict[str, float]:
    """Top quote, any quote, answered with gold, abstained when unanswerable, as the judge would decide
    with these settings (the first `candidates` in cheap-score order)."""
    top1, anyq, answered_gold, abstained_unans, n_ans, n_unans = 0, 0, 0, 0, 0, 0
    for full in records:
        r = {k: full[k][:candidates] if isinstance(full[k], list) else full[k] for k in full}
        logits = np.asarray(r["logits"])
        if len(logits) == 0:
            p_best, order = 0.0, []
        else:
            order = list(np.argsort(-(logits + blend * np.asarray(r["cheap"])), kind="stable"))
            p_best = float(1 / (1 + np.exp(-logits.max())))
        abstains = p_best < threshold
        if r["answerable"]:
            n_ans += 1
            if order:
                top1 += r["gold"][order[0]]
                shown = [order[0]] + [i for i in order[1:] if 1 / (1 + np.exp(-logits[i])) >= threshold]
                hit = any(r["gold"][i] for i in shown[:limit])
                anyq += hit
                answered_gold += hit and not abstains
        else:
            n_unans += 1
            abstained_unans += abstains
    return {
        "top1": top1 / max(n_ans, 1),
        "any": anyq / max(n_ans, 1),
        "answered_with_gold": answered_gold / max(n_ans, 1),
        "unanswerable_abstained": abstained_unans / max(n_unans, 1),
    }


def squad_records() -> list[dict]:
    from index import Engine, EngineSettings

    if not (DATA_DIR / "byline.sqlite3").exists():
        print("building the SQuAD collections (once)...", flush=True)
        build(DATA_DIR)
    answers = {
        qa["id"]: sorted({a["text"] for a in qa["answers"]})
        for item in json.loads(SQUAD_V1.read_text())["data"]
        for para in item["paragraphs"]
        for qa in para["qas"]
    }
    rng = random.Random(SEED)
    asked = [
        (qid, casual(text, rng), None if spans is None else answers[qid], paragraph.article.replace("_", " "))
        for qid, text, paragraph, spans in questions("calibrate")
    ]
    engine = Engine(EngineSettings(data_dir=DATA_DIR, answer_model=True, answer_candidates=16))
    try:
        return record_candidates(engine, "squad", asked)
    finally:
        engine.close()


def members_records() -> list[dict]:
    """The members' tune half, asked of the 31 articles (each record also says its kind)."""
    from bench import members_eval
    from index import Engine, EngineSettings
    from index.articles.extract import Document

    texts = members_eval.articles()
    keys = sorted(texts)
    with tempfile.TemporaryDirectory(prefix="byline-calibrate-") as folder:
        engine = Engine(EngineSettings(data_dir=Path(folder), answer_model=True, answer_candidates=16))
        ids = {}
        for key, (text, titled) in texts.items():
            added = engine.add_documents("members", [Document(text=text, source=key, first_line_is_title=titled)])
            ids[key] = added[0].id
        tune = [q for q in members_eval.questions() if members_eval.half_of(q, keys) == "tune"]
        asked = [
            (q["id"], q["question"], q["answers"] if q["kind"] == "answerable" else None, ids.get(q["article"], -1))
            for q in tune
        ]
        try:
            records = record_candidates(engine, "members", asked, ignore_case=True)
        finally:
            engine.close()
    for record, q in zip(records, tune, strict=True):
        record["kind"] = q["kind"]
    return records


def main() -> None:
    from index import EngineSettings

    shipped = EngineSettings().answer_candidates  # the threshold is chosen for what the engine reads
    started = time.time()
    if "--recorded" in sys.argv:  # decide again from the last run's records (same model, same questions)
        sets = json.loads(RECORDS.read_text())
    else:
        sets = {"squad": squad_records(), "members": members_records()}
        print(f"{sum(map(len, sets.values()))} questions judged in {time.time() - started:.0f}s", flush=True)
        RECORDS.parent.mkdir(parents=True, exist_ok=True)
        RECORDS.write_text(json.dumps(sets))  # for a look at the errors, and --recorded; not shipped

    def mean_of(blend: float, threshold: float, key: str) -> float:
        return float(np.mean([evaluate(r, blend, threshold, candidates=shipped)[key] for r in sets.values()]))

    on_topic = [r for r in sets["members"] if r.get("kind") == "on_topic_unanswerable"]

    def on_topic_abstained(threshold: float) -> float:
        return evaluate(on_topic, best_blend, threshold, candidates=shipped)["unanswerable_abstained"]

    # the best mean top quote; blends within half a point of it count as tied, and the tie goes to the
    # largest, which keeps most of what the cheap score knows (the chunk's match, the question's rare words)
    top = {b: mean_of(b, 0.0, "top1") for b in BLENDS}
    best_blend = max(b for b in BLENDS if top[b] >= max(top.values()) - 0.005)
    grid = [float(t) for t in np.round(np.arange(0.02, 0.99, 0.01), 2)]
    threshold = next((t for t in grid if on_topic_abstained(t) >= ON_TOPIC_ABSTAINED), grid[-1])
    result = {"blend": best_blend, "threshold": threshold, "calibration": {}}
    for name, records in sets.items():
        best = np.array([max(r["logits"][:shipped], default=-20.0) for r in records])
        answerable = np.array([r["answerable"] for r in records])
        facts = {
            "questions": len(records),
            "answerable": int(answerable.sum()),
            "unanswerable": int((~answerable).sum()),
            "auc": round(auc(best[answerable], best[~answerable]), 4),
            "candidates": shipped,
            **{k: round(v, 4) for k, v in evaluate(records, best_blend, threshold, candidates=shipped).items()},
            "top1_by_blend": {str(b): round(evaluate(records, b, 0.0)["top1"], 4) for b in BLENDS},
            "by_candidates": {
                str(n): {k: round(v, 4) for k, v in evaluate(records, best_blend, threshold, candidates=n).items()}
                for n in (4, 6, 8, 12, 16)
            },
        }
        if name == "members":
            facts["on_topic_unanswerable_abstained"] = round(on_topic_abstained(threshold), 4)
        result["calibration"][name] = facts
    result["calibration"]["by_threshold"] = {
        str(t): {
            name: {k: round(v, 3) for k, v in evaluate(r, best_blend, t, candidates=shipped).items()}
            for name, r in sets.items()
        }
        for t in (0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9)
    }
    card_path = WEIGHTS / CARD_FILE
    card = json.loads(card_path.read_text())
    card.update(result)
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
