"""Summaries across articles (Engine.summarize_topic) and story grouping (stories.cluster, as digests use it).

Topic summaries, on the "bbc" collection (2,125 distinct bbc-news-summary articles):
  * Topics are the titles of a seeded sample of BBC articles, and a short keyword form of the same titles
    (the title's three rarest words in the corpus, e.g. "Yukos bankruptcy Texas"). A title is a person's
    one-line statement of a story, so it always has at least one relevant article, and the BBC corpus
    (2004-05) follows running stories (Yukos, the tsunami, the general election) over several articles,
    so a title usually pulls in follow-ups; the keyword form is closer to what people type and is vaguer,
    so it tests the member threshold. Topics drawn from nowhere would mostly test abstention, which the
    SQuAD bench already does.
  * Each topic gets summarize_topic(topic, sentences=5). Its member articles (the ones within
    TOPIC_MARGIN of the best, up to 8, in rank order) are read from the engine's one call to
    store.article_texts, since TopicSummary.articles lists only the articles it quotes.
  * Reference: the dataset's reference summaries of all member articles, concatenated. On the same
    members, Byline is compared with the naive "first sentence of each top article" (the first body
    sentence, from the engine's own sentence split, of each member in rank order, up to 5), with the same
    at Byline's length (the members' leads round robin: every first sentence, then every second, until
    5), and with a dense-only variant: the top 5 articles by cosine over the same stored chunk vectors
    (no BM25, no abstention, no margin), first sentence each, scored against the references of its own
    articles. A reference sentence repeated word for word (copies) counts once. The table is also given
    for the topics with at least two members, where choosing across articles is the point.
  * ROUGE-1/2/L F1 (rouge-score, Porter stemming); redundancy = share of sentence pairs within one
    summary whose stored MiniLM sentence vectors have cosine >= 0.8 (and >= 0.9); the share of
    summaries that hold one sentence text twice; abstentions; members; milliseconds per summary.
  * The same on "bbc_x8" (every article stored 8 times, copies 1-7 titled "(copy k)"), where every member
    set is mostly copies: does the summary repeat a sentence?

Story clusters:
  * lee-news-similarity: the 50 documents (ingested once into /tmp/byline_bench/lee) as the engine's
    article vectors (mean chunk vector, what digests cluster), Spearman correlation of their cosines with
    the mean human ratings of the 1,225 pairs, and the human rating of pairs above each threshold.
  * BBC near-duplicates: pairs of distinct articles of one category whose 5-word shingle Jaccard is
    >= 0.5 (edited copies) should land in one story; random same-category pairs with Jaccard < 0.1 should
    not (an upper bound on false merges: some are follow-ups of one story). stories.cluster runs per
    category (harder than a real week, which mixes categories), over thresholds 0.60-0.85.
  * NEAR_DUPLICATE: cosine of sentence pairs that are edited copies of each other (word Jaccard 0.5-0.99,
    matched across article pairs of shingle Jaccard >= 0.2) against pairs of different sentences of one
    article.
  * TOPIC_MARGIN (full run only): members and their topicality for margins 0.3-1.5 on 40 title topics.

No article text is printed or recorded: numbers only.

    python bench/topics.py            # 150 topics (x2 forms), 40 on bbc_x8, margin scan, clusters (~10 min)
    python bench/topics.py --quick    # 40 topics (x2 forms), 15 on bbc_x8, clusters"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DATA, percentiles, record
from bench.corpora import NEWS_DIR, bbc_rows, ensure
from bench.summaries import METRICS, reference_sentences

SUMMARY_SENTENCES = 5
BASELINE_ARTICLES = 5
REDUNDANT = (0.8, 0.9)
THRESHOLDS = (0.6, 0.65, 0.7, 0.72, 0.75, 0.8, 0.85)
DUPLICATE_THRESHOLDS = (0.75, 0.8, 0.85, 0.9, 0.95)
MARGINS = (0.3, 0.6, 1.0, 1.5)
LEE_DIR = Path("/tmp/byline_bench/lee")
WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


class Sentences:
    """The engine's stored split of each article: quotable (start, end, vector) in order, read once."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.cache: dict[int, list[tuple[int, int, np.ndarray]]] = {}

    def of(self, article_id: int) -> list[tuple[int, int, np.ndarray]]:
        if article_id not in self.cache:
            rows = self.engine.store.sentences(article_id)
            self.cache[article_id] = [(s, e, v) for _, s, e, quotable, v in rows if quotable]
        return self.cache[article_id]

    def vector(self, article_id: int, start: int) -> np.ndarray:
        return next(v for s, _, v in self.of(article_id) if s == start)


