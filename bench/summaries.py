"""Extractive summaries on bbc-news-summary: ROUGE-1/2/L F1 (rouge-score, Porter stemming) of
Engine.summarize against the dataset's reference summaries, beside LEAD-3 and a seeded random-3.

All three pick whole sentences from the same sentence split (the engine's own, stored at ingest), so
the comparison is about which sentences are chosen. The references are long (about 40% of the article),
so three sentences cannot reach them: the table is given at 3 sentences and at the reference's own
length (its sentence count, capped at 20 as the engine caps summaries). Duplicate BBC texts are scored
once.

    python bench/summaries.py            # all 2,225 articles (ingested once into /tmp/byline_bench/news)
    python bench/summaries.py --quick    # the fixed sample of 200"""

from __future__ import annotations

import argparse
import logging
import random
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import record
from bench.corpora import NEWS_DIR, bbc_rows, ensure

METRICS = ("rouge1", "rouge2", "rougeL")
SUMMARY_SENTENCE = re.compile(r"(?<=[.!?])(?=[A-Z\"'])")  # the references join sentences with no space


def reference_sentences(summary: str) -> list[str]:
    return [s.strip() for s in SUMMARY_SENTENCE.split(summary) if s.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the fixed sample of 200 articles")
    args = parser.parse_args()
    from rouge_score import rouge_scorer

    from index import Engine, EngineSettings

    collection = "bbc200" if args.quick else "bbc"
    ids = ensure((collection,))[collection]["ids"]
    engine = Engine(EngineSettings(data_dir=NEWS_DIR))
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    rows = {r["id"]: r for r in bbc_rows()}
    rng = random.Random(3)
    scores: dict[str, dict[str, list[float]]] = {}
    seen: set[int] = set()
    ref_sentences = []
    for key, article_id in ids.items():
        if article_id in seen:
            continue
        seen.add(article_id)
        reference = reference_sentences(rows[key]["summary"])
        ref_sentences.append(len(reference))
        text = engine.article_text(collection, article_id)
        sentences = [text[s:e] for _, s, e, quotable, _ in engine.store.sentences(article_id) if quotable]
        for length, n in (("3", 3), ("reference length", min(len(reference), 20))):
            picks = {
                "byline": [s.text for s in engine.summarize(collection, article_id, n).sentences],
                "LEAD": sentences[:n],
                "random": [sentences[i] for i in sorted(rng.sample(range(len(sentences)), min(n, len(sentences))))],
            }
            for method, chosen in picks.items():
                result = scorer.score("\n".join(reference), "\n".join(chosen))
                row = scores.setdefault(f"{method} ({length})", {m: [] for m in (*METRICS, "words")})
                for m in METRICS:
                    row[m].append(result[m].fmeasure)
                row["words"].append(sum(len(s.split()) for s in chosen))
    engine.close()
    table = {
        name: {m: round(float(np.mean(v)), 4) if m != "words" else round(float(np.mean(v)), 1) for m, v in row.items()}
        for name, row in scores.items()
    }
    print(f"\n{len(seen)} articles; reference summaries average {np.mean(ref_sentences):.1f} sentences")
    print("| summary | ROUGE-1 F1 | ROUGE-2 F1 | ROUGE-L F1 | words |")
    print("|---|---|---|---|---|")
    for name, m in table.items():
        print(f"| {name} | {m['rouge1']:.3f} | {m['rouge2']:.3f} | {m['rougeL']:.3f} | {m['words']:.0f} |")
    record(
        "summaries_quick" if args.quick else "summaries",
        {
            "dataset": "bbc-news-summary",
            "articles": len(seen),
            "reference_sentences_mean": round(float(np.mean(ref_sentences)), 1),
            "scorer": "rouge-score, use_stemmer=True, F1; sentences joined with newlines",
            "random_seed": 3,
            "rows": table,
        },
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
