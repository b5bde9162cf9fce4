"""Verify bench/members/members_questions.jsonl against the article texts.

Hard checks (exit 1 on any failure):
  - ids unique and well-formed; required fields present; kind/answerable/source consistent
  - article exists (sample file or BBC id); title matches
  - answerable: 1-3 answers, each a verbatim substring of the article AND of gold_sentence;
    gold_sentence a verbatim substring of the article
  - unanswerable/off-topic: answers == [], gold_sentence is None, why_unanswerable non-empty
  - minimum counts from the brief
Soft checks (printed as WARN): gold_sentence not starting/ending on a sentence boundary,
questions that copy >= 6 consecutive words from their article.
"""

import json
from collections import Counter
from pathlib import Path, os, re, sys

HERE = os.path.dirname(os.path.abspath(__file__))
QFILE = os.path.join(HERE, "members_questions.jsonl")
SAMPLE_DIR = str(Path(__file__).resolve().parents[2] / "examples" / "articles")
BBC = str(Path(__file__).resolve().parents[3] / "shared" / "data" / "bbc-news-summary" / "bbc_news_summary.jsonl")

sample = {
    f: open(os.path.join(SAMPLE_DIR, f), encoding="utf-8").read() for f in os.listdir(SAMPLE_DIR) if f.endswith(".txt")
}
bbc = {}
for line in open(BBC, encoding="utf-8"):
    r = json.loads(line)
    bbc[r["id"]] = r

rows = [json.loads(line) for line in open(QFILE, encoding="utf-8") if line.strip()]
fails, warns = [], []


def fail(r, msg):
    fails.append(f"{r.get('id')}: {msg}")


def warn(r, msg):
    warns.append(f"{r.get('id')}: {msg}")


FIELDS = [
    "id",
    "source",
    "article",
    "title",
    "question",
    "answerable",
    "kind",
    "answers",
    "gold_sentence",
    "why_unanswerable",
]
ids = Counter(r.get("id") for r in rows)
for i, n in ids.items():
    if n > 1:
        fails.append(f"{i}: duplicate id ({n}x)")


def words(s):
    return re.findall(r"[a-z0-9']+", s.lower())


for r in rows:
    for k in FIELDS:
        if k not in r:
            fail(r, f"missing field {k}")
    if not re.fullmatch(r"m\d{3}", r.get("id", "")):
        fail(r, "bad id")
    kind = r.get("kind")
    if kind not in ("answerable", "on_topic_unanswerable", "off_topic"):
        fail(r, f"bad kind {kind}")
        continue
    if r["answerable"] != (kind == "answerable"):
        fail(r, "answerable flag disagrees with kind")
    if not r["question"].strip():
        fail(r, "empty question")
    art = r["article"]
    text = None
    if kind == "off_topic":
        if art is not None or r["source"] is not None:
            fail(r, "off_topic must have article=None, source=None")
    elif r["source"] == "sample":
        text = sample.get(art)
        if text is None:
            fail(r, f"unknown sample file {art}")
    elif r["source"] == "bbc":
        rec = bbc.get(art)
        if rec is None:
            fail(r, f"unknown BBC id {art}")
        else:
            text = rec["article"]
            if r["title"] != rec["title"]:
                fail(r, "title differs from BBC title")
    else:
        fail(r, f"bad source {r['source']}")
    if kind == "answerable":
        a, g = r["answers"], r["gold_sentence"]
        if not (isinstance(a, list) and 1 <= len(a) <= 3):
            fail(r, "answers must be a list of 1-3")
        if not isinstance(g, str) or not g:
            fail(r, "gold_sentence missing")
            continue
        if r["why_unanswerable"] is not None:
            fail(r, "why_unanswerable set on answerable")
        if text is not None:
            if g not in text:
                fail(r, f"gold_sentence not in article: {g[:70]!r}")
            else:
                pos = text.index(g)
                before = text[pos - 1] if pos > 0 else "\n"
                after = text[pos + len(g)] if pos + len(g) < len(text) else "\n"
                if not before.isspace() and before not in '"“':
                    warn(r, f"gold does not start at a boundary (prev char {before!r})")
                if g.rstrip("\"”'")[-1:] not in ".!?" and not after.isspace():
                    warn(r, f"gold does not end at a sentence end (next char {after!r})")
            for s in a:
                if not s:
                    fail(r, "empty answer string")
                    continue
                if s not in text:
                    fail(r, f"answer not in article: {s!r}")
                if s not in g:
                    fail(r, f"answer not in gold_sentence: {s!r}")
    else:
        if r["answers"] != []:
            fail(r, "unanswerable must have answers=[]")
        if r["gold_sentence"] is not None:
            fail(r, "unanswerable must have gold_sentence=None")
        if not (r["why_unanswerable"] or "").strip():
            fail(r, "why_unanswerable empty")
    if text is not None:  # soft: long verbatim copy from article
        qw, tw = words(r["question"]), words(text)
        tset = {" ".join(tw[i : i + 6]) for i in range(len(tw) - 5)}
        for i in range(len(qw) - 5):
            if " ".join(qw[i : i + 6]) in tset:
                warn(r, f"question copies 6+ words from article: {' '.join(qw[i : i + 6])!r}")
                break

kinds = Counter(r.get("kind") for r in rows)
srcs = Counter(str(r.get("source")) for r in rows)
by = Counter((str(r.get("source")), r.get("kind")) for r in rows)
arts = Counter(r["article"] for r in rows if r.get("article"))
unans = kinds["on_topic_unanswerable"]
print(f"total questions: {len(rows)}")
print("per source:", dict(srcs))
print("per kind:", dict(kinds))
print("per source x kind:", {f"{s}/{k}": n for (s, k), n in sorted(by.items())})
print(
    f"articles used: {len(arts)} ({sum(1 for a in arts if a.endswith('.txt'))} sample, "
    f"{sum(1 for a in arts if not a.endswith('.txt'))} BBC)"
)
print("BBC categories:", dict(Counter(a.split("/")[0] for a in arts if not a.endswith(".txt"))))
print(f"on-topic unanswerable share: {unans}/{len(rows)} = {unans / len(rows):.1%}")
# minimums from the brief
mins = [
    (len(rows) >= 170, "total >= 170"),
    (srcs["sample"] >= 45, "sample >= 45"),
    (srcs["bbc"] >= 110, "bbc >= 110"),
    (unans >= 43 and unans * 4 >= len(rows), "unanswerable >= 43 and >= 25%"),
    (kinds["off_topic"] >= 8, "off_topic >= 8"),
    (sum(1 for a in arts if not a.endswith(".txt")) >= 22, ">= 22 BBC articles"),
]
for ok, name in mins:
    if not ok:
        fails.append(f"minimum not met: {name}")
for w in warns:
    print("WARN", w)
for f in fails:
    print("FAIL", f)
print(f"{len(fails)} failures, {len(warns)} warnings")
sys.exit(1 if fails else 0)