def redundancy(vectors: list[np.ndarray]) -> dict[float, float] | None:
    """Share of the summary's sentence pairs at or above each REDUNDANT cosine (None below 2 sentences)."""
    if len(vectors) < 2:
        return None
    matrix = np.vstack(vectors)
    cosines = (matrix @ matrix.T)[np.triu_indices(len(vectors), 1)]
    return {t: float((cosines >= t).mean()) for t in REDUNDANT}


def repeats_text(texts: list[str]) -> bool:
    normalised = [" ".join(t.split()) for t in texts]
    return len(set(normalised)) < len(normalised)


class Scores:
    """Per-method lists of per-topic numbers, averaged at the end."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))

    def add(self, method: str, scorer, reference: list[str], chosen: list[str], vectors: list[np.ndarray]) -> None:
        row = self.rows[method]
        result = scorer.score("\n".join(reference), "\n".join(chosen))
        for m in METRICS:
            row[m].append(result[m].fmeasure)
        row["sentences"].append(len(chosen))
        row["words"].append(sum(len(s.split()) for s in chosen))
        row["repeats a sentence"].append(float(repeats_text(chosen)))
        shares = redundancy(vectors)
        if shares is not None:
            for t, share in shares.items():
                row[f"pairs >= {t}"].append(share)
            row["any pair >= 0.8"].append(float(shares[0.8] > 0))

    def table(self) -> dict[str, dict[str, float]]:
        return {
            method: {k: round(float(np.mean(v)), 4) for k, v in row.items()} | {"topics": len(row["rouge1"])}
            for method, row in self.rows.items()
        }


def topic_forms(engine, collection: str, ids: dict[str, int], n: int, seed: int) -> list[tuple[str, int, str]]:
    """(BBC key, article id, title) for a seeded sample of n distinct articles."""
    by_article = {}
    for key, article_id in ids.items():
        by_article.setdefault(article_id, key)
    sample = random.Random(seed).sample(sorted(by_article), n)
    rows = engine.store.article_texts(sample)
    return [(by_article[a], a, rows[a].title) for a in sample]


def keywords(title: str, document_frequency: Counter, k: int = 3) -> str:
    """The title's k rarest words in the corpus (ties: first in the title), in title order."""
    tokens = [w for w in dict.fromkeys(words(title)) if len(w) > 2]
    rarest = sorted(tokens, key=lambda w: (document_frequency[w], tokens.index(w)))[:k]
    return " ".join(w for w in tokens if w in rarest)


def summarize_with_members(engine, collection: str, topic: str):
    """summarize_topic, and the member articles in rank order (its one call to store.article_texts)."""
    calls: list[list[int]] = []
    original = engine.store.article_texts

    def spy(ids):
        calls.append(list(ids))
        return original(ids)

    engine.store.article_texts = spy
    try:
        summary = engine.summarize_topic(collection, topic, sentences=SUMMARY_SENTENCES)
    finally:
        engine.store.article_texts = original
    return summary, (calls[-1] if calls and not summary.abstained else [])


def dense_top_articles(engine, collection: str, topic: str, k: int) -> list[int]:
    """The top-k articles by cosine of the topic to the stored chunk vectors (FAISS only)."""
    state = engine.search_index(collection)
    chunk_ids, _ = state.vectors.search(engine.embedder.encode([topic])[0], 20 * k)
    chunks = engine.store.chunks([int(c) for c in chunk_ids])
    ranked = [chunks[int(c)].article_id for c in chunk_ids if int(c) in chunks]
    return list(dict.fromkeys(ranked))[:k]


