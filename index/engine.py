"""The facade every face calls, and the composition root: it builds the store, the model and the search
indexes, wires the rooms around them, and each public method is a short delegation to one room.

    storage/     the source of truth (role Protocols; SQLite)      search/      FAISS + BM25 per collection
    sources.py   URLs, files, text -> documents                     ingest.py    documents -> stored articles
    evidence.py  window, retrieval, sentence scores, confidence     answering.py quotes or "the articles don't say"
    summaries.py one article, or a topic across articles            digests.py   recent articles by story
    feeds.py     followed RSS/Atom feeds, polled  syndication.py feed bytes -> items -> documents
    catalogue.py list, find, read, remove, purge                    maintenance.py reindex
    consistency.py the start-up check and its repairs

Thread-safe: any number of readers; writers are serialised (one lock here, BEGIN IMMEDIATE across
processes). An article becomes visible only when its transaction commits, and the in-memory search
indexes follow the collection's revision counter, so another process's writes are seen too."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path

from index.articles import extract
from index.articles.catalogue import Catalogue
from index.articles.ingest import Ingest, content_hash
from index.articles.sources import Sources
from index.asking import dates, llm
from index.asking.answering import NO_ANSWER, Answering, citation_numbers
from index.asking.evidence import EvidenceFinder
from index.asking.feedback import FeedbackLog
from index.asking.judging import AnswerJudge
from index.asking.scoring import DEFAULT_SCORING, Scoring
from index.errors import BylineError, check_collection, check_question
from index.feeds.following import Feeds
from index.inference.answer_model import AnswerModel
from index.inference.embedding import Embedder
from index.models import (
    AddResult,
    Answer,
    Article,
    CollectionStats,
    Digest,
    Insights,
    Quote,
    Summary,
    TopicSummary,
)
from index.search.cache import SearchIndexes
from index.search.index import SearchIndex
from index.settings import EngineSettings
from index.storage import Store, open_store, sqlite_url
from index.summaries.digests import Digests
from index.summaries.insights import InsightsRoom
from index.summaries.schedule import DigestSchedules
from index.summaries.summarising import Summaries
from index.upkeep import consistency
from index.upkeep.maintenance import Maintenance

__all__ = ["NO_ANSWER", "Engine", "citation_numbers", "content_hash"]


class Engine:
    def __init__(
        self,
        settings: EngineSettings | None = None,
        embedder: Embedder | None = None,
        scoring: Scoring = DEFAULT_SCORING,
        clock: Callable[[], datetime] | None = None,
        store: Store | None = None,
    ) -> None:
        s = self.settings = settings or EngineSettings()
        # What "today" is for "this week", "yesterday" and digests (tests inject a fixed clock).
        self.clock = clock or (lambda: datetime.now(UTC))
        self.embedder = embedder or Embedder(
            s.model, s.encode_batch_size, runtime=s.runtime, threads=s.threads, cache_dir=s.model_cache
        )
        self.scoring = scoring
        self.store = store or open_store(s.database_url or sqlite_url(Path(s.data_dir) / "byline.sqlite3"))
        # The services the faces use beside the facade: typed handles, not walks through the rooms.
        # Retention (BYLINE_ANSWER_LOG_DAYS) runs where the log is written or read (log_answer, at most hourly;
        # export; insights) and in the Discord face's hourly round, never at start-up: a cold CLI command on a
        # read-only data dir must not write.
        self.feedback = FeedbackLog(self.store, s.answer_log_days, self.clock, lambda: self.embedder.name)
        self.schedules = DigestSchedules(self.store)
        self.insight_schedules = DigestSchedules(self.store, kind="insights")
        self.llm = (
            llm.ChatModel(s.llm_base_url, s.llm_api_key, s.llm_model, s.llm_timeout, s.llm_max_tokens)
            if s.llm_base_url
            else None
        )
        write_lock = threading.RLock()
        self.indexes = SearchIndexes(
            self.store,
            Path(s.data_dir) / "indexes",
            self.embedder.name,
            lambda: self.embedder.dimension,
            capacity=s.cache_collections,
        )
        self.sources = Sources(s)
        self.ingest = Ingest(self.store, self.indexes, self.embedder, s, self.clock, write_lock)
        self.evidence = EvidenceFinder(
            self.store, self.indexes, self.embedder, scoring, s.abstain_threshold, self.clock
        )
        self.catalogue = Catalogue(self.store, self.store, self.indexes, write_lock)
        self.answer_model = AnswerModel(threads=s.threads) if s.answer_model else None
        judge = (
            AnswerJudge(self.store, self.answer_model, s.answer_candidates, s.answer_threshold)
            if self.answer_model
            else None
        )
        self.answering = Answering(
            self.store, self.evidence, scoring, s.max_quotes, s.max_question_chars, self.llm, s.prompts_dir, judge
        )
        self.summaries = Summaries(
            self.store, self.catalogue, self.evidence, s.max_question_chars, self.llm, s.prompts_dir
        )
        self.digests = Digests(self.store, self.clock)
        self.feeds = Feeds(
            self.store,
            self.store,
            s,
            self.clock,
            fetcher=self.sources.fetch,
            fetch_page=self.sources.fetch_url,
            add_documents=self.add_documents,
            rebuild_lexical=self.indexes.rebuild_lexical,
            remove_article=self.remove,
            lead=self.digests.lead,
            article=self.catalogue.article,
        )
        self.insights_room = InsightsRoom(
            self.store,
            self.store,
            self.store,
            self.feedback,
            self.embedder.encode,
            lambda: self.embedder.name,
            self.answering.ask,  # the faces log answers; this ask logs nothing
            self.clock,
        )
        self.maintenance = Maintenance(self.store, self.indexes, self.embedder, write_lock)
        self.consistency = consistency.ConsistencyCheck(
            self.store, self.indexes, self.ingest.layout, self.embedder.encode, write_lock
        )

    def close(self) -> None:
        self.store.close()
        if self.llm is not None:
            self.llm.close()

    # -- collections and caches -------------------------------------------------------------------
    check_collection = staticmethod(check_collection)

    @property
    def cache_dir(self) -> Path:
        return self.indexes.cache_dir

    def search_index(self, collection: str) -> SearchIndex:
        """The collection's search index at the store's current revision (benches and tests read it)."""
        return self.indexes.get(check_collection(collection))

    # -- adding -----------------------------------------------------------------------------------
    def add_document(self, collection: str, doc: extract.Document, **meta: str | None) -> AddResult:
        return self.add_documents(collection, [doc], **meta)[0]

    def add_documents(
        self,
        collection: str,
        docs: Iterable[extract.Document],
        *,
        title: str | None = None,
        url: str | None = None,
        published: str | None = None,
        errors: list[tuple[str, BylineError]] | None = None,
        progress: Callable[[str], None] | None = None,
        rebuild_lexical: bool = True,
    ) -> list[AddResult]:
        """Add documents, each in its own transaction (index/articles/ingest.py)."""
        check_collection(collection)
        return self.ingest.add_documents(
            collection,
            docs,
            title=title,
            url=url,
            published=published,
            errors=errors,
            progress=progress,
            rebuild_lexical=rebuild_lexical,
        )

    def add_text(self, collection: str, text: str, *, source: str = "text", **meta: str | None) -> AddResult:
        return self.add_document(collection, self.sources.from_text(text, source), **meta)

    def add_file(self, collection: str, path: Path, **meta: str | None) -> AddResult:
        return self.add_document(collection, self.sources.from_file(path), **meta)

    def fetch_url(self, url: str) -> extract.Document:
        return self.sources.fetch_url(url)

    def add_url(self, collection: str, url: str, **meta: str | None) -> AddResult:
        return self.add_document(collection, self.fetch_url(url), **meta)

    def documents(self, source: str, errors: list[tuple[str, BylineError]]) -> list[extract.Document]:
        """Documents from a URL, a file or a directory; problems go to `errors` (index/articles/sources.py)."""
        return self.sources.documents(source, errors)

    # -- the catalogue ----------------------------------------------------------------------------
    def remove(self, collection: str, article_id: int) -> Article:
        return self.catalogue.remove(collection, article_id)

    def collections(self) -> list[CollectionStats]:
        return self.catalogue.collections()

    def purge(self, collection: str) -> dict[str, int]:
        return self.catalogue.purge(collection)

    def list_articles(self, collection: str) -> list[Article]:
        return self.catalogue.list_articles(collection)

    def article_count(self, collection: str) -> int:
        return self.catalogue.article_count(collection)

    def find_articles(self, collection: str, needle: str = "", limit: int = 25) -> list[tuple[int, str, str | None]]:
        return self.catalogue.find_articles(collection, needle, limit)

    def article(self, collection: str, article_id: int) -> Article:
        return self.catalogue.article(collection, article_id)

    def article_text(self, collection: str, article_id: int) -> str:
        return self.catalogue.article_text(collection, article_id)

    def passage(self, collection: str, quote: Quote, around: int = 1) -> tuple[str, str, str]:
        return self.catalogue.passage(collection, quote, around)

    # -- maintenance ------------------------------------------------------------------------------
    def reindex(self, collection: str | None = None) -> dict[str, int]:
        return self.maintenance.reindex(collection)

    def check(self, collection: str | None = None) -> consistency.Report:
        """Verify that the store and the search caches agree, repairing what does not (index/upkeep/consistency.py)."""
        return self.consistency.run(collection)

    # -- asking and summaries ---------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        return check_question(question, self.settings.max_question_chars)

    def ask(self, collection: str, question: str, k: int | None = None, *, follow_up_to: str | None = None) -> Answer:
        return self.answering.ask(collection, question, k, follow_up_to=follow_up_to)

    def today(self) -> date:
        return self.evidence.today()

    def time_filter(self, collection: str, text: str) -> tuple[dates.TimeFilter | None, str]:
        return self.evidence.time_filter(collection, text)

    def summarize(self, collection: str, article_id: int, sentences: int = 3) -> Summary:
        return self.summaries.summarize(collection, article_id, sentences)

    def summarize_topic(
        self, collection: str, topic: str, *, since: date | None = None, sentences: int = 5
    ) -> TopicSummary:
        return self.summaries.summarize_topic(collection, topic, since=since, sentences=sentences)

    def digest(self, collection: str, days: int = 7) -> Digest:
        return self.digests.digest(collection, days)

    def insights(self, collection: str, days: int = 7) -> Insights:
        """What members asked over the last `days` days and what the articles could not answer
        (index/summaries/insights.py)."""
        return self.insights_room.insights(collection, days)
