"""The public CLI contract (`python -m bot ...` in a subprocess): commands, options, JSON keys, exit codes.

Each process loads the model, so one data dir is prepared once for the module (three `add` runs) and the
tests read from it; only the removal test changes it, and only an article no other test relies on."""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLES, run_cli

from index import Engine, EngineSettings
from index.inference.embedding import Embedder

SAMPLE_FILES = ["dart-asteroid-impact.txt", "queensferry-crossing-opening.txt", "tokyo-2020-olympics-close.txt"]
ADD_KEYS = {"id", "title", "url", "published", "chunks", "status"}
ASK_KEYS = {"question", "answer", "abstained", "quotes", "took_ms"}
QUOTE_KEYS = {"text", "article_id", "title", "url", "published", "start", "end", "score", "answer_span"}
SUMMARY_KEYS = {"article_id", "title", "url", "sentences"}
SENTENCE_KEYS = {"text", "start", "end"}
LIST_KEYS = {"id", "title", "url", "published", "added", "chunks"}

SEALS_TITLE = "Harbour seals return to the Thames estuary in record numbers"
# Plain text as most people paste it: one paragraph per line, the headline after some blank lines.
SEALS = (
    f"\n\n   {SEALS_TITLE}\n\n"
    "The annual count of harbour seals in the Thames estuary found 1,016 animals this summer, the highest number "
    "since surveys began in 2003, according to the Zoological Society of London.\n\n"
    "Researchers counted the seals from small aircraft and from boats over three days in August, photographing "
    "the sandbanks between Southend and Margate where the animals haul out at low tide.\n\n"
    "The society said cleaner water and more fish in the estuary were likely reasons for the rise, but warned "
    "that disturbance from jet skis and dogs on the sandbanks was still a problem for pups.\n"
)

ORCHARD_TITLE = "Community orchard takes root in Dunmore"
ORCHARD_URL = "https://example.org/news/2019/07/01/dunmore-orchard"
ORCHARD_PUBLISHED = "2019-07-01"
ORCHARD = (
    "Dunmore volunteers plant fruit trees on old allotments\n\n"
    "Volunteers in Dunmore planted 240 apple trees on the disused allotments behind the parish church over the "
    "weekend, creating the village's first community orchard.\n\n"
    "The trees, a mix of twelve old Scottish varieties, were paid for by a grant of £8,500 from the local "
    "community council and donations from residents.\n\n"
    "Organiser Fiona Baird said the first fruit would be ready to pick in about three years, and that anyone in "
    "the village would be welcome to help with pruning and the harvest.\n"
)
ORCHARD_QUESTION = "How many apple trees were planted in the Dunmore community orchard?"


@dataclass
class Library:
    data_dir: Path
    articles: Path
    added: subprocess.CompletedProcess  # `--json add DIR`
    again: subprocess.CompletedProcess  # `add DIR/dart.txt - --json` (stdin: SEALS)
    orchard: subprocess.CompletedProcess  # `add orchard.txt --collection orchards --title/--url/--published`

    def ids(self) -> dict[str, int]:
        """Sample file name → article id, from the first add."""
        return {name: item["id"] for name, item in zip(SAMPLE_FILES, json.loads(self.added.stdout), strict=True)}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("cli")
    data_dir, articles = root / "data", root / "articles"
    articles.mkdir()
    for name in SAMPLE_FILES:
        shutil.copy(SAMPLES / name, articles / name)
    orchard_file = root / "orchard.txt"
    orchard_file.write_text(ORCHARD, encoding="utf-8")

    added = run_cli("--json", "add", str(articles), data_dir=data_dir)  # a global option before the command
    assert added.returncode == 0, added.stderr.decode()
    again = run_cli("add", str(articles / SAMPLE_FILES[0]), "-", "--json", data_dir=data_dir, stdin=SEALS.encode())
    orchard = run_cli(
        "add",
        str(orchard_file),
        "--collection",
        "orchards",
        "--title",
        ORCHARD_TITLE,
        "--url",
        ORCHARD_URL,
        "--published",
        ORCHARD_PUBLISHED,
        "--json",
        data_dir=data_dir,
    )
    return Library(data_dir, articles, added, again, orchard)


def stdout_json(result: subprocess.CompletedProcess) -> Any:
    """--json output: exit 0 and stdout is one JSON document and nothing else."""
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout.decode("utf-8"))


