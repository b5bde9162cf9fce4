"""News corpora as Byline collections for the summary and speed benches, built once and reused.

One data dir, /tmp/byline_bench/news, holds:
  * "bbc"      all 2,225 BBC articles (bbc-news-summary), about 12,000 chunks;
  * "bbc200"   a fixed sample of 200 of them (the quick benches);
  * "bbc_x8"   the BBC articles stored 8 times (copies 1-7 get "(copy k)" added to the title), about
               97,000 chunks: the ~100k point of the speed bench. The rows (vectors included) are copied
               in SQLite and the engine builds its FAISS and BM25 caches from them, so it costs no
               embedding. Search cost depends on the number of chunks, not on
               their being different, so its latency is real; its retrieval quality means nothing.
  * "bbc_dai"  (optional, --news MINUTES) the BBC articles (rows copied from "bbc"), then
               news-articles-dai2017, then Reuters-21578 stories, embedding for as long as the time budget
               allows; its exact size goes in the manifest.
The collections share one caching embedder, so an article is embedded once whichever collections hold it.
A manifest (manifest.json) records each finished collection, its article ids by source id, and its size;
a collection in the manifest is reused, not rebuilt. Building is not a timed measurement (other work may
share the CPU): bench/speed.py times ingestion separately, on a quiet CPU.

    python bench/corpora.py                 # bbc200, bbc (~15 min on a quiet 2-core CPU), bbc_x8 (~2 min)
    python bench/corpora.py --news 30       # also "bbc_dai", embedding for at most 30 more minutes"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DATA
from bench.squad_collection import caching_embedder

NEWS_DIR = Path("/tmp/byline_bench/news")
MANIFEST = NEWS_DIR / "manifest.json"
BBC_FILE = DATA / "bbc-news-summary" / "bbc_news_summary.jsonl"
QUICK_SAMPLE = 200


def bbc_rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in BBC_FILE.open(encoding="utf-8")]


def bbc_sample(rows: list[dict[str, str]], n: int = QUICK_SAMPLE) -> list[dict[str, str]]:
    return random.Random(7).sample(rows, n)


def bbc_documents(rows: list[dict[str, str]]) -> Iterator[tuple[str, object]]:
    from index.articles.extract import from_text

    for r in rows:
        yield r["id"], from_text(r["article"], f"bbc/{r['id']}")


def dai2017_documents() -> Iterator[tuple[str, object]]:
    from index.articles.extract import Document

    csv.field_size_limit(10**9)
    with (DATA / "news-articles-dai2017" / "NewsArticles.csv").open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            body = "\n\n".join(x.strip() for x in (r["subtitle"], r["text"]) if x.strip())
            if len(body.split()) < 20:
                continue
            yield f"dai/{r['article_id']}", Document(text=body, source=r["article_id"], title=r["title"].strip())


def reuters_documents() -> Iterator[tuple[str, object]]:
    from index.articles.extract import Document

    for line in (DATA / "reuters-21578" / "reuters21578.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        body = (r.get("body") or "").strip()
        if len(body.split()) < 20:
            continue
        yield f"reuters/{r['newid']}", Document(text=body, source=str(r["newid"]), title=(r.get("title") or None))


def manifest() -> dict[str, dict[str, object]]:
    return json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}


def _save_manifest(data: dict[str, dict[str, object]]) -> None:
    tmp = MANIFEST.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(MANIFEST)


def copy_article(source, target, row, collection: str, copy: int = 0) -> None:
    """Store one article of `source` (an ArticleRow) in `target`'s collection with its stored layout and
    vectors (no embedding); copies after the first get "(copy k)" added to the title."""
    import numpy as np

    from index.storage import NewArticle

    sentences = source.sentences(row.id)
    chunks = source.article_chunks(row.id)
    new = NewArticle(
        title=row.title + (f" (copy {copy})" if copy else ""),
        url=None,
        published=row.published,
        text=row.text,
        content_hash=f"{row.content_hash}#{copy}",
        body_end=row.body_end,
        source=f"copy {copy} of {row.id}",
        sentences=[(s, e, q) for _, s, e, q, _ in sentences],
        sentence_vectors=np.vstack([v for *_, v in sentences]),
        chunks=[(c.first_sentence, c.last_sentence) for c, _ in chunks],
        chunk_vectors=np.vstack([v for _, v in chunks]),
    )
    target.save_article(
        collection, new, model=source.meta("model"), dimension=int(source.meta("dimension")), added=row.added
    )


def replicate(engine, source: str, name: str, copies: int) -> dict:
    """Store a collection's articles `copies` times under a new name, copying each article's stored layout
    and vectors through the store (no embedding), then let the engine build its FAISS and BM25 caches from
    the store as it always can."""
    store = engine.store
    store.purge(name)  # what an interrupted build left behind
    rows = store.article_texts([a.id for a in store.articles(source)])
    for k in range(copies):
        for row in rows.values():
            copy_article(store, store, row, name, k)
    started = time.time()
    state = engine.search_index(name)
    print(f"{name}: caches built from SQLite in {time.time() - started:.0f}s", flush=True)
    return {"ids": {}, "chunks": len(state.vectors), "articles": engine.article_count(name), "copies": copies}


def _ingest(
    engine, collection: str, docs: Iterator[tuple[str, object]], deadline: float | None = None, batch_size: int = 32
) -> dict:
    """Add documents batch_size at a time (BM25 is rebuilt after each batch); returns the manifest entry
    {"ids": {source id: article id}, "chunks": ..., "articles": ..., "cut": ...}."""
    ids: dict[str, int] = {}
    skipped: list[str] = []
    batch: list[tuple[str, object]] = []
    started = time.time()
    stopped_early = False

    def flush() -> None:
        errors: list = []  # e.g. a story that is only a headline: skipped, as `add` would skip it
        results = iter(engine.add_documents(collection, [d for _, d in batch], errors=errors))
        refused = {source for source, _ in errors}
        for key, doc in batch:
            if doc.source in refused:
                skipped.append(key)
            else:
                ids[key] = next(results).id
        batch.clear()

    for key, doc in docs:
        batch.append((key, doc))
        if len(batch) >= batch_size:
            flush()
            print(f"{collection}: {len(ids)} articles after {time.time() - started:.0f}s", flush=True)
            if deadline is not None and time.time() > deadline:
                stopped_early = True
                break
    if batch:
        flush()
    return {
        "ids": ids,
        "chunks": engine.store.layout_counts(collection)[2],
        "articles": len(set(ids.values())),
        "skipped": skipped,
        "cut": stopped_early,
    }


def ensure(collections: tuple[str, ...] = ("bbc200", "bbc"), news_minutes: float = 0.0) -> dict:
    """Build whichever of the named collections is not in the manifest yet; return the manifest."""
    done = manifest()
    todo = [c for c in collections if c not in done]
    if not todo:
        return done
    from index import Engine, EngineSettings

    NEWS_DIR.mkdir(parents=True, exist_ok=True)
    engine = Engine(EngineSettings(data_dir=NEWS_DIR), embedder=caching_embedder())
    rows = bbc_rows()
    for name in todo:
        if name == "bbc200":
            done[name] = _ingest(engine, name, bbc_documents(bbc_sample(rows)))
        elif name == "bbc":
            done[name] = _ingest(engine, name, bbc_documents(rows))
        elif name == "bbc_x8":
            if "bbc" not in done:
                raise RuntimeError("build 'bbc' before 'bbc_x8'")
            done[name] = replicate(engine, "bbc", name, 8)
        elif name == "bbc_dai":
            if "bbc" not in done:
                raise RuntimeError("build 'bbc' before 'bbc_dai'")
            replicate(engine, "bbc", name, 1)
            deadline = time.time() + 60 * news_minutes

            def others() -> Iterator[tuple[str, object]]:
                yield from dai2017_documents()
                yield from reuters_documents()

            done[name] = _ingest(engine, name, others(), deadline, batch_size=128)
            done[name]["articles"] = engine.article_count(name)
        else:
            raise ValueError(f"unknown collection {name}")
        _save_manifest(done)
        print(f"{name}: {done[name]['articles']} articles, {done[name]['chunks']} chunks", flush=True)
    engine.close()
    return done


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--news", type=float, default=0.0, metavar="MINUTES", help="also build 'bbc_dai'")
    args = parser.parse_args()
    wanted = ("bbc200", "bbc", "bbc_x8", "bbc_dai") if args.news else ("bbc200", "bbc", "bbc_x8")
    ensure(wanted, args.news)
