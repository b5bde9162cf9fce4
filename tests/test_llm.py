"""Optional LLM answers: a model behind an OpenAI-compatible server writes the answer from the quotes, and
only sentences whose citations, numbers and names check out reach the user. Everything else falls back to
the extractive answer. The server is a real HTTP server on 127.0.0.1 (tests/fake_openai.py)."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from index import Engine, EngineSettings
from index.asking import llm as llm_module
from index.inference.embedding import Embedder
from tests.conftest import REPO, SAMPLES, assert_verbatim, run_cli
from tests.fake_openai import FakeOpenAI, Reply

QUESTION = "who is Ukraine's defence minister?"
KEY = "sk-test-0123456789-do-not-log"


@pytest.fixture(scope="module")
def samples_dir(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the sample articles; each test opens its own engine (its own LLM settings) on it."""
    data_dir = tmp_path_factory.mktemp("llm-samples")
    engine = Engine(EngineSettings(data_dir=data_dir), embedder)
    errors: list = []
    engine.add_documents("default", engine.documents(str(SAMPLES), errors), errors=errors)
    assert not errors
    engine.close()
    return data_dir


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def llm_engine(make_engine: Callable[..., Engine], samples_dir: Path, fake: FakeOpenAI) -> Callable[..., Engine]:
    def factory(**settings: Any) -> Engine:
        return make_engine(
            samples_dir, **{"llm_base_url": fake.url, "llm_model": "fake-model", "llm_api_key": KEY, **settings}
        )

    return factory


@pytest.fixture
def extractive(embedder: Embedder, samples_dir: Path) -> Iterator[Engine]:
    engine = Engine(EngineSettings(data_dir=samples_dir), embedder)
    yield engine
    engine.close()


def numbered_items(request: dict[str, Any]) -> dict[int, str]:
    """The numbered quotes (or sentences) in the user prompt the engine sent: number → line."""
    user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    return {int(n): text for n, text in re.findall(r"^\[(\d+)\] (.*)$", user, re.MULTILINE)}


def number_of(request: dict[str, Any], needle: str) -> int:
    return next(n for n, text in numbered_items(request).items() if needle in text)


def faithful(request: dict[str, Any], extra: str = "") -> str:
    """What a good model writes: two sentences, each cited, every name from the quote it cites."""
    n = number_of(request, "Oleksii Reznikov")
    return (
        f"The defence minister is Oleksii Reznikov [{n}]. "
        f"He said Russia could prepare an attack force coming from Belarus [{n}].{extra}"
    )


def faithful_plus(extra: str) -> Callable[[dict[str, Any]], str]:
    return lambda request: faithful(request, " " + extra.replace("{n}", str(number_of(request, "Oleksii Reznikov"))))


# -- the happy path -----------------------------------------------------------------------------------------
def test_a_faithful_cited_answer_reaches_the_user_with_its_quotes(llm_engine, fake: FakeOpenAI):
    engine = llm_engine()
    fake.reply(Reply(faithful))
    answer = engine.ask("default", QUESTION)
    assert answer.mode == "llm" and not answer.abstained
    assert answer.dropped == ()
    assert answer.answer == (
        "The defence minister is Oleksii Reznikov [1]. "
        "He said Russia could prepare an attack force coming from Belarus [1]."
    )
    # [1] in the text is quotes[0]: the quote it cites, verbatim from the article
    assert len(answer.quotes) == 1 and "Oleksii Reznikov" in answer.quotes[0].text
    assert_verbatim(engine, "default", answer.quotes)
    payload = answer.to_json()
    assert payload["mode"] == "llm" and payload["dropped"] == []
    for key in ("question", "answer", "abstained", "quotes", "took_ms", "related", "confidence"):
        assert key in payload


