"""Weekly posts (the digest, and the moderators' insights): at most one schedule of each kind per collection,
posted weekly at a set UTC weekday and time.

A schedule's periods are the weeks between two of its posting times. Posting claims the current period
in SQLite first (one UPDATE that succeeds for one caller only), so a digest goes out at most once per
period whatever restarts, reconnects or second processes happen. A bot that was down at the posting
time posts once when it comes back within the same period; a schedule never posts for a period that
began before it was set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from index.errors import InvalidInput
from index.storage import ScheduleRow, ScheduleStore, utc_iso

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class DigestSchedule:
    collection: str
    target: str  # where the face posts it: for Discord, a channel id
    weekday: int  # 0 = Monday
    minute_of_day: int  # UTC
    days: int  # the digest's window
    created: str  # ISO datetime, UTC
    last_period: str | None  # the period last posted (its start, ISO)

    @property
    def when(self) -> str:
        hours, minutes = divmod(self.minute_of_day, 60)
        return f"{WEEKDAYS[self.weekday].title()}s at {hours:02d}:{minutes:02d} UTC"

    def period(self, now: datetime) -> datetime:
        """The start of the period `now` is in: the latest posting time at or before now."""
        now = now.astimezone(UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        posting = midnight - timedelta(days=now.weekday() - self.weekday) + timedelta(minutes=self.minute_of_day)
        return posting if posting <= now else posting - timedelta(days=7)

    def due(self, now: datetime) -> bool:
        start = self.period(now)
        return start >= datetime.fromisoformat(self.created) and self.last_period != start.isoformat()

    def to_json(self) -> dict[str, object]:
        return {
            "collection": self.collection,
            "target": self.target,
            "weekday": WEEKDAYS[self.weekday],
            "time": f"{self.minute_of_day // 60:02d}:{self.minute_of_day % 60:02d}",
            "days": self.days,
            "created": self.created,
            "last_period": self.last_period,
        }


def parse_time(text: str) -> int:
    """Minutes after midnight of "HH:MM" (24-hour clock)."""
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
    except ValueError:
        hours = minutes = -1
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise InvalidInput(f"The time must be HH:MM on a 24-hour clock (UTC), such as 09:00, not {text!r}.")
    return hours * 60 + minutes


def parse_weekday(text: str) -> int:
    name = text.strip().lower()
    for number, weekday in enumerate(WEEKDAYS):
        if len(name) >= 3 and weekday.startswith(name):
            return number
    raise InvalidInput(f"The day must be a weekday such as Monday, not {text!r}.")


class DigestSchedules:
    """The weekly schedules of one kind: "digest" (the digest) or "insights" (insights for moderators), each
    kind its own table with the same columns and the same once-per-period claim."""

    def __init__(self, store: ScheduleStore, kind: str = "digest") -> None:
        self.store = store
        self.kind = kind

    def set(
        self, collection: str, target: str, weekday: int, minute_of_day: int, days: int, now: datetime
    ) -> DigestSchedule:
        """Create or replace the collection's schedule (replacing it starts its periods afresh)."""
        if not 1 <= days <= 31:
            raise InvalidInput(f"A scheduled {self.kind} covers 1 to 31 days, not {days}.")
        created = utc_iso(now)
        row = ScheduleRow(collection, target, weekday, minute_of_day, days, created, None)
        self.store.put_schedule(row, self.kind)
        return DigestSchedule(collection, target, weekday, minute_of_day, days, created, None)

    def clear(self, collection: str) -> bool:
        return self.store.delete_schedule(collection, self.kind)

    def get(self, collection: str) -> DigestSchedule | None:
        row = self.store.schedule(collection, self.kind)
        return DigestSchedule(**row.__dict__) if row else None

    def all(self) -> list[DigestSchedule]:
        return [DigestSchedule(**row.__dict__) for row in self.store.schedules(self.kind)]

    def due(self, now: datetime) -> list[DigestSchedule]:
        return [s for s in self.all() if s.due(now)]

    def claim(self, schedule: DigestSchedule, now: datetime) -> bool:
        """Mark the current period as posted; True for exactly one caller per period (post only then)."""
        period = schedule.period(now).isoformat()
        return self.store.claim_period(schedule.collection, schedule.created, period, self.kind)
