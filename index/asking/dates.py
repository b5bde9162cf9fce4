"""Time in questions: "latest", "today", "this week", "articles from March" → a window of article dates to
search in, or a preference for newer articles.

Two readings of a date. Words about the news itself filter by the articles' dates: relative days and
weeks ("yesterday", "this week", "the past 3 days", "last month"), "today" in a question about what
happened, and any date next to a word for the coverage ("articles from March", "news in 2015") or making
up the whole question ("what happened in March?"). A year or month naming *when something happened*
("why was the bridge closed in 2015?", "what did profits do last year?") filters nothing: the article
telling it may be dated years later, and the words stay in the question for retrieval.

An article's date is its `published` date when known, else the day it was added. Windows are whole days
(UTC) and inclusive. Months without a year mean the most recent such month that holds articles (news
archives are often older than the calendar), else the most recent one up to today."""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10, "a": 1}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_COUNT = r"\d{1,3}|" + "|".join(_NUMBERS)

# Order matters: the first pattern that matches decides (longer phrases before the words inside them).
_RECENT = re.compile(
    r"\b(?:the\s+)?(?:latest|most\s+recent(?:ly)?|newest|recent(?:ly)?|lately|up[\s-]to[\s-]date)\b", re.I
)
_ROLLING = re.compile(
    rf"\b(?:in|over|during)?\s*(?:the\s+)?(?:past|last)\s+(?P<n>{_COUNT})\s+(?P<unit>day|week|month)s?\b", re.I
)
_PAST_UNIT = re.compile(r"\b(?:in|over|during)?\s*the\s+past\s+(?P<unit>day|week|month|year)\b", re.I)
_NAMED = re.compile(
    r"\b(?:from\s+|on\s+)?(?P<which>today|tonight|this\s+morning|yesterday|this\s+week|last\s+week|this\s+month|last\s+month|this\s+year|last\s+year)\b",
    re.I,
)
_MONTH_YEAR = re.compile(
    rf"\b(?:(?P<prep>in|during|since|from|of|by|for)\s+)?(?P<month>{_MONTH})\.?(?:\s+(?P<year>(?:19|20)\d\d))?\b", re.I
)
_YEAR = re.compile(r"\b(?P<prep>in|during|since|from)\s+(?P<year>(?:19|20)\d\d)\b", re.I)
# Words for the coverage rather than the events: a date beside them is a date of articles.
_NEWS_WORDS = re.compile(
    r"\b(?:articles?|news|stories|story|coverage|headlines?|reports|reporting|published|posted|dated|written"
    r"|updates?|pieces?)\b",
    re.I,
)
# "today" as "nowadays" ("What is the stadium called today?") versus today's news ("What did the mayor say
# today?"): a past-tense verb or auxiliary reads as an event of today.
_PAST_EVENT = re.compile(
    r"\b(?:did|didn't|was|wasn't|were|had|has|have|happened|said|says|announced|went|won|lost|died|got)\b", re.I
)
# Relative words that always mean the news of those days; the rest filter only when about the news.
_ALWAYS = frozenset({"yesterday", "this week", "last week", "this month", "last month"})
_TODAY = frozenset({"today", "tonight", "this morning"})


@dataclass(frozen=True)
class TimeFilter:
    """What a question says about time: a window of days (inclusive; None = open), or `recent` (newer
    articles are favoured but nothing is filtered out). `phrase` is the words that said so."""

    phrase: str
    start: date | None = None
    end: date | None = None
    recent: bool = False

    @property
    def filters(self) -> bool:
        return self.start is not None or self.end is not None

    def describe(self) -> str:
        if self.recent and not self.filters:
            return "newest first"
        if self.start and self.end:
            if self.start == self.end:
                return self.start.isoformat()
            return f"{self.start.isoformat()} to {self.end.isoformat()}"
        if self.start:
            return f"since {self.start.isoformat()}"
        assert self.end is not None
        return f"until {self.end.isoformat()}"


