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
from dataclasses import dataclass
from pathlib import Path

from index.chunking import Span, split_sentences

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SQUAD_V1 = DATA / "squad-v1.1-dev" / "dev-v1.1.json"
SQUAD_V2 = DATA / "squad-v2.0-dev" / "dev-v2.0.reconstructed.json"


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str
    previous: str | None
    label: int
    article: str
    kind: str  # "gold", "paragraph", "article", "other", "unanswerable"


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
            out.append(pair_of(question, paragraph, i, 1, "gold"))
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
    from index.judging import previous_sentences

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
    cheap scoring ranks highest (what index/judging.py hands the model), each labelled 1 when it is a gold
    sentence of the question's paragraph, else 0 (every one, for an unanswerable question); and the gold
    sentences the cheap scoring missed, so every answerable question has its positive. `engine` holds the
    SQuAD collection (bench/squad_collection.py)."""
    from index.judging import previous_sentences

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


def pair_of(question: str, paragraph: Paragraph, i: int, label: int, kind: str) -> Pair:
    previous = paragraph.sentences[i - 1] if i else None
    return Pair(question, paragraph.sentences[i], previous, label, paragraph.article, kind)


def _span_text(paragraph: Paragraph, start: int, end: int) -> str:
    """The answer text of a span (in the paragraph's offsets), within the sentence it starts in."""
    for (s, e), text in zip(paragraph.spans, paragraph.sentences, strict=True):
        if s <= start < e:
            return text[start - s : min(end, e) - s]
    return ""
