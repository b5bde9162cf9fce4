"""Text layout: paragraphs, sentences (pysbd), the article's title/date/boilerplate lines, and chunk windows.

Everything here works on character offsets into the stored article text, so that every quote the
bot shows can be checked as text[start:end]."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pysbd

# A line that ends like prose. Headlines, menus and link lists usually do not.
_PROSE_END = re.compile(r"[.!?:;…\"'”’»)\]]\s*$")
_WORD = re.compile(r"\w+", re.UNICODE)
# Short lines that are page furniture wherever they appear.
_FURNITURE = re.compile(
    r"^\W*(share (this|on)|sign up|subscribe|advertisement|read more|related (stories|articles|content|news)"
    r"|more (stories|from)|follow us|click here|copyright|©|all rights reserved|most (read|popular)"
    r"|you may also like|recommended|trending|newsletter|image (source|caption)|photo:|getty images)",
    re.IGNORECASE,
)
_URL_ONLY = re.compile(r"^\s*(https?://|www\.)\S+\s*$", re.IGNORECASE)
_DATE_LINE = re.compile(
    r"^\s*(?:(?:published|updated|posted|date|dateline)\s*(?:on)?\s*[:\-–—]?\s*)?(?P<date>.{6,40}?)\s*$",
    re.IGNORECASE,
)
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%A, %d %B %Y",
    "%A %d %B %Y",
    "%A, %B %d, %Y",
    "%d/%m/%Y",
    "%Y/%m/%d",
)
# A trailing run of at least this many headline-like lines is treated as page furniture (e.g. "more
# stories" lists); fewer could be a sign-off such as a reporter's name.
TAIL_RUN_MIN = 3
HEADLINE_MAX_WORDS = 25

_local = threading.local()


def _segmenter() -> pysbd.Segmenter:
    # pysbd segmenters keep state per call; one per thread keeps the engine thread-safe.
    seg = getattr(_local, "segmenter", None)
    if seg is None:
        seg = _local.segmenter = pysbd.Segmenter(language="en", clean=False)
    return seg


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    paragraph: int
    quotable: bool  # headings and furniture lines give context to chunks but are never quoted


@dataclass(frozen=True)
class Layout:
    title: str | None  # the first line when it reads like a headline
    published: str | None  # an ISO date found in a date line near the top
    sentences: tuple[Sentence, ...]  # body sentences in order (boilerplate tail excluded)
    body_end: int  # offset where the article proper ends; later text is never chunked or quoted


def line_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Non-empty lines of text[start:end] as spans with surrounding whitespace trimmed."""
    end = len(text) if end is None else end
    spans = []
    for match in re.finditer(r"[^\n]+", text[start:end]):
        line = match.group()
        lead = len(line) - len(line.lstrip())
        trail = len(line) - len(line.rstrip())
        if line.strip():
            spans.append(Span(start + match.start() + lead, start + match.end() - trail))
    return spans


def paragraphs(text: str) -> list[Span]:
    """Paragraph spans. A line is a paragraph (news copy often has one per line), except inside a block
    of hard-wrapped prose (e-mail or Markdown style): a blank-line-separated block whose last line ends
    like prose while most of its other lines do not is one paragraph, newlines and all."""
    out: list[Span] = []
    for block in re.finditer(r"(?:[^\n]*\S[^\n]*(?:\n|$))+", text):
        rows = line_spans(text, block.start(), block.end())
        if len(rows) >= 2:
            ends = [bool(_PROSE_END.search(text[r.start : r.end])) for r in rows]
            if ends[-1] and sum(not e for e in ends[:-1]) * 2 >= len(rows) - 1:
                out.append(Span(rows[0].start, rows[-1].end))
                continue
        out.extend(rows)
    return out


def split_sentences(text: str, span: Span, *, glue_stubs: bool = True) -> list[Span]:
    """Sentences of one paragraph, as trimmed spans located in the original text. With glue_stubs, a
    sentence of two words or fewer is joined to the one before it (pysbd's cuts after abbreviations)."""
    # A wrapped paragraph keeps its newlines in the stored text; the splitter sees spaces (same offsets).
    piece = text[span.start : span.end].replace("\n", " ")
    out: list[Span] = []
    cursor = 0
    for segment in _segmenter().segment(piece):
        body = segment.strip()
        if not body:
            continue
        at = piece.find(body, cursor)
        if at < 0:  # pysbd altered the text: keep the rest of the paragraph as one sentence
            rest = piece[cursor:]
            lead = len(rest) - len(rest.lstrip())
            if rest.strip():
                out.append(Span(span.start + cursor + lead, span.start + len(piece.rstrip())))
            return out
        if glue_stubs and out and len(_WORD.findall(body)) <= 2 and not body[0].isdigit():
            # pysbd sometimes cuts after an abbreviation ("7:14 p.m. | EDT."): glue the stub back on.
            out[-1] = Span(out[-1].start, span.start + at + len(body))
        else:
            out.append(Span(span.start + at, span.start + at + len(body)))
        cursor = at + len(body)
    return out


