"""Tune and measure Byline's answer selection (index/asking/scoring.py) on SQuAD v1.1 dev.

Measures what /work/shared/ANCHORS.md measures:
  * paragraph R@1/R@5/R@10 and MRR@10 of the final chunk ranking on the 48-article collection
    (a hit is a chunk overlapping the gold paragraph);
  * whether the top-1 quote / any of the top-3 quotes (pick_quotes) holds a gold answer string,
    and the mean words of the top-1 quote;
  * abstention on the 24-article collection: ROC AUC of the confidence, and the share of in-corpus
    questions still answered when 90% of out-of-corpus questions abstain (with that threshold).
Every number is given for the tune half (even article index) and the held-out half (odd index).

Per-question features come from the engine's own stores and indexes (chunk/sentence vectors,
the BM25 index, the idf) and the scoring functions of index/asking/scoring.py, and are cached in /tmp, so
formulas are evaluated in numpy in about a second. Run:

    PYTHONPATH=. .venv/bin/python bench/tune_scoring.py            # report the table
    PYTHONPATH=. .venv/bin/python bench/tune_scoring.py --search   # also grid-search weights

The collections are built by bench/squad_collection.py (run automatically if absent)."""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import record
from bench.squad_collection import DATA_DIR, SquadQuestion, build, in_half, load_squad
from index.asking import scoring as answer
from index.asking.scoring import Scoring

CACHE = Path("/tmp/byline_tune")
DENSE_POOL = 100  # candidate rows kept per retriever (covers any `candidates` up to this)
SENTENCE_POOL = 25  # chunks whose sentences get features: the union of the top-N of each retriever


# --------------------------------------------------------------------------------------------------
# Feature extraction (slow, cached)
# --------------------------------------------------------------------------------------------------
@dataclass
class Features:
    """Flat per-collection tables; `q` columns index into the questions list."""

    # candidate chunks: union of the top DENSE_POOL chunks by cosine and by BM25
    c_q: np.ndarray
    c_chunk: np.ndarray  # position in the collection's chunk table
    c_cos: np.ndarray
    c_bm25: np.ndarray  # raw BM25
    c_bm25_top: np.ndarray  # the question's best BM25 over the whole collection
    c_drank: np.ndarray
    c_brank: np.ndarray
    c_hit: np.ndarray  # chunk overlaps the gold paragraph
    # candidate sentences (of the SENTENCE_POOL chunks), one row per (question, sentence)
    s_q: np.ndarray
    s_sent: np.ndarray  # position in the collection's sentence table
    s_cos: np.ndarray
    s_holds: np.ndarray  # sentence text contains a gold answer string
    # links (question, chunk row, sentence row)
    l_crow: np.ndarray
    l_srow: np.ndarray
    # the collection's sentences
    sent_article: np.ndarray  # SQuAD article index
    sent_words: np.ndarray
    sent_vectors: np.ndarray
    sent_text: list[str]
    sent_tokens: list[set[str]]
    sent_prev: list[int]
    sent_next: list[int]
    s_extra: dict[str, np.ndarray]  # further per-(question, sentence) features


