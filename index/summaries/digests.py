"""Digests: the articles of the last days grouped by story (near-duplicates and follow-ups together),
newest story first, each with a one- or two-sentence quoted lead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np

from index.articles.catalogue import article_of, cited_sentence
from index.asking import dates
from index.errors import InvalidInput, check_collection
from index.models import CitedSentence, Digest, Story
from index.storage import ArticleRow, Store
from index.summaries import stories

# A story's lead is picked from the first few sentences of each of its articles.
LEAD_POOL = 6
MAX_DIGEST_DAYS = 366
MAX_DIGEST_ARTICLES = 1000


class Digests:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def today(self) -> date:
        return self.clock().astimezone(UTC).date()

    def digest(self, collection: str, days: int = 7) -> Digest:
        """The articles added or published in the last `days` days (today included), grouped by story
        (near-duplicates and follow-ups together), each story with a one- or two-sentence lead; newest first."""
        check_collection(collection)
        if not 1 <= days <= MAX_DIGEST_DAYS:
            raise InvalidInput(f"A digest covers 1 to {MAX_DIGEST_DAYS} days, not {days}.")
        today = self.today()
        first = today - timedelta(days=days - 1)
        rows = self.store.articles_since(collection, first.isoformat(), today.isoformat())
        day = {r.id: dates.article_day(r.published, r.added) for r in rows}
        rows = sorted(rows, key=lambda r: (day[r.id], r.id), reverse=True)[:MAX_DIGEST_ARTICLES]
        vectors = self.store.article_vectors([r.id for r in rows])
        rows = [r for r in rows if r.id in vectors]  # an article always has chunks; guard against a race
        if not rows:
            return Digest(days, first.isoformat(), today.isoformat(), ())
        matrix = np.vstack([vectors[r.id] for r in rows])
        groups = stories.cluster(matrix)
        texts = self.store.article_texts([r.id for r in rows])
        found: list[Story] = []
        for group in groups:  # indexes into rows, which is newest first, so each group is newest first too
            members = [rows[i] for i in group]
            lead = self._story_lead([texts[r.id] for r in members])
            found.append(Story(lead, tuple(article_of(r) for r in members)))
        found.sort(key=lambda story: (day[story.articles[0].id], story.articles[0].id), reverse=True)
        return Digest(days, first.isoformat(), today.isoformat(), tuple(found))

    def lead(self, collection: str, article_id: int) -> CitedSentence | None:
        """An article's one-sentence lead, as a story of one article gets in a digest (None: no sentence)."""
        row = self.store.article(collection, article_id)
        if row is None:
            return None
        found = self._story_lead([row])
        return found[0] if found else None

    def _story_lead(self, members: list[ArticleRow]) -> tuple[CitedSentence, ...]:
        """One sentence for a story of one article, two for a story told by several: the most central of
        the first LEAD_POOL sentences of each article, never the same sentence twice."""
        pool = [
            (row, *r)
            for row in members
            for r in [r for r in self.store.sentences(row.id, 0, LEAD_POOL * 3) if r[3]][:LEAD_POOL]
        ]
        if not pool:
            return ()
        matrix = np.vstack([p[5] for p in pool])
        positions = np.array([p[1] for p in pool], dtype=np.float32)
        chosen = stories.pick(matrix, stories.centrality(matrix, positions), 1 if len(members) == 1 else 2)
        chosen.sort(key=lambda i: (pool[i][0].published or pool[i][0].added, pool[i][0].id, pool[i][1]))
        return tuple(cited_sentence(pool[i][0], pool[i][2], pool[i][3]) for i in chosen)