def leads(engine, sentences: Sentences, articles: list[int], n: int, per_article: int) -> tuple[list[str], list]:
    """The articles' lead sentences, round robin (every first sentence, then every second, ...), at most
    per_article from each and n in all: the texts and their stored vectors."""
    texts = engine.store.article_texts(articles)
    chosen = [
        (a, *sentences.of(a)[depth]) for depth in range(per_article) for a in articles if depth < len(sentences.of(a))
    ][:n]
    return [texts[a].text[s:e] for a, s, e, _ in chosen], [v for *_, v in chosen]


def reference_of(articles: list[int], references: dict[int, list[str]]) -> list[str]:
    """The articles' reference summaries, concatenated, a sentence repeated word for word kept once."""
    return list(dict.fromkeys(s for a in articles for s in references.get(a, [])))


def run_topics(
    engine, collection: str, topics: list[str], references: dict[int, list[str]], scorer, original: dict[int, int]
) -> dict:
    """Every topic summarised, with the baselines on the same members; `original` maps an article to the
    article it is a copy of (itself in "bbc"), to count distinct members."""
    sentences = Sentences(engine)
    every, several = Scores(), Scores()  # several: topics with at least two member articles
    members_count, distinct, took, abstained = [], [], [], 0
    for topic in topics:
        summary, members = summarize_with_members(engine, collection, topic)
        took.append(summary.took_ms)
        if summary.abstained:
            abstained += 1
            continue
        members_count.append(len(members))
        distinct.append(len({original.get(a, a) for a in members}))
        reference = reference_of(members, references)
        dense = dense_top_articles(engine, collection, topic, BASELINE_ARTICLES)
        picks = {
            "Byline summarize_topic": (
                reference,
                [s.text for s in summary.sentences],
                [sentences.vector(s.article_id, s.start) for s in summary.sentences],
            ),
            "first sentence of each member (up to 5)": (
                reference,
                *leads(engine, sentences, members[:BASELINE_ARTICLES], SUMMARY_SENTENCES, 1),
            ),
            "member leads round robin (5 sentences)": (
                reference,
                *leads(engine, sentences, members, SUMMARY_SENTENCES, SUMMARY_SENTENCES),
            ),
            "dense top-5 articles, first sentence each": (
                reference_of(dense, references),
                *leads(engine, sentences, dense, SUMMARY_SENTENCES, 1),
            ),
        }
        for method, (ref, texts, vectors) in picks.items():
            every.add(method, scorer, ref, texts, vectors)
            if len(members) >= 2:
                several.add(method, scorer, ref, texts, vectors)
    return {
        "topics": len(topics),
        "abstained": round(abstained / len(topics), 4),
        "members_mean": round(float(np.mean(members_count)), 2) if members_count else 0.0,
        "members_histogram": dict(sorted(Counter(members_count).items())),
        "distinct_members_mean": round(float(np.mean(distinct)), 2) if distinct else 0.0,
        "ms_per_summary": percentiles(took),
        "rows": every.table(),
        "rows_two_or_more_members": several.table(),
    }


def print_topic_table(name: str, result: dict) -> None:
    print(
        f"\n{name}: {result['topics']} topics, abstained {result['abstained']:.1%}, members "
        f"{result['members_mean']:.2f} on average ({result['distinct_members_mean']:.2f} distinct texts) "
        f"{result['members_histogram']}, "
        f"{result['ms_per_summary']['p50']:.0f} ms p50 / {result['ms_per_summary']['p95']:.0f} ms p95"
    )
    for label, key in (("all answered topics", "rows"), ("topics with 2+ members", "rows_two_or_more_members")):
        print(f"{label}:")
        print("| summary | ROUGE-1 | ROUGE-2 | ROUGE-L | words | pairs >= 0.8 | pairs >= 0.9 | repeats a sentence |")
        print("|---|---|---|---|---|---|---|---|")
        for method, m in result[key].items():
            print(
                f"| {method} | {m['rouge1']:.3f} | {m['rouge2']:.3f} | {m['rougeL']:.3f} | {m['words']:.0f} |"
                f" {m.get('pairs >= 0.8', 0):.3f} | {m.get('pairs >= 0.9', 0):.3f} | {m['repeats a sentence']:.3f} |"
            )


