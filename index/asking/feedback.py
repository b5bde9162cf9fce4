"""The answer log and members' votes on answers, in the same SQLite file as the articles.

Chat faces log each answer they post so that its buttons ("Sources", 👍, 👎) and replies asking a follow-up
keep working after a restart: the answer's id travels in the button's custom id, and the posted message's
id leads back to the question. A vote is one row per (answer, member); voting again replaces it.

Members' questions are personal data: the log keeps `keep_days` (BYLINE_ANSWER_LOG_DAYS) and prunes what is
older when answers are logged (at most once an hour), before a votes export and before insights read it; the
Discord face also calls prune_if_due from its minute loop. Never at start-up: a read-only data dir must work."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from index.errors import InvalidInput, NotFound
from index.models import Answer
from index.storage import AnswerLogStore, AnswerRow, utc_iso

Vote = Literal["up", "down"]
_VOTES: dict[str, int] = {"up": 1, "down": -1}
# Pruning while answers are logged runs at most this often: one indexed DELETE, cheap, but not per answer.
PRUNE_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class LoggedAnswer:
    id: int
    collection: str
    question: str
    answer: Answer
    asked_by: str | None
    message_id: str | None
    created: str


class FeedbackLog:
    def __init__(
        self,
        store: AnswerLogStore,
        keep_days: int = 90,
        clock: Callable[[], datetime] | None = None,
        model: Callable[[], str] | None = None,
    ) -> None:
        self.store = store
        self.keep_days = keep_days
        # the engine's clock: what the log writes as "created" and what retention counts back from
        self.clock = clock or (lambda: datetime.now(UTC))
        # the name of the model that embedded the questions: a question's vector is kept with it
        self.model = model
        self._pruned: datetime | None = None
        self._prune_lock = threading.Lock()

    def log_answer(self, collection: str, answer: Answer, asked_by: str | None = None) -> int:
        answer_json = json.dumps(answer.to_json(), ensure_ascii=False)
        now = self.clock()
        # the question's vector as retrieval made it (kept only with the name of the model that made it):
        # insights group questions without embedding them again
        model = self.model() if self.model is not None and answer.question_vector is not None else None
        vector = answer.question_vector if model is not None else None
        answer_id = self.store.insert_answer(
            collection, answer.question, answer_json, asked_by, utc_iso(now), vector, model
        )
        self.prune_if_due(now)
        return answer_id

    def prune(self, now: datetime | None = None) -> tuple[int, int]:
        """Delete the answers (questions) and votes logged more than `keep_days` days before now:
        (answers, votes) deleted."""
        now = now or self.clock()
        with self._prune_lock:
            self._pruned = now
        return self.store.delete_log_before(utc_iso(now - timedelta(days=self.keep_days)))

    def prune_if_due(self, now: datetime) -> None:
        with self._prune_lock:
            due = self._pruned is None or not timedelta(0) <= now - self._pruned < PRUNE_EVERY
        if due:
            self.prune(now)

    def attach_message(self, answer_id: int, message_id: str) -> None:
        """Remember which chat message shows the answer (a reply to it asks a follow-up)."""
        self.store.attach_message(answer_id, message_id)

    @staticmethod
    def _logged(row: AnswerRow | None) -> LoggedAnswer | None:
        if row is None:
            return None
        answer = Answer.from_json(json.loads(row.answer_json))
        return LoggedAnswer(row.id, row.collection, row.question, answer, row.asked_by, row.message_id, row.created)

    def answer(self, answer_id: int, collection: str) -> LoggedAnswer:
        """An answer logged in this collection (an answer from another collection is not found)."""
        logged = self._logged(self.store.answer_by_id(answer_id))
        if logged is None or logged.collection != collection:
            raise NotFound("That answer is no longer available.")
        return logged

    def answer_for_message(self, message_id: str) -> LoggedAnswer | None:
        return self._logged(self.store.answer_by_message(message_id))

    def record(self, answer_id: int, collection: str, user_id: str, vote: Vote) -> None:
        if vote not in _VOTES:
            raise InvalidInput(f"A vote is 'up' or 'down', not {vote!r}.")
        self.answer(answer_id, collection)  # raises NotFound for a foreign or deleted answer
        self.store.put_vote(answer_id, user_id, _VOTES[vote], utc_iso(self.clock()))

    def export(self, collection: str | None = None) -> list[dict[str, Any]]:
        """Every vote with the question and the answer it was about, oldest first (none past retention)."""
        self.prune_if_due(self.clock())
        out = []
        for row in self.store.votes(collection):
            data = json.loads(row.answer_json)
            out.append(
                {
                    "answer_id": row.answer_id,
                    "collection": row.collection,
                    "question": row.question,
                    "answer": data["answer"],
                    "abstained": data["abstained"],
                    "quotes": data["quotes"],
                    "user_id": row.user_id,
                    "vote": "up" if row.vote > 0 else "down",
                    "created": row.created,
                }
            )
        return out

    def delete_user(self, user_id: str) -> int:
        """Forget one member's votes and the questions they asked (on request); returns rows deleted."""
        return self.store.delete_user(user_id)