def question_vectors(questions: list[SquadQuestion]) -> np.ndarray:
    path = CACHE / "question_vectors.npy"
    if path.exists():
        vectors = np.load(path)
        if len(vectors) == len(questions):
            return vectors
    from index.inference.embedding import Embedder

    started = time.time()
    vectors = Embedder().encode([q.text for q in questions])
    print(f"embedded {len(questions)} questions in {time.time() - started:.0f}s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def extract(collection: str, questions: list[SquadQuestion], qvec: np.ndarray) -> Features:
    path = CACHE / f"features_{collection}.pkl"
    if path.exists():
        with path.open("rb") as f:
            return pickle.load(f)
    from index import Engine, EngineSettings
    from index.search.lexical import tokenize

    articles, _ = load_squad()
    engine = Engine(EngineSettings(data_dir=DATA_DIR))
    state = engine.search_index(collection)
    store = engine.store
    title_to_index = {a.title.replace("_", " "): i for i, a in enumerate(articles)}
    article_of = {a.id: title_to_index[a.title] for a in store.articles(collection)}

    chunk_ids, chunk_matrix = store.chunk_vectors(collection)
    meta = {
        c.id: (c.article_id, c.first_sentence, c.last_sentence, c.start, c.end)
        for c in store.chunks(chunk_ids.tolist()).values()
    }
    chunk_article = np.array([article_of[meta[int(i)][0]] for i in chunk_ids])
    chunk_span = np.array([meta[int(i)][3:5] for i in chunk_ids])
    lex = state.lexical
    lex_to_chunk = np.array([np.searchsorted(chunk_ids, i) for i in lex.ids])

    # sentences
    sent_key: dict[tuple[int, int], int] = {}
    sent_prev: list[int] = []  # the previous sentence of the same article, or -1
    sent_article, sent_text, sent_vecs, sent_words, sent_tokens, sent_quotable = [], [], [], [], [], []
    texts = {aid: store.article_texts([aid])[aid].text for aid in article_of}
    for aid in sorted(article_of):
        for idx, start, end, quotable, vec in store.sentences(aid):
            sent_prev.append(sent_key.get((aid, idx - 1), -1))
            sent_key[(aid, idx)] = len(sent_text)
            t = texts[aid][start:end]
            sent_article.append(article_of[aid])
            sent_text.append(t)
            sent_vecs.append(vec)
            sent_words.append(len(t.split()))
            sent_tokens.append(set(tokenize(t)))
            sent_quotable.append(quotable)
    chunk_sents = [
        [
            sent_key[(meta[int(i)][0], k)]
            for k in range(meta[int(i)][1], meta[int(i)][2] + 1)
            if sent_quotable[sent_key[(meta[int(i)][0], k)]]
        ]
        for i in chunk_ids
    ]
    sent_matrix = np.vstack(sent_vecs)
    sent_next = [-1] * len(sent_prev)
    for s, prev in enumerate(sent_prev):
        if prev >= 0:
            sent_next[prev] = s
    para_spans = [a.paragraph_spans for a in articles]

    cols: dict[str, list] = {
        k: []
        for k in "c_q c_chunk c_cos c_bm25 c_bm25_top c_drank c_brank c_hit s_q s_sent s_cos s_holds "
        "s_cover s_prev_cover s_next_cover l_crow l_srow".split()
    }
    started = time.time()
    cos_all = qvec @ chunk_matrix.T
    for qi, q in enumerate(questions):
        cos = cos_all[qi]
        bm = np.zeros(len(chunk_ids), dtype=np.float32)
        bm[lex_to_chunk] = lex.scores(tokenize(q.text))
        dense_order = np.argsort(-cos)[:DENSE_POOL]
        bm_order = np.argsort(-bm, kind="stable")[:DENSE_POOL]
        bm_order = bm_order[bm[bm_order] > 0]
        drank = np.full(len(chunk_ids), 10**6)
        drank[dense_order] = np.arange(len(dense_order))
        brank = np.full(len(chunk_ids), 10**6)
        brank[bm_order] = np.arange(len(bm_order))
        union = np.union1d(dense_order, bm_order)
        pstart, pend = para_spans[q.article][q.paragraph]
        hit = (chunk_article[union] == q.article) & (chunk_span[union, 0] < pend) & (chunk_span[union, 1] > pstart)
        base = len(cols["c_q"])
        cols["c_q"].extend([qi] * len(union))
        cols["c_chunk"].extend(union)
        cols["c_cos"].extend(cos[union])
        cols["c_bm25"].extend(bm[union])
        cols["c_bm25_top"].extend([float(bm.max())] * len(union))
        cols["c_drank"].extend(drank[union])
        cols["c_brank"].extend(brank[union])
        cols["c_hit"].extend(hit)
        pool = set(dense_order[:SENTENCE_POOL]) | set(bm_order[:SENTENCE_POOL])
        analysed = answer.analyse_question(q.text, qvec[qi])
        terms = set(analysed.content_terms)
        idf = {t: lex.idf(t) for t in terms}
        total = sum(idf.values())
        srow_of: dict[int, int] = {}
        for n, chunk in enumerate(union):
            if chunk not in pool:
                continue
            for s in chunk_sents[chunk]:
                if s not in srow_of:
                    srow_of[s] = len(cols["s_q"])
                    cols["s_q"].append(qi)
                    cols["s_sent"].append(s)
                    cols["s_cos"].append(float(sent_matrix[s] @ qvec[qi]))
                    text = sent_text[s]
                    cols["s_holds"].append(sent_article[s] == q.article and any(a in text for a in q.answers))
                    for col, other in (("s_cover", s), ("s_prev_cover", sent_prev[s]), ("s_next_cover", sent_next[s])):
                        cols[col].append(
                            sum(idf[t] for t in terms if t in sent_tokens[other]) / total
                            if total > 0 and other >= 0
                            else 0.0
                        )
                cols["l_crow"].append(base + n)
                cols["l_srow"].append(srow_of[s])
        if qi % 1000 == 0:
            print(f"{collection}: {qi}/{len(questions)} questions, {time.time() - started:.0f}s", flush=True)
    feats = Features(
        c_q=np.array(cols["c_q"], dtype=np.int32),
        c_chunk=np.array(cols["c_chunk"], dtype=np.int32),
        c_cos=np.array(cols["c_cos"], dtype=np.float32),
        c_bm25=np.array(cols["c_bm25"], dtype=np.float32),
        c_bm25_top=np.array(cols["c_bm25_top"], dtype=np.float32),
        c_drank=np.array(cols["c_drank"], dtype=np.int32),
        c_brank=np.array(cols["c_brank"], dtype=np.int32),
        c_hit=np.array(cols["c_hit"], dtype=bool),
        s_q=np.array(cols["s_q"], dtype=np.int32),
        s_sent=np.array(cols["s_sent"], dtype=np.int32),
        s_cos=np.array(cols["s_cos"], dtype=np.float32),
        s_holds=np.array(cols["s_holds"], dtype=bool),
        l_crow=np.array(cols["l_crow"], dtype=np.int32),
        l_srow=np.array(cols["l_srow"], dtype=np.int32),
        sent_article=np.array(sent_article),
        sent_words=np.array(sent_words),
        sent_vectors=sent_matrix,
        sent_text=sent_text,
        sent_tokens=sent_tokens,
        sent_prev=sent_prev,
        sent_next=sent_next,
        s_extra={k: np.array(cols["s_" + k], dtype=np.float32) for k in ("cover", "prev_cover", "next_cover")},
    )
    with path.open("wb") as f:
        pickle.dump(feats, f, protocol=pickle.HIGHEST_PROTOCOL)
    engine.close()
    return feats


# --------------------------------------------------------------------------------------------------
# Fast evaluation
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Params:
    """A scoring formula over cached features. `sentence` maps a feature name to its weight in the
    link (chunk, sentence) score; "fused" is the chunk's fused score, the rest are s_extra columns or
    "cos" (sentence cosine)."""

    candidates: int = 50
    dense_weight: float = 0.5
    rerank_depth: int = 12
    sentence_weight: float = 1.0
    quote_margin: float = 0.12
    duplicate_cosine: float = 0.95
    sentence: tuple[tuple[str, float], ...] = (("cos", 1.0), ("cover", 0.4))
    confidence: tuple[tuple[str, float], ...] = (("top", 1.0),)  # "top" = best sentence score

    def with_sentence(self, **weights: float) -> Params:
        merged = dict(self.sentence)
        merged.update(weights)
        return replace(self, sentence=tuple((k, v) for k, v in merged.items() if v != 0))


def _segment_first(keys: np.ndarray) -> np.ndarray:
    """Indices where a sorted key array starts a new segment."""
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


def evaluate(F: Features, p: Params, questions: list[SquadQuestion], quotes: bool = True) -> dict[str, np.ndarray]:
    """Per-question outcomes of formula p: rank of the first gold chunk, top-1/top-3 holds, words, confidence."""
    nq = len(questions)
    keep = (F.c_drank < p.candidates) | (F.c_brank < p.candidates)
    top = np.where(F.c_bm25_top > 0, F.c_bm25_top, 1.0)
    bm25n = np.where(F.c_bm25_top > 0, F.c_bm25 / top, 0.0)
    fused = p.dense_weight * F.c_cos + (1 - p.dense_weight) * bm25n
    fused_k = np.where(keep, fused, -np.inf)
    order = np.lexsort((-fused_k, F.c_q))
    starts = np.searchsorted(F.c_q[order], np.arange(nq))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rerank = keep & (rank < p.rerank_depth)

    # link scores
    lmask = rerank[F.l_crow]
    lc, ls = F.l_crow[lmask], F.l_srow[lmask]
    score = np.zeros(len(lc), dtype=np.float64)
    for name, w in p.sentence:
        if name == "cos":
            score += w * F.s_cos[ls]
        elif name == "fused":
            score += w * fused[lc]
        elif name == "ccos":
            score += w * F.c_cos[lc]
        elif name == "bm25n":
            score += w * bm25n[lc]
        else:
            score += w * F.s_extra[name][ls]
    best_chunk = np.zeros(len(F.c_q))
    np.maximum.at(best_chunk, lc, score)  # starts at 0, like the engine
    final = np.where(rerank, fused + p.sentence_weight * best_chunk, np.where(keep, fused - 1e3, -np.inf))
    order = np.lexsort((-final, F.c_q))
    starts = np.searchsorted(F.c_q[order], np.arange(nq))
    rank[order] = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    hit_rank = np.full(nq, 10**6)
    hits = F.c_hit & keep
    np.minimum.at(hit_rank, F.c_q[hits], rank[hits])

    sscore = np.full(len(F.s_q), -np.inf)
    np.maximum.at(sscore, ls, score)
    sorder = np.lexsort((-sscore, F.s_q))
    sstarts = np.searchsorted(F.s_q[sorder], np.arange(nq))
    has = sstarts < len(sorder)
    has[has] = F.s_q[sorder[sstarts[has]]] == np.arange(nq)[has]
    first = sorder[np.minimum(sstarts, len(sorder) - 1)]
    top1 = np.where(has, F.s_holds[first], False)
    words = np.where(has, F.sent_words[F.s_sent[first]], 0)
    top_score = np.where(has, sscore[first], 0.0)
    top3 = top1.copy()
    nquotes = has.astype(np.int64)
    if quotes:
        ends = np.r_[sstarts[1:], len(sorder)]
        for qi in np.flatnonzero(has):
            chosen = [first[qi]]
            for r in sorder[sstarts[qi] + 1 : min(ends[qi], sstarts[qi] + 12)]:
                if len(chosen) >= 3 or sscore[r] < sscore[chosen[0]] - p.quote_margin or not np.isfinite(sscore[r]):
                    break
                v = F.sent_vectors[F.s_sent[r]]
                if any(float(F.sent_vectors[F.s_sent[c]] @ v) >= p.duplicate_cosine for c in chosen):
                    continue
                chosen.append(r)
            top3[qi] = any(F.s_holds[c] for c in chosen)
            nquotes[qi] = len(chosen)
    conf = np.zeros(nq)
    for name, w in p.confidence:
        if name == "top":
            conf += w * top_score
        elif name == "top_cos":
            conf += w * np.where(has, F.s_cos[first], 0.0)
        elif name == "chunk_cos":
            best = np.full(nq, -1.0)
            np.maximum.at(best, F.c_q, F.c_cos)
            conf += w * best
        else:
            conf += w * np.where(has, F.s_extra[name][first], 0.0)
    return {"hit_rank": hit_rank, "top1": top1, "top3": top3, "words": words, "conf": conf, "nquotes": nquotes}


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    scores = np.r_[pos, neg]
    ranks = np.empty(len(scores))
    order = np.argsort(scores, kind="mergesort")
    ranks[order] = np.arange(1, len(scores) + 1)
    # average ties
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        if j > i:
            ranks[order[i : j + 1]] = (i + j + 2) / 2
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def summarise(
    full: dict[str, np.ndarray], half: dict[str, np.ndarray] | None, questions: list[SquadQuestion], mask: np.ndarray
) -> dict[str, float]:
    r = full["hit_rank"][mask]
    out = {
        "R@1": float(np.mean(r < 1)),
        "R@5": float(np.mean(r < 5)),
        "R@10": float(np.mean(r < 10)),
        "MRR": float(np.mean(np.where(r < 10, 1.0 / (r + 1), 0.0))),
        "top1": float(np.mean(full["top1"][mask])),
        "top3": float(np.mean(full["top3"][mask])),
        "words": float(np.mean(full["words"][mask])),
        "quotes": float(np.mean(full["nquotes"][mask])),
    }
    if half is not None:
        inside = np.array([in_half(q.article) for q in questions])
        pos, neg = half["conf"][mask & inside], half["conf"][mask & ~inside]
        threshold = float(np.quantile(neg, 0.9))
        out.update({"AUC": auc(pos, neg), "answered": float(np.mean(pos >= threshold)), "thr": threshold})
    return out


COLUMNS = ["R@1", "R@5", "R@10", "MRR", "top1", "top3", "words", "AUC", "answered", "thr"]


def row(name: str, stats: dict[str, float]) -> str:
    cells = [f"{stats[c]:.3f}" if c not in ("words",) else f"{stats[c]:.1f}" for c in COLUMNS if c in stats]
    return f"| {name} | " + " | ".join(cells) + " |"


# --------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------
def load_all() -> tuple[list[SquadQuestion], Features, Features]:
    _, questions = load_squad()
    if not (DATA_DIR / "byline.sqlite3").exists():
        build(DATA_DIR)
    qvec = question_vectors(questions)
    full, half = extract("squad", questions, qvec), extract("squad_half", questions, qvec)
    for F in (full, half):
        add_cues(F, questions)
    return questions, full, half


def add_cues(F: Features, questions: list[SquadQuestion]) -> None:
    """Per-(question, sentence) answer-type match, from index/asking/scoring.py's own functions."""
    analysed = [answer.analyse_question(q.text, np.zeros(1)) for q in questions]
    cache: dict[tuple[str | None, int, frozenset[str]], float] = {}
    values = np.zeros(len(F.s_q), dtype=np.float32)
    for n, (qi, s) in enumerate(zip(F.s_q, F.s_sent, strict=True)):
        a = analysed[qi]
        if a.kind is None:
            continue
        key = (a.kind, int(s), a.words if a.kind == "name" else frozenset())
        value = cache.get(key)
        if value is None:
            value = cache[key] = answer.answer_type_match(a.kind, a.words, F.sent_text[s])
        values[n] = value
    F.s_extra["cue"] = values
    kinds = np.array([a.kind or "" for a in analysed])
    for kind in ("time", "number", "name"):
        F.s_extra[f"cue_{kind}"] = values * (kinds[F.s_q] == kind)
    F.s_extra["words"] = F.sent_words[F.s_sent].astype(np.float32)
    F.s_extra["logwords"] = np.log(np.maximum(F.s_extra["words"], 1.0)).astype(np.float32)
    focus = np.zeros(len(F.s_q), dtype=np.float32)
    for n, (qi, s) in enumerate(zip(F.s_q, F.s_sent, strict=True)):
        if analysed[qi].focus and analysed[qi].focus & F.sent_tokens[s]:
            focus[n] = 1.0
    F.s_extra["focus"] = focus


def table(
    configs: dict[str, Params], questions: list[SquadQuestion], full: Features, half: Features
) -> dict[str, dict[str, float]]:
    """Print the metrics table; return {"name (split)": metrics} for results.json."""
    even = np.array([q.article % 2 == 0 for q in questions])
    print("| scoring | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    out = {}
    for name, p in configs.items():
        a, b = evaluate(full, p, questions), evaluate(half, p, questions, quotes=False)
        for split, mask in (("tune", even), ("held-out", ~even), ("all", np.ones_like(even))):
            stats = summarise(a, b, questions, mask)
            out[f"{name} ({split})"] = {k: round(float(v), 4) for k, v in stats.items()}
            print(row(f"{name} ({split})", stats), flush=True)
    return out


def from_scoring(s: Scoring) -> Params:
    """The Params that mirror index/asking/scoring.py's Scoring (the product formula)."""
    # answer.confidence = cos + a * cover + b * chunk cosine; the cached features hold the chunk cosine
    # only inside the score: (top - cos - overlap * cover - type * cue - focus_w * focus) / chunk_weight
    a, b, c = s.confidence_coverage_weight, s.confidence_chunk_weight, s.chunk_weight
    conf = (
        (
            ("top", b / c),
            ("top_cos", 1 - b / c),
            ("cover", a - b * s.overlap_weight / c),
            ("cue", -b * s.answer_type_weight / c),
            ("focus", -b * s.focus_weight / c),
        )
        if c
        else (("top_cos", 1.0), ("cover", a))
    )
    return Params(
        candidates=s.candidates,
        dense_weight=s.dense_weight,
        rerank_depth=s.rerank_depth,
        confidence=conf,
        sentence_weight=s.sentence_weight,
        quote_margin=s.quote_margin,
        duplicate_cosine=s.duplicate_cosine,
        sentence=(
            ("cos", 1.0),
            ("cover", s.overlap_weight),
            ("cue", s.answer_type_weight),
            ("ccos", s.chunk_weight),
            ("focus", s.focus_weight),
        ),
    )


BASELINES = {
    "dense-only": Params(dense_weight=1.0, sentence_weight=0.0, sentence=(("cos", 1.0),)),
    "BM25-only": Params(dense_weight=0.0, sentence_weight=0.0, sentence=(("cover", 1.0),)),
    "initial": Params(),  # the weights before tuning: cos + 0.4 cover, w=0.5, 50/12 deep
}


def engine_check(questions: list[SquadQuestion], limit: int) -> None:
    """Run the product code path itself (SearchIndex.retrieve, EvidenceFinder.score_sentences, pick_quotes) on cached
    question vectors, to confirm the fast numpy evaluation and to time the scoring."""
    from index import Engine, EngineSettings

    qvec = question_vectors(questions)
    engine = Engine(EngineSettings(data_dir=DATA_DIR))
    articles, _ = load_squad()
    titles = {a.title.replace("_", " "): i for i, a in enumerate(articles)}
    picks = np.random.default_rng(0).permutation(len(questions))[:limit]
    for collection in ("squad", "squad_half"):
        state = engine.search_index(collection)
        article_of = {a.id: titles[a.title] for a in engine.store.articles(collection)}
        texts = {aid: r.text for aid, r in engine.store.article_texts(list(article_of)).items()}
        top1, top3, conf, inside, times = [], [], [], [], []
        for qi in picks:
            q = questions[qi]
            started = time.perf_counter()
            query = answer.analyse_question(q.text, qvec[qi])
            candidates = state.retrieve(query, engine.scoring)
            sentences, _, _ = engine.evidence.score_sentences(state, candidates, query)
            chosen = answer.pick_quotes(sentences, 3, engine.scoring)
            times.append(time.perf_counter() - started)
            holds = [
                article_of[s.article_id] == q.article
                and any(a in texts[s.article_id][s.start : s.end] for a in q.answers)
                for s in chosen
            ]
            top1.append(bool(holds[:1] and holds[0]))
            top3.append(any(holds))
            best = max(sentences, key=lambda s: s.score, default=None)
            conf.append(answer.confidence(query, best, engine.scoring) if best else 0.0)
            inside.append(in_half(q.article))
        conf_a, inside_a = np.array(conf), np.array(inside)
        extra = ""
        if collection == "squad_half":
            extra = f" AUC {auc(conf_a[inside_a], conf_a[~inside_a]):.3f}"
        print(
            f"engine on {collection}, {limit} questions: top1 {np.mean(top1):.3f} top3 {np.mean(top3):.3f}"
            f"{extra}; scoring p50 {1000 * np.median(times):.2f} ms, p95 {1000 * np.quantile(times, 0.95):.2f} ms"
        )
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--search", action="store_true", help="grid-search the weights on the tune half")
    parser.add_argument(
        "--engine", type=int, default=0, metavar="N", help="also run the engine's own code path on N random questions"
    )
    args = parser.parse_args()
    questions, full, half = load_all()
    results = table(
        {**BASELINES, "final (index/asking/scoring.py defaults)": from_scoring(answer.DEFAULT_SCORING)},
        questions,
        full,
        half,
    )
    record("squad_answer_quality", {"questions": len(questions), "rows": results})
    if args.search:
        even = np.array([q.article % 2 == 0 for q in questions])
        grid = {
            "cover": [0.4, 0.8, 1.0, 1.2, 1.5],
            "cue": [0.0, 0.1, 0.15, 0.2, 0.3],
            "ccos": [0.0, 0.3, 0.5, 0.7, 1.0],
            "dense_weight": [0.4, 0.5, 0.6, 0.7],
            "sentence_weight": [0.5, 1.0, 1.5, 2.0],
            "rerank_depth": [12, 16, 20, 25],
            "candidates": [30, 50, 100],
        }
        best = search(full, from_scoring(answer.DEFAULT_SCORING), questions, even, grid)
        table({"searched": best}, questions, full, half)
    if args.engine:
        engine_check(questions, args.engine)


def objective(F: Features, p: Params, questions: list[SquadQuestion], mask: np.ndarray) -> float:
    """What the search maximises on the tune half: chunk ranking and the top-1 quote, equally."""
    out = evaluate(F, p, questions, quotes=False)
    r = out["hit_rank"][mask]
    return float(np.mean(r < 1) + np.mean(np.where(r < 10, 1.0 / (r + 1), 0.0)) + 2 * np.mean(out["top1"][mask]))


def search(
    F: Features,
    start: Params,
    questions: list[SquadQuestion],
    mask: np.ndarray,
    grid: dict[str, list[float]],
    rounds: int = 2,
) -> Params:
    """Coordinate ascent: each weight in turn over its grid, the others fixed."""
    best, best_value = start, objective(F, start, questions, mask)
    for _ in range(rounds):
        for name, values in grid.items():
            for value in values:
                if name in {f.name for f in fields(Params)}:
                    trial = replace(best, **{name: type(getattr(best, name))(value)})
                else:
                    trial = best.with_sentence(**{name: value})
                v = objective(F, trial, questions, mask)
                if v > best_value + 1e-6:
                    best, best_value = trial, v
            print(
                f"  {name}: {dict(best.sentence)} w={best.dense_weight} sw={best.sentence_weight} "
                f"cand={best.candidates} depth={best.rerank_depth} -> {best_value:.4f}",
                flush=True,
            )
    return best


if __name__ == "__main__":
    main()
