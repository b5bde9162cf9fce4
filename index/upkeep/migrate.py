"""Copying a whole store into another (`python -m bot migrate --to postgresql://...`): articles with their
sentences, chunks and vectors as they are (nothing is re-embedded), answers, votes and digest schedules,
ids kept (Discord buttons and follow-ups name answers by id). Resumable and idempotent: each article is
one transaction and is skipped when the target already holds its id; log rows are inserted only where
their key is new. The two stores must agree on the model that made the vectors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from index.errors import InvalidInput
from index.storage import LOG_TABLES, Transfer

log = logging.getLogger(__name__)


@dataclass
class CopyReport:
    copied: dict[str, int] = field(default_factory=dict)  # rows newly written, by table
    skipped_articles: int = 0  # already in the target (an earlier, perhaps interrupted, run)
    source_counts: dict[str, int] = field(default_factory=dict)
    target_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """Every table holds at least the source's rows (the target may hold more of its own)."""
        return all(self.target_counts.get(t, 0) >= n for t, n in self.source_counts.items())

    def to_json(self) -> dict[str, object]:
        return {
            "copied": self.copied,
            "skipped_articles": self.skipped_articles,
            "source": self.source_counts,
            "target": self.target_counts,
            "complete": self.complete,
            "seconds": round(self.seconds, 2),
        }


TABLES = ("articles", "sentences", "chunks", *LOG_TABLES)


def copy_store(source: Transfer, target: Transfer, progress: Callable[[int, int], None] | None = None) -> CopyReport:
    """Copy everything in `source` that `target` lacks (see the module docstring)."""
    started = time.perf_counter()
    ours, theirs = source.meta("model"), target.meta("model")
    if ours and theirs and ours != theirs:
        raise InvalidInput(
            f"The target's vectors were made by {theirs!r} and this data dir's by {ours!r}: "
            "copy into an empty database, or reindex one side first."
        )
    report = CopyReport(source_counts={t: source.table_count(t) for t in TABLES})
    target.copy_meta([(k, v) for k, v in source.meta_items() if k in ("model", "dimension")])
    copied = dict.fromkeys(TABLES, 0)
    ids = source.article_ids()
    for n, article_id in enumerate(ids, start=1):
        if target.has_article(article_id):
            report.skipped_articles += 1
        else:
            article, sentences, chunks = source.article_rows(article_id)
            if target.put_article_rows(article, sentences, chunks):
                copied["articles"] += 1
                copied["sentences"] += len(sentences)
                copied["chunks"] += len(chunks)
            else:  # another copy run got there first
                report.skipped_articles += 1
        if progress:
            progress(n, len(ids))
    for table in LOG_TABLES:
        for rows in source.log_rows(table):
            copied[table] += target.put_log_rows(table, rows)
    target.after_copy()
    report.copied = copied
    report.target_counts = {t: target.table_count(t) for t in TABLES}
    report.seconds = time.perf_counter() - started
    log.info("copied %s (%d articles already there) in %.1f s", copied, report.skipped_articles, report.seconds)
    return report
