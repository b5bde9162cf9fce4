"""Bad input gets one clear sentence (a BylineError, never a traceback) and stores nothing; the bot
carries on working afterwards."""

from __future__ import annotations

import io
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FIXTURES, SAMPLES, assert_verbatim
from pypdf import PdfWriter

from index import BylineError, Engine
from index.errors import InvalidInput

GOOD_ARTICLE = SAMPLES / "queensferry-crossing-opening.txt"
GOOD_QUESTION = "How long is the Queensferry Crossing?"
LATIN_1 = (
    "Le café du village a rouvert ses portes après deux années de travaux, et les habitants sont venus "
    "nombreux pour fêter l'événement avec le maire et les élèves de l'école primaire."
).encode("latin-1")


def assert_one_clear_sentence(error: BaseException) -> None:
    """What a member would read: one short line of prose ending in a full stop, not a traceback or repr."""
    message = str(error)
    assert isinstance(error, BylineError)
    assert message.strip() == message and "\n" not in message
    assert 10 <= len(message) <= 250, message
    assert message.endswith("."), message
    assert "Traceback" not in message and "Error(" not in message and "errno" not in message.lower(), message


def stored_rows(engine: Engine) -> dict[str, int]:
    conn = sqlite3.connect(Path(engine.settings.data_dir) / "byline.sqlite3")
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("articles", "chunks", "sentences")}
    finally:
        conn.close()


def assert_nothing_stored(engine: Engine) -> None:
    assert engine.list_articles("default") == []
    assert stored_rows(engine) == {"articles": 0, "chunks": 0, "sentences": 0}


def blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@dataclass(frozen=True)
class BadInput:
    """One kind of bad article: how to submit it to an engine, and a word the refusal must contain."""

    name: str
    submit: Callable[[Engine, Path], object]
    says: str


def _file(name: str, data: Callable[[Engine], bytes]) -> Callable[[Engine, Path], object]:
    return lambda engine, tmp: engine.add_file("default", write(tmp, name, data(engine)))


def _text(text: Callable[[Engine], str]) -> Callable[[Engine, Path], object]:
    return lambda engine, tmp: engine.add_text("default", text(engine))


