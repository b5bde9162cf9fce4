"""The answer model: shipped, checked, offline, on by default, deciding quotes and abstention and marking
the words that answer inside each verbatim quote.

Every question here is about the sample articles; none of them was used to train or calibrate the model
(that used SQuAD v1.0 train, SQuAD dev's tune half and the members' tune half)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import assert_verbatim

from index import Engine, EngineSettings
from index.asking.answering import answer_within
from index.errors import BylineError, InvalidInput
from index.inference.answer_model import CARD_FILE, MODEL_FILE, WEIGHTS, AnswerModel, pair_text
from index.inference.runtime import file_sha256
from index.models import Answer, Quote


def test_the_shipped_model_matches_its_checksum_and_loads_offline(loopback_only: None) -> None:
    card = json.loads((WEIGHTS / CARD_FILE).read_text())
    assert file_sha256(WEIGHTS / MODEL_FILE) == card["sha256"]
    assert (WEIGHTS / MODEL_FILE).stat().st_size <= 30 * 1024 * 1024
    assert 0.0 < card["threshold"] < 1.0, "the calibrated threshold is a probability"

    model = AnswerModel()
    logits = model.logits(
        "when was the telescope launched?",
        [("The telescope was launched on 25 December 2021.", None), ("Ferries will run every ten minutes.", None)],
    )
    assert logits.shape == (2,) and logits[0] > logits[1]


def test_a_damaged_model_file_is_refused_with_one_sentence(tmp_path: Path) -> None:
    copy = tmp_path / "answer-sentence"
    shutil.copytree(WEIGHTS, copy)
    data = bytearray((copy / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / MODEL_FILE).write_bytes(bytes(data))

    with pytest.raises(BylineError, match="does not match its checksum"):
        AnswerModel(copy).logits("who?", [("Someone.", None)])


def test_the_previous_sentence_is_the_context_and_never_crowds_out_the_candidate() -> None:
    text = pair_text("The mill is in Port Talbot.", "x" * 5000)
    assert text.startswith("The mill is in Port Talbot.")
    assert len(text) < 400


@pytest.fixture(scope="module")
def judged_engine(embedder, tmp_path_factory: pytest.TempPathFactory):
    """The sample articles, answered with the answer-sentence model on."""
    from conftest import SAMPLES

    engine = Engine(EngineSettings(data_dir=tmp_path_factory.mktemp("judged"), answer_model=True), embedder)
    engine.add_documents("default", engine.documents(str(SAMPLES), []))
    yield engine
    engine.close()


def test_after_the_best_quote_only_sentences_that_also_answer_are_quoted(judged_engine: Engine) -> None:
    question = "who is the telescope named after?"
    judge = judged_engine.answering.judge
    assert judge is not None
    with judged_engine.evidence.gather("default", question) as evidence:
        judgement = judge.judge(question, list(evidence.sentences), evidence.texts or {})
    probability = {(s.article_id, s.start): p for s, p in zip(judgement.ranked, judgement.probabilities, strict=True)}

    answer = judged_engine.ask("default", question, k=5)

    assert not answer.abstained and "James E. Webb" in answer.quotes[0].text
    assert 0.0 < answer.confidence <= 1.0, "with the model, confidence is its probability"
    first = answer.quotes[0]
    assert (first.article_id, first.start) == (judgement.ranked[0].article_id, judgement.ranked[0].start)
    assert all(probability[q.article_id, q.start] >= judge.threshold for q in answer.quotes[1:])
    below = [s for s, p in zip(judgement.ranked[1:], judgement.probabilities[1:], strict=True) if p < judge.threshold]
    assert below, "some retrieved sentences do not answer; the test would prove nothing otherwise"
    assert not {(s.article_id, s.start) for s in below} & {(q.article_id, q.start) for q in answer.quotes}
    assert_verbatim(judged_engine, "default", answer.quotes)


def test_an_off_topic_question_abstains_with_the_model_too(judged_engine: Engine) -> None:
    answer = judged_engine.ask("default", "What is the capital of Peru?")
    assert answer.abstained and answer.quotes == ()


def test_the_model_is_on_by_default_and_marks_the_answer_inside_the_verbatim_quote(sample_engine: Engine) -> None:
    assert EngineSettings().answer_model is True and sample_engine.answer_model is not None

    answer = sample_engine.ask("default", "who is the telescope named after?")

    first = answer.quotes[0]
    assert not answer.abstained and "James E. Webb" in first.text
    assert first.answer_span is not None
    a, b = first.answer_span
    assert "Webb" in first.text[a:b] and b - a < len(first.text) / 2, "the answer, not the whole sentence"
    assert_verbatim(sample_engine, "default", answer.quotes)
    logged = json.loads(json.dumps(answer.to_json()))
    assert logged["quotes"][0]["answer_span"] == [a, b]
    assert Answer.from_json(logged).quotes == answer.quotes, "a logged answer reads back with its answer spans"


def test_a_number_question_marks_the_number(sample_engine: Engine) -> None:
    answer = sample_engine.ask("default", "how wide is the main mirror of the webb telescope")
    first = answer.quotes[0]
    assert first.answer_span is not None and "6.5 metres" in first.text[slice(*first.answer_span)]


def test_an_answer_logged_before_answer_spans_existed_still_reads() -> None:
    old = {"text": "It rained.", "article_id": 1, "title": "T", "url": None, "published": None}
    quote = Quote.from_json({**old, "start": 0, "end": 10, "score": 1.0})
    assert quote.answer_span is None and quote.text == "It rained."


@pytest.mark.parametrize(
    ("span", "marked"),
    [
        ((29, 43), "James E. Webb"),
        ((28, 44), "James E. Webb"),
        ((0, 96), None),
        ((0, 94), None),
        ((10, 10), None),
        (None, None),
    ],
)
def test_the_marked_answer_is_trimmed_and_never_the_whole_quote(
    span: tuple[int, int] | None, marked: str | None
) -> None:
    text = "The telescope is named after James E. Webb, who served as NASA administrator from 1961 to 1968."
    found = answer_within(text, span)
    assert (text[slice(*found)] if found else None) == marked


def test_byline_answer_model_0_turns_it_off_and_the_cheap_scoring_answers(make_engine) -> None:
    from conftest import SAMPLES

    settings = EngineSettings.from_env({"BYLINE_ANSWER_MODEL": "0"})
    assert settings.answer_model is False
    engine = make_engine(answer_model=settings.answer_model)
    engine.add_documents("default", engine.documents(str(SAMPLES), []))
    assert engine.answer_model is None
    answer = engine.ask("default", "who is the telescope named after?")
    assert not answer.abstained and "James E. Webb" in answer.quotes[0].text
    assert answer.confidence > 1.0, "the cheap scoring's confidence is a weighted sum, not a probability"
    assert all(q.answer_span is None for q in answer.quotes), "no model, no marked answer"


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"BYLINE_ANSWER_MODEL": "maybe"}, "BYLINE_ANSWER_MODEL must be on or off"),
        ({"BYLINE_ANSWER_CANDIDATES": "0"}, "BYLINE_ANSWER_CANDIDATES must be between 1 and 64"),
        ({"BYLINE_ANSWER_THRESHOLD": "1.5"}, "BYLINE_ANSWER_THRESHOLD must be a probability"),
    ],
)
def test_bad_answer_model_settings_are_one_sentence(env: dict[str, str], problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        EngineSettings.from_env(env)


def test_answer_model_settings_are_read_from_the_environment() -> None:
    settings = EngineSettings.from_env(
        {"BYLINE_ANSWER_MODEL": "on", "BYLINE_ANSWER_CANDIDATES": "8", "BYLINE_ANSWER_THRESHOLD": "0.4"}
    )
    assert (settings.answer_model, settings.answer_candidates, settings.answer_threshold) == (True, 8, 0.4)