def margin_scan(engine, topics: list[tuple[str, int, str]], categories: dict[int, str], scorer, references) -> dict:
    """Members and their topicality as TOPIC_MARGIN moves (the module constant, patched here only): the
    share of members in the seed article's category, whether the seed is a member, and ROUGE of the
    summary against the seed article's own reference (a fixed yardstick as the member set grows)."""
    import index.summaries.summarising as engine_module

    shipped = engine_module.TOPIC_MARGIN
    out = {}
    try:
        for margin in MARGINS:
            engine_module.TOPIC_MARGIN = margin
            members_n, same_category, seed_in, rouge1 = [], [], [], []
            for _, seed, topic in topics:
                summary, members = summarize_with_members(engine, "bbc", topic)
                if summary.abstained:
                    continue
                members_n.append(len(members))
                same_category.extend(categories[a] == categories[seed] for a in members)
                seed_in.append(seed in members)
                chosen = "\n".join(s.text for s in summary.sentences)
                rouge1.append(scorer.score("\n".join(references[seed]), chosen)["rouge1"].fmeasure)
            out[str(margin)] = {
                "members_mean": round(float(np.mean(members_n)), 2),
                "members_same_category": round(float(np.mean(same_category)), 4),
                "seed_is_member": round(float(np.mean(seed_in)), 4),
                "rouge1_vs_seed_reference": round(float(np.mean(rouge1)), 4),
            }
    finally:
        engine_module.TOPIC_MARGIN = shipped
    print("\nTOPIC_MARGIN (title topics)")
    print("| margin | members | members in the seed's category | seed is a member | ROUGE-1 vs seed reference |")
    print("|---|---|---|---|---|")
    for margin, m in out.items():
        print(
            f"| {margin} | {m['members_mean']:.2f} | {m['members_same_category']:.3f} | {m['seed_is_member']:.3f} |"
            f" {m['rouge1_vs_seed_reference']:.3f} |"
        )
    return out


# -- story clusters -------------------------------------------------------------------------------------


def lee_vectors(embedder) -> np.ndarray:
    """The engine's article vectors of the 50 Lee documents, ingested once into LEE_DIR."""
    from index import Engine, EngineSettings
    from index.articles.extract import Document

    docs = (DATA / "lee-news-similarity" / "lee_50_docs.txt").read_text(encoding="utf-8").splitlines()
    docs = [d.strip() for d in docs if d.strip()]
    engine = Engine(EngineSettings(data_dir=LEE_DIR), embedder=embedder)
    try:
        if engine.article_count("lee") != len(docs):
            engine.add_documents("lee", [Document(d, f"lee/{i}", title=f"Lee {i}") for i, d in enumerate(docs)])
        ids = [a.id for a in sorted(engine.list_articles("lee"), key=lambda a: int(a.title.split()[1]))]
        vectors = engine.store.article_vectors(ids)
        return np.vstack([vectors[i] for i in ids])
    finally:
        engine.close()


