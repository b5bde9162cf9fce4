"""Training and calibration pairs for the answer-sentence model, from SQuAD v1.1 dev and v2.0 dev.

Split by article title, as bench/ splits: the articles at even positions of SQuAD v1.1 dev's `data`
list are the tune half (in both files), the odd ones the report half, which nothing here ever reads.
Within the tune half, every fifth article (positions 8, 18, 28, 38, ...) is kept out of training for
calibration (the abstention threshold), so the threshold is fitted on scores of unseen articles.

A pair is (question, candidate sentence, the sentence before it), label 1 when the sentence holds a gold
answer span (both sentences when a span crosses them), else 0. Negatives: the paragraph's other
sentences (the hard ones), sentences of the same article's other paragraphs, one sentence of another
article; for SQuAD v2.0's unanswerable questions, every sentence of their paragraph."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from index.articles.chunking import Span, split_sentences

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SQUAD_V1 = DATA / "squad-v1.1-dev" / "dev-v1.1.json"
SQUAD_V2 = DATA / "squad-v2.0-dev" / "dev-v2.0.reconstructed.json"
SQUAD_TRAIN = DATA / "squad-v1.0-train" / "train-v1.0.explorer.json"


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str
    previous: str | None
    label: int
    article: str
    kind: str  # "gold", "paragraph", "article", "other", "unanswerable"
    answer: tuple[int, int] | None = None  # of a gold pair: the answer's characters within `sentence`


@dataclass(frozen=True)
class Paragraph:
    article: str
    sentences: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]


def article_halves() -> dict[str, str]:
    """Title -> "train", "calibrate" or "report"."""
    titles = [a["title"] for a in json.loads(SQUAD_V1.read_text())["data"]]
    out = {}
    for position, title in enumerate(titles):
        if position % 2:
            out[title] = "report"
        else:
            out[title] = "calibrate" if position % 10 == 8 else "train"
    return out


def paragraph_of(article: str, context: str) -> Paragraph:
    spans = split_sentences(context, Span(0, len(context)))
    return Paragraph(article, tuple(context[s.start : s.end] for s in spans), tuple((s.start, s.end) for s in spans))


def questions(part: str) -> list[tuple[str, str, Paragraph, list[tuple[int, int]] | None]]:
    """(id, question, paragraph, gold spans or None when unanswerable) of one part, answerable ones from
    v1.1 (v2.0's answerable questions are the same ones) and unanswerable ones from v2.0."""
    halves = article_halves()
    out = []
    paragraphs: dict[str, Paragraph] = {}
    for path, answerable in ((SQUAD_V1, True), (SQUAD_V2, False)):
        for item in json.loads(path.read_text())["data"]:
            if halves[item["title"]] != part:
                continue
            for para in item["paragraphs"]:
                context = para["context"]
                paragraph = paragraphs.setdefault(context, paragraph_of(item["title"], context))
                for qa in para["qas"]:
                    if answerable:
                        spans = [(a["answer_start"], a["answer_start"] + len(a["text"])) for a in qa["answers"]]
                        out.append((qa["id"], qa["question"], paragraph, spans))
                    elif qa.get("is_impossible"):
                        out.append((qa["id"], qa["question"], paragraph, None))
    return out


def gold_sentences(paragraph: Paragraph, spans: list[tuple[int, int]]) -> set[int]:
    return {i for i, (s, e) in enumerate(paragraph.spans) for a, b in spans if s < b and a < e}


def pairs(
    part: str, seed: int = 13, per_paragraph: int = 3, per_article: int = 1, other: int = 1, unanswerable: int = 99
) -> list[Pair]:
    """The pairs of one part: per answerable question its gold sentence(s), `per_paragraph` other
    sentences of its paragraph, `per_article` of the article's other paragraphs and `other` of another
    article; per unanswerable question up to `unanswerable` sentences of its paragraph."""
    rng = random.Random(seed)
    found = questions(part)
    by_article: dict[str, list[Paragraph]] = {}
    for _, _, paragraph, _ in found:
        if paragraph not in by_article.setdefault(paragraph.article, []):
            by_article[paragraph.article].append(paragraph)
    articles = sorted(by_article)
    out: list[Pair] = []

    for _, question, paragraph, spans in found:
        if spans is None:
            every = range(len(paragraph.sentences))
            for i in every if unanswerable >= len(every) else sorted(rng.sample(list(every), unanswerable)):
                out.append(pair_of(question, paragraph, i, 0, "unanswerable"))
            continue
        gold = gold_sentences(paragraph, spans)
        for i in sorted(gold):
            out.append(pair_of(question, paragraph, i, 1, "gold", spans[0]))
        others = [i for i in range(len(paragraph.sentences)) if i not in gold]
        for i in rng.sample(others, min(per_paragraph, len(others))):
            out.append(pair_of(question, paragraph, i, 0, "paragraph"))
        siblings = [p for p in by_article[paragraph.article] if p is not paragraph]
        for p in rng.sample(siblings, min(per_article, len(siblings))):
            out.append(pair_of(question, p, rng.randrange(len(p.sentences)), 0, "article"))
        for _ in range(other):
            elsewhere = by_article[rng.choice([a for a in articles if a != paragraph.article] or articles)]
            p = rng.choice(elsewhere)
            out.append(pair_of(question, p, rng.randrange(len(p.sentences)), 0, "other"))
    rng.shuffle(out)
    return out


def retrieved_negatives(part: str, engine, collection: str = "squad", per_question: int = 2) -> list[Pair]:
    """The sentences the cheap scoring ranks highest for each question, outside its paragraph and without
    any gold answer text: the near misses the model meets at run time (other paragraphs of the same
    article, other articles on the same subject). `engine` holds the SQuAD collection."""
    from index.asking.judging import previous_sentences

    gold_texts = {
        qa["id"]: [a["text"] for a in qa["answers"]]
        for item in json.loads(SQUAD_V1.read_text())["data"]
        for para in item["paragraphs"]
        for qa in para["qas"]
    }
    out: list[Pair] = []
    for qid, question, paragraph, spans in questions(part):
        answers = gold_texts.get(qid, []) if spans is not None else []
        context = set(paragraph.sentences)
        with engine.evidence.gather(collection, question) as evidence:
            texts = evidence.texts or {}
            ranked = sorted(evidence.sentences, key=lambda s: s.score, reverse=True)
            chosen = [
                s
                for s in ranked[:20]
                if texts[s.article_id, s.index] not in context
                and not any(a in texts[s.article_id, s.index] for a in answers)
            ][:per_question]
            previous = previous_sentences(engine.store, chosen, texts)
            for s in chosen:
                out.append(
                    Pair(
                        question,
                        texts[s.article_id, s.index],
                        previous.get((s.article_id, s.index)),
                        0,
                        paragraph.article,
                        "retrieved",
                    )
                )
    return out


def candidate_pairs(part: str, engine, collection: str = "squad", per_question: int = 6) -> list[Pair]:
    """The pairs the model meets when asked: for each question of `part`, the `per_question` sentences the
    cheap scoring ranks highest (what index/asking/judging.py hands the model), each labelled 1 when it is a gold
    sentence of the question's paragraph, else 0 (every one, for an unanswerable question); and the gold
    sentences the cheap scoring missed, so every answerable question has its positive. `engine` holds the
    SQuAD collection (bench/squad_collection.py)."""
    from index.asking.judging import previous_sentences

    out: list[Pair] = []
    for _, question, paragraph, spans in questions(part):
        gold = gold_sentences(paragraph, spans) if spans is not None else set()
        gold_texts = {paragraph.sentences[i] for i in gold}
        answers = {context_text for a, b in spans or () if (context_text := _span_text(paragraph, a, b))}
        with engine.evidence.gather(collection, question) as evidence:
            texts = evidence.texts or {}
            ranked = sorted(evidence.sentences, key=lambda s: s.score, reverse=True)[:per_question]
            previous = previous_sentences(engine.store, ranked, texts)
            seen = set()
            for s in ranked:
                text = texts[s.article_id, s.index]
                label = int(text in gold_texts)
                seen.add(text)
                if not label and any(a in text for a in answers):
                    continue  # holds the answer's words elsewhere: maybe an answer too, so no label
                kind = "gold" if label else ("unanswerable" if spans is None else "candidate")
                out.append(Pair(question, text, previous.get((s.article_id, s.index)), label, paragraph.article, kind))
        for i in sorted(gold):
            if paragraph.sentences[i] not in seen:
                out.append(pair_of(question, paragraph, i, 1, "gold"))
    return out


def pair_of(
    question: str, paragraph: Paragraph, i: int, label: int, kind: str, span: tuple[int, int] | None = None
) -> Pair:
    """The pair of sentence i; `span` (an answer, in the paragraph's offsets) is clipped to the sentence."""
    previous = paragraph.sentences[i - 1] if i else None
    answer = None
    if span is not None:
        start, end = paragraph.spans[i]
        if span[0] < end and start < span[1]:
            answer = (max(span[0], start) - start, min(span[1], end) - start)
    return Pair(question, paragraph.sentences[i], previous, label, paragraph.article, kind, answer)


def _span_text(paragraph: Paragraph, start: int, end: int) -> str:
    """The answer text of a span (in the paragraph's offsets), within the sentence it starts in."""
    for (s, e), text in zip(paragraph.spans, paragraph.sentences, strict=True):
        if s <= start < e:
            return text[start - s : min(end, e) - s]
    return ""


# --- SQuAD v1.0 train: the answer model's main training data -----------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the of in on at to for by with from and or is are was were be been did do does what which who whom "
    "whose when where why how that this these those it its as than into about after before during many much "
    "there their they he she his her name one".split()
)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