def _article_of(n_chars: int) -> str:
    sentence = "The council said the new footbridge over the river would open to walkers and cyclists in May. "
    return (sentence * (n_chars // len(sentence) + 1))[:n_chars]


BAD_INPUTS = [
    BadInput("empty text", _text(lambda e: ""), "no article text"),
    BadInput("whitespace only", _text(lambda e: "  \n\t\n   \n"), "no article text"),
    BadInput("a few words only", _text(lambda e: "Council meets on Tuesday."), "no article text"),
    BadInput(
        "a binary file renamed .txt",
        _file("photo.txt", lambda e: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8),
        "binary",
    ),
    BadInput("invalid UTF-8", _file("cafe.txt", lambda e: LATIN_1[:60] + b"\xff\xfe\xfa" + LATIN_1[60:]), "UTF-8"),
    BadInput(
        "a file over max_article_bytes",
        _file("oversized.txt", lambda e: _article_of(e.settings.max_article_bytes + 1000).encode()),
        "limit",
    ),
    BadInput("text over max_article_chars", _text(lambda e: _article_of(e.settings.max_article_chars + 500)), "limit"),
    BadInput("an unsupported extension", _file("report.docx", lambda e: b"PK\x03\x04" + bytes(200)), "unsupported"),
    BadInput(
        "a page that is only boilerplate",
        _file("section.html", lambda e: (FIXTURES / "boilerplate_only.html").read_bytes()),
        "no article text",
    ),
    BadInput("a PDF with no text", _file("scan.pdf", lambda e: blank_pdf()), "no extractable text"),
    BadInput("a text file named .pdf", _file("notes.pdf", lambda e: _article_of(600).encode()), "not a PDF"),
    BadInput("a damaged PDF", _file("broken.pdf", lambda e: b"%PDF-1.7\n" + b"garbage " * 200), "readable"),
]

# Small limits so the size cases stay small; everything else fits well inside them.
LIMITS = {"max_article_bytes": 12_000, "max_article_chars": 6_000}


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=[b.name for b in BAD_INPUTS])
def test_bad_input_gets_one_clear_sentence_and_stores_nothing(
    make_engine: Callable[..., Engine], tmp_path: Path, bad: BadInput
) -> None:
    engine = make_engine(**LIMITS)

    with pytest.raises(InvalidInput) as refused:
        bad.submit(engine, tmp_path)

    assert_one_clear_sentence(refused.value)
    assert bad.says.lower() in str(refused.value).lower()
    assert_nothing_stored(engine)


def test_a_file_over_the_byte_limit_is_refused_with_the_real_sizes(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    engine = make_engine(max_article_bytes=1000)
    path = write(tmp_path, "oversized.txt", _article_of(2500).encode())

    with pytest.raises(InvalidInput) as refused:
        engine.add_file("default", path)

    message = str(refused.value)
    assert_one_clear_sentence(refused.value)
    assert_nothing_stored(engine)
    # The sentence must tell the reader how big the file is and what the limit is: two different,
    # non-zero figures (not "0.0 MB, over the 0.0 MB limit").
    figures = [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", message)]
    assert len(set(figures)) >= 2 and all(f > 0 for f in figures), f"the sizes are unreadable: {message!r}"


@pytest.mark.parametrize("question", ["", "   \n\t ", "why " * 200], ids=["empty", "blank", "too long"])
def test_an_empty_or_overlong_question_is_refused(engine: Engine, question: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        engine.ask("default", question)

    assert_one_clear_sentence(refused.value)


def test_a_question_at_the_length_limit_is_accepted(engine: Engine) -> None:
    question = ("Who " + "x" * engine.settings.max_question_chars)[: engine.settings.max_question_chars]

    answer = engine.ask("default", question)

    assert answer.abstained and answer.quotes == ()


@pytest.mark.parametrize("name", ["../etc", "", "a b", "/tmp", ".hidden", "x" * 65])
def test_an_invalid_collection_name_is_refused_everywhere(engine: Engine, tmp_path: Path, name: str) -> None:
    calls = [
        lambda: engine.add_file(name, GOOD_ARTICLE),
        lambda: engine.ask(name, GOOD_QUESTION),
        lambda: engine.list_articles(name),
        lambda: engine.remove(name, 1),
        lambda: engine.summarize(name, 1),
    ]
    for call in calls:
        with pytest.raises(InvalidInput) as refused:
            call()
        assert_one_clear_sentence(refused.value)
    assert stored_rows(engine) == {"articles": 0, "chunks": 0, "sentences": 0}
    caches = [p for p in tmp_path.rglob("*") if p.suffix in (".faiss", ".bm25")]
    assert caches == [], f"cache files written for a refused collection: {caches}"


def test_after_every_kind_of_bad_input_a_good_article_still_goes_in_and_is_answered(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    engine = make_engine(**LIMITS)
    for bad in BAD_INPUTS:
        with pytest.raises(BylineError):
            bad.submit(engine, tmp_path)
    for question in ("", "why " * 200):
        with pytest.raises(InvalidInput):
            engine.ask("default", question)
    with pytest.raises(InvalidInput):
        engine.add_file("../etc", GOOD_ARTICLE)
    assert_nothing_stored(engine)

    added = engine.add_file("default", GOOD_ARTICLE)
    answer = engine.ask("default", GOOD_QUESTION)

    assert added.status == "added"
    assert [a.id for a in engine.list_articles("default")] == [added.id]
    assert not answer.abstained
    assert any("2.7 kilometres" in q.text for q in answer.quotes), answer.answer
    assert all(q.article_id == added.id for q in answer.quotes)
    assert_verbatim(engine, "default", answer.quotes)


def test_a_directory_with_good_and_bad_files_adds_the_good_ones_and_reports_the_bad_ones(
    make_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    engine = make_engine(**LIMITS)
    folder = tmp_path / "drop"
    folder.mkdir()
    good = write(folder, "bridge.txt", GOOD_ARTICLE.read_bytes())
    write(folder, "photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)  # fails extraction
    write(folder, "long.txt", _article_of(LIMITS["max_article_chars"] + 500).encode())  # fails when added
    errors: list[tuple[str, BylineError]] = []

    docs = engine.documents(str(folder), errors)
    results = engine.add_documents("default", docs, errors=errors)

    assert [(r.status, r.title) for r in results] == [
        ("added", "Queensferry Crossing formally opened by the Queen over the Firth of Forth")
    ]
    assert [a.id for a in engine.list_articles("default")] == [results[0].id]
    reported = sorted(Path(source).name for source, _ in errors)
    assert reported == ["long.txt", "photo.txt"]
    for _, error in errors:
        assert_one_clear_sentence(error)
    assert good.name not in reported
    assert engine.article_text("default", results[0].id).startswith("Queensferry Crossing formally opened")


HARD_WRAPPED = """Dunmore volunteers plant fruit trees on old allotments

Volunteers in Dunmore planted 240 apple trees on the disused allotments
behind the parish church over the weekend, creating the village's first
community orchard.

The trees, a mix of twelve old Scottish varieties, were paid for by a
grant of £8,500 from the local community council and donations from
residents.

Organiser Fiona Baird said the first fruit would be ready to pick in
about three years, and that anyone in the village would be welcome to
help with pruning and the harvest.
"""


def test_a_hard_wrapped_plain_text_article_is_quoted_in_whole_sentences(engine: Engine) -> None:
    # Text pasted from an email or a Markdown file often breaks lines inside a paragraph. A line break
    # is not a sentence break: the answer must quote the whole sentence that holds the fact.
    added = engine.add_text("default", HARD_WRAPPED)

    answer = engine.ask("default", "How many apple trees were planted in the Dunmore community orchard?")

    assert added.title == "Dunmore volunteers plant fruit trees on old allotments"
    assert not answer.abstained
    assert_verbatim(engine, "default", answer.quotes)
    best = answer.quotes[0].text
    assert "240 apple trees" in best, f"the quote lost the fact: {best!r}"
    assert best.startswith("Volunteers in Dunmore") and best.endswith("community orchard."), best