def lee_correlation(embedder) -> dict:
    from scipy.stats import pearsonr, spearmanr

    vectors = lee_vectors(embedder)
    human = np.loadtxt(DATA / "lee-news-similarity" / "similarities0-1.txt")
    upper = np.triu_indices(len(vectors), 1)
    cosine, rating = (vectors @ vectors.T)[upper], human[upper]
    above = {
        str(t): {
            "pairs": int((cosine >= t).sum()),
            "human_mean": round(float(rating[cosine >= t].mean()), 3) if (cosine >= t).any() else None,
        }
        for t in THRESHOLDS
    }
    top = rating >= np.quantile(rating, 0.98)  # the pairs people rated most alike
    result = {
        "documents": len(vectors),
        "pairs": len(cosine),
        "spearman": round(float(spearmanr(cosine, rating).statistic), 4),
        "pearson": round(float(pearsonr(cosine, rating).statistic), 4),
        "human_mean_all_pairs": round(float(rating.mean()), 3),
        "most_alike_2pct": {
            "pairs": int(top.sum()),
            "human_min": round(float(rating[top].min()), 3),
            "cosine_p10_p50_p90": [round(float(q), 3) for q in np.quantile(cosine[top], (0.1, 0.5, 0.9))],
        },
        "cosine_p50_p90_p99_all_pairs": [round(float(q), 3) for q in np.quantile(cosine, (0.5, 0.9, 0.99))],
        "above_threshold": above,
    }
    print(
        f"\nLee: Spearman {result['spearman']:.3f}, Pearson {result['pearson']:.3f} over {len(cosine)} pairs; "
        f"most-alike 2% (human >= {result['most_alike_2pct']['human_min']}) cosine p10/p50/p90 "
        f"{result['most_alike_2pct']['cosine_p10_p50_p90']}; all pairs p50/p90/p99 "
        f"{result['cosine_p50_p90_p99_all_pairs']}"
    )
    print("| cosine >= | pairs | their mean human rating |")
    print("|---|---|---|")
    for t, m in above.items():
        print(f"| {t} | {m['pairs']} | {m['human_mean']} |")
    return result


def shingles(text: str, k: int = 5) -> set[int]:
    tokens = words(text)
    return {hash(tuple(tokens[i : i + k])) for i in range(max(1, len(tokens) - k + 1))}


def jaccard_pairs(shingle_sets: dict[int, set[int]], minimum: float) -> dict[tuple[int, int], float]:
    """Pairs of articles whose shingle Jaccard is at least `minimum`, through an inverted index."""
    postings: dict[int, list[int]] = defaultdict(list)
    for article_id, sets in shingle_sets.items():
        for s in sets:
            postings[s].append(article_id)
    shared: Counter = Counter()
    for ids in postings.values():
        if 1 < len(ids) <= 50:  # shingles in many articles are boilerplate, not copying
            shared.update(itertools.combinations(sorted(ids), 2))
    out = {}
    for (a, b), n in shared.items():
        union = len(shingle_sets[a]) + len(shingle_sets[b]) - n
        if n / union >= minimum:
            out[(a, b)] = n / union
    return out


def together(story: dict[int, tuple[str, int]], pairs: set[tuple[int, int]]) -> float | None:
    """Share of the pairs whose two articles are in one story."""
    return round(float(np.mean([story[a] == story[b] for a, b in pairs])), 4) if pairs else None


