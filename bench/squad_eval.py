"""Retrieval, quoting and abstention on SQuAD v1.1 dev: Byline (through Engine.ask) against the baseline
of bench/baseline.py (1,000/200 character chunks, MiniLM, FAISS flat, top-k chunks as the answer).

  * Retrieval, 48 articles ingested: recall@1/5/10 of the gold paragraph's article (a returned chunk of
    that article) and of the gold paragraph (a returned chunk overlapping it), MRR@10 of the paragraph.
  * Quoting: the gold answer string inside the top-1 quote / inside any quote, and the quotes' length in
    words. For the baseline the quote is the whole chunk (top-1 chunk, and the top-3 chunks).
  * Abstention, 24 articles ingested ("squad_half"): questions about the other 24 should abstain. ROC AUC
    of the confidence, precision/recall of abstaining over the threshold (bench/abstention_curve.png),
    the shipped threshold (index/settings.py) as the operating point, and the in-corpus questions still
    answered when 90% of the out-of-corpus ones abstain. The baseline's confidence is its top-1 cosine.

Byline as shipped ("byline": the answer model on) beside the cheap scoring alone ("cheap_scoring",
BYLINE_ANSWER_MODEL=0). Byline's numbers come from Engine.ask itself (the question vectors are cached in
/tmp/byline_tune, so the embedder hands back a stored vector instead of running the model; everything
after that is the product path). The chunk ranking for R@k is the engine's own: SearchIndex.retrieve,
then EvidenceFinder.score_sentences' re-ranking.

    python bench/squad_eval.py            # all 10,570 questions (~15 min on 2 cores, collections built)
    python bench/squad_eval.py --quick    # a fixed sample of 1,000 questions"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baseline import Baseline
from bench.common import BENCH, record
from bench.squad_collection import DATA_DIR, SquadQuestion, build, in_half, load_squad
from bench.tune_scoring import CACHE, auc
from index.inference.embedding import Embedder

QUICK_SAMPLE = 1000
KS = (1, 5, 10)


class StoredVectors(Embedder):
    """The real embedder, except that texts whose vector is already known are not encoded again."""

    def __init__(self, known: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.known = known

    def encode(self, texts: list[str]) -> np.ndarray:
        if texts and all(t in self.known for t in texts):
            return np.vstack([self.known[t] for t in texts])
        return super().encode(texts)


def question_vectors(questions: list[SquadQuestion], picks: np.ndarray) -> np.ndarray:
    """Vectors of the picked questions: from tune_scoring's cache of all 10,570 if present, else encoded
    (and cached when all are asked for)."""
    path = CACHE / "question_vectors.npy"
    if path.exists():
        vectors = np.load(path)
        if len(vectors) == len(questions):
            return vectors[picks]
    vectors = Embedder().encode([questions[i].text for i in picks])
    if len(picks) == len(questions):
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return vectors


def abstention(pos: np.ndarray, neg: np.ndarray, threshold: float | None) -> dict[str, object]:
    """pos: confidences of in-corpus questions (should answer); neg: out-of-corpus (should abstain).
    Abstaining is the positive class: precision = out-of-corpus share of the abstentions, recall = share
    of out-of-corpus questions that abstain."""
    at90 = float(np.quantile(neg, 0.9))
    out: dict[str, object] = {
        "auc": round(auc(pos, neg), 4),
        "answered_at_90pct_abstained": round(float(np.mean(pos >= at90)), 4),
        "threshold_at_90pct_abstained": round(at90, 4),
    }
    if threshold is not None:
        abstain_neg, abstain_pos = int(np.sum(neg < threshold)), int(np.sum(pos < threshold))
        out["operating_point"] = {
            "threshold": threshold,
            "precision": round(abstain_neg / max(abstain_neg + abstain_pos, 1), 4),
            "recall": round(abstain_neg / len(neg), 4),
            "in_corpus_answered": round(1 - abstain_pos / len(pos), 4),
        }
    return out


def curve(pos: np.ndarray, neg: np.ndarray, points: int = 200) -> dict[str, np.ndarray]:
    thresholds = np.quantile(np.r_[pos, neg], np.linspace(0.0, 1.0, points))
    tp = np.array([np.sum(neg < t) for t in thresholds])  # abstained, rightly
    fp = np.array([np.sum(pos < t) for t in thresholds])  # abstained on an answerable question
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
    return {"threshold": thresholds, "precision": precision, "recall": tp / len(neg)}


def plot(ours: dict, base: dict, threshold: float, point: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(ours["threshold"], ours["precision"], label="precision of abstaining")
    left.plot(ours["threshold"], ours["recall"], label="recall of abstaining")
    left.axvline(threshold, color="grey", linestyle="--", label=f"shipped threshold {threshold}")
    left.set_xlabel("Byline confidence threshold")
    left.set_title("Byline: abstain when confidence < threshold")
    left.legend(loc="lower right", fontsize=8)
    right.plot(ours["recall"], ours["precision"], label="Byline (calibrated confidence)")
    right.plot(base["recall"], base["precision"], label="baseline (top-1 chunk cosine)")
    right.plot([point["recall"]], [point["precision"]], "o", color="black", label="Byline operating point")
    right.set_xlabel("recall: out-of-corpus questions that abstain")
    right.set_ylabel("precision: abstentions that were right")
    right.set_ylim(0.45, 1.01)
    right.set_title("Abstention, 24 of 48 SQuAD articles ingested")
    right.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_byline(
    questions: list[SquadQuestion], picks: np.ndarray, qvec: np.ndarray, answer_model: bool = True
) -> dict[str, np.ndarray | list[float]]:
    from index import Engine, EngineSettings
    from index.asking.scoring import analyse_question

    articles, _ = load_squad()
    titles = {a.title.replace("_", " "): i for i, a in enumerate(articles)}
    known = {" ".join(questions[i].text.split()): qvec[n] for n, i in enumerate(picks)}
    # No threshold here: every question gets its quotes, and abstention is read off the confidence
    # exactly as the answering room decides it (confidence < threshold). With the answer model, a
    # threshold near 0 also lets up to k of its best candidates be quoted (ranking, not abstention).
    settings = EngineSettings(
        data_dir=DATA_DIR, abstain_threshold=-1e9, answer_model=answer_model, answer_threshold=1e-9
    )
    engine = Engine(settings, embedder=StoredVectors(known))
    out: dict[str, list] = {k: [] for k in ("para_rank", "article_rank", "top1", "any", "w1", "wall", "conf", "half")}
    for collection in ("squad", "squad_half"):
        state = engine.search_index(collection)
        article_of = {a.id: titles[a.title] for a in engine.store.articles(collection)}
        chunk_rows = engine.store.chunks(engine.store.chunk_ids(collection).tolist())
        spans = {cid: (article_of[c.article_id], c.start, c.end) for cid, c in chunk_rows.items()}
        started = time.time()
        for n, qi in enumerate(picks):
            q = questions[qi]
            answer = engine.ask(collection, q.text)
            if collection == "squad_half":
                out["half"].append(answer.confidence)
                continue
            out["conf"].append(answer.confidence)
            holds = [
                article_of[x.article_id] == q.article and any(a in x.text for a in q.answers) for x in answer.quotes
            ]
            out["top1"].append(bool(holds and holds[0]))
            out["any"].append(any(holds))
            out["w1"].append(len(answer.quotes[0].text.split()) if answer.quotes else 0)
            out["wall"].append(sum(len(x.text.split()) for x in answer.quotes))
            # the engine's chunk ranking: re-ranked chunks by their score, then the rest by fused score
            query = analyse_question(answer.question, qvec[n])
            candidates = state.retrieve(query, engine.scoring)
            _, _, rescored = engine.evidence.score_sentences(state, candidates, query)
            ranked = sorted(candidates, key=lambda c: (c.chunk_id not in rescored, -rescored.get(c.chunk_id, c.fused)))
            pstart, pend = articles[q.article].paragraph_spans[q.paragraph]
            para, art = 10**6, 10**6
            for r, c in enumerate(ranked[: max(KS)]):
                a, s, e = spans[c.chunk_id]
                if a == q.article:
                    art = min(art, r)
                    if s < pend and e > pstart:
                        para = min(para, r)
            out["para_rank"].append(para)
            out["article_rank"].append(art)
            if n % 1000 == 999:
                print(f"byline {collection}: {n + 1}/{len(picks)} in {time.time() - started:.0f}s", flush=True)
    engine.close()
    return {k: np.asarray(v) for k, v in out.items()}


def run_baseline(questions: list[SquadQuestion], picks: np.ndarray, qvec: np.ndarray) -> dict[str, np.ndarray]:
    articles, _ = load_squad()
    base = Baseline([a.text for a in articles], "squad")
    index, rows = base.index()
    found, _ = base.search(index, rows, qvec, max(KS))
    out: dict[str, list] = {k: [] for k in ("para_rank", "article_rank", "top1", "any", "w1", "wall")}
    for n, qi in enumerate(picks):
        q = questions[qi]
        pstart, pend = articles[q.article].paragraph_spans[q.paragraph]
        para, art = 10**6, 10**6
        for r, pos in enumerate(found[n]):
            c = base.chunks[pos]
            if c.doc == q.article:
                art = min(art, r)
                if c.start < pend and c.end > pstart:
                    para = min(para, r)
        out["para_rank"].append(para)
        out["article_rank"].append(art)
        top3 = [base.chunks[p] for p in found[n][:3]]
        holds = [c.doc == q.article and any(a in c.text for a in q.answers) for c in top3]
        out["top1"].append(holds[0])
        out["any"].append(any(holds))
        out["w1"].append(len(base.chunks[found[n][0]].text.split()))
        out["wall"].append(sum(len(base.chunks[p].text.split()) for p in found[n][:3]))
    half_index, half_rows = base.index({i for i in range(len(articles)) if in_half(i)})
    _, scores = base.search(half_index, half_rows, qvec, 1)
    result = {k: np.asarray(v) for k, v in out.items()}
    result["half"] = scores[:, 0]
    return result


def metrics(r: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, float]:
    para, art = r["para_rank"][mask], r["article_rank"][mask]
    out = {f"article_R@{k}": float(np.mean(art < k)) for k in KS}
    out.update({f"paragraph_R@{k}": float(np.mean(para < k)) for k in KS})
    out["paragraph_MRR@10"] = float(np.mean(np.where(para < 10, 1.0 / (para + 1), 0.0)))
    out["quote_top1_holds_answer"] = float(np.mean(r["top1"][mask]))
    out["quote_any_holds_answer"] = float(np.mean(r["any"][mask]))
    out["words_top1"] = float(np.mean(r["w1"][mask]))
    out["words_all_quotes"] = float(np.mean(r["wall"][mask]))
    return {k: round(v, 4) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"a fixed sample of {QUICK_SAMPLE} questions")
    args = parser.parse_args()
    from index.settings import DEFAULT_ABSTAIN_THRESHOLD

    _, questions = load_squad()
    if not (DATA_DIR / "byline.sqlite3").exists():
        print("building the SQuAD collections (once, about 10 minutes)...", flush=True)
        build(DATA_DIR)
    picks = (
        np.sort(np.random.default_rng(0).permutation(len(questions))[:QUICK_SAMPLE])
        if args.quick
        else np.arange(len(questions))
    )
    qvec = question_vectors(questions, picks)
    started = time.time()
    base = run_baseline(questions, picks, qvec)
    print(f"baseline done in {time.time() - started:.0f}s", flush=True)
    ours = run_byline(questions, picks, qvec)
    print(f"byline done in {time.time() - started:.0f}s", flush=True)
    cheap = run_byline(questions, picks, qvec, answer_model=False)
    print(f"cheap scoring done in {time.time() - started:.0f}s", flush=True)
    from index.inference.answer_model import AnswerModel

    thresholds = {"byline": AnswerModel().threshold, "cheap_scoring": DEFAULT_ABSTAIN_THRESHOLD, "baseline": None}

    everything = np.ones(len(picks), dtype=bool)
    held_out = np.array([questions[i].article % 2 == 1 for i in picks])
    inside = np.array([in_half(questions[i].article) for i in picks])
    tables = {}
    for name, r in (("byline", ours), ("cheap_scoring", cheap), ("baseline", base)):
        tables[name] = {"all": metrics(r, everything), "held_out": metrics(r, held_out)}
        tables[name]["abstention"] = abstention(r["half"][inside], r["half"][~inside], thresholds[name])
        if thresholds[name] is not None:
            # On the 48-article collection every question is answerable: how often does it still abstain?
            point = tables[name]["abstention"]["operating_point"]
            point["abstained_with_all_48_ingested"] = round(float(np.mean(r["conf"] < thresholds[name])), 4)
    point = tables["byline"]["abstention"]["operating_point"]
    plot(
        curve(ours["half"][inside], ours["half"][~inside]),
        curve(base["half"][inside], base["half"][~inside]),
        thresholds["byline"],
        point,
        # the published plot is the full run's; a quick run draws its own beside the caches
        BENCH / "abstention_curve.png" if not args.quick else Path("/tmp/byline_bench/abstention_curve_quick.png"),
    )

    print(f"\n{len(picks)} questions ({'quick sample' if args.quick else 'all'})")
    print(
        "| pipeline | art R@1 | R@5 | R@10 | para R@1 | R@5 | R@10 | MRR@10 "
        "| top-1 quote | any quote | words top-1 | words all |"
    )
    print("|---" * 12 + "|")
    for name in ("byline", "cheap_scoring", "baseline"):
        m = tables[name]["all"]
        cells = [m[k] for k in list(m)[:-2]] + [m["words_top1"], m["words_all_quotes"]]
        print(f"| {name} | " + " | ".join(f"{c:.3f}" if c < 2 else f"{c:.0f}" for c in cells) + " |")
    for name in ("byline", "cheap_scoring", "baseline"):
        print(name, "abstention", tables[name]["abstention"])
    record(
        "squad_eval_quick" if args.quick else "squad_eval",
        {
            "questions": len(picks),
            "sample": f"numpy default_rng(0) permutation, first {QUICK_SAMPLE}" if args.quick else "all",
            "path": "Engine.ask (stored question vectors); ranking via SearchIndex.retrieve + score_sentences",
            "baseline": "RecursiveCharacterTextSplitter-style 1000/200 chunks, MiniLM, FAISS IndexFlatIP, top-k",
            **tables,
        },
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
