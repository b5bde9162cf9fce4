"""`python -m bot run` without a Discord token: the terminal chat that `make run` opens."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli


def test_the_chat_ingests_the_samples_on_an_empty_data_dir_and_answers(tmp_path: Path):
    lines = "\n".join(
        [
            "who is Ukraine's defence minister?",
            "/list",
            "/summary 1 2",
            "/summary nine",
            "/topic Belarus",
            "/digest 3",
            "what is the capital of Peru?",
            "/nonsense",
            "/quit",
        ]
    )
    out = run_cli("run", data_dir=tmp_path / "data", stdin=lines.encode())
    assert out.returncode == 0, out.stderr.decode()
    text = out.stdout.decode()
    assert "adding the sample articles" in text
    assert "6 articles in collection 'default'" in text
    assert "Oleksii Reznikov" in text
    assert "Usage: /summary ID" in text
    assert "Belarus:\n“" in text, "the topic summary quotes the Belarus article"
    assert "Digest " in text and "6 articles" in text, "the samples were all added today"
    assert "The articles don't say." in text
    assert "Unknown command /nonsense" in text


def test_the_chat_does_not_re_ingest_a_data_dir_that_has_articles(tmp_path: Path):
    data = tmp_path / "data"
    run_cli("run", data_dir=data, stdin=b"/quit\n")
    again = run_cli("run", data_dir=data, stdin=b"/list\n")
    assert again.returncode == 0
    assert "adding the sample articles" not in again.stdout.decode()
    assert again.stdout.decode().count("#") >= 6