def article_texts(data_dir: Path) -> dict[int, str]:
    conn = sqlite3.connect(data_dir / "byline.sqlite3")
    try:
        return dict(conn.execute("SELECT id, text FROM articles"))
    finally:
        conn.close()


def first_line(path: Path) -> str:
    return next(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def assert_user_error(result: subprocess.CompletedProcess, *, says: str) -> None:
    """Exit 1, one readable sentence on stderr, and nothing at all on stdout (even with --json)."""
    stderr = result.stderr.decode()
    assert result.returncode == 1, (result.returncode, stderr)
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert errors[0].endswith("."), errors[0]
    assert says.lower() in errors[0].lower(), errors[0]
    assert result.stdout == b"", f"stdout should be empty on a user error, got {result.stdout!r}"


def assert_usage_error(result: subprocess.CompletedProcess) -> None:
    stderr = result.stderr.decode()
    assert result.returncode == 2, (result.returncode, stderr)
    assert "usage:" in stderr and "Traceback" not in stderr, stderr
    assert result.stdout == b""


# -- add --------------------------------------------------------------------------------------------
def test_adding_a_directory_reports_each_article_with_the_contract_keys(library: Library) -> None:
    results = stdout_json(library.added)

    assert isinstance(results, list) and len(results) == len(SAMPLE_FILES)
    for item, name in zip(results, SAMPLE_FILES, strict=True):
        assert set(item) == ADD_KEYS
        assert item["status"] == "added"
        assert item["title"] == first_line(library.articles / name)
        assert item["url"] is None
        assert isinstance(item["chunks"], int) and item["chunks"] >= 1
    assert [r["published"] for r in results] == ["2022-10-12", "2017-09-04", "2021-08-08"]
    assert len({r["id"] for r in results}) == len(results)


def test_adding_a_file_again_is_a_duplicate_and_stdin_takes_its_title_from_the_first_line(
    library: Library,
) -> None:
    duplicate, from_stdin = stdout_json(library.again)

    assert set(duplicate) == ADD_KEYS and set(from_stdin) == ADD_KEYS
    assert duplicate["status"] == "duplicate"
    assert duplicate["id"] == library.ids()[SAMPLE_FILES[0]]
    assert from_stdin["status"] == "added"
    assert from_stdin["title"] == SEALS_TITLE
    assert "1,016 animals" in article_texts(library.data_dir)[from_stdin["id"]]


def test_title_url_and_published_options_are_applied(library: Library) -> None:
    [item] = stdout_json(library.orchard)

    assert set(item) == ADD_KEYS
    assert item["status"] == "added"
    assert (item["title"], item["url"], item["published"]) == (ORCHARD_TITLE, ORCHARD_URL, ORCHARD_PUBLISHED)


# -- ask, summary, list -----------------------------------------------------------------------------
def test_a_member_asks_and_every_quote_is_verbatim_from_the_stored_article(library: Library) -> None:
    bridge = library.ids()["queensferry-crossing-opening.txt"]

    answer = stdout_json(
        run_cli("ask", "How long is the Queensferry Crossing?", "-k", "2", "--json", data_dir=library.data_dir)
    )

    assert ASK_KEYS <= set(answer)
    assert answer["question"] == "How long is the Queensferry Crossing?"
    assert answer["abstained"] is False
    assert isinstance(answer["took_ms"], (int, float)) and answer["took_ms"] >= 0
    assert 1 <= len(answer["quotes"]) <= 2
    texts = article_texts(library.data_dir)
    for quote in answer["quotes"]:
        assert set(quote) == QUOTE_KEYS
        assert quote["text"] == texts[quote["article_id"]][quote["start"] : quote["end"]]
        assert quote["text"] in answer["answer"]
    assert answer["quotes"][0]["article_id"] == bridge
    assert answer["quotes"][0]["title"] == first_line(library.articles / "queensferry-crossing-opening.txt")
    assert any("2.7 kilometres" in q["text"] for q in answer["quotes"]), answer["answer"]
    a, b = answer["quotes"][0]["answer_span"]  # the answer model marks the words that answer
    assert "2.7 kilometres" in answer["quotes"][0]["text"][a:b]


def test_a_summary_is_verbatim_sentences_in_article_order(library: Library) -> None:
    article_id = library.ids()["tokyo-2020-olympics-close.txt"]

    summary = stdout_json(run_cli("summary", str(article_id), "--json", data_dir=library.data_dir))

    assert SUMMARY_KEYS <= set(summary)  # the contract may be extended (mode, summary, dropped), never broken
    assert summary["article_id"] == article_id
    assert summary["title"] == first_line(library.articles / "tokyo-2020-olympics-close.txt")
    sentences = summary["sentences"]
    assert len(sentences) == 3  # the default
    text = article_texts(library.data_dir)[article_id]
    for sentence in sentences:
        assert set(sentence) == SENTENCE_KEYS
        assert sentence["text"] == text[sentence["start"] : sentence["end"]]
    starts = [s["start"] for s in sentences]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(sentences))


