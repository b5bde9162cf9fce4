"""Queries of the answer-log and schedules roles: answers posted in chat, members' votes on them, what
insights reads of them (by time) and the retention that prunes them, and the weekly digest and insights
schedules (a period is claimed by one conditional UPDATE: one caller wins)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from index.storage.database import OWN_ROWS, Database, blob
from index.storage.rows import AnswerRow, LoggedRow, ScheduleRow, VoteRow, utc_now

ANSWER_COLUMNS = "id, collection, question, answer, asked_by, message_id, created"
SCHEDULE_COLUMNS = "collection, target, weekday, minute_of_day, days, created, last_period"
# a schedule's kind -> its table (the same columns; a kind is never read from input)
SCHEDULE_TABLES = {"digest": "digest_schedules", "insights": "insight_schedules"}


class LogQueries(Database):
    # -- answers and votes ----------------------------------------------------------------------
    def insert_answer(
        self,
        collection: str,
        question: str,
        answer_json: str,
        asked_by: str | None,
        created: str | None = None,
        vector: np.ndarray | None = None,
        model: str | None = None,
    ) -> int:
        with self.write(OWN_ROWS) as conn:
            cursor = conn.execute(
                "INSERT INTO answers (collection, question, answer, asked_by, created, question_vector, vector_model)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    collection,
                    question,
                    answer_json,
                    asked_by,
                    created or utc_now(),
                    None if vector is None else blob(vector),
                    model if vector is not None else None,
                ),
            )
            return int(cursor.fetchone()[0])

    def attach_message(self, answer_id: int, message_id: str) -> None:
        with self.write(OWN_ROWS) as conn:
            conn.execute("UPDATE answers SET message_id = ? WHERE id = ?", (message_id, answer_id))

    def answer_by_id(self, answer_id: int) -> AnswerRow | None:
        row = self._connect().execute(f"SELECT {ANSWER_COLUMNS} FROM answers WHERE id = ?", (answer_id,)).fetchone()
        return AnswerRow(*row) if row else None

    def answers(self, collection: str) -> list[AnswerRow]:
        """Every answer logged in a collection, oldest first."""
        rows = self._connect().execute(
            f"SELECT {ANSWER_COLUMNS} FROM answers WHERE collection = ? ORDER BY id", (collection,)
        )
        return [AnswerRow(*row) for row in rows]

    def answer_by_message(self, message_id: str) -> AnswerRow | None:
        row = (
            self._connect()
            .execute(f"SELECT {ANSWER_COLUMNS} FROM answers WHERE message_id = ?", (message_id,))
            .fetchone()
        )
        return AnswerRow(*row) if row else None

    def put_vote(self, answer_id: int, user_id: str, vote: int, created: str | None = None) -> None:
        with self.write(OWN_ROWS) as conn:
            conn.execute(
                "INSERT INTO feedback (answer_id, user_id, vote, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (answer_id, user_id) DO UPDATE SET vote = excluded.vote, created = excluded.created",
                (answer_id, user_id, vote, created or utc_now()),
            )

    def votes(self, collection: str | None = None) -> list[VoteRow]:
        """Every vote with the question and answer it was about, oldest first."""
        sql = (
            "SELECT f.answer_id, a.collection, a.question, a.answer, f.user_id, f.vote, f.created "
            "FROM feedback f JOIN answers a ON a.id = f.answer_id"
        )
        params: tuple[object, ...] = ()
        if collection is not None:
            sql += " WHERE a.collection = ?"
            params = (collection,)
        rows = self._connect().execute(sql + " ORDER BY f.created, f.answer_id", params).fetchall()
        return [VoteRow(*row) for row in rows]

    def delete_user(self, user_id: str) -> int:
        with self.write(OWN_ROWS) as conn:
            votes = conn.execute("DELETE FROM feedback WHERE user_id = ?", (user_id,)).rowcount
            asked = conn.execute("DELETE FROM answers WHERE asked_by = ?", (user_id,)).rowcount
        return votes + asked

    # -- what insights reads, and retention -------------------------------------------------------
    def answers_between(self, collection: str, first: str, last: str, model: str) -> list[LoggedRow]:
        """The answers logged in [first, last) with their votes summed, oldest first; the question's vector
        only where `model` made it."""
        rows = self._connect().execute(
            "SELECT a.id, a.question, a.answer, a.asked_by, a.created,"
            " CASE WHEN a.vector_model = ? THEN a.question_vector END,"
            " (SELECT count(*) FROM feedback f WHERE f.answer_id = a.id AND f.vote > 0),"
            " (SELECT count(*) FROM feedback f WHERE f.answer_id = a.id AND f.vote < 0)"
            " FROM answers a WHERE a.collection = ? AND a.created >= ? AND a.created < ? ORDER BY a.created, a.id",
            (model, collection, first, last),
        )
        return [
            LoggedRow(i, q, a, by, c, None if v is None else np.frombuffer(v, dtype=np.float32), int(up), int(down))
            for i, q, a, by, c, v, up, down in rows
        ]

    def put_question_vectors(self, vectors: Sequence[tuple[int, np.ndarray]], model: str) -> None:
        with self.write(OWN_ROWS) as conn:
            conn.executemany(
                "UPDATE answers SET question_vector = ?, vector_model = ? WHERE id = ?",
                [(blob(vector), model, answer_id) for answer_id, vector in vectors],
            )

    def delete_log_before(self, cutoff: str) -> tuple[int, int]:
        """Forget every answer (question) and vote logged before `cutoff`: (answers, votes) deleted."""
        with self.write(OWN_ROWS) as conn:
            votes = conn.execute(
                "DELETE FROM feedback WHERE created < ? OR answer_id IN (SELECT id FROM answers WHERE created < ?)",
                (cutoff, cutoff),
            ).rowcount
            answers = conn.execute("DELETE FROM answers WHERE created < ?", (cutoff,)).rowcount
        return answers, votes

    # -- digest and insights schedules -----------------------------------------------------------------------
    def put_schedule(self, row: ScheduleRow, kind: str = "digest") -> None:
        with self.write(OWN_ROWS) as conn:
            conn.execute(
                f"INSERT INTO {SCHEDULE_TABLES[kind]} ({SCHEDULE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (collection) DO UPDATE SET target = excluded.target, weekday = excluded.weekday,"
                " minute_of_day = excluded.minute_of_day, days = excluded.days, created = excluded.created,"
                " last_period = excluded.last_period",
                (row.collection, row.target, row.weekday, row.minute_of_day, row.days, row.created, row.last_period),
            )

    def delete_schedule(self, collection: str, kind: str = "digest") -> bool:
        with self.write(OWN_ROWS) as conn:
            sql = f"DELETE FROM {SCHEDULE_TABLES[kind]} WHERE collection = ?"
            return conn.execute(sql, (collection,)).rowcount > 0

    def schedule(self, collection: str, kind: str = "digest") -> ScheduleRow | None:
        sql = f"SELECT {SCHEDULE_COLUMNS} FROM {SCHEDULE_TABLES[kind]} WHERE collection = ?"
        row = self._connect().execute(sql, (collection,)).fetchone()
        return ScheduleRow(*row) if row else None

    def schedules(self, kind: str = "digest") -> list[ScheduleRow]:
        rows = self._connect().execute(f"SELECT {SCHEDULE_COLUMNS} FROM {SCHEDULE_TABLES[kind]} ORDER BY collection")
        return [ScheduleRow(*row) for row in rows]

    def claim_period(self, collection: str, created: str, period: str, kind: str = "digest") -> bool:
        with self.write(OWN_ROWS) as conn:
            cursor = conn.execute(
                f"UPDATE {SCHEDULE_TABLES[kind]} SET last_period = ? WHERE collection = ? AND created = ?"
                " AND (last_period IS NULL OR last_period != ?)",
                (period, collection, created, period),
            )
            return cursor.rowcount == 1
