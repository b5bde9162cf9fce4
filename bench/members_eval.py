"""Members' questions (bench/members/): casual Discord-style questions over the 6 sample articles and 25 BBC
articles, a quarter of them about an article that is there but does not say. Nothing was ever fitted
on them; they are asked, as members would, through `Engine.ask` on one collection holding all 31.

- answered: an answerable question whose quotes hold a gold answer from the right article (an
  abstention holds none); top quote: the first quote holds it;
- right abstentions: the on-topic unanswerable and off-topic questions the bot said the articles don't
  cover.

Each table also comes by half: "tune" is the questions about the articles at even positions of the
sorted article keys (and the off-topic questions with even ids), "report" the rest. The chat lexicon
(index/asking/casual.py) got four entries after its author read failures of the tune half; nothing has read or
been fitted on the report half, so it is the number to quote.

Byline as shipped ("byline": the answer model on), beside the cheap scoring alone ("cheap_scoring":
BYLINE_ANSWER_MODEL=0) and the dense baseline (top 1,000-character chunk; abstains
below the cosine fitted on SQuAD's tune half in bench/squad_v2.py).

Then a news-domain check on QuAIL v1.3 dev's 30 news texts (VOA): its 60 "Unanswerable" questions (the
right option is "not enough information") should abstain, its 60 "Factual" ones should be answered
(their options paraphrase, so only answering is counted), and the AUC of the confidence between them.

    PYTHONPATH=. .venv/bin/python bench/members_eval.py"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baseline import Baseline
from bench.common import BENCH, DATA, REPO, percentiles, record

SET = BENCH / "members" / "members_questions.jsonl"
BBC = DATA / "bbc-news-summary" / "bbc_news_summary.jsonl"
SAMPLES = REPO / "examples" / "articles"
QUAIL = DATA / "quail-dev" / "quail_1.3_dev_randomized.json"


def articles() -> dict[str, tuple[str, bool]]:
    """Article key (sample file name or BBC id) -> (text, first line is the title)."""
    wanted = {q["article"] for q in questions() if q["source"] == "bbc"}
    out = {p.name: (p.read_text(encoding="utf-8"), True) for p in sorted(SAMPLES.glob("*.txt"))}
    for line in BBC.read_text(encoding="utf-8").splitlines():
        record_ = json.loads(line)
        if record_["id"] in wanted:
            out[record_["id"]] = (record_["article"], True)
    return out


def questions() -> list[dict]:
    return [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]


def half_of(question: dict, keys: list[str]) -> str:
    """ "tune" or "report" (see the module docstring)."""
    if question["article"]:
        return "tune" if keys.index(question["article"]) % 2 == 0 else "report"
    return "tune" if int(question["id"].lstrip("m")) % 2 == 0 else "report"


def holds(answers: list[str], text: str) -> bool:
    return any(a.lower() in text.lower() for a in answers)


def run_engine(answer_model: bool, texts: dict[str, tuple[str, bool]]) -> tuple[dict, list[float]]:
    from index import Engine, EngineSettings
    from index.articles.extract import Document

    with tempfile.TemporaryDirectory(prefix="byline-members-") as folder:
        engine = Engine(EngineSettings(data_dir=Path(folder), answer_model=answer_model))
        ids = {}
        for key, (text, titled) in texts.items():
            result = engine.add_documents("members", [Document(text=text, source=key, first_line_is_title=titled)])
            ids[result[0].id] = key
        rows: list[dict] = []
        took: list[float] = []
        keys = sorted(texts)
        for q in questions():
            answer = engine.ask("members", q["question"])
            took.append(answer.took_ms)
            hits = [ids[x.article_id] == q["article"] and holds(q["answers"], x.text) for x in answer.quotes]
            rows.append(
                {
                    "kind": q["kind"],
                    "abstained": answer.abstained,
                    "top": bool(hits and hits[0]),
                    "any": any(hits),
                    "confidence": answer.confidence,
                    "source": q["source"],
                    "half": half_of(q, keys),
                }
            )
        engine.close()
    return rows, took


def run_baseline(texts: dict[str, tuple[str, bool]], threshold: float) -> list[dict]:
    from index.inference.embedding import Embedder

    keys = list(texts)
    base = Baseline([texts[k][0] for k in keys], "members")
    index, positions = base.index()
    asked = questions()
    found, scores = base.search(index, positions, Embedder().encode([q["question"] for q in asked]), 1)
    rows = []
    ordered = sorted(keys)
    for q, f, s in zip(asked, found, scores, strict=True):
        chunk = base.chunks[f[0]]
        hit = keys[chunk.doc] == q["article"] and holds(q["answers"], chunk.text)
        abstained = bool(s[0] < threshold)
        rows.append(
            {
                "kind": q["kind"],
                "abstained": abstained,
                "top": hit and not abstained,
                "any": hit and not abstained,
                "confidence": float(s[0]),
                "source": q["source"],
                "half": half_of(q, ordered),
            }
        )
    return rows


def quail_news(answer_model: bool) -> dict[str, float]:
    from bench.tune_scoring import auc
    from index import Engine, EngineSettings

    texts = [t for t in json.loads(QUAIL.read_text(encoding="utf-8")) if t["domain"] == "news"]
    with tempfile.TemporaryDirectory(prefix="byline-quail-") as folder:
        engine = Engine(EngineSettings(data_dir=Path(folder), answer_model=answer_model))
        for t in texts:
            engine.add_text("quail", t["text"], title=t["title"])
        rows = [
            (q["type"], engine.ask("quail", q["question"]))
            for t in texts
            for q in t["questions"]
            if q["type"] in ("Unanswerable", "Factual")
        ]
        engine.close()
    factual = [a for kind, a in rows if kind == "Factual"]
    unanswerable = [a for kind, a in rows if kind == "Unanswerable"]
    return {
        "factual": len(factual),
        "unanswerable": len(unanswerable),
        "factual_answered": round(float(np.mean([not a.abstained for a in factual])), 4),
        "unanswerable_abstained": round(float(np.mean([a.abstained for a in unanswerable])), 4),
        "auc": round(auc(np.array([a.confidence for a in factual]), np.array([a.confidence for a in unanswerable])), 4),
    }


def summarise(rows: list[dict], halves: bool = True) -> dict:
    def share(selected, key):
        chosen = [r[key] for r in rows if selected(r)]
        return round(float(np.mean(chosen)), 4) if chosen else 0.0

    answerable = lambda r: r["kind"] == "answerable"  # noqa: E731
    return {
        "answerable": sum(map(answerable, rows)),
        "answered_gold_in_a_quote": share(answerable, "any"),
        "gold_in_top_quote": share(answerable, "top"),
        "answerable_abstained": share(answerable, "abstained"),
        "on_topic_unanswerable_abstained": share(lambda r: r["kind"] == "on_topic_unanswerable", "abstained"),
        "off_topic_abstained": share(lambda r: r["kind"] == "off_topic", "abstained"),
        "right_abstentions": share(lambda r: r["kind"] != "answerable", "abstained"),
        "bbc_answered": share(lambda r: answerable(r) and r["source"] == "bbc", "any"),
        "sample_answered": share(lambda r: answerable(r) and r["source"] == "sample", "any"),
        **(
            {half: summarise([r for r in rows if r["half"] == half], False) for half in ("tune", "report")}
            if halves
            else {}
        ),
    }


def main() -> None:
    texts = articles()
    results = json.loads((BENCH / "results.json").read_text())
    threshold = (
        results.get("squad_v2", results.get("squad_v2_quick", {})).get("dense_baseline", {}).get("threshold_cosine")
    )
    tables, latency = {}, {}
    started = time.time()
    for name, on in (("byline", True), ("cheap_scoring", False)):
        rows, took = run_engine(on, texts)
        tables[name] = summarise(rows)
        latency[name] = percentiles(took)
        print(name, json.dumps(tables[name]), f"{time.time() - started:.0f}s", flush=True)
    if threshold is not None:
        tables["dense_baseline"] = {**summarise(run_baseline(texts, threshold)), "threshold_cosine": threshold}
    print(f"\n{len(questions())} members' questions over {len(texts)} articles")
    print(
        "| pipeline | answered (gold in a quote) | gold in top quote | on-topic unanswerable abstained "
        "| off-topic abstained | right abstentions |"
    )
    print("|---|---|---|---|---|---|")
    for name, table in tables.items():
        for label, t in (("all", table), ("tune half", table["tune"]), ("report half", table["report"])):
            print(
                f"| {name}, {label} | {t['answered_gold_in_a_quote']:.3f} | {t['gold_in_top_quote']:.3f} | "
                f"{t['on_topic_unanswerable_abstained']:.3f} | {t['off_topic_abstained']:.3f} | "
                f"{t['right_abstentions']:.3f} |"
            )
    quail = {name: quail_news(on) for name, on in (("byline", True), ("cheap_scoring", False))}
    print("QuAIL news (VOA):", json.dumps(quail))
    record(
        "members",
        {"questions": len(questions()), "articles": len(texts), **tables, "ask_ms": latency, "quail_news": quail},
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