_WORDS_OF: dict[str, set[str]] = {}


def closest(question: set[str], sentences: list[tuple[str, Paragraph, int]], rng: random.Random):
    """The sentence sharing most content words with the question (ties broken at random), or None."""
    if not sentences:
        return None
    scored = [
        (len(question & (_WORDS_OF.get(text) or _WORDS_OF.setdefault(text, content_words(text)))), rng.random(), item)
        for item in sentences
        for text in [item[0]]
    ]
    return max(scored, key=lambda x: (x[0], x[1]))[2]


def casual(question: str, rng: random.Random) -> str:
    """The question as a member might type it: lower case, no question mark, a contraction, some filler.
    The words that carry its meaning stay (rewording those is what paraphrase would need)."""
    q = question.strip()
    if rng.random() < 0.7:
        q = q.lower()
    if rng.random() < 0.6:
        q = q.rstrip("?").rstrip()
    for formal, chat in (("what is ", "whats "), ("who is ", "whos "), ("what was the ", "what was ")):
        if q.lower().startswith(formal) and rng.random() < 0.5:
            q = chat + q[len(formal) :]
    if rng.random() < 0.15:
        q = rng.choice(("so ", "hey ", "quick q: ", "anyone know ", "wait ")) + q
    if rng.random() < 0.1:
        q = q + rng.choice((" lol", " tho", " rn", " ?", " exactly"))
    return q