def bbc_story_clusters(engine, ids: dict[str, int], pairs_sampled: int = 20000) -> tuple[dict, dict]:
    from index.summaries import stories

    category = {}
    for key, article_id in ids.items():
        category.setdefault(article_id, key.split("/")[0])
    articles = sorted(category)
    texts = {a: r.text for a, r in engine.store.article_texts(articles).items()}
    shingle_sets = {a: shingles(texts[a]) for a in articles}
    overlapping = jaccard_pairs(shingle_sets, 0.2)
    near = {p for p, j in overlapping.items() if j >= 0.5 and category[p[0]] == category[p[1]]}
    partial = {p for p, j in overlapping.items() if j < 0.5 and category[p[0]] == category[p[1]]}
    rng = random.Random(11)
    by_category = defaultdict(list)
    for a in articles:
        by_category[category[a]].append(a)
    unrelated = set()
    while len(unrelated) < pairs_sampled:
        members = by_category[rng.choice(sorted(by_category))]
        a, b = sorted(rng.sample(members, 2))
        if (a, b) not in overlapping:
            unrelated.add((a, b))
    vectors = engine.store.article_vectors(articles)

    def cosines(pairs) -> np.ndarray:
        return np.array([float(vectors[a] @ vectors[b]) for a, b in pairs])

    scan = {}
    for threshold in THRESHOLDS:
        story = {}
        sizes = []
        for name, members in by_category.items():
            groups = stories.cluster(np.vstack([vectors[a] for a in members]), threshold)
            for g, group in enumerate(groups):
                sizes.append(len(group))
                for i in group:
                    story[members[i]] = (name, g)
        scan[str(threshold)] = {
            "near_duplicates_together": together(story, near),
            "partial_overlap_together": together(story, partial),
            "unrelated_merged": together(story, unrelated),
            "stories": len(sizes),
            "articles_in_multi_article_stories": round(sum(s for s in sizes if s > 1) / len(articles), 4),
            "largest_story": max(sizes),
        }
    quantiles = (0.01, 0.1, 0.5, 0.9, 0.99)
    clusters = {
        "articles": len(articles),
        "near_duplicate_pairs": len(near),
        "partial_overlap_pairs": len(partial),
        "unrelated_pairs_sampled": len(unrelated),
        "definition": "5-word shingle Jaccard: near-duplicate >= 0.5, partial 0.2-0.5, unrelated < 0.2 "
        "(random pairs of one category); clustered per category",
        "cosine_quantiles": {
            "q": list(quantiles),
            "near_duplicate": [round(float(q), 3) for q in np.quantile(cosines(near), quantiles)],
            "partial_overlap": [round(float(q), 3) for q in np.quantile(cosines(partial), quantiles)]
            if partial
            else None,
            "unrelated": [round(float(q), 3) for q in np.quantile(cosines(unrelated), quantiles)],
        },
        "threshold_scan": scan,
    }
    print(
        f"\nBBC story clusters ({len(articles)} articles, per category): {len(near)} near-duplicate pairs, "
        f"{len(partial)} partial-overlap pairs, {len(unrelated)} unrelated same-category pairs sampled"
    )
    for name, qs in clusters["cosine_quantiles"].items():
        print(f"  article cosine {name}: {qs}")
    print("| STORY_COSINE | near-duplicates together | partial overlap together | unrelated merged | stories |")
    print("|---|---|---|---|---|")
    for t, m in scan.items():
        print(
            f"| {t} | {m['near_duplicates_together']} | {m['partial_overlap_together']} |"
            f" {m['unrelated_merged']:.4f} | {m['stories']} |"
        )
    return clusters, near_duplicate_sentences(engine, near | partial, texts)