def parse_date(raw: str) -> str | None:
    """An ISO date (YYYY-MM-DD) from common news date spellings, or None."""
    raw = raw.strip().rstrip(".")
    raw = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", raw)
    candidates = [raw, raw[:10]]
    if "T" in raw:
        candidates.append(raw.split("T", 1)[0])
    for candidate in candidates:
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(candidate, fmt).date().isoformat()
            except ValueError:
                continue
    return None


def is_headline_like(line: str) -> bool:
    words = _WORD.findall(line)
    return 0 < len(words) <= HEADLINE_MAX_WORDS and not _PROSE_END.search(line)


def is_furniture(line: str) -> bool:
    return bool(_URL_ONLY.match(line)) or (len(_WORD.findall(line)) <= 15 and bool(_FURNITURE.match(line)))


def layout(text: str, *, first_line_is_title: bool) -> Layout:
    """Find the title line, a date line, the body's end, and the body sentences."""
    lines = paragraphs(text)
    title = None
    published = None
    first = 0
    if first_line_is_title and lines and is_headline_like(text[lines[0].start : lines[0].end]):
        title = text[lines[0].start : lines[0].end]
        first = 1
    for index in range(first, min(first + 2, len(lines))):
        line = text[lines[index].start : lines[index].end]
        match = _DATE_LINE.match(line)
        found = parse_date(match.group("date")) if match and len(line) <= 60 else None
        if found:
            published = published or found
            first = index + 1

    # Cut a trailing run of headline-like or furniture lines ("more stories", share links, ...).
    last = len(lines)
    run = 0
    while last - run > first:
        line = text[lines[last - run - 1].start : lines[last - run - 1].end]
        if is_headline_like(line) or is_furniture(line):
            run += 1
        else:
            break
    cut = last - run if run >= TAIL_RUN_MIN else last
    # A marker such as "Related stories" opens the tail even when fewer lines follow it.
    for index in range(first, cut):
        line = text[lines[index].start : lines[index].end]
        if is_furniture(line) and all(
            is_headline_like(text[s.start : s.end]) or is_furniture(text[s.start : s.end]) for s in lines[index:cut]
        ):
            cut = index
            break
    while cut > first and is_furniture(text[lines[cut - 1].start : lines[cut - 1].end]):
        cut -= 1
    body_lines = lines[first:cut]
    body_end = body_lines[-1].end if body_lines else (lines[first - 1].end if first else 0)

    sentences: list[Sentence] = []
    for number, line in enumerate(body_lines):
        line_text = text[line.start : line.end]
        if is_furniture(line_text):
            continue
        if is_headline_like(line_text):
            sentences.append(Sentence(line.start, line.end, number, quotable=False))
            continue
        for span in split_sentences(text, line):
            sentences.append(Sentence(span.start, span.end, number, quotable=True))
    return Layout(title=title, published=published, sentences=tuple(sentences), body_end=body_end)


def split_long(text: str, span: Span, tokens: int, budget: int, count: Callable[[str], int]) -> list[Span]:
    """Split an over-long sentence (no punctuation for hundreds of words) at word boundaries so that
    every piece fits the model; halves until each piece fits."""
    if tokens <= budget:
        return [span]
    words = [m for m in re.finditer(r"\S+", text[span.start : span.end])]
    if len(words) < 2:
        return [span]
    middle = words[len(words) // 2]
    left = Span(span.start, span.start + words[len(words) // 2 - 1].end())
    right = Span(span.start + middle.start(), span.end)
    out = []
    for part in (left, right):
        out.extend(split_long(text, part, count(text[part.start : part.end]), budget, count))
    return out


def windows(token_counts: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """Greedy windows of whole sentences (first, last inclusive) within `budget` tokens, each window
    repeating the previous window's last sentence so that no fact is cut at a chunk edge."""
    n = len(token_counts)
    out: list[tuple[int, int]] = []
    first = 0
    while first < n:
        last = first
        total = token_counts[first]
        while last + 1 < n and total + token_counts[last + 1] <= budget:
            last += 1
            total += token_counts[last]
        out.append((first, last))
        if last == n - 1:
            break
        # Overlap by one sentence, unless that sentence cannot share a window with its successor.
        overlap_fits = last > first and token_counts[last] + token_counts[last + 1] <= budget
        first = last if overlap_fits else last + 1
    return out
