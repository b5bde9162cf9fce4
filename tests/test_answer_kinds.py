"""The asked-for kind of answer, read from how members word questions, and what a sentence must hold
to be that kind (index/asking/scoring.py). Wrong readings here cost the right sentence its place at the top."""

from __future__ import annotations

import pytest

from index.asking.scoring import answer_type_match, question_kind


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("when did the bridge open", "time"),
        ("what time does the match kick off", "time"),
        ("which weekend is the festival", "time"),
        ("how many people came to the opening?", "number"),
        ("whats the final score", "number"),
        ("what did the tickets cost? price of a ticket", "number"),
        ("how old was he when he was elected", "number"),  # the first question phrase decides
        ("when was he how many years old", "time"),
        ("how long ago did the bridge open", "time"),  # both patterns start at "how": the time one wins
        ("how close to a school can an internet cafe be", "number"),
        ("how expensive r the tickets", "number"),
        ("who's the boss of tata rn", "name"),
        ("where is the steel mill", "place"),
        ("what city hosts the final", "place"),
        ("why was the forth road bridge closed", "reason"),
        ("how come the shares fell", "reason"),
        ("what caused the delay", "reason"),
        ("tell me about the telescope", None),
        ("what did the minister say about the score of the film", None),  # "score of" is not a result
    ],
)
def test_the_question_wording_decides_the_kind_of_answer(question: str, kind: str | None):
    assert question_kind(question) == kind


def words(text: str) -> frozenset[str]:
    return frozenset(text.lower().split())


@pytest.mark.parametrize(
    ("kind", "question", "sentence", "matches"),
    [
        ("time", "when did it open", "The bridge opened on Feb. 24 after years of work.", True),
        ("time", "when did it open", "It opened three weeks ago.", True),
        ("time", "when did it open", "It may open soon, officials said.", False),  # "may" the verb
        ("time", "when did it open", "The bridge opened in May.", True),
        ("number", "whats the score", "City won 3-1 at home.", True),
        ("number", "whats the score", "City won comfortably at home.", False),
        ("reason", "why was the bridge closed", "It was closed because a truss end link cracked.", True),
        ("reason", "why was the bridge closed", "The bridge was closed in December.", False),
        ("reason", "why did shares fall", "Shares fell, hurt by weak demand in China.", True),
        ("place", "where is the mill", "The mill is in Port Talbot, the company said.", True),
        ("place", "where is the mill", "The mill employs 4,000 people.", False),
        ("place", "where is the port talbot mill", "The Port Talbot mill employs 4,000 people.", False),
        ("name", "who runs tata steel", "The firm is run by Natarajan Chandrasekaran.", True),
        ("name", "who runs tata steel", "The firm is run by its chief executive.", False),
    ],
)
def test_a_sentence_holds_the_asked_for_kind_or_not(kind: str, question: str, sentence: str, matches: bool):
    assert (answer_type_match(kind, words(question), sentence) > 0) is matches
