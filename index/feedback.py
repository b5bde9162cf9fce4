"""The answer log and members' votes on answers, in the same SQLite file as the articles.

Chat faces log each answer they post so that its buttons ("Sources", 👍, 👎) and replies asking a follow-up
keep working after a restart: the answer's id travels in the button's custom id, and the posted message's
id leads back to the question. A vote is one row per (answer, member); voting again replaces it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from index.errors import InvalidInput, NotFound
from index.models import Answer
from index.store import Store, utc_now

Vote = Literal["up", "down"]
_VOTES: dict[str, int] = {"up": 1, "down": -1}


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
    def __init__(self, store: Store) -> None:
        self.store = store

    def log_answer(self, collection: str, answer: Answer, asked_by: str | None = None) -> int:
        with self.store.write() as conn:
            cursor = conn.execute(
                "INSERT INTO answers (collection, question, answer, asked_by, created) VALUES (?, ?, ?, ?, ?)",
                (collection, answer.question, json.dumps(answer.to_json(), ensure_ascii=False), asked_by, utc_now()),
            )
            return int(cursor.lastrowid or 0)

    def attach_message(self, answer_id: int, message_id: str) -> None:
        """Remember which chat message shows the answer (a reply to it asks a follow-up)."""
        with self.store.write() as conn:
            conn.execute("UPDATE answers SET message_id = ? WHERE id = ?", (message_id, answer_id))

    def _row(self, where: str, value: object) -> LoggedAnswer | None:
        rows = self.store.query(
            f"SELECT id, collection, question, answer, asked_by, message_id, created FROM answers WHERE {where}",
            (value,),
        )
        if not rows:
            return None
        row = rows[0]
        return LoggedAnswer(row[0], row[1], row[2], Answer.from_json(json.loads(row[3])), row[4], row[5], row[6])

    def answer(self, answer_id: int, collection: str) -> LoggedAnswer:
        """An answer logged in this collection (an answer from another collection is not found)."""
        logged = self._row("id = ?", answer_id)
        if logged is None or logged.collection != collection:
            raise NotFound("That answer is no longer available.")
        return logged

    def answer_for_message(self, message_id: str) -> LoggedAnswer | None:
        return self._row("message_id = ?", message_id)

    def record(self, answer_id: int, collection: str, user_id: str, vote: Vote) -> None:
        if vote not in _VOTES:
            raise InvalidInput(f"A vote is 'up' or 'down', not {vote!r}.")
        self.answer(answer_id, collection)  # raises NotFound for a foreign or deleted answer
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO feedback (answer_id, user_id, vote, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (answer_id, user_id) DO UPDATE SET vote = excluded.vote, created = excluded.created",
                (answer_id, user_id, _VOTES[vote], utc_now()),
            )

    def export(self, collection: str | None = None) -> list[dict[str, Any]]:
        """Every vote with the question and the answer it was about, oldest first."""
        sql = (
            "SELECT f.answer_id, a.collection, a.question, a.answer, f.user_id, f.vote, f.created "
            "FROM feedback f JOIN answers a ON a.id = f.answer_id"
        )
        params: tuple[object, ...] = ()
        if collection is not None:
            sql += " WHERE a.collection = ?"
            params = (collection,)
        rows = self.store.query(sql + " ORDER BY f.created, f.answer_id", params)
        out = []
        for answer_id, coll, question, answer, user_id, vote, created in rows:
            data = json.loads(answer)
            out.append(
                {
                    "answer_id": answer_id,
                    "collection": coll,
                    "question": question,
                    "answer": data["answer"],
                    "abstained": data["abstained"],
                    "quotes": data["quotes"],
                    "user_id": user_id,
                    "vote": "up" if vote > 0 else "down",
                    "created": created,
                }
            )
        return out

    def delete_user(self, user_id: str) -> int:
        """Forget one member's votes and the questions they asked (on request); returns rows deleted."""
        with self.store.write() as conn:
            votes = conn.execute("DELETE FROM feedback WHERE user_id = ?", (user_id,)).rowcount
            asked = conn.execute("DELETE FROM answers WHERE asked_by = ?", (user_id,)).rowcount
        return votes + asked