def test_list_shows_the_collections_articles_and_data_dir_works_after_the_command(
    library: Library, tmp_path: Path
) -> None:
    # BYLINE_DATA_DIR points at an empty dir; --data-dir (after the command) must win.
    articles = stdout_json(run_cli("list", "--json", "--data-dir", str(library.data_dir), data_dir=tmp_path / "empty"))

    assert all(set(a) == LIST_KEYS for a in articles)
    listed = {a["id"]: a for a in articles}
    for name, article_id in library.ids().items():
        assert listed[article_id]["title"] == first_line(library.articles / name)
        assert listed[article_id]["chunks"] >= 1 and listed[article_id]["added"]
    orchard_id = stdout_json(library.orchard)[0]["id"]
    assert orchard_id not in listed, "an article of collection 'orchards' is listed in 'default'"


# -- collections ------------------------------------------------------------------------------------
def test_an_article_added_to_one_collection_is_not_listed_or_answered_in_another(
    library: Library, embedder: Embedder
) -> None:
    orchard_id = stdout_json(library.orchard)[0]["id"]

    in_orchards = stdout_json(run_cli("--collection", "orchards", "list", "--json", data_dir=library.data_dir))
    in_default = stdout_json(run_cli("ask", ORCHARD_QUESTION, "--json", data_dir=library.data_dir))

    assert [a["id"] for a in in_orchards] == [orchard_id]
    assert all(q["article_id"] != orchard_id for q in in_default["quotes"])
    assert not any("apple" in q["text"] for q in in_default["quotes"]), in_default["answer"]
    # Control: in its own collection the same question is answered from the orchard article.
    engine = Engine(EngineSettings(data_dir=library.data_dir), embedder)
    try:
        answer = engine.ask("orchards", ORCHARD_QUESTION)
    finally:
        engine.close()
    assert not answer.abstained
    assert any("240 apple trees" in q.text and q.article_id == orchard_id for q in answer.quotes), answer.answer


# -- remove -----------------------------------------------------------------------------------------
def test_a_removed_article_is_no_longer_listed_and_its_summary_is_a_user_error(library: Library) -> None:
    seals_id = stdout_json(library.again)[1]["id"]

    removed = run_cli("remove", str(seals_id), data_dir=library.data_dir)
    listed = stdout_json(run_cli("list", "--json", data_dir=library.data_dir))
    summary = run_cli("summary", str(seals_id), "--json", data_dir=library.data_dir)

    assert removed.returncode == 0, removed.stderr.decode()
    assert str(seals_id) in removed.stdout.decode()
    assert seals_id not in {a["id"] for a in listed}
    assert set(library.ids().values()) <= {a["id"] for a in listed}
    assert seals_id not in article_texts(library.data_dir)
    assert_user_error(summary, says=f"no article {seals_id}")


# -- errors -----------------------------------------------------------------------------------------
def test_an_empty_question_is_a_user_error(library: Library) -> None:
    assert_user_error(run_cli("ask", "   ", "--json", data_dir=library.data_dir), says="question")


def test_adding_a_missing_file_is_a_user_error(library: Library, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-article.txt"

    result = run_cli("add", str(missing), "--json", data_dir=library.data_dir)

    assert_user_error(result, says="no-such-article.txt")


@pytest.mark.parametrize(
    "args",
    [("frobnicate",), ("--json", "summary", "seven")],
    ids=["unknown command", "non-integer article id"],
)
def test_a_usage_error_exits_2_with_usage_on_stderr(library: Library, args: tuple[str, ...]) -> None:
    assert_usage_error(run_cli(*args, data_dir=library.data_dir))