def test_the_prompt_sent_holds_the_question_and_the_numbered_quotes(llm_engine, fake: FakeOpenAI, extractive):
    engine = llm_engine()
    fake.reply(Reply(faithful))
    engine.ask("default", QUESTION)
    assert len(fake.requests) == 1
    request = fake.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["model"] == "fake-model"
    assert request.body["max_tokens"] == 400
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]
    assert QUESTION in request.user
    assert llm_module.CANNOT_ANSWER in request.system  # the prompt tells the model how to refuse
    assert "[n]" in request.system
    # every quote the extractive answer would show is among the numbered quotes, verbatim
    shown = numbered_items(request.body)
    for quote in extractive.ask("default", QUESTION).quotes:
        assert any(f"“{quote.text}”" in line for line in shown.values()), quote.text
    assert list(shown) == list(range(1, len(shown) + 1))


# -- verification drops what it cannot check ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("Belarus is a close ally of Moscow.", "cites no quote"),
        ("Belarus has sent troops [7].", "cites [7], which is not a provided quote"),
        ("He was appointed in 2021 [{n}].", "the number 2021 is not in the quotes it cites"),
        ("He met Antony Blinken in Kyiv [{n}].", "the name Antony is not in the quotes it cites"),
    ],
    ids=["uncited", "made-up-citation", "number-not-in-quote", "name-not-in-quote"],
)
def test_a_sentence_that_fails_verification_is_dropped_and_reported(llm_engine, fake, extra: str, reason: str):
    engine = llm_engine()
    fake.reply(Reply(faithful_plus(extra)))
    answer = engine.ask("default", QUESTION)
    assert answer.mode == "llm"
    assert [d.reason for d in answer.dropped] == [reason]
    bad = answer.dropped[0].sentence
    assert bad.split(" [")[0].rstrip(".") not in answer.answer
    assert "Oleksii Reznikov [1]" in answer.answer
    assert answer.to_json()["dropped"] == [{"sentence": bad, "reason": reason}]
    assert_verbatim(engine, "default", answer.quotes)


def test_when_most_sentences_fail_the_answer_is_extractive_and_says_what_was_dropped(llm_engine, fake, extractive):
    engine = llm_engine()
    fake.reply("Oleksii Reznikov became minister in 2021 [1]. He studied in Lviv [2]. Belarus is an ally [9].")
    answer = engine.ask("default", QUESTION)
    plain = extractive.ask("default", QUESTION)
    assert answer.mode == "extractive"
    assert answer.answer == plain.answer and answer.quotes == plain.quotes
    assert len(answer.dropped) == 3
    assert answer.to_json()["mode"] == "extractive"


def test_the_model_saying_it_cannot_answer_is_an_abstention(llm_engine, fake: FakeOpenAI):
    engine = llm_engine()
    fake.reply(llm_module.CANNOT_ANSWER)
    answer = engine.ask("default", QUESTION)
    assert answer.abstained and answer.mode == "llm"
    assert answer.quotes == ()
    assert "don't say" in answer.answer
    assert 1 <= len(answer.related) <= 3


def test_a_refusal_in_prose_is_an_abstention_too(llm_engine, fake: FakeOpenAI):
    engine = llm_engine()
    fake.reply("I'm sorry, but the provided quotes do not say who the defence minister is.")
    answer = engine.ask("default", QUESTION)
    assert answer.abstained and answer.quotes == ()


def test_weak_evidence_abstains_without_asking_the_model(llm_engine, fake: FakeOpenAI):
    engine = llm_engine()
    answer = engine.ask("default", "What is the capital of Peru?")
    assert answer.abstained and answer.mode == "extractive"
    assert fake.requests == []


