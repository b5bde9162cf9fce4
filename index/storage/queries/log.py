"""Queries of the answer-log and schedules roles: answers posted in chat, members' votes on them,
and the weekly digest schedules (a period is claimed by one conditional UPDATE: one caller wins)."""

from __future__ import annotations

from index.storage.database import OWN_ROWS, Database
from index.storage.rows import AnswerRow, ScheduleRow, VoteRow, utc_now

ANSWER_COLUMNS = "id, collection, question, answer, asked_by, message_id, created"
SCHEDULE_COLUMNS = "collection, target, weekday, minute_of_day, days, created, last_period"


class LogQueries(Database):
    # -- answers and votes ----------------------------------------------------------------------
    def insert_answer(self, collection: str, question: str, answer_json: str, asked_by: str | None) -> int:
        with self.write(OWN_ROWS) as conn:
            cursor = conn.execute(
                "INSERT INTO answers (collection, question, answer, asked_by, created) VALUES (?, ?, ?, ?, ?)"
                " RETURNING id",
                (collection, question, answer_json, asked_by, utc_now()),
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

    def put_vote(self, answer_id: int, user_id: str, vote: int) -> None:
        with self.write(OWN_ROWS) as conn:
            conn.execute(
                "INSERT INTO feedback (answer_id, user_id, vote, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (answer_id, user_id) DO UPDATE SET vote = excluded.vote, created = excluded.created",
                (answer_id, user_id, vote, utc_now()),
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

    # -- digest schedules -----------------------------------------------------------------------
    def put_schedule(self, row: ScheduleRow) -> None:
        with self.write(OWN_ROWS) as conn:
            conn.execute(
                f"INSERT INTO digest_schedules ({SCHEDULE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (collection) DO UPDATE SET target = excluded.target, weekday = excluded.weekday,"
                " minute_of_day = excluded.minute_of_day, days = excluded.days, created = excluded.created,"
                " last_period = excluded.last_period",
                (row.collection, row.target, row.weekday, row.minute_of_day, row.days, row.created, row.last_period),
            )

    def delete_schedule(self, collection: str) -> bool:
        with self.write(OWN_ROWS) as conn:
            return conn.execute("DELETE FROM digest_schedules WHERE collection = ?", (collection,)).rowcount > 0

    def schedule(self, collection: str) -> ScheduleRow | None:
        row = (
            self._connect()
            .execute(f"SELECT {SCHEDULE_COLUMNS} FROM digest_schedules WHERE collection = ?", (collection,))
            .fetchone()
        )
        return ScheduleRow(*row) if row else None

    def schedules(self) -> list[ScheduleRow]:
        rows = self._connect().execute(f"SELECT {SCHEDULE_COLUMNS} FROM digest_schedules ORDER BY collection")
        return [ScheduleRow(*row) for row in rows]

    def claim_period(self, collection: str, created: str, period: str) -> bool:
        with self.write(OWN_ROWS) as conn:
            cursor = conn.execute(
                "UPDATE digest_schedules SET last_period = ? WHERE collection = ? AND created = ?"
                " AND (last_period IS NULL OR last_period != ?)",
                (period, collection, created, period),
            )
            return cursor.rowcount == 1
