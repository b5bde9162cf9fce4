"""Insights for moderators: members ask through the faces (the terminal chat here, Discord in
test_discord_insights.py), the answer log is written up: totals, gaps grouped by meaning, a gap closed
once its article is added, the most and never quoted articles, the chart; and retention deletes exactly
the rows older than BYLINE_ANSWER_LOG_DAYS, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import SAMPLES, run_cli

from bot import chat
from bot.chart import DPI, HEIGHT_IN, WIDTH_IN, insights_chart
from bot.render import insights_text
from index import Engine, EngineSettings
from index.errors import InvalidInput
from index.storage import utc_iso

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
POPE = ["How old is the new pope?", "the pope's age?", "how old is the new pope"]
PERU = "What is the capital of Peru?"
LIGHTHOUSE_Q = "When was the lighthouse lens lit in Port Ellery?"
LIGHTHOUSE = "Harbour pilots in Port Ellery reported that the new lighthouse lens was lit on Tuesday evening.\n" * 3
QUEENSFERRY = "How tall are the towers of the Queensferry Crossing?"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """ "" for SQLite, else the URL of a fresh PostgreSQL database."""
    return "" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def with_samples(make_engine: Callable[..., Engine], clock: Clock, database_url: str = "") -> Engine:
    engine = make_engine(clock=clock, database_url=database_url)
    errors: list = []
    engine.add_documents("default", engine.documents(str(SAMPLES), errors), errors=errors)
    assert not errors
    return engine


def test_questions_asked_in_the_terminal_chat_become_totals_gaps_and_quoted_articles(
    make_engine: Callable[..., Engine], backend: str
):
    clock = Clock(NOW)
    engine = with_samples(make_engine, clock, backend)
    for question in [*POPE, PERU, QUEENSFERRY, QUEENSFERRY]:
        chat.handle(engine, "default", question)  # the face logs each answer, as Discord's does
    answered = engine.feedback.answer(engine.feedback.store.answers("default")[-1].id, "default")
    engine.feedback.record(answered.id, "default", "1001", "down")  # a member found it unhelpful
    engine.feedback.record(answered.id - 1, "default", "1002", "up")

    insights = engine.insights("default")

    assert (insights.questions, insights.answered, insights.abstained) == (6, 2, 4)
    assert (insights.up, insights.down, insights.askers) == (1, 1, 1)  # one local asker, "terminal"
    assert "terminal" not in json.dumps(insights.to_json())  # a count, never who
    assert insights.per_day[-1].day == "2026-12-07" and len(insights.per_day) == 7
    assert (insights.per_day[-1].answered, insights.per_day[-1].abstained) == (2, 4)
    # the three pope questions are one gap (repeats and paraphrases); Peru is a gap of its own; the 👎'd
    # Queensferry answer is a third
    sizes = {gap.examples[0].casefold().rstrip("?"): gap.count for gap in insights.gaps}
    assert len(insights.gaps) == 3, [g.examples for g in insights.gaps]
    pope = insights.gaps[0]
    assert pope.count == 3 and pope.abstained == 3
    assert {q.casefold().rstrip("?") for q in pope.examples} == {"how old is the new pope", "the pope's age"}
    assert sizes[PERU.casefold().rstrip("?")] == 1
    assert next(g for g in insights.gaps if g.downvoted == 1).examples == (QUEENSFERRY,)
    assert insights.closed == ()
    assert [a.title for a in insights.most_quoted] == [
        "Queensferry Crossing formally opened by the Queen over the Firth of Forth"
    ]
    assert insights.most_quoted[0].answers == 2
    assert insights.never_quoted_count == 5
    text = insights_text(insights)
    assert '6 questions from 1 member: 2 answered (33%), 4 "the articles don\'t say"' in text
    assert "kept 90 days" in text


def test_the_log_keeps_each_question_vector_so_insights_embed_nothing_again(
    make_engine: Callable[..., Engine], backend: str, monkeypatch: pytest.MonkeyPatch
):
    clock = Clock(NOW)
    engine = with_samples(make_engine, clock, backend)
    for question in (*POPE[:2], PERU):
        chat.handle(engine, "default", question)
    rows = engine.store.answers_between("default", "2026-12-01", "2026-12-08", engine.embedder.name)
    assert all(row.question_vector is not None and row.question_vector.shape == (384,) for row in rows)
    # the vector is the question's as retrieval embedded it: the same model, the same text
    expected = engine.embedder.encode([PERU])[0]
    assert float(rows[-1].question_vector @ expected) > 0.999

    def no_embedding(texts: object) -> object:
        raise AssertionError("insights embedded a question the log already held a vector for")

    monkeypatch.setattr(engine.embedder, "encode", no_embedding)
    monkeypatch.setattr(engine.insights_room, "encode", no_embedding)
    insights = engine.insights("default")
    assert [g.count for g in insights.gaps] == [2, 1]
    # another model's vectors are never mixed in: under another model name the log holds none
    assert all(r.question_vector is None for r in engine.store.answers_between("default", "2026", "2027", "other"))


def test_a_gap_closes_once_an_article_that_answers_it_is_added(make_engine: Callable[..., Engine]):
    clock = Clock(NOW)
    engine = with_samples(make_engine, clock)
    for question in (LIGHTHOUSE_Q, "when did they light the Port Ellery lighthouse lens?", PERU):
        chat.handle(engine, "default", question)
    before = engine.insights("default")
    assert [g.count for g in before.gaps] == [2, 1] and before.closed == ()
    logged = len(engine.feedback.store.answers("default"))

    clock.now = NOW + timedelta(hours=2)
    added = engine.add_text("default", LIGHTHOUSE, title="Lighthouse lit")
    after = engine.insights("default")

    assert len(after.closed) == 1
    assert after.closed[0].count == 2 and after.closed[0].closed_by is not None
    assert after.closed[0].closed_by.article_id == added.id
    assert after.closed[0].closed_by.title == "Lighthouse lit"
    assert [g.examples for g in after.gaps] == [(PERU,)]  # still open: no article answers it
    assert len(engine.feedback.store.answers("default")) == logged  # asking again logged nothing


def test_a_small_gap_closes_too_when_the_new_article_is_about_it(make_engine: Callable[..., Engine]):
    """Only some gaps are asked again (one ask each): those the new article comes closest to, not the biggest."""
    from index.summaries.insights import RECHECK

    clock = Clock(NOW)
    engine = with_samples(make_engine, clock)
    unrelated = [
        PERU,
        "who won the 2010 tour de france",
        "what is the boiling point of mercury",
        "who wrote war and peace",
        "how deep is the mariana trench",
        "who painted the mona lisa",
        "what language do they speak in brazil",
        "how long is the great wall of china",
        "what is the population of iceland",
        "who invented the telephone",
        "what is the tallest mountain in africa",
        "when did the titanic sink",
    ]
    for question in unrelated * 2:
        chat.handle(engine, "default", question)
    chat.handle(engine, "default", LIGHTHOUSE_Q)
    before = engine.insights("default")
    examples = [gap.examples[0] for gap in before.gaps]
    assert examples.index(LIGHTHOUSE_Q) >= RECHECK  # smaller than at least RECHECK other gaps

    clock.now = NOW + timedelta(hours=2)
    added = engine.add_text("default", LIGHTHOUSE, title="Lighthouse lit")
    after = engine.insights("default")

    assert [(g.examples[0], g.closed_by and g.closed_by.article_id) for g in after.closed] == [(LIGHTHOUSE_Q, added.id)]
    assert LIGHTHOUSE_Q not in [gap.examples[0] for gap in after.gaps]


def test_bad_windows_and_an_empty_collection_are_one_clear_sentence(make_engine: Callable[..., Engine]):
    engine = with_samples(make_engine, Clock(NOW), "")
    for days in (0, -3, 91, 100_000):
        with pytest.raises(InvalidInput, match="Insights cover 1 to 90 days"):
            engine.insights("default", days)
    with pytest.raises(InvalidInput, match="no articles and no logged questions"):
        engine.insights("nothing-here")
    quiet = engine.insights("default", 90)  # articles, no questions yet: totals of zero, said in words
    assert quiet.questions == 0 and quiet.gaps == () and len(quiet.per_day) == 90
    assert "No questions were asked" in insights_text(quiet)


def test_the_chart_is_a_png_of_the_promised_size(make_engine: Callable[..., Engine]):
    engine = with_samples(make_engine, Clock(NOW))
    chat.handle(engine, "default", PERU)
    png = insights_chart(engine.insights("default", 30))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", png[8:16])
    width, height = struct.unpack(">II", png[16:24])
    assert (length, kind) == (13, b"IHDR")
    assert (width, height) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))


def test_retention_deletes_exactly_the_rows_older_than_the_setting(
    make_engine: Callable[..., Engine], backend: str, tmp_path: Path
):
    clock = Clock(NOW)
    engine = make_engine(tmp_path / "log", clock=clock, database_url=backend, answer_log_days=30)
    store = engine.store
    answer = json.dumps({"question": "q", "answer": "", "abstained": True, "quotes": []})
    cutoff = NOW - timedelta(days=30)
    ages = {"old": cutoff - timedelta(seconds=1), "edge": cutoff, "new": NOW - timedelta(days=1)}
    ids = {name: store.insert_answer("default", name, answer, "1001", utc_iso(when)) for name, when in ages.items()}
    store.put_vote(ids["old"], "1002", -1, utc_iso(ages["old"]))
    store.put_vote(ids["edge"], "1002", 1, utc_iso(cutoff))
    store.put_vote(ids["new"], "1002", 1, utc_iso(ages["new"]))
    store.insert_answer("other", "elsewhere", answer, None, utc_iso(cutoff - timedelta(days=400)))

    assert engine.feedback.prune() == (2, 1)  # "old" here and the other collection's; the old one's vote

    assert [row.question for row in store.answers("default")] == ["edge", "new"]
    assert store.answers("other") == []
    assert sorted(v.question for v in store.votes("default")) == ["edge", "new"]
    # a restarted engine, a day later: starting writes nothing (a read-only data dir must still answer), the
    # first read of the log prunes it: "edge" is now past the cutoff
    later = make_engine(
        tmp_path / "log", clock=Clock(NOW + timedelta(days=1)), database_url=backend, answer_log_days=30
    )
    assert [row.question for row in later.store.answers("default")] == ["edge", "new"]
    assert [vote["question"] for vote in later.feedback.export("default")] == ["new"]
    assert [row.question for row in later.store.answers("default")] == ["new"]


def test_logging_answers_prunes_the_log_at_most_once_an_hour(make_engine: Callable[..., Engine]):
    clock = Clock(NOW)
    engine = with_samples(make_engine, clock)
    chat.handle(engine, "default", PERU)
    clock.now = NOW + timedelta(days=90, minutes=-10)
    chat.handle(engine, "default", QUEENSFERRY)  # prunes: nothing is 90 days old yet
    clock.now = NOW + timedelta(days=90, minutes=20)
    chat.handle(engine, "default", LIGHTHOUSE_Q)  # Peru is past 90 days, but the last prune was 30 min ago
    assert len(engine.store.answers("default")) == 3
    clock.now = NOW + timedelta(days=90, minutes=55)
    chat.handle(engine, "default", PERU)  # an hour since the last prune: it runs
    assert [r.question for r in engine.store.answers("default")] == [QUEENSFERRY, LIGHTHOUSE_Q, PERU]


def test_the_retention_setting_is_checked():
    assert EngineSettings.from_env({"BYLINE_ANSWER_LOG_DAYS": "14"}).answer_log_days == 14
    for bad in ("0", "3651", "-1"):
        with pytest.raises(InvalidInput, match="BYLINE_ANSWER_LOG_DAYS must be 1 to 3650 days"):
            EngineSettings.from_env({"BYLINE_ANSWER_LOG_DAYS": bad})
    with pytest.raises(InvalidInput, match="must be a number"):
        EngineSettings.from_env({"BYLINE_ANSWER_LOG_DAYS": "ninety"})


def test_the_cli_adds_asks_in_the_chat_and_shows_insights_as_json_with_a_chart(tmp_path: Path):
    data = tmp_path / "data"
    assert run_cli("add", str(SAMPLES), data_dir=data).returncode == 0
    # `python -m bot run` without a Discord token: the terminal chat, whose answers are logged
    session = run_cli("run", data_dir=data, stdin=f"{PERU}\n{QUEENSFERRY}\n/quit\n".encode())
    assert session.returncode == 0, session.stderr

    chart = tmp_path / "chart.png"
    shown = run_cli("--json", "insights", "--days", "3", "--chart", str(chart), data_dir=data)
    assert shown.returncode == 0, shown.stderr
    payload = json.loads(shown.stdout)  # stdout is JSON only
    assert set(payload) == {
        "collection", "days", "since", "until", "questions", "answered", "abstained", "votes", "askers",
        "per_day", "gaps", "closed_gaps", "most_quoted", "never_quoted", "never_quoted_count", "kept_days",
    }  # fmt: skip
    assert (payload["questions"], payload["answered"], payload["abstained"], payload["askers"]) == (2, 1, 1, 1)
    assert payload["gaps"][0]["examples"] == [PERU] and payload["days"] == 3 and len(payload["per_day"]) == 3
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    for args, code, message in (
        (["insights", "--days", "0"], 1, "Insights cover 1 to 90 days"),
        (["insights", "--days", "-2"], 1, "Insights cover 1 to 90 days"),
        (["insights", "--days", "5000"], 1, "Insights cover 1 to 90 days"),
        (["insights", "--days", "week"], 2, "invalid int value"),
        (["insights", "--chart", str(tmp_path / "chart.svg")], 1, "ending in .png"),
        (["insights", "--chart", str(tmp_path / "missing" / "c.png")], 1, "does not exist"),
        (["--collection", "empty", "insights"], 1, "no articles and no logged questions"),
    ):
        result = run_cli(*args, data_dir=data)
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr.decode() and result.stdout == b""
