"""Does the bot answer when the articles hold the answer, and abstain when the article is there but silent?

SQuAD's report half only: the articles at odd positions of SQuAD v1.1 dev's `data` list, which nothing
was trained, fitted or calibrated on (the answer-sentence model and its threshold use the even ones).
All 48 articles are ingested (bench/squad_collection.py). Asked through `Engine.ask`:
- answerable: every SQuAD v1.1 dev question of the report-half articles (SQuAD v2.0's answerable
  questions are these same questions); gold in the top quote / in any quote (an abstention holds none);
- unanswerable: SQuAD v2.0 dev's unanswerable questions of the report-half articles (written to look
  answerable from a paragraph that does not answer them): share abstained;
- ROC AUC of the answer's confidence, answerable against unanswerable (v2.0's answerable subset);
- "top-1, no abstention": gold in the first-ranked sentence even when the bot would abstain (the SQuAD
  v1.1 measure of ranking alone, as in bench/squad_eval.py).

Three pipelines side by side: Byline as shipped ("byline": the answer model on), Byline with the cheap
scoring alone ("cheap_scoring": BYLINE_ANSWER_MODEL=0), and the dense baseline (the top
1,000-character chunk of bench/baseline.py, its cosine as confidence, abstaining below the cosine that
its tune-half questions put at the same balance). Then ask latency p50/p95 and its ratio to the
embedding-only ask (question embedding + FAISS), same run.

    PYTHONPATH=. .venv/bin/python bench/squad_v2.py [--quick]"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baseline import Baseline
from bench.common import percentiles, record, time_asks
from bench.squad_collection import DATA_DIR, build, load_squad
from bench.tune_scoring import auc
from training.answer_data import SQUAD_V2, article_halves

QUICK = 600  # per kind (answerable, unanswerable) in --quick


def report_questions(part: str = "report") -> list[tuple[str, str, tuple[str, ...] | None, str, bool]]:
    """(id, question, gold answers or None, article title, in SQuAD v2.0) of one part of the split."""
    halves = article_halves()
    articles, squad = load_squad()
    v2 = json.loads(SQUAD_V2.read_text())["data"]
    in_v2 = {qa["id"] for item in v2 for para in item["paragraphs"] for qa in para["qas"]}
    out = [
        (q.qid, q.text, q.answers, articles[q.article].title, q.qid in in_v2)
        for q in squad
        if halves[articles[q.article].title] == part
    ]
    for item in v2:
        if halves[item["title"]] != part:
            continue
        for para in item["paragraphs"]:
            out.extend(
                (qa["id"], qa["question"], None, item["title"], True) for qa in para["qas"] if qa.get("is_impossible")
            )
    return out


def run_engine(asked, answer_model: bool) -> dict[str, np.ndarray]:
    from index import Engine, EngineSettings

    engine = Engine(EngineSettings(data_dir=DATA_DIR, answer_model=answer_model))
    ranking = Engine(
        EngineSettings(data_dir=DATA_DIR, answer_model=answer_model, abstain_threshold=-1e9, answer_threshold=1e-9),
        embedder=engine.embedder,
    )
    titles = {a.id: a.title for a in engine.store.articles("squad")}
    out: dict[str, list] = {k: [] for k in ("abstained", "confidence", "top1", "any", "rank1", "words")}
    started = time.time()
    for n, (_, text, answers, title, _) in enumerate(asked):
        answer = engine.ask("squad", text)
        right = title.replace("_", " ")
        holds = [
            answers is not None and titles[q.article_id] == right and any(a in q.text for a in answers)
            for q in answer.quotes
        ]
        out["abstained"].append(answer.abstained)
        out["confidence"].append(answer.confidence)
        out["top1"].append(bool(holds and holds[0]))
        out["any"].append(any(holds))
        out["words"].append(len(answer.quotes[0].text.split()) if answer.quotes else 0)
        if answers is not None and answer.abstained:  # what it would have quoted first
            first = ranking.ask("squad", text, k=1).quotes
            out["rank1"].append(
                bool(first)
                and titles[first[0].article_id] == title.replace("_", " ")
                and any(a in first[0].text for a in answers)
            )
        else:
            out["rank1"].append(bool(holds and holds[0]))
        if n % 500 == 499:
            print(
                f"{'model' if answer_model else 'cheap'}: {n + 1}/{len(asked)} in {time.time() - started:.0f}s",
                flush=True,
            )
    ranking.close()
    engine.close()
    return {k: np.asarray(v) for k, v in out.items()}


def run_baseline(asked, tune) -> dict[str, np.ndarray]:
    from index.inference.embedding import Embedder

    articles, _ = load_squad()
    base = Baseline([a.text for a in articles], "squad")
    index, rows = base.index()
    embedder = Embedder()
    position = {a.title: i for i, a in enumerate(articles)}

    def ask(questions):
        vectors = embedder.encode([q[1] for q in questions])
        found, scores = base.search(index, rows, vectors, 1)
        top = [base.chunks[f[0]] for f in found]
        hits = [
            q[2] is not None and c.doc == position[q[3]] and any(a in c.text for a in q[2])
            for q, c in zip(questions, top, strict=True)
        ]
        return np.asarray(hits), scores[:, 0], np.asarray([len(c.text.split()) for c in top])

    # its abstention threshold: the cosine balancing the tune half's answered and abstained shares
    tune_hits, tune_scores, _ = ask(tune)
    tune_answerable = np.array([q[2] is not None for q in tune])
    grid = np.quantile(tune_scores, np.linspace(0.01, 0.99, 99))
    threshold = max(
        grid,
        key=lambda t: (
            np.mean((tune_scores >= t)[tune_answerable] & tune_hits[tune_answerable])
            + np.mean((tune_scores < t)[~tune_answerable])
        ),
    )
    hits, scores, words = ask(asked)
    abstained = scores < threshold
    return {
        "abstained": abstained,
        "confidence": scores,
        "top1": hits & ~abstained,
        "any": hits & ~abstained,
        "rank1": hits,
        "words": words,
        "threshold": np.asarray(float(threshold)),
    }


def summarise(r: dict[str, np.ndarray], asked) -> dict[str, float]:
    answerable = np.array([q[2] is not None for q in asked])
    v2 = np.array([q[4] for q in asked])
    conf = r["confidence"].astype(float)
    return {
        "answerable": int(answerable.sum()),
        "unanswerable": int((~answerable).sum()),
        "answerable_gold_in_top_quote": round(float(r["top1"][answerable].mean()), 4),
        "answerable_gold_in_any_quote": round(float(r["any"][answerable].mean()), 4),
        "answerable_abstained": round(float(r["abstained"][answerable].mean()), 4),
        "unanswerable_abstained": round(float(r["abstained"][~answerable].mean()), 4),
        "auc_v2": round(auc(conf[answerable & v2], conf[~answerable]), 4),
        "top1_no_abstention_v1": round(float(r["rank1"][answerable].mean()), 4),
        "words_top_quote": round(float(r["words"][answerable & ~r["abstained"]].mean()), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} answerable + {QUICK} unanswerable, seeded")
    args = parser.parse_args()
    if not (DATA_DIR / "byline.sqlite3").exists():
        print("building the SQuAD collections (once)...", flush=True)
        build(DATA_DIR)
    asked = report_questions("report")
    tune = report_questions("train") + report_questions("calibrate")
    rng = np.random.default_rng(7)
    if args.quick:
        ans = [q for q in asked if q[2] is not None]
        unans = [q for q in asked if q[2] is None]
        asked = [ans[i] for i in sorted(rng.permutation(len(ans))[:QUICK])]
        asked += [unans[i] for i in sorted(rng.permutation(len(unans))[:QUICK])]
    tune = [tune[i] for i in sorted(rng.permutation(len(tune))[:2000])]
    tables = {}
    started = time.time()
    for name, run in (
        ("byline", lambda: run_engine(asked, True)),
        ("cheap_scoring", lambda: run_engine(asked, False)),
        ("dense_baseline", lambda: run_baseline(asked, tune)),
    ):
        result = run()
        tables[name] = summarise(result, asked)
        if "threshold" in result:
            tables[name]["threshold_cosine"] = round(float(result["threshold"]), 4)
        print(name, json.dumps(tables[name]), f"{time.time() - started:.0f}s", flush=True)

    from index import Engine, EngineSettings

    latency = {}
    sample = [q[1] for q in asked[:: max(1, len(asked) // 200)]][:200]
    for name, on in (("byline", True), ("cheap_scoring", False)):
        engine = Engine(EngineSettings(data_dir=DATA_DIR, answer_model=on))
        ours, bare = time_asks(engine, "squad", sample)
        engine.close()
        latency[name] = {
            "ask_ms": percentiles(ours),
            "embedding_only_ms": percentiles(bare),
            "ratio_p50": round(float(np.median(ours) / np.median(bare)), 2),
        }
    print(json.dumps(latency, indent=2))

    print(
        f"\nSQuAD report half: {tables['byline']['answerable']} answerable, "
        f"{tables['byline']['unanswerable']} unanswerable ({'quick sample' if args.quick else 'all'})"
    )
    print(
        "| pipeline | gold in top quote | gold in any quote | unanswerable abstained | AUC (v2) "
        "| top-1, no abstention | answerable abstained |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, t in tables.items():
        print(
            f"| {name} | {t['answerable_gold_in_top_quote']:.3f} | {t['answerable_gold_in_any_quote']:.3f} | "
            f"{t['unanswerable_abstained']:.3f} | {t['auc_v2']:.3f} | {t['top1_no_abstention_v1']:.3f} | "
            f"{t['answerable_abstained']:.3f} |"
        )
    record(
        "squad_v2_quick" if args.quick else "squad_v2",
        {
            "split": "report half: the articles at odd positions of SQuAD v1.1 dev (never trained or fitted on)",
            "collection": "all 48 SQuAD v1.1 dev articles",
            "sample": f"numpy default_rng(7), {QUICK} answerable + {QUICK} unanswerable" if args.quick else "all",
            **tables,
            "latency": latency,
        },
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