def time_filter(
    text: str, today: date, latest_year_of_month: Callable[[int], int | None] | None = None
) -> tuple[TimeFilter | None, str]:
    """The time the text asks about, and the text without those words (for retrieval). The remaining
    text falls back to the whole text when the time words were all there was ("what happened in March?")."""
    found: TimeFilter | None = None
    span: tuple[int, int] | None = None

    named = _NAMED.search(text)
    rolling = _ROLLING.search(text) or _PAST_UNIT.search(text)
    year = _YEAR.search(text)
    month = next((m for m in _MONTH_YEAR.finditer(text) if _is_month(m)), None)
    reading = "event"  # see the module docstring: "news" filters, "event" only if about the news
    if named:
        which = " ".join(named.group("which").lower().split())
        found, span = _named(which, today, named.group(0)), named.span()
        reading = "news" if which in _ALWAYS else "today" if which in _TODAY else "event"
    elif rolling:
        reading = "news"
        n = rolling.groupdict().get("n")
        count = 1 if n is None else int(_NUMBERS.get(n.lower(), n) if not n.isdigit() else n)
        unit = rolling.group("unit").lower()
        days = {"day": 1, "week": 7, "month": 30, "year": 365}[unit] * max(count, 1)
        found, span = TimeFilter(rolling.group(0).strip(), today - timedelta(days=days - 1), today), rolling.span()
    elif month:
        number = MONTHS[month.group("month").lower().rstrip(".")]
        if month.group("year"):
            chosen = int(month.group("year"))
        else:
            chosen = (latest_year_of_month(number) if latest_year_of_month else None) or (
                today.year if number <= today.month else today.year - 1
            )
        first = date(chosen, number, 1)
        last = date(chosen, number, monthrange(chosen, number)[1])
        if (month.group("prep") or "").lower() in ("since", "from"):
            found = TimeFilter(month.group(0).strip(), first, max(today, last))
        else:
            found = TimeFilter(month.group(0).strip(), first, last)
        span = month.span()
    elif year:
        chosen = int(year.group("year"))
        first, last = date(chosen, 1, 1), date(chosen, 12, 31)
        if year.group("prep").lower() in ("since", "from"):
            last = max(today, last)
        found, span = TimeFilter(year.group(0).strip(), first, last), year.span()

    if found is not None and span is not None and reading != "news":
        rest = _without(text, span)
        about_news = bool(_NEWS_WORDS.search(text)) or not re.search(r"\w{3,}", _strip_question_words(rest))
        if reading == "today":
            about_news = about_news or bool(_PAST_EVENT.search(rest))
        if not about_news:
            found, span = None, None

    recent = _RECENT.search(text)
    if recent:
        if found is None:
            found, span = TimeFilter(recent.group(0).strip(), recent=True), recent.span()
        else:
            found = TimeFilter(found.phrase, found.start, found.end, recent=True)
    if found is None or span is None:
        return None, text
    rest = _without(text, span)
    return found, rest if re.search(r"\w{3,}", _strip_question_words(rest)) else text


def _without(text: str, span: tuple[int, int]) -> str:
    rest = " ".join((text[: span[0]] + " " + text[span[1] :]).split())
    return re.sub(r"\s+([?.!,])", r"\1", rest).lstrip(" ,;:")


def _named(which: str, today: date, phrase: str) -> TimeFilter:
    which = " ".join(which.split())
    if which in ("today", "tonight", "this morning"):
        return TimeFilter(phrase, today, today)
    if which == "yesterday":
        day = today - timedelta(days=1)
        return TimeFilter(phrase, day, day)
    monday = today - timedelta(days=today.weekday())
    if which == "this week":
        return TimeFilter(phrase, monday, today)
    if which == "last week":
        return TimeFilter(phrase, monday - timedelta(days=7), monday - timedelta(days=1))
    if which == "this month":
        return TimeFilter(phrase, today.replace(day=1), today)
    if which == "last month":
        last = today.replace(day=1) - timedelta(days=1)
        return TimeFilter(phrase, last.replace(day=1), last)
    if which == "this year":
        return TimeFilter(phrase, date(today.year, 1, 1), today)
    assert which == "last year"
    return TimeFilter(phrase, date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))


def _is_month(match: re.Match[str]) -> bool:
    """A month name is a date only with a preposition before it or a year after it ("in March", "March
    2005"), so that "May the council..." or "a march on parliament" are not read as dates."""
    return bool(match.group("prep") or match.group("year"))


def _strip_question_words(text: str) -> str:
    return re.sub(
        r"\b(?:what|whats|what's|who|when|where|why|how|is|are|was|were|the|on|about|did|does|do|"
        r"happened|happen|happening|news|any|anything|new|going|on|there|tell|me|us|say|said|of|has|have|been)\b",
        " ",
        text,
        flags=re.I,
    )


def article_day(published: str | None, added: str) -> date:
    """The date a question's window is compared with: published when known, else the day it was added."""
    return date.fromisoformat((published or added)[:10])