# -- the server failing never reaches the user ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("replies", "logged", "requests"),
    [
        ([Reply(status=500)], "HTTP 500", 1),
        ([Reply(status=429, headers={"Retry-After": "1"})] * 2, "rate limiting", 2),
        ([Reply(status=429, headers={"Retry-After": "60"})], "rate limiting", 1),
        ([Reply(body=b'{"id": "chatcmpl-1", "choices": [{"mess')], "unusable response", 1),
        ([Reply(body=b'{"object": "error", "detail": "no"}')], "unusable response", 1),
        ([Reply("")], "unusable response", 1),
    ],
    ids=["http-500", "429-twice", "429-retry-after-too-long", "invalid-json", "not-a-completion", "empty"],
)
def test_a_failing_server_falls_back_to_the_extractive_answer_with_a_log_line(
    llm_engine, fake, extractive, caplog, replies: list[Reply], logged: str, requests: int
):
    engine = llm_engine()
    fake.reply(*replies)
    with caplog.at_level(logging.WARNING, logger="index.asking.llm"):
        answer = engine.ask("default", QUESTION)
    plain = extractive.ask("default", QUESTION)
    assert answer.mode == "extractive" and not answer.abstained
    assert answer.answer == plain.answer and answer.quotes == plain.quotes
    assert answer.dropped == ()
    assert len(fake.requests) == requests
    assert logged in caplog.text and "answering extractively" in caplog.text


def test_a_429_is_retried_once_after_its_retry_after(llm_engine, fake: FakeOpenAI):
    engine = llm_engine()
    fake.reply(Reply(status=429, headers={"Retry-After": "1"}), Reply(faithful))
    started = time.monotonic()
    answer = engine.ask("default", QUESTION)
    assert time.monotonic() - started >= 1.0
    assert answer.mode == "llm" and "Oleksii Reznikov [1]" in answer.answer
    assert len(fake.requests) == 2


def test_a_server_slower_than_the_timeout_falls_back_in_time(llm_engine, fake: FakeOpenAI, caplog):
    engine = llm_engine(llm_timeout=0.5)
    fake.reply(Reply(faithful, delay=3))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="index.asking.llm"):
        answer = engine.ask("default", QUESTION)
    assert time.monotonic() - started < 2.5
    assert answer.mode == "extractive" and not answer.abstained and answer.quotes
    assert "no reply within 0.5 s" in caplog.text


def test_an_unreachable_server_falls_back(embedder: Embedder, samples_dir: Path, fake: FakeOpenAI):
    port = fake.httpd.server_address[1]
    fake.httpd.shutdown()
    fake.httpd.server_close()  # nothing listens on the port any more
    settings = EngineSettings(data_dir=samples_dir, llm_base_url=f"http://127.0.0.1:{port}/v1", llm_model="m")
    engine = Engine(settings, embedder)
    try:
        answer = engine.ask("default", QUESTION)
    finally:
        engine.close()
    assert answer.mode == "extractive" and answer.quotes


def test_the_api_key_is_never_logged(llm_engine, fake: FakeOpenAI, caplog):
    engine = llm_engine()
    fake.reply(Reply(status=401), Reply(faithful), Reply(status=429, headers={"Retry-After": "0"}), Reply(status=500))
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            engine.ask("default", QUESTION)
    assert len(fake.requests) == 4
    assert caplog.text and KEY not in caplog.text
    assert KEY not in repr(engine.settings) and KEY not in repr(engine.llm)


def test_without_llm_settings_answers_are_extractive_and_no_request_is_made(extractive, fake: FakeOpenAI):
    assert EngineSettings.from_env({}).llm_base_url == ""
    answer = extractive.ask("default", QUESTION)
    assert extractive.llm is None
    assert answer.mode == "extractive" and answer.dropped == ()
    assert answer.to_json()["mode"] == "extractive" and answer.to_json()["dropped"] == []
    assert fake.requests == []


def test_the_openai_client_is_not_imported_until_a_model_is_asked():
    code = "import sys, index.engine, bot.cli; print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_base_url_without_a_model_is_a_clear_error():
    from index.errors import InvalidInput

    with pytest.raises(InvalidInput, match="BYLINE_LLM_MODEL"):
        EngineSettings.from_env({"BYLINE_LLM_BASE_URL": "http://localhost:11434/v1"})
    settings = EngineSettings.from_env(
        {"BYLINE_LLM_BASE_URL": "http://x/v1", "BYLINE_LLM_MODEL": "m", "BYLINE_LLM_API_KEY": "k"}
    )
    assert (settings.llm_base_url, settings.llm_model, settings.llm_api_key) == ("http://x/v1", "m", "k")


