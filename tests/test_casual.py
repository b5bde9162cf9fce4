"""Members type the way they chat: "wat rocket did jwst go up on lol" is answered as "What rocket did JWST go
up on?" would be, and chat words never turn an acronym or an abbreviation into something else."""

from __future__ import annotations

import numpy as np
import pytest

from index import Engine
from index.asking.casual import plain_question
from tests.conftest import assert_verbatim

CASUAL = [
    # without index/asking/casual.py the first two abstain ("rn" and "ngl", "wat", "r" are words no article holds)
    ("whos ukraine's defence minister rn?", "Oleksii Reznikov"),
    ("ngl wat temperature r the seeds stored at in svalbard", "minus 18 degrees Celsius"),
    ("how tall r the queensferry crossing towers tbh", "207 metres"),
    ("does anyone know wen dart actually hit dimorphos", "26 September 2022"),
    ("wat country topped the medal table at tokyo lol", "The United States"),
    ("who is the webb telescope even named after lol", "James E. Webb"),
]


@pytest.mark.parametrize(("question", "expected"), CASUAL)
def test_a_question_typed_as_chat_is_answered_from_the_article(sample_engine: Engine, question: str, expected: str):
    answer = sample_engine.ask("default", question)
    assert not answer.abstained, answer.answer
    assert any(expected in q.text for q in answer.quotes), answer.answer
    assert_verbatim(sample_engine, "default", answer.quotes)
    assert answer.question == question  # shown and logged as asked


@pytest.mark.parametrize(
    "question", ["lol does anyone know whats the capital of peru", "how many ppl work at nasa tbh"]
)
def test_chat_words_do_not_make_an_off_topic_question_answerable(sample_engine: Engine, question: str):
    assert sample_engine.ask("default", question).abstained


@pytest.mark.parametrize(
    ("asked", "read"),
    [
        ("wat rocket took jwst up lol", "what rocket took jwst up"),
        ("whos the boss rn?", "who is the boss now?"),
        ("how many ppl r coming cos of the final tbh", "how many people are coming because of the final"),
        ("whyyy did they close it", "why did they close it"),
        ("was he sacked or nah", "was he sacked"),
        # acronyms, dotted abbreviations and letters inside words are left as they are
        ("What did the U.S. and the IMO say?", "What did the U.S. and the IMO say?"),
        ("how much r&d did they do", "how much r&d did they do"),
        ("why did the u-boat sink in 1000 AD", "why did the u-boat sink in 1000 AD"),
        ("Who won Super Bowl XXX?", "Who won Super Bowl XXX?"),
        # nothing but chat is kept as it is (the bot then says what it says of any such question)
        ("lol", "lol"),
    ],
)
def test_plain_question(asked: str, read: str):
    assert plain_question(asked) == read


def test_a_members_word_is_covered_by_the_articles_word_for_it():
    from index.asking.scoring import analyse_question, coverage
    from index.search.lexical import tokenize

    question = analyse_question("was gerasimov sacked", np.zeros(384, dtype=np.float32))
    idf = {t: 1.0 for t in question.content_terms}.__getitem__
    assert (
        coverage(question.content_terms, set(tokenize("Rumours that Gerasimov was fired")), idf, question.alternatives)
        == 1.0
    )
    assert coverage(question.content_terms, set(tokenize("Gerasimov was promoted")), idf, question.alternatives) == 0.5
    assert "fire" in question.terms, "BM25 looks for the article's word too"
    phrase = analyse_question("who is the ceo", np.zeros(384, dtype=np.float32))
    assert (
        coverage(
            phrase.content_terms,
            set(tokenize("the chief executive said")),
            {"ceo": 1.0}.__getitem__,
            phrase.alternatives,
        )
        == 1.0
    )
    assert (
        coverage(phrase.content_terms, set(tokenize("the chief said")), {"ceo": 1.0}.__getitem__, phrase.alternatives)
        == 0.0
    ), "every word of a phrase"


def test_a_question_in_a_members_words_is_answered_in_the_articles_words(sample_engine: Engine):
    answer = sample_engine.ask("default", "was gerasimov sacked or nah")
    assert not answer.abstained
    assert "Gerasimov was fired" in answer.quotes[0].text
    assert_verbatim(sample_engine, "default", answer.quotes)
