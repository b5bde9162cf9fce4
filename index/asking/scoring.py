"""The cheap scoring: sentence scores, quote selection and abstention without the answer model.

1. Candidates: the top `candidates` chunks by cosine (FAISS) and by BM25 (bm25s), as a union.
2. Fusion: fused = w * cosine + (1 - w) * bm25 / (the query's best BM25), w = dense_weight
   (index/search/fusion.py; the weights live here, in Scoring).
3. Sentences: every sentence of the best `rerank_depth` chunks is scored against the question itself:

       sentence = cosine(question, sentence)
                  + overlap_weight     * idf-weighted share of the question's content terms it contains
                  + answer_type_weight * [it holds what the question asks for: a date for "when",
                                          a number for "how many"/"what's the score", a new name for
                                          "who", a place for "where", a reason word for "why"]
                  + chunk_weight       * cosine(question, the chunk it was found in)
                  + focus_weight       * [it repeats the noun after "what"/"which": "What rocket ..."]

   The chunk cosine carries the context a lone sentence lacks ("He was born in 1850."). Chunks are
   re-ranked by fused + sentence_weight * their best sentence, and the best sentences become the
   quotes (extras only when within quote_margin of the best and not a near-duplicate).
4. Abstention: confidence = cosine + confidence_coverage_weight * coverage + confidence_chunk_weight
   * chunk cosine of the best sentence (a logistic fit, covered vs. uncovered questions); below the
   calibrated threshold the bot says the articles don't cover the question. Every term is a cosine
   or a share in [0, 1], never a raw BM25 magnitude, so the threshold means the same for three news
   articles as for thousands.

The weights were fitted on the even-numbered articles of SQuAD v1.1 dev and checked on the odd ones
(bench/tune_scoring.py; see README "How answers are chosen")."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from index.search.fusion import Candidate
from index.search.lexical import tokenize

# Words that shape a question but never appear in its answer.
QUESTION_WORDS = frozenset(
    tokenize("who whom whose what which when where why how did does do was were is are has have")
)


@dataclass(frozen=True)
class Scoring:
    """Weights of the formula in the module docstring (fitted with bench/tune_scoring.py)."""

    candidates: int = 30  # taken from each retriever before fusion
    dense_weight: float = 0.6  # fused = w * cosine + (1 - w) * bm25 / max(bm25)
    rerank_depth: int = 12  # chunks whose sentences are scored (16-20 gain < 0.004 R@10, cost time)
    overlap_weight: float = 1.2  # sentence += this * idf-weighted question-term coverage
    answer_type_weight: float = 0.3  # sentence += this if it holds the asked-for kind of answer
    chunk_weight: float = 0.7  # sentence += this * cosine of its chunk
    focus_weight: float = 0.2  # sentence += this if it repeats the noun after "what"/"which"
    sentence_weight: float = 1.5  # chunk = fused + this * best sentence score
    quote_margin: float = 0.7  # extra quotes must score within this of the best one
    duplicate_cosine: float = 0.95  # a quote this close to one already chosen is a repeat
    # abstention confidence = best sentence's cosine + these * its coverage, its chunk's cosine
    confidence_coverage_weight: float = 0.95
    confidence_chunk_weight: float = 1.08


DEFAULT_SCORING = Scoring()


@dataclass(frozen=True)
class ScoredSentence:
    article_id: int
    index: int
    start: int
    end: int
    cosine: float
    coverage: float
    score: float
    chunk_id: int
    vector: np.ndarray
    chunk_cosine: float = 0.0  # cosine of the chunk the sentence was scored in (its context)


# -- answer types ---------------------------------------------------------------------------------
# A question's wording says what kind of thing answers it; a sentence that holds no such thing
# (no date for "when", no number for "how many", no name the question lacks for "who") is rarely
# the answer, however many question words it repeats.
_TIME_QUESTION = re.compile(
    r"\b(when|what (year|years|century|decade|date|day|month|era|time period|time|week|weekend|season)"
    r"|which (year|century|decade|month|day|week|weekend|season)|how long ago|since when|what time)\b",
    re.IGNORECASE,
)
_NUMBER_QUESTION = re.compile(
    r"\b(how (many|much|long|old|far|big|large|high|tall|deep|wide|often|fast|heavy|close|near|thick|quickly|hot"
    r"|cold|warm|expensive)|what (percentage|percent"
    r"|number|amount|proportion|fraction|share|size|population|temperature|speed|distance|rate)"
    r"|(the|final) (scoreline|price|cost)|score\b(?! of)|price of|cost of)",
    re.IGNORECASE,
)
_NAME_QUESTION = re.compile(r"\b(who|whom|whose)\b", re.IGNORECASE)
_PLACE_QUESTION = re.compile(r"\b(where|what (city|town|country|place|venue|county|state|region))\b", re.IGNORECASE)
_REASON_QUESTION = re.compile(r"\b(why|how come|what (caused|made|led)|reason|cos of what)\b", re.IGNORECASE)
_TIME = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})s?\b|\b(January|February|March|April|May|June|July|August|September|October"
    r"|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
    r"|\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.(?= ?\d)"
    r"|\b(century|centuries|decade|BC|AD|BCE|CE)\b"
    r"|(?i:\b(yesterday|tomorrow|tonight|weekend|ago|until|(last|next) (year|month|week|night))\b)"
    r"|(?i:\b(\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|several) (years?|months?|weeks?|days?|hours?)\b)"
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred"
    r"|hundreds|thousand|thousands|million|millions|billion|billions|dozen|dozens|half|once|twice)\b",
    re.IGNORECASE,
)
# Words that give a reason: a sentence holding none of them rarely answers "why".
_REASON = re.compile(
    r"\b(because|due to|owing to|thanks to|as a result|result of|following|after|since|so that|in order to"
    r"|reason|reasons|blamed|blame|caused|causes|cause|led to|hurt by|driven by|fuelled by|amid|over fears"
    r"|concerns?|fears?|to (avoid|prevent|protect|allow|help|make|ensure|stop|cut|boost|reduce)|aims? to|means?"
    r"|not in the interests?|would (not|only)|said (it|he|she|they) (was|were|would|had))\b",
    re.IGNORECASE,
)
# "in Tredegar", "at Bramham Park", "near Wetherby": a preposition of place before a name.
_PLACE = re.compile(r"\b(in|at|near|from|outside|inside|across|around|between) (the )?[A-Z][\w'’-]*")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*")
# "What rocket launched ...", "which country ...": the noun right after what/which names the answer's
# kind, and the answer's sentence usually repeats it ("... on an Ariane 5 rocket").
_FOCUS = re.compile(
    r"\b(?:what|which)\s+(?:(?:kind|type|sort|form|part|name|group)s?\s+of\s+)?([A-Za-z][\w-]*)", re.IGNORECASE
)
_NOT_FOCUS = frozenset(
    "is was are were did does do has have had can could would will should may might the a an "
    "of in on to for by as at from".split()
)
_WORD = re.compile(r"[\w'’-]+")


def question_kind(text: str) -> str | None:
    """ "time", "number", "name", "place", "reason" or None (any answer), from the question's wording.
    The first question phrase decides: "how old was he when he was elected" asks for a number."""
    found = [  # (where, which): at the same place the earlier pattern wins ("how long ago" is a time)
        (match.start(), n, kind)
        for n, (kind, pattern) in enumerate(
            (
                ("time", _TIME_QUESTION),
                ("number", _NUMBER_QUESTION),
                ("name", _NAME_QUESTION),
                ("place", _PLACE_QUESTION),
                ("reason", _REASON_QUESTION),
            )
        )
        if (match := pattern.search(text))
    ]
    return min(found)[2] if found else None


def focus_terms(text: str) -> frozenset[str]:
    """The stemmed noun after "what"/"which" ("What rocket ..." -> {"rocket"}), or nothing."""
    found = [m.group(1) for m in _FOCUS.finditer(text) if m.group(1).lower() not in _NOT_FOCUS]
    return frozenset(t for w in found for t in tokenize(w))


def answer_type_match(kind: str | None, question_words: frozenset[str], text: str) -> float:
    """1.0 when the sentence holds the kind of thing the question asks for, else 0.0. For "who" and
    "where", a name the question lacks: 1.0 for two or more capitalised words in a row ("Oleksii
    Reznikov"), 0.5 for a single one ("Belarusian"), which is as often an adjective as an answer."""
    if kind == "time":
        return 1.0 if _TIME.search(text) else 0.0
    if kind == "number":
        return 1.0 if _NUMBER.search(text) else 0.0
    if kind == "reason":
        return 1.0 if _REASON.search(text) else 0.0
    if kind == "place":
        if any(m.group().split()[-1].lower() not in question_words for m in _PLACE.finditer(text)):
            return 1.0
        kind = "name"  # a bare name may still be the place ("Tredegar-born")
    if kind == "name":
        # Capitalised words that are not the sentence's first word and not already in the question.
        best, run, last_end = 0.0, 0, -10
        for match in _CAPITALISED.finditer(text):
            if match.start() == 0 or match.group().lower() in question_words:
                run = 0
                continue
            run = run + 1 if match.start() - last_end <= 1 and run else 1
            last_end = match.end()
            best = 1.0 if run >= 2 else max(best, 0.5)
            if best == 1.0:
                break
        return best
    return 0.0


@dataclass(frozen=True)
class Question:
    text: str
    vector: np.ndarray
    terms: list[str]  # BM25 tokens, for retrieval
    content_terms: list[str]  # without question words, for coverage
    kind: str | None = None  # expected answer type, see question_kind
    words: frozenset[str] = field(default_factory=frozenset)  # lower-cased surface words
    focus: frozenset[str] = field(default_factory=frozenset)  # see focus_terms
    # content terms a sentence may cover with other words ("sacked": "fired"), see index/asking/casual.py
    alternatives: dict[str, tuple[frozenset[str], ...]] = field(default_factory=dict)


def analyse_question(text: str, vector: np.ndarray) -> Question:
    terms = tokenize(text)
    content = [t for t in terms if t not in QUESTION_WORDS] or terms
    words = frozenset(w.lower() for w in _WORD.findall(text))
    table = _equivalents()
    alternatives = {t: table[t] for t in content if t in table}
    # BM25 looks for the article's words too ("fired" for "sacked")
    extra = [s for alts in alternatives.values() for alt in alts for s in sorted(alt) if s not in terms]
    searched = terms + list(dict.fromkeys(extra))
    return Question(text, vector, searched, content, question_kind(text), words, focus_terms(text), alternatives)


@cache
def _equivalents() -> dict[str, tuple[frozenset[str], ...]]:
    from index.asking.casual import equivalents

    return equivalents(tokenize)


def score_sentence(
    question: Question,
    text: str,
    vector: np.ndarray,
    chunk: Candidate,
    idf: Callable[[str], float],
    scoring: Scoring = DEFAULT_SCORING,
) -> tuple[float, float, float]:
    """(score, cosine, coverage) of one candidate sentence, found in `chunk`, for the question."""
    cosine = float(vector @ question.vector)
    tokens = set(tokenize(text))
    cover = coverage(question.content_terms, tokens, idf, question.alternatives)
    score = cosine + scoring.overlap_weight * cover + scoring.chunk_weight * chunk.cosine
    if scoring.focus_weight and question.focus and not question.focus.isdisjoint(tokens):
        score += scoring.focus_weight
    if scoring.answer_type_weight and question.kind is not None:
        score += scoring.answer_type_weight * answer_type_match(question.kind, question.words, text)
    return score, cosine, cover


def coverage(
    question_terms: Sequence[str],
    sentence_terms: set[str],
    idf: Callable[[str], float],
    alternatives: Mapping[str, tuple[frozenset[str], ...]] | None = None,
) -> float:
    """Share of the question's distinct terms (weighted by idf) that the sentence contains, itself or as
    one of its alternatives (every term of it)."""
    terms = set(question_terms)
    total = sum(idf(t) for t in terms)
    if total <= 0:
        return 0.0
    alternatives = alternatives or {}
    return (
        sum(
            idf(t)
            for t in terms
            if t in sentence_terms or any(alt <= sentence_terms for alt in alternatives.get(t, ()))
        )
        / total
    )


def pick_quotes(
    sentences: list[ScoredSentence], limit: int, scoring: Scoring = DEFAULT_SCORING
) -> list[ScoredSentence]:
    """The best sentence, then up to limit-1 more that score nearly as well and say something new."""
    ranked = sorted(sentences, key=lambda s: s.score, reverse=True)
    chosen: list[ScoredSentence] = []
    for sentence in ranked:
        if len(chosen) >= limit:
            break
        if chosen and sentence.score < chosen[0].score - scoring.quote_margin:
            break
        if repeats(sentence, chosen, scoring):
            continue
        chosen.append(sentence)
    return chosen


def repeats(sentence: ScoredSentence, chosen: list[ScoredSentence], scoring: Scoring = DEFAULT_SCORING) -> bool:
    """Whether the sentence is one already chosen or a near-duplicate of one (a syndicated copy)."""
    return any(
        (s.article_id == sentence.article_id and s.index == sentence.index)
        or float(np.dot(s.vector, sentence.vector)) >= scoring.duplicate_cosine
        for s in chosen
    )


def confidence(question: Question, best: ScoredSentence, scoring: Scoring = DEFAULT_SCORING) -> float:
    """How sure the best quote answers the question, for abstention: a calibrated weighted sum of its
    cosine, its coverage and its chunk's cosine (logistic regression, covered vs. uncovered questions,
    tune half of bench/tune_scoring.py, scaled so the cosine's weight is 1). The answer-type and focus
    bonuses are left out: they help choose among sentences of the right article, but off-topic sentences
    hold dates, names and common nouns just as often."""
    return (
        best.cosine
        + scoring.confidence_coverage_weight * best.coverage
        + scoring.confidence_chunk_weight * best.chunk_cosine
    )