# -- summaries ---------------------------------------------------------------------------------------------
def _article_id(engine: Engine, needle: str) -> int:
    return next(a.id for a in engine.list_articles("default") if needle in engine.article_text("default", a.id))


def summary_reply(request: dict[str, Any]) -> str:
    """Two faithful sentences citing the DART sentences, and one with a made-up number."""
    hit = number_of(request, "26 September 2022")
    orbit = number_of(request, "32 minutes")
    return (
        f"DART struck the asteroid Dimorphos on 26 September 2022 [{hit}]. "
        f"The collision shortened its orbit by 32 minutes [{orbit}]. "
        f"The mission cost 330 million dollars [{hit}]."
    )


def test_a_summary_by_the_model_is_cited_and_verified(llm_engine, fake: FakeOpenAI):
    engine = llm_engine()
    article_id = _article_id(engine, "Dimorphos")
    fake.reply(Reply(summary_reply))
    summary = engine.summarize("default", article_id, sentences=2)
    assert summary.mode == "llm"
    assert summary.summary == (
        "DART struck the asteroid Dimorphos on 26 September 2022 [1]. "
        "The collision shortened its orbit by 32 minutes [2]."
    )
    assert [d.reason for d in summary.dropped] == ["the number 330 is not in the quotes it cites"]
    assert "26 September 2022" in summary.sentences[0].text and "32 minutes" in summary.sentences[1].text
    text = engine.article_text("default", article_id)
    for sentence in summary.sentences:
        assert text[sentence.start : sentence.end] == sentence.text
    request = fake.requests[0]
    assert "at most 2 sentences" in request.user and "NASA's DART spacecraft" in request.user
    payload = summary.to_json()
    assert payload["mode"] == "llm" and payload["summary"] == summary.summary
    assert {"article_id", "title", "url", "sentences", "dropped"} <= set(payload)


def test_a_summary_falls_back_to_extractive_when_the_model_fails(llm_engine, fake: FakeOpenAI, extractive):
    engine = llm_engine()
    article_id = _article_id(engine, "Dimorphos")
    fake.reply(Reply(status=500))
    summary = engine.summarize("default", article_id, sentences=3)
    assert summary.mode == "extractive" and summary.summary is None
    assert summary.sentences == extractive.summarize("default", article_id, sentences=3).sentences


# -- prompts are data --------------------------------------------------------------------------------------
def test_the_prompts_are_files_and_a_prompts_dir_overrides_them(llm_engine, fake: FakeOpenAI, tmp_path: Path):
    for name in ("answer.system", "answer.user", "summary.system", "summary.user"):
        assert (REPO / "prompts" / f"{name}.md").is_file()
    (tmp_path / "answer.system.md").write_text("House style: terse. Refuse with $cannot_answer.\n")
    (tmp_path / "answer.user.md").write_text("Q: $question\n$quotes\n")
    engine = llm_engine(prompts_dir=tmp_path)
    fake.reply(Reply(faithful))
    assert engine.ask("default", QUESTION).mode == "llm"
    assert fake.requests[0].system == "House style: terse. Refuse with CANNOT_ANSWER."
    assert fake.requests[0].user.startswith(f"Q: {QUESTION}\n[1] “")


def test_a_broken_prompt_file_falls_back_with_a_log_line(llm_engine, fake: FakeOpenAI, tmp_path: Path, caplog):
    (tmp_path / "answer.system.md").write_text("Answer $nonsense.\n")
    (tmp_path / "answer.user.md").write_text("$question $quotes\n")
    engine = llm_engine(prompts_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="index.asking.llm"):
        answer = engine.ask("default", QUESTION)
    assert answer.mode == "extractive" and fake.requests == []
    assert "nonsense" in caplog.text


