"""Asking the sample articles: answers quote the articles verbatim, cite them, or say they don't know."""

from __future__ import annotations

import pytest

from index import Engine
from index.errors import NotFound
from tests.conftest import assert_verbatim

FACTS = [
    ("who is Ukraine's defence minister?", "Oleksii Reznikov"),
    ("When did DART hit Dimorphos?", "26 September 2022"),
    ("How tall are the towers of the Queensferry Crossing?", "207 metres"),
    ("At what temperature are seeds stored in the Svalbard vault?", "minus 18 degrees Celsius"),
    ("Which country topped the medal table at the Tokyo Olympics?", "The United States"),
    ("What rocket launched the James Webb Space Telescope?", "Ariane 5"),
]


@pytest.mark.parametrize(("question", "expected"), FACTS)
def test_a_member_asks_and_the_answer_quotes_the_article(sample_engine: Engine, question: str, expected: str):
    answer = sample_engine.ask("default", question)
    assert not answer.abstained
    assert any(expected in q.text for q in answer.quotes), answer.answer
    assert_verbatim(sample_engine, "default", answer.quotes)
    for quote in answer.quotes:
        assert quote.title and quote.article_id
        assert f"“{quote.text}”" in answer.answer
    assert "[1]" in answer.answer


def test_the_defence_minister_is_the_first_quote(sample_engine: Engine):
    answer = sample_engine.ask("default", "who is Ukraine's defence minister?")
    assert "Oleksii Reznikov" in answer.quotes[0].text


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Peru?",
        "How do I bake sourdough bread?",
        "Who won the 1998 FIFA World Cup final?",
        "What is the boiling point of ethanol?",
    ],
)
def test_an_off_topic_question_gets_the_articles_dont_say(sample_engine: Engine, question: str):
    answer = sample_engine.ask("default", question)
    assert answer.abstained
    assert answer.quotes == ()
    assert "don't say" in answer.answer
    assert 1 <= len(answer.related) <= 3  # the closest articles, as pointers


def test_the_headline_list_after_the_article_is_never_an_answer(sample_engine: Engine):
    # The sample ends with 17 headlines of unrelated stories; asking about them must not quote them.
    text = next(
        sample_engine.article_text("default", a.id)
        for a in sample_engine.list_articles("default")
        if "Reznikov" in sample_engine.article_text("default", a.id)
    )
    tail_start = text.index("Iran Warns of All-Out War")
    for question in [
        "Iran warns of all-out war as the U.S. sends an aircraft carrier",
        "Did Trump withdraw Canada's invitation to the Board of Peace?",
        "TikTok ByteDance deal national security",
    ]:
        answer = sample_engine.ask("default", question)
        for quote in answer.quotes:
            if "Reznikov" in sample_engine.article_text("default", quote.article_id):
                assert quote.end <= tail_start, quote.text


def test_k_limits_the_number_of_quotes(sample_engine: Engine):
    assert len(sample_engine.ask("default", "What did Reznikov say about Belarus?", k=1).quotes) == 1
    assert len(sample_engine.ask("default", "What did Reznikov say about Belarus?", k=3).quotes) <= 3


def test_quotes_are_not_repeated(sample_engine: Engine):
    answer = sample_engine.ask("default", "What did Reznikov say about Belarus?", k=5)
    spans = [(q.article_id, q.start, q.end) for q in answer.quotes]
    assert len(spans) == len(set(spans))


def test_a_summary_is_verbatim_sentences_in_article_order(sample_engine: Engine):
    for article in sample_engine.list_articles("default"):
        text = sample_engine.article_text("default", article.id)
        summary = sample_engine.summarize("default", article.id, sentences=3)
        assert len(summary.sentences) == 3
        starts = [s.start for s in summary.sentences]
        assert starts == sorted(starts)
        for sentence in summary.sentences:
            assert text[sentence.start : sentence.end] == sentence.text
        if "Reznikov" in text:
            tail_start = text.index("Iran Warns of All-Out War")
            assert all(s.end <= tail_start for s in summary.sentences)
        if "Queensferry" in text:
            assert all("Related stories" not in s.text and "newsletter" not in s.text for s in summary.sentences)


def test_a_summary_of_an_unknown_article_is_a_clear_error(sample_engine: Engine):
    with pytest.raises(NotFound, match="no article 9999"):
        sample_engine.summarize("default", 9999)


def test_an_empty_collection_says_there_is_nothing_to_search(engine: Engine):
    answer = engine.ask("empty", "Who is the defence minister?")
    assert answer.abstained and answer.quotes == ()


@pytest.mark.parametrize(
    ("previous", "question", "expected"),
    [
        ("How tall are the towers of the Queensferry Crossing?", "Who opened it?", "formally opened by Queen"),
        (
            "At what temperature are seeds stored in the Svalbard vault?",
            "How many samples does it hold?",
            "4.5 million",
        ),
        ("What rocket launched the James Webb Space Telescope?", "When did it launch?", "25 December 2021"),
    ],
)
def test_a_follow_up_is_answered_about_the_previous_questions_subject(
    sample_engine: Engine, previous: str, question: str, expected: str
):
    answer = sample_engine.ask("default", question, follow_up_to=previous)
    assert not answer.abstained
    assert expected in answer.quotes[0].text, answer.answer
    assert answer.question == question  # the answer is to the new question
    assert_verbatim(sample_engine, "default", answer.quotes)
