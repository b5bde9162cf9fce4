"""Summaries across articles (topic summaries, digests), time in questions, and scheduled digests.

The articles here are short stories written for these tests: one story told twice (a syndicated copy with
small edits) and followed up a week later, beside unrelated news, with dates chosen around a fixed clock."""

# ruff: noqa: E501  (the test articles keep one sentence per line)
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, assert_verbatim, run_cli

from index import Engine, EngineSettings
from index.asking.dates import time_filter
from index.errors import InvalidInput
from index.inference.embedding import Embedder
from index.summaries.schedule import DigestSchedules, parse_time, parse_weekday

NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)  # a Wednesday


class Clock:
    """The engine's "now", moved by the tests."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


BRIDGE = """Harbour bridge closed after cracks found in main span

Engineers closed the Harbour Bridge to all traffic on Monday after inspectors found cracks in a steel beam of its main span.
The city transport office said about 40,000 vehicles cross the bridge every day and asked drivers to use the ring road instead.
Ferries will run every ten minutes between the two quays until the bridge reopens, the office added.
Inspectors first noticed the damage during a routine check last Friday, according to the engineering firm in charge of maintenance.
The mayor said safety came first and that repairs could take several weeks."""

# The same report as syndicated by another outlet: new headline, a byline, one sentence reworded.
BRIDGE_COPY = """City shuts Harbour Bridge as inspectors find cracked beam

By our transport correspondent
Engineers closed the Harbour Bridge to all traffic on Monday after inspectors found cracks in a steel beam of its main span.
The city transport office said about 40,000 vehicles cross the bridge every day and asked drivers to use the ring road instead.
Ferries will run every ten minutes between the two quays until the bridge reopens, the office added.
Inspectors first spotted the damage during a routine check on Friday, according to the engineering firm in charge of maintenance.
The mayor said safety came first and that repairs could take several weeks."""

BRIDGE_FOLLOW_UP = """Harbour bridge reopens to cars after beam repairs

The Harbour Bridge reopened to cars on Tuesday after engineers replaced the cracked steel beam in its main span.
Lorries heavier than 20 tonnes remain banned from the bridge until a final load test next month, the transport office said.
The extra ferry service between the two quays will end on Friday.
The mayor thanked drivers for their patience during the closure and said the repairs had cost 3.2 million euros."""

FARES_MARCH = """Council freezes bus fares for the rest of the year

The city council voted on Monday to freeze bus fares at 1.80 euros until the end of the year.
Councillors said the freeze would be paid for from parking revenue.
Passenger groups welcomed the decision but asked for more evening services."""

FARES_JANUARY = """Council proposes a rise in bus fares

The city council proposed raising bus fares from 1.80 euros to 2.10 euros to cover higher fuel costs.
A public consultation on the proposal will run for six weeks.
Opposition councillors said the rise would hit low-paid workers hardest."""

LIBRARY = """New central library opens with rooftop garden

The new central library opened its doors on Saturday with space for 300,000 books and a rooftop garden.
The building was designed by a local architecture studio and took three years to build.
Opening hours run from eight in the morning until ten at night, seven days a week."""

VOLCANO = """Volcano on remote island erupts for the first time in a century