# -- the command line --------------------------------------------------------------------------------------
def test_ask_json_on_the_command_line_shows_mode_and_dropped(samples_dir: Path, fake: FakeOpenAI):
    fake.reply(Reply(faithful_plus("Belarus is a close ally of Moscow.")))
    env = {"BYLINE_LLM_BASE_URL": fake.url, "BYLINE_LLM_MODEL": "fake-model", "BYLINE_LLM_API_KEY": KEY}
    result = run_cli("ask", QUESTION, "--json", "-vv", data_dir=samples_dir, env=env)
    assert result.returncode == 0, result.stderr.decode()
    payload = json.loads(result.stdout)
    assert payload["mode"] == "llm" and not payload["abstained"]
    assert payload["dropped"] == [{"sentence": "Belarus is a close ally of Moscow.", "reason": "cites no quote"}]
    assert payload["answer"].startswith("The defence minister is Oleksii Reznikov [1].")
    assert "Oleksii Reznikov" in payload["quotes"][0]["text"]
    assert KEY.encode() not in result.stderr and KEY.encode() not in result.stdout
    assert fake.requests[0].headers["authorization"] == f"Bearer {KEY}"

    fake.reply(Reply(faithful))
    text = run_cli("ask", QUESTION, data_dir=samples_dir, env=env)
    lines = text.stdout.decode().splitlines()
    assert lines[0].startswith("The defence minister is Oleksii Reznikov [1].")
    assert lines[2].startswith("[1] ") and "Oleksii Reznikov" in lines[3]


# -- the verifier on its own -------------------------------------------------------------------------------
SOURCES = [
    "Ukrainian defense minister Oleksii Reznikov said Tuesday that Russia could prepare an attack from Belarus.",
    "The bridge cost £1,350 million and its towers are 207 metres tall, 3.50 times the old ones.",
]


@pytest.mark.parametrize(
    ("sentence", "cited"),
    [("A [1].", [1]), ("A [1][2].", [1, 2]), ("A [2, 1].", [2, 1]), ("A [1; 2]", [1, 2]), ("A [1-3].", [1, 2, 3])],
)
def test_citation_formats(sentence: str, cited: list[int]):
    assert llm_module.citations(sentence) == cited


def test_numbers_are_compared_normalised():
    assert llm_module.check("It cost 1350 million pounds [2].", SOURCES) is None
    assert llm_module.check("The towers are 3.5 times taller [2].", SOURCES) is None
    assert llm_module.check("The towers are 208 metres tall [2].", SOURCES) == (
        "the number 208 is not in the quotes it cites"
    )
    # a number must be in a quote the sentence cites, not just in any quote
    assert llm_module.check("The towers are 207 metres tall [1].", SOURCES) is not None


def test_names_must_be_in_the_cited_quotes():
    assert llm_module.check("He said Russia's army could come from Belarus [1].", SOURCES) is None
    assert llm_module.check("He said Russia could come from Minsk [1].", SOURCES) == (
        "the name Minsk is not in the quotes it cites"
    )


def test_citations_after_the_full_stop_and_bullets_are_understood():
    verified = llm_module.verify("- Reznikov spoke of Belarus. [1]\n- The bridge cost £1,350 million. [2]", SOURCES)
    assert verified.dropped == ()
    assert verified.text == "Reznikov spoke of Belarus [1].\nThe bridge cost £1,350 million [2]."
    renumbered = llm_module.verify("The towers are 207 metres tall [2]. Reznikov spoke [1].", SOURCES)
    assert renumbered.text == "The towers are 207 metres tall [1]. Reznikov spoke [2]."
    assert renumbered.cited == (1, 0)


def test_too_little_left_is_not_usable():
    half = llm_module.verify("Reznikov spoke [1]. He met Putin [1].", SOURCES)
    assert half.kept == 1 and len(half.dropped) == 1 and half.usable  # at most half dropped: kept
    most = llm_module.verify("Reznikov spoke [1]. He met Putin [1]. He met Lukashenko [1].", SOURCES)
    assert not most.usable
