"""Sentences, the article's own boundaries, and chunk windows that the model never truncates."""

from __future__ import annotations

from itertools import pairwise

from index import Engine
from index.articles import chunking
from tests.conftest import SAMPLES


def test_sentences_are_verbatim_spans_and_abbreviations_do_not_split_them():
    text = "DART hit Dimorphos at 7:14 p.m. EDT. on Monday. Mr. Smith of the U.S. agency said so! Then it ended."
    spans = chunking.split_sentences(text, chunking.Span(0, len(text)))
    sentences = [text[s.start : s.end] for s in spans]
    assert sentences[-2:] == ["Mr. Smith of the U.S. agency said so!", "Then it ended."]
    assert all(sentence == sentence.strip() for sentence in sentences)


def test_the_headline_list_at_the_end_of_the_sample_is_not_body():
    text = (SAMPLES / "ukraine-belarus.txt").read_text(encoding="utf-8")
    page = chunking.layout(text, first_line_is_title=True)
    assert page.title is None  # the first line is prose, not a headline
    assert text[: page.body_end].rstrip().endswith("refute rumors that Gerasimov was fired.")
    assert all(s.end <= page.body_end for s in page.sentences)


def test_title_date_line_and_page_furniture_are_recognised():
    text = (SAMPLES / "queensferry-crossing-opening.txt").read_text(encoding="utf-8")
    page = chunking.layout(text, first_line_is_title=True)
    assert page.title and page.title.startswith("Queensferry Crossing")
    assert page.published == "2017-09-04"
    body = text[: page.body_end]
    assert "Related stories" not in body and "newsletter" not in body.lower()


def test_dates_in_common_news_spellings():
    assert chunking.parse_date("2021-12-25") == "2021-12-25"
    assert chunking.parse_date("25 December 2021") == "2021-12-25"
    assert chunking.parse_date("December 25th, 2021") == "2021-12-25"
    assert chunking.parse_date("2023-03-14T09:30:00Z") == "2023-03-14"
    assert chunking.parse_date("last Tuesday") is None


def test_windows_overlap_by_one_sentence_and_respect_the_budget():
    counts = [30, 40, 20, 50, 10, 60, 25]
    windows = chunking.windows(counts, 100)
    covered = set()
    for first, last in windows:
        assert sum(counts[first : last + 1]) <= 100
        covered.update(range(first, last + 1))
    assert covered == set(range(len(counts)))
    for (_, last), (first, _) in pairwise(windows):
        assert first in (last, last + 1)
    assert any(first == last_prev for (_, last_prev), (first, _) in pairwise(windows))


def test_a_sentence_longer_than_the_model_window_is_split_not_truncated(engine: Engine):
    run_on = " ".join(f"item{n} and" for n in range(400)) + " the end."
    result = engine.add_text("default", "A list without full stops\n" + run_on)
    state = engine.search_index("default")
    assert len(state.vectors) == result.chunks > 1
    rows = [text for _, text in engine.store.chunk_texts("default")]
    counts = engine.embedder.count_tokens(rows)
    assert max(counts) + 2 <= engine.embedder.max_tokens  # +2 for [CLS] and [SEP]


def test_no_sample_chunk_is_truncated_by_the_model(sample_engine: Engine):
    rows = [text for _, text in sample_engine.store.chunk_texts("default")]
    counts = sample_engine.embedder.count_tokens(rows)
    assert rows and max(counts) + 2 <= sample_engine.embedder.max_tokens