def near_duplicate_sentences(engine, pairs: set[tuple[int, int]], texts: dict[int, str]) -> dict:
    """Cosine of edited sentence copies (word Jaccard 0.5-0.99, each sentence of the first article against
    its closest in the second) against different sentences of one article (all pairs within the first
    article of each pair)."""
    sentences = Sentences(engine)
    edited, identical, different = [], 0, []
    for a, b in sorted(pairs):
        sa, sb = sentences.of(a), sentences.of(b)
        words_b = [set(words(texts[b][s:e])) for s, e, _ in sb]
        for s, e, v in sa:
            wa = set(words(texts[a][s:e]))
            if not wa:
                continue
            overlaps = [len(wa & wb) / len(wa | wb) if wb else 0.0 for wb in words_b]
            j = int(np.argmax(overlaps))
            if overlaps[j] >= 1.0:
                identical += 1
            elif overlaps[j] >= 0.5:
                edited.append(float(v @ sb[j][2]))
        matrix = np.vstack([v for *_, v in sa])
        different.extend((matrix @ matrix.T)[np.triu_indices(len(sa), 1)].tolist())
    edited_array, different_array = np.array(edited), np.array(different)
    result = {
        "article_pairs": len(pairs),
        "edited_copy_pairs": len(edited),
        "identical_word_set_pairs": identical,
        "different_sentence_pairs": len(different),
        "share_at_or_above": {
            str(t): {
                "edited_copies": round(float((edited_array >= t).mean()), 4),
                "different_sentences": round(float((different_array >= t).mean()), 5),
            }
            for t in DUPLICATE_THRESHOLDS
        },
    }
    print(f"\nNEAR_DUPLICATE: {len(edited)} edited sentence copies, {len(different)} pairs of different sentences")
    print("| cosine >= | edited copies | different sentences of one article |")
    print("|---|---|---|")
    for t, m in result["share_at_or_above"].items():
        print(f"| {t} | {m['edited_copies']:.3f} | {m['different_sentences']:.4f} |")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="40 topics, 15 on bbc_x8, no margin scan")
    args = parser.parse_args()
    from rouge_score import rouge_scorer

    from index import Engine, EngineSettings

    started, load_at_start = time.time(), os.getloadavg()[0]
    built = ensure(("bbc", "bbc_x8"))
    ids = built["bbc"]["ids"]
    engine = Engine(EngineSettings(data_dir=NEWS_DIR))
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    rows = {r["id"]: r for r in bbc_rows()}
    references: dict[int, list[str]] = {}
    categories: dict[int, str] = {}
    for key, article_id in ids.items():
        references.setdefault(article_id, reference_sentences(rows[key]["summary"]))
        categories.setdefault(article_id, key.split("/")[0])
    document_frequency = Counter(w for r in rows.values() for w in set(words(r["article"])))

    n = 40 if args.quick else 150
    seeds = topic_forms(engine, "bbc", ids, n, seed=5)
    titles = [title for *_, title in seeds]
    short = [keywords(title, document_frequency) for title in titles]
    engine.summarize_topic("bbc", titles[0])  # load the model and caches outside the timings
    results = {
        "titles": run_topics(engine, "bbc", titles, references, scorer, {}),
        "keywords": run_topics(engine, "bbc", short, references, scorer, {}),
    }
    print_topic_table("BBC, title topics", results["titles"])
    print_topic_table("BBC, keyword topics (3 rarest title words)", results["keywords"])

    # bbc_x8 rows are copies of "bbc" rows, their content hash that of the original plus "#k"
    original = {a.content_hash: a.id for a in engine.store.articles("bbc")}
    copies = {a.id: original[a.content_hash.split("#")[0]] for a in engine.store.articles("bbc_x8")}
    x8_references = {copy: references[of] for copy, of in copies.items()}
    x8_titles = titles[: 15 if args.quick else 40]
    engine.summarize_topic("bbc_x8", x8_titles[0])
    results["bbc_x8"] = run_topics(engine, "bbc_x8", x8_titles, x8_references, scorer, copies)
    print_topic_table("BBC x8 (every article stored 8 times), title topics", results["bbc_x8"])
    engine.indexes.drop("bbc_x8")  # 100k chunks: free them before the rest

    margins = None if args.quick else margin_scan(engine, seeds[:40], categories, scorer, references)

    clusters, duplicates = bbc_story_clusters(engine, ids)
    lee = lee_correlation(engine.embedder)
    engine.close()

    record(
        "topic_summaries_quick" if args.quick else "topic_summaries",
        {
            "dataset": "bbc-news-summary (collection 'bbc', 2,125 distinct articles; 'bbc_x8' for copies)",
            "topics": "titles of a seeded sample of BBC articles (seed 5), and their 3 rarest words",
            "sentences": SUMMARY_SENTENCES,
            "reference": "reference summaries of the member articles, concatenated (dense row: its own articles)",
            "scorer": "rouge-score, use_stemmer=True, F1; sentences joined with newlines",
            "redundancy": "share of sentence pairs in one summary with stored MiniLM sentence cosine >= 0.8 / 0.9",
            "results": results,
            "topic_margin_scan": margins,
            "near_duplicate_sentences": duplicates,
            "seconds": round(time.time() - started),
            # summaries take 30 ms on a quiet CPU and ten times that when others share it: say which
            "load_average_1min_start_end": [round(load_at_start, 2), round(os.getloadavg()[0], 2)],
        },
    )
    record(
        "story_clusters_quick" if args.quick else "story_clusters",
        {"lee_news_similarity": lee, "bbc_near_duplicates": clusters},
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
