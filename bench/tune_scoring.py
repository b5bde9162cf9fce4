"""Tune and measure Byline's answer selection (index/answer.py) on SQuAD v1.1 dev.

Measures what /work/shared/ANCHORS.md measures:
  * paragraph R@1/R@5/R@10 and MRR@10 of the final chunk ranking on the 48-article collection
    (a hit is a chunk overlapping the gold paragraph);
  * whether the top-1 quote / any of the top-3 quotes (pick_quotes) holds a gold answer string,
    and the mean words of the top-1 quote;
  * abstention on the 24-article collection: ROC AUC of the confidence, and the share of in-corpus
    questions still answered when 90% of out-of-corpus questions abstain (with that threshold).
Every number is given for the tune half (even article index) and the held-out half (odd index).

Per-question features come from the engine's own stores and indexes (chunk/sentence vectors,
the BM25 index, the idf) and the scoring functions of index/answer.py, and are cached in /tmp, so
formulas are evaluated in numpy in about a second. Run:

    PYTHONPATH=. .venv/bin/python bench/tune_scoring.py            # report the table
    PYTHONPATH=. .venv/bin/python bench/tune_scoring.py --search   # also grid-search weights

The collections are built by bench/squad_collection.py (run automatically if absent)."""

from __future__ import annotations

import argparse
import pickle
import re
import sys
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.squad_collection import DATA_DIR, SquadQuestion, build, in_half, load_squad  # noqa: E402
from index import answer  # noqa: E402
from index.answer import Scoring  # noqa: E402

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
    s_extra: dict[str, np.ndarray]  # further per-(question, sentence) features


def question_vectors(questions: list[SquadQuestion]) -> np.ndarray:
    path = CACHE / "question_vectors.npy"
    if path.exists():
        vectors = np.load(path)
        if len(vectors) == len(questions):
            return vectors
    from index.embedding import Embedder

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
    from index.lexical import tokenize

    articles, _ = load_squad()
    engine = Engine(EngineSettings(data_dir=DATA_DIR))
    state = engine._index(collection)
    store = engine.store
    conn = store._connect()
    title_to_index = {a.title.replace("_", " "): i for i, a in enumerate(articles)}
    rows = conn.execute("SELECT id, title FROM articles WHERE collection = ?", (collection,)).fetchall()
    article_of = {aid: title_to_index[title] for aid, title in rows}

    chunk_ids, chunk_matrix = store.chunk_vectors(collection)
    meta = {r[0]: r[1:] for r in conn.execute(
        "SELECT id, article_id, first_sentence, last_sentence, start, end FROM chunks WHERE collection = ?",
        (collection,))}
    chunk_article = np.array([article_of[meta[int(i)][0]] for i in chunk_ids])
    chunk_span = np.array([meta[int(i)][3:5] for i in chunk_ids])
    lex = state.lexical
    lex_to_chunk = np.array([np.searchsorted(chunk_ids, i) for i in lex.ids])

    # sentences
    sent_key: dict[tuple[int, int], int] = {}
    sent_article, sent_text, sent_vecs, sent_words, sent_tokens, sent_quotable = [], [], [], [], [], []
    texts = {aid: store.article_texts([aid])[aid].text for aid in article_of}
    for aid in sorted(article_of):
        for idx, start, end, quotable, vec in store.sentences(aid):
            sent_key[(aid, idx)] = len(sent_text)
            t = texts[aid][start:end]
            sent_article.append(article_of[aid])
            sent_text.append(t)
            sent_vecs.append(vec)
            sent_words.append(len(t.split()))
            sent_tokens.append(set(tokenize(t)))
            sent_quotable.append(quotable)
    chunk_sents = [
        [sent_key[(meta[int(i)][0], k)] for k in range(meta[int(i)][1], meta[int(i)][2] + 1)
         if sent_quotable[sent_key[(meta[int(i)][0], k)]]]
        for i in chunk_ids
    ]
    sent_matrix = np.vstack(sent_vecs)
    para_spans = [a.paragraph_spans for a in articles]

    cols: dict[str, list] = {k: [] for k in
                             "c_q c_chunk c_cos c_bm25 c_bm25_top c_drank c_brank c_hit s_q s_sent s_cos s_holds "
                             "s_cover l_crow l_srow".split()}
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
                    cols["s_cover"].append(sum(idf[t] for t in terms if t in sent_tokens[s]) / total if total > 0 else 0.0)
                cols["l_crow"].append(base + n)
                cols["l_srow"].append(srow_of[s])
        if qi % 1000 == 0:
            print(f"{collection}: {qi}/{len(questions)} questions, {time.time() - started:.0f}s", flush=True)
    feats = Features(
        c_q=np.array(cols["c_q"], dtype=np.int32), c_chunk=np.array(cols["c_chunk"], dtype=np.int32),
        c_cos=np.array(cols["c_cos"], dtype=np.float32), c_bm25=np.array(cols["c_bm25"], dtype=np.float32),
        c_bm25_top=np.array(cols["c_bm25_top"], dtype=np.float32),
        c_drank=np.array(cols["c_drank"], dtype=np.int32), c_brank=np.array(cols["c_brank"], dtype=np.int32),
        c_hit=np.array(cols["c_hit"], dtype=bool),
        s_q=np.array(cols["s_q"], dtype=np.int32), s_sent=np.array(cols["s_sent"], dtype=np.int32),
        s_cos=np.array(cols["s_cos"], dtype=np.float32), s_holds=np.array(cols["s_holds"], dtype=bool),
        l_crow=np.array(cols["l_crow"], dtype=np.int32), l_srow=np.array(cols["l_srow"], dtype=np.int32),
        sent_article=np.array(sent_article), sent_words=np.array(sent_words), sent_vectors=sent_matrix,
        sent_text=sent_text, s_extra={"cover": np.array(cols["s_cover"], dtype=np.float32)},
    )
    with path.open("wb") as f:
        pickle.dump(feats, f, protocol=pickle.HIGHEST_PROTOCOL)
    engine.close()
    return feats