A volcano on a remote island in the South Atlantic erupted on Sunday for the first time in more than a hundred years.
Scientists at the island's observatory said ash rose five kilometres into the sky.
No one lives within twenty kilometres of the crater, and no injuries were reported."""


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def news(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory, clock: Clock) -> Iterator[Engine]:
    """The stories, added at different times of the fixed clock; the clock is back at NOW afterwards."""
    engine = Engine(EngineSettings(data_dir=tmp_path_factory.mktemp("news")), embedder, clock=clock)

    def add(text: str, published: str | None, added: datetime) -> int:
        clock.now = added
        return engine.add_text("news", text, published=published).id

    ids = {
        "volcano": add(VOLCANO, None, datetime(2026, 1, 2, 9, 0, tzinfo=UTC)),  # added long ago, no date
        "fares_january": add(FARES_JANUARY, "2026-01-12", datetime(2026, 1, 12, 18, 0, tzinfo=UTC)),
        "library": add(LIBRARY, "2026-03-07", datetime(2026, 3, 7, 10, 0, tzinfo=UTC)),
        "bridge": add(BRIDGE, "2026-03-09", datetime(2026, 3, 9, 15, 0, tzinfo=UTC)),
        "bridge_copy": add(BRIDGE_COPY, "2026-03-09", datetime(2026, 3, 9, 16, 0, tzinfo=UTC)),
        "fares_march": add(FARES_MARCH, "2026-03-16", datetime(2026, 3, 16, 19, 0, tzinfo=UTC)),
        "bridge_follow_up": add(BRIDGE_FOLLOW_UP, "2026-03-17", datetime(2026, 3, 17, 11, 0, tzinfo=UTC)),
    }
    clock.now = NOW
    engine.ids = ids  # type: ignore[attr-defined]
    yield engine
    engine.close()


def ids_of(engine: Engine) -> dict[str, int]:
    return engine.ids  # type: ignore[attr-defined]


def _name(engine: Engine, article_id: int) -> str:
    return next(k for k, v in ids_of(engine).items() if v == article_id)


# -- time in questions --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "first", "last", "rest"),
    [
        ("What did the council decide this week?", "2026-03-16", "2026-03-18", "What did the council decide?"),
        ("What happened yesterday?", "2026-03-17", "2026-03-17", "What happened yesterday?"),
        ("What did the council say last week?", "2026-03-09", "2026-03-15", "What did the council say?"),
        ("Which fare stories came out in January?", "2026-01-01", "2026-01-31", "Which fare stories came out?"),
        ("bus fare articles from March 2025", "2025-03-01", "2026-03-18", "bus fare articles"),
        ("News about the bridge from the past 3 days", "2026-03-16", "2026-03-18", "News about the bridge from"),
        ("any news on the council since 2025?", "2025-01-01", "2026-03-18", "any news on the council?"),
        ("what did the mayor say today?", "2026-03-18", "2026-03-18", "what did the mayor say?"),
        ("what happened in 2025?", "2025-01-01", "2025-12-31", "what happened in 2025?"),
    ],
)
def test_time_words_become_a_window_of_days_and_leave_the_question(
    question: str, first: str, last: str, rest: str
) -> None:
    window, remaining = time_filter(question, NOW.date())

    assert window is not None and window.filters
    assert (window.start.isoformat(), window.end.isoformat()) == (first, last)  # type: ignore[union-attr]
    assert remaining == rest


@pytest.mark.parametrize(
    "question",
    [
        "why was the forth road bridge closed in 2015?",
        "Which fares were proposed in January?",
        "how much did profits rise last year?",
        "What is the stadium called today?",
        "who won the 2004 election?",
        "In March 2025, what did the council decide?",
    ],
)
def test_a_date_naming_when_something_happened_filters_no_articles(question: str) -> None:
    window, remaining = time_filter(question, NOW.date())

    assert window is None, "the article telling of it may be dated long after"
    assert remaining == question, "the date stays in the question: it helps find the sentence"


def test_why_a_bridge_closed_in_2015_is_quoted_from_the_2017_article(sample_engine: Engine) -> None:
    answer = sample_engine.ask("default", "why was the forth road bridge closed in 2015?")

    assert not answer.abstained, answer.answer
    assert any("crack was found" in q.text for q in answer.quotes), [q.text for q in answer.quotes]
    assert_verbatim(sample_engine, "default", answer.quotes)


def test_latest_favours_newer_articles_without_a_window_and_may_is_not_a_month() -> None:
    latest, rest = time_filter("What is the latest on the Harbour Bridge?", NOW.date())
    assert latest is not None and latest.recent and not latest.filters
    assert "latest" not in rest and "Harbour Bridge" in rest

    assert time_filter("May the council raise bus fares?", NOW.date())[0] is None
    assert time_filter("Who led the march on parliament?", NOW.date())[0] is None


def test_a_month_without_a_year_is_the_latest_such_month_that_has_articles() -> None:
    window, _ = time_filter("What happened in October?", NOW.date(), lambda month: 2004 if month == 10 else None)
    assert window is not None and (window.start, window.end) == (date(2004, 10, 1), date(2004, 10, 31))

    window, _ = time_filter("What happened in October?", NOW.date(), lambda month: None)
    assert window is not None and window.start == date(2025, 10, 1), "no articles: the last October before today"


def test_a_question_about_this_week_quotes_only_this_weeks_articles(news: Engine) -> None:
    ids = ids_of(news)
    unfiltered = news.ask("news", "What did the council decide about bus fares?", k=5)
    assert {q.article_id for q in unfiltered.quotes} >= {ids["fares_march"], ids["fares_january"]}, (
        "both fare articles answer the question without a window; the filter test below would prove nothing"
    )

    answer = news.ask("news", "What did the council decide about bus fares this week?", k=5)

    assert not answer.abstained
    assert answer.question == "What did the council decide about bus fares this week?"
    assert {q.article_id for q in answer.quotes} == {ids["fares_march"]}
    assert all(q.published == "2026-03-16" for q in answer.quotes), "each quote shows its date"
    assert_verbatim(news, "news", answer.quotes)


def test_a_question_about_january_quotes_only_januarys_article(news: Engine) -> None:
    answer = news.ask("news", "Any news on bus fares in January?", k=5)

    assert not answer.abstained
    assert {q.article_id for q in answer.quotes} == {ids_of(news)["fares_january"]}


def test_a_window_with_no_articles_says_so_instead_of_quoting_older_ones(news: Engine) -> None:
    answer = news.ask("news", "What did the council decide about bus fares yesterday?")

    assert answer.abstained and answer.quotes == ()
    assert "2026-03-17" in answer.answer or "articles don't say" in answer.answer


def test_latest_puts_the_newest_relevant_article_first(news: Engine) -> None:
    ids = ids_of(news)
    plain = news.ask("news", "What did the council do about bus fares?", k=3)
    latest = news.ask("news", "What is the latest the council did about bus fares?", k=3)

    assert not latest.abstained
    assert latest.quotes[0].article_id == ids["fares_march"]
    assert plain.confidence == pytest.approx(latest.confidence, abs=0.25), "abstention stays about evidence"


def test_an_articles_date_comes_from_page_metadata_a_date_line_or_the_moderator(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    engine = make_engine()
    page = tmp_path / "story.html"
    page.write_bytes((FIXTURES / "article_page.html").read_bytes())
    from_metadata = engine.add_file("default", page)
    dated_line = (
        "Ferry timetable changes for spring\n\nPublished: 4 September 2017\n\n" + FARES_MARCH.split("\n\n", 1)[1]
    )
    from_line = engine.add_text("default", dated_line)
    from_moderator = engine.add_text("default", LIBRARY, published="2025-11-30")

    assert from_metadata.published == "2023-03-14"
    assert from_line.published == "2017-09-04"
    assert from_moderator.published == "2025-11-30"
    with pytest.raises(InvalidInput, match="date"):
        engine.add_text("default", VOLCANO, published="next Tuesday")


# -- topic summaries ----------------------------------------------------------------------------
def test_a_topic_summary_quotes_several_articles_once_each_in_date_order(news: Engine) -> None:
    ids = ids_of(news)
    summary = news.summarize_topic("news", "Harbour Bridge closure", sentences=6)

    assert not summary.abstained
    used = {s.article_id for s in summary.sentences}
    assert ids["bridge_follow_up"] in used and used & {ids["bridge"], ids["bridge_copy"]}
    assert used <= {ids["bridge"], ids["bridge_copy"], ids["bridge_follow_up"]}
    for sentence in summary.sentences:
        text = news.article_text("news", sentence.article_id)
        assert text[sentence.start : sentence.end] == sentence.text
    keys = [(s.published, s.article_id, s.start) for s in summary.sentences]
    assert [k[0] for k in keys] == sorted(k[0] for k in keys), "ordered by date"
    assert {a.article_id for a in summary.articles} == used, "every cited article is listed, and only those"


def test_a_syndicated_copy_never_makes_a_topic_summary_repeat_itself(news: Engine, embedder: Embedder) -> None:
    summary = news.summarize_topic("news", "Harbour Bridge closure", sentences=8)

    texts = [" ".join(s.text.split()) for s in summary.sentences]
    assert len(texts) == len(set(texts)), "the same sentence was shown twice"
    vectors = embedder.encode(texts)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0)
    assert similarity.max() < 0.85, "two near-duplicate sentences were both shown"


def test_a_topic_the_articles_do_not_cover_says_so(news: Engine) -> None:
    summary = news.summarize_topic("news", "cryptocurrency regulation in Japan")

    assert summary.abstained and summary.sentences == ()
    assert summary.message == "The articles don't cover this."


def test_since_limits_a_topic_summary_to_newer_articles(news: Engine) -> None:
    ids = ids_of(news)
    summary = news.summarize_topic("news", "Harbour Bridge", since=date(2026, 3, 15))

    assert not summary.abstained
    assert {s.article_id for s in summary.sentences} == {ids["bridge_follow_up"]}
    assert (summary.since, summary.until) == ("2026-03-15", "2026-03-18")


def test_the_cli_prints_a_topic_summary_as_json_with_the_documented_keys(news: Engine) -> None:
    result = run_cli(
        "summary", "--topic", "bus fares", "--sentences", "2", "--collection", "news", "--json",
        data_dir=Path(news.settings.data_dir),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert {"topic", "sentences", "articles"} <= payload.keys()
    assert payload["topic"] == "bus fares" and 1 <= len(payload["sentences"]) <= 2
    for sentence in payload["sentences"]:
        assert set(sentence) == {"text", "article_id", "title", "url", "published", "start", "end"}
        assert (
            news.article_text("news", sentence["article_id"])[sentence["start"] : sentence["end"]] == sentence["text"]
        )
    usage = run_cli("summary", "--collection", "news", data_dir=Path(news.settings.data_dir))
    assert usage.returncode == 2 and b"ARTICLE_ID or --topic" in usage.stderr


# -- digests ------------------------------------------------------------------------------------
def test_the_digest_groups_copies_and_follow_ups_of_a_story_newest_first(news: Engine) -> None:
    ids = ids_of(news)
    digest = news.digest("news", days=14)

    groups = [{_name(news, a.id) for a in story.articles} for story in digest.stories]
    assert {"bridge", "bridge_copy", "bridge_follow_up"} in groups
    assert {"library"} in groups and {"fares_march"} in groups
    assert "volcano" not in set().union(*groups) and "fares_january" not in set().union(*groups)
    assert (digest.since, digest.until) == ("2026-03-05", "2026-03-18")
    first = digest.stories[0]
    assert first.articles[0].id == ids["bridge_follow_up"], "the story with the newest article comes first"
    assert [a.published for a in first.articles] == sorted((a.published for a in first.articles), reverse=True)
    for story in digest.stories:
        assert 1 <= len(story.lead) <= 2
        for sentence in story.lead:
            assert news.article_text("news", sentence.article_id)[sentence.start : sentence.end] == sentence.text
    bridge = next(s for s in digest.stories if len(s.articles) == 3)
    assert len(bridge.lead) == 2 and bridge.lead[0].text != bridge.lead[1].text


def test_the_digest_window_counts_days_back_from_the_clock(news: Engine) -> None:
    last_three_days = news.digest("news", days=3)  # the 16th, 17th and 18th

    assert [{_name(news, a.id) for a in s.articles} for s in last_three_days.stories] == [
        {"bridge_follow_up"},
        {"fares_march"},
    ]
    with pytest.raises(InvalidInput):
        news.digest("news", days=0)


def test_the_digest_cli_prints_stories_as_json(news: Engine) -> None:
    # The CLI runs on the real clock; a year back from today still holds every test article.
    result = run_cli("digest", "--days", "366", "--collection", "news", "--json", data_dir=Path(news.settings.data_dir))

    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["days"] == 366 and payload["articles"] == len(ids_of(news))
    assert all({"lead", "articles"} <= story.keys() for story in payload["stories"])
    assert sorted(len(story["articles"]) for story in payload["stories"]) == [1, 1, 1, 1, 3]


# -- scheduled digests --------------------------------------------------------------------------
def test_a_schedule_fires_once_per_period_and_not_again_after_a_restart(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    data = tmp_path / "sched"
    clock = Clock(datetime(2026, 3, 16, 8, 0, tzinfo=UTC))  # Monday 08:00
    engine = make_engine(data)
    schedules = DigestSchedules(engine.store)
    schedules.set("guild-1", "555", parse_weekday("monday"), parse_time("09:00"), 7, clock())

    assert schedules.due(clock()) == [], "nothing is due before the first posting time"
    clock.now = datetime(2026, 3, 16, 9, 0, 30, tzinfo=UTC)
    (due,) = schedules.due(clock())
    assert schedules.claim(due, clock()) is True
    assert schedules.claim(due, clock()) is False, "a second claim in the same period fails"
    assert schedules.due(clock()) == []

    engine.close()
    restarted = DigestSchedules(make_engine(data).store)  # a new process would see the same rows
    clock.now = datetime(2026, 3, 20, 17, 0, tzinfo=UTC)
    assert restarted.due(clock()) == [], "posted this period already, restart or not"
    clock.now = datetime(2026, 3, 23, 9, 5, tzinfo=UTC)
    (next_week,) = restarted.due(clock())
    assert restarted.claim(next_week, clock()) is True


def test_a_schedule_set_after_this_weeks_time_waits_for_next_week(make_engine: Callable[..., Engine]) -> None:
    schedules = DigestSchedules(make_engine().store)
    set_at = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)  # Wednesday noon, for Mondays 09:00
    schedule = schedules.set("guild-2", "556", 0, 9 * 60, 7, set_at)

    assert not schedule.due(set_at + timedelta(days=4))
    assert schedule.due(datetime(2026, 3, 23, 9, 0, tzinfo=UTC))


@pytest.mark.parametrize(("given", "problem"), [("25:00", "HH:MM"), ("noon", "HH:MM"), ("9", "HH:MM")])
def test_a_bad_schedule_time_is_one_sentence(given: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        parse_time(given)
    with pytest.raises(InvalidInput, match="weekday"):
        parse_weekday("someday")