def squad_train_pairs(
    seed: int = 2026,
    questions_limit: int = 0,
    paragraph_negatives: int = 1,
    article_negatives: int = 1,
    casual_share: float = 0.4,
    path: Path = SQUAD_TRAIN,
) -> list[Pair]:
    """Pairs from SQuAD v1.0 train (no article of it is in either dev set). Per question (a seeded sample
    of `questions_limit`, 0 for all): its gold sentence with the answer's characters; the paragraph's
    `paragraph_negatives` sentences that share most words with the question without holding the answer
    (on-topic, not answering: what a member's unanswerable question meets); and `article_negatives`
    sentences of the same article's other paragraphs that match it best without the answer (the question
    against the best-matching paragraph that lacks it). `casual_share` of the questions are reworded as
    members type (`casual`)."""
    rng = random.Random(seed)
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    asked: list[tuple[str, Paragraph, tuple[int, int], str]] = []
    by_article: dict[str, list[Paragraph]] = {}
    for item in data:
        for para in item["paragraphs"]:
            paragraph = None
            for qa in para["qas"]:
                answer = qa["answers"][0]
                if answer["answer_start"] < 0 or not answer["text"].strip():
                    continue
                if paragraph is None:
                    paragraph = paragraph_of(item["title"], para["context"])
                    by_article.setdefault(item["title"], []).append(paragraph)
                start = answer["answer_start"]
                asked.append((qa["question"], paragraph, (start, start + len(answer["text"])), answer["text"]))
    if questions_limit and questions_limit < len(asked):
        asked = rng.sample(asked, questions_limit)
    out: list[Pair] = []
    for question, paragraph, span, answer in asked:
        words = content_words(question)
        shown = casual(question, rng) if rng.random() < casual_share else question
        gold = gold_sentences(paragraph, [span])
        for i in sorted(gold):
            out.append(pair_of(shown, paragraph, i, 1, "gold", span))
        near = [
            (text, paragraph, i)
            for i, text in enumerate(paragraph.sentences)
            if i not in gold and answer.lower() not in text.lower()
        ]
        for _ in range(paragraph_negatives):
            if (found := closest(words, near, rng)) is not None:
                near.remove(found)
                out.append(pair_of(shown, found[1], found[2], 0, "paragraph"))
        elsewhere = [
            (text, p, i)
            for p in by_article[paragraph.article]
            if p is not paragraph
            for i, text in enumerate(p.sentences)
            if answer.lower() not in text.lower()
        ]
        for _ in range(article_negatives):
            if (found := closest(words, elsewhere, rng)) is not None:
                elsewhere.remove(found)
                out.append(pair_of(shown, found[1], found[2], 0, "article"))
    rng.shuffle(out)
    return out
