"""Calibrate the answer-sentence model on the tune half's calibration articles, never the report half.

    PYTHONPATH=. .venv/bin/python training/calibrate_answer_model.py   (part of `make train`)

The questions of the calibration articles (training/answer_data.py: tune-half articles kept out of
training; answerable ones from SQuAD v1.1 dev, unanswerable ones from v2.0 dev) are asked of the
48-article SQuAD collection (bench/squad_collection.py, built once under /tmp). Every candidate the
judge sees is recorded: its logit, cheap score and whether it holds a gold answer. Then, offline:
- `blend`: the weight of the cheap score in the quote ranking that maximises gold in the top quote;
- `threshold`: the probability that maximises answered-with-gold plus abstained-when-unanswerable
  (each as a share of its own questions), the point the README reports.
Both are written into index/weights/answer-sentence/model.json."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from bench.squad_collection import DATA_DIR, build
from bench.tune_scoring import auc
from index.answer_model import CARD_FILE, WEIGHTS
from training.answer_data import SQUAD_V1, questions

RECORDS = Path("/tmp/byline_bench/calibration_records.json")
BLENDS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)


def record_candidates(engine, collection: str, asked: list[tuple[str, str, list[str] | None, str]]) -> list[dict]:
    """Per question: the judged candidates' logits, cheap scores and gold flags (in cheap-score order)."""
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
            gold = [
                bool(answers)
                and titles[s.article_id] == title
                and any(a in texts[s.article_id, s.index] for a in answers or ())
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


def main() -> None:
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
    asked = [
        (qid, text, None if spans is None else answers[qid], paragraph.article.replace("_", " "))
        for qid, text, paragraph, spans in questions("calibrate")
    ]
    engine = Engine(EngineSettings(data_dir=DATA_DIR, answer_model=True, answer_candidates=16))
    started = time.time()
    records = record_candidates(engine, "squad", asked)
    engine.close()
    print(f"{len(records)} questions judged in {time.time() - started:.0f}s", flush=True)
    RECORDS.parent.mkdir(parents=True, exist_ok=True)
    RECORDS.write_text(json.dumps(records))  # for a look at the errors; not shipped
    best_blend = max(BLENDS, key=lambda b: evaluate(records, b, 0.0)["top1"])
    grid = np.round(np.arange(0.02, 0.99, 0.01), 2)
    scores = {float(t): evaluate(records, best_blend, float(t)) for t in grid}
    threshold = max(scores, key=lambda t: scores[t]["answered_with_gold"] + scores[t]["unanswerable_abstained"])
    best = np.array([max(r["logits"], default=-20.0) for r in records])
    answerable = np.array([r["answerable"] for r in records])
    result = {
        "blend": best_blend,
        "threshold": threshold,
        "calibration": {
            "questions": len(records),
            "answerable": int(answerable.sum()),
            "unanswerable": int((~answerable).sum()),
            "auc": round(auc(best[answerable], best[~answerable]), 4),
            **{k: round(v, 4) for k, v in scores[threshold].items()},
            "top1_by_blend": {str(b): round(evaluate(records, b, 0.0)["top1"], 4) for b in BLENDS},
            "by_candidates": {
                str(n): {k: round(v, 4) for k, v in evaluate(records, best_blend, threshold, candidates=n).items()}
                for n in (4, 6, 8, 12, 16)
            },
        },
    }
    card_path = WEIGHTS / CARD_FILE
    card = json.loads(card_path.read_text())
    card.update(result)
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
