"""Seeded choice of BBC articles for the members' question set."""

import json
import random
from collections import defaultdict
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[3] / "shared" / "data" / "bbc-news-summary" / "bbc_news_summary.jsonl")
SEED = 2026
PER_CAT = 5
MIN_WORDS = 150
recs = [json.loads(line) for line in open(SRC, encoding="utf-8")]
seen_text = set()
by_cat = defaultdict(list)
for r in recs:  # file order: category, then number
    if len(r["article"].split()) < MIN_WORDS:
        continue
    if r["article"] in seen_text:  # skip exact duplicate texts (keep first)
        continue
    seen_text.add(r["article"])
    by_cat[r["category"]].append(r)
rng = random.Random(SEED)
picked = []
for cat in ["business", "entertainment", "politics", "sport", "tech"]:
    picked += sorted(rng.sample(by_cat[cat], PER_CAT), key=lambda r: r["id"])
if __name__ == "__main__":
    for r in picked:
        print(r["id"], len(r["article"].split()), r["title"])
