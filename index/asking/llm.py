"""Optional LLM writing over verified quotes: the chat client and the verifier.

The engine retrieves and numbers the quotes as in extractive mode; the model (any OpenAI-compatible chat
server) writes an answer citing them as [n]; `verify` keeps only the sentences whose citations are real
and whose numbers and names appear in the quotes they cite. Anything that goes wrong with the server
(timeout, HTTP error, rate limit, a reply that is not a chat completion) is an `LLMUnavailable`, which the
engine turns into the extractive answer and a log line, never an error for the user.

`openai` is imported on first use, so faces that never call a model do not pay for it."""

from __future__ import annotations

import email.utils
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.articles import chunking
from index.asking import prompts
from index.errors import InvalidInput
from index.models import Dropped

if TYPE_CHECKING:
    from openai import OpenAI

log = logging.getLogger(__name__)

# What the prompts tell the model to reply, alone, when the quotes do not answer the question.
CANNOT_ANSWER = "CANNOT_ANSWER"
# Longest Retry-After we honour (once) after a 429; longer, or past the timeout budget, means fall back.
MAX_RETRY_WAIT = 10.0


class LLMUnavailable(Exception):
    """The model could not be used for this request; str() says why (never with the API key)."""


@dataclass(frozen=True)
class Verified:
    """The model's reply after verification.

    `text` holds the kept sentences with citations renumbered: [1] is sources[cited[0]], [2] is
    sources[cited[1]], ... (numbered in order of first citation)."""

    text: str
    cited: tuple[int, ...]  # 0-based indexes into the sources given to `verify`
    kept: int
    dropped: tuple[Dropped, ...]
    refused: bool = False

    @property
    def usable(self) -> bool:
        """At least one sentence survived and no more were dropped than kept: a reply that mostly failed
        verification is not trusted for the rest either."""
        return not self.refused and self.kept >= 1 and len(self.dropped) <= self.kept


class ChatModel:
    """One OpenAI-compatible chat endpoint. Thread-safe; the client is created on first use."""

    def __init__(self, base_url: str, api_key: str, model: str, timeout: float, max_tokens: int) -> None:
        self.base_url = base_url
        self.model = model
        self.timeout = timeout
        self.max_tokens = max_tokens
        self._api_key = api_key
        self._client: OpenAI | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # the key stays out of reprs, hence out of logs and tracebacks
        return f"ChatModel(base_url={self.base_url!r}, model={self.model!r})"

    def client(self) -> OpenAI:
        with self._lock:
            if self._client is None:
                from openai import OpenAI

                # Local servers need no key, but the client insists on one; retries are ours (one, on 429).
                self._client = OpenAI(
                    base_url=self.base_url, api_key=self._api_key or "unused", timeout=self.timeout, max_retries=0
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def complete(self, system: str, user: str) -> str:
        """The assistant's reply text. Raises LLMUnavailable on any failure. A 429 is retried once, after
        its Retry-After (default 1 s), if that wait is at most MAX_RETRY_WAIT and fits in the timeout."""
        import openai

        client = self.client()
        deadline = time.monotonic() + self.timeout
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        for attempt in (1, 2):
            try:
                response = client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    max_tokens=self.max_tokens,
                    temperature=0,
                    timeout=max(deadline - time.monotonic(), 0.1),
                )
            except openai.RateLimitError as exc:
                wait = retry_after(exc.response.headers)
                if attempt == 2 or wait > MAX_RETRY_WAIT or time.monotonic() + wait >= deadline:
                    raise LLMUnavailable("the server is rate limiting (HTTP 429)") from None
                log.info("LLM server rate limited (HTTP 429); retrying once in %.1f s", wait)
                time.sleep(wait)
                continue
            except openai.APITimeoutError:
                raise LLMUnavailable(f"no reply within {self.timeout:g} s") from None
            except openai.APIStatusError as exc:  # the body may echo request details: log the status only
                raise LLMUnavailable(f"the server answered HTTP {exc.status_code}") from None
            except openai.APIConnectionError:
                raise LLMUnavailable("could not connect to the server") from None
            except Exception as exc:  # a body that is not JSON, or not a chat completion
                raise LLMUnavailable(f"unusable response ({type(exc).__name__})") from None
            return reply_text(response)
        raise AssertionError("unreachable")


def reply_text(response: Any) -> str:
    """The assistant's text from a chat completion, or LLMUnavailable if the response is not one."""
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, KeyError, TypeError):
        raise LLMUnavailable("unusable response (not a chat completion)") from None
    if not isinstance(content, str) or not content.strip():
        raise LLMUnavailable("unusable response (no text)")
    return content.strip()


def retry_after(headers: Mapping[str, str]) -> float:
    """Seconds to wait from Retry-After (seconds or an HTTP date) or retry-after-ms; 1 s if absent."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(float(raw_ms) / 1000, 0.0)
        except ValueError:
            pass
    raw = (headers.get("retry-after") or "").strip()
    if not raw:
        return 1.0
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return 1.0
    return max(when.timestamp() - time.time(), 0.0)


def numbered(items: Sequence[str]) -> str:
    """The numbered block the prompts show the model: one "[n] item" per line."""
    return "\n".join(f"[{n}] {item}" for n, item in enumerate(items, start=1))


# -- verification ---------------------------------------------------------------------------------------
# [3], [1, 2], [1; 2], [1-3]; several in a row ([1][2]) are read one by one. At most 4 digits: a
# 5,000-digit "citation" would otherwise make int() raise.
_CITATION = re.compile(r"\[\s*(\d{1,4}(?:\s*[,;\-–]\s*\d{1,4})*)\s*\]")
_CITATION_RUN = re.compile(rf"{_CITATION.pattern}(?:\s*{_CITATION.pattern})*")
_LEADING_CITATIONS = re.compile(rf"^\s*{_CITATION_RUN.pattern}")
_CITATION_AFTER_STOP = re.compile(rf"([.!?])\s*({_CITATION_RUN.pattern})$")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:,\d{3})*(?:\.\d+)?")
_CAPITALISED = re.compile(r"(?<![\w'’-])[A-Z][\w]*(?:['’-]\w+)*")
_FIRST_WORD = re.compile(r"^[\W_]*[\w'’-]+")
# Capitalised words that are not names: they start clauses, quotations and titles mid-sentence.
_NOT_NAMES = frozenset(
    """i i'm i've i'd i'll a an the this that these those it its he she we they you his her their our my your
    him them us in on at of to by for from with as and but or nor so yet if when while after before since
    until during according however also then there here what which who whom whose where why how all some
    no not yes mr mrs ms dr prof sir st""".split()
)
_SENTINEL = re.compile(rf"\b{CANNOT_ANSWER.replace('_', '[_ ]')}\b")
_REFUSAL = re.compile(
    r"\b(?:cannot|can't|can ?not|unable to|not able to)\b[^.]*\b(?:answer|tell|determine|say|find|know)\b"
    r"|\b(?:do|does|did)(?:n't|n’t| not)\s+(?:say|mention|contain|provide|include|state|specify|answer|cover)\b"
    r"|\bno (?:information|mention)\b|\bnot enough information\b",
    re.IGNORECASE,
)


def sentences(reply: str) -> list[tuple[int, str]]:
    """The reply's sentences with the number of the line each is on. Lines are split apart (bullets
    stripped), then into sentences; a citation after the full stop ("... minister. [1]") stays with the
    sentence before it."""
    out: list[tuple[int, str]] = []
    for line_no, raw_line in enumerate(reply.splitlines()):
        line = _BULLET.sub("", raw_line).strip()
        if not line:
            continue
        for span in chunking.split_sentences(line, chunking.Span(0, len(line)), glue_stubs=False):
            piece = line[span.start : span.end].strip()
            lead = _LEADING_CITATIONS.match(piece)
            if lead and out:
                out[-1] = (out[-1][0], f"{out[-1][1]} {lead.group().strip()}")
                piece = piece[lead.end() :].strip()
            if re.search(r"\w", _CITATION.sub("", piece)):
                out.append((line_no, piece))
    return out


def citations(sentence: str) -> list[int]:
    """The quote numbers a sentence cites, in order, each once."""
    found: list[int] = []
    for match in _CITATION.finditer(sentence):
        for part in re.split(r"\s*[,;]\s*", match.group(1)):
            bounds = [int(b) for b in re.split(r"\s*[-–]\s*", part)]
            if len(bounds) == 2 and 0 <= bounds[1] - bounds[0] < 20:
                bounds = list(range(bounds[0], bounds[1] + 1))
            found.extend(n for n in bounds if n not in found)
    return found


def _normal_number(token: str) -> str:
    token = token.replace(",", "")
    whole, dot, fraction = token.partition(".")
    whole = whole.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}" if dot and fraction else whole


def numbers(text: str) -> dict[str, str]:
    """Numbers written in digits, normalised (1,234 → 1234; 3.50 → 3.5) → as written."""
    return {_normal_number(m.group()): m.group() for m in _NUMBER.finditer(text)}


def names(text: str) -> list[str]:
    """Capitalised words after the sentence's first word that are not common clause openers: proper names,
    as far as a rule can tell. Possessives are trimmed (Ukraine's → Ukraine); hyphenated parts are separate."""
    first = _FIRST_WORD.match(text)
    start = first.end() if first else 0
    found: list[str] = []
    for match in _CAPITALISED.finditer(text, start):
        for part in match.group().split("-"):
            part = re.sub(r"['’]s$", "", part)
            if len(part) > 1 and part[0].isupper() and part.lower() not in _NOT_NAMES and part not in found:
                found.append(part)
    return found


def _contains_word(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None


def check(sentence: str, sources: Sequence[str]) -> str | None:
    """Why the sentence fails verification against the numbered sources, or None if it passes."""
    cited = citations(sentence)
    unknown = [n for n in cited if not 1 <= n <= len(sources)]
    if unknown:
        which = ", ".join(f"[{n}]" for n in unknown)
        return f"cites {which}, which {'is not a provided quote' if len(unknown) == 1 else 'are not provided quotes'}"
    if not cited:
        return "cites no quote"
    body = _CITATION.sub(" ", sentence)
    support = "\n".join(sources[n - 1] for n in cited)
    have = numbers(support)
    for normal, written in numbers(body).items():
        if normal not in have:
            return f"the number {written} is not in the quotes it cites"
    for name in names(body):
        if not _contains_word(support, name):
            return f"the name {name} is not in the quotes it cites"
    return None


def is_refusal(reply: str) -> bool:
    """The model said it cannot answer: the CANNOT_ANSWER sentinel anywhere, or a reply that cites nothing
    and reads like a refusal ("The quotes do not say ...")."""
    if _SENTINEL.search(reply):
        return True
    return not _CITATION.search(reply) and _REFUSAL.search(reply) is not None


def verify(reply: str, sources: Sequence[str]) -> Verified:
    """Keep the sentences that pass `check`; renumber their citations in order of first use."""
    if is_refusal(reply):
        return Verified("", (), 0, (), refused=True)
    kept: list[tuple[int, str, list[int]]] = []
    dropped: list[Dropped] = []
    for line_no, sentence in sentences(reply):
        reason = check(sentence, sources)
        if reason is None:
            kept.append((line_no, sentence, citations(sentence)))
        else:
            dropped.append(Dropped(sentence, reason))
    order: dict[int, int] = {}
    for _, _, cited in kept:
        for n in cited:
            order.setdefault(n, len(order) + 1)

    def renumber(match: re.Match[str]) -> str:
        return "".join(f"[{order[n]}]" for n in citations(match.group()))

    lines: dict[int, list[str]] = {}
    for line_no, sentence, _ in kept:
        sentence = _CITATION_AFTER_STOP.sub(r" \2\1", sentence)  # "said so. [1]" → "said so [1]."
        sentence = _CITATION_RUN.sub(renumber, sentence)
        sentence = re.sub(r"\](?=\w)", "] ", sentence)  # "[1]Next" → "[1] Next"
        lines.setdefault(line_no, []).append(sentence)
    text = "\n".join(" ".join(line) for line in lines.values())
    return Verified(text, tuple(n - 1 for n in order), len(kept), tuple(dropped))


def write(
    model: ChatModel, task: str, sources: Sequence[str], prompts_dir: Path | None, **fields: object
) -> Verified | None:
    """Have the model write `task` ("answer" or "summary": prompts/<task>.system.md and .user.md, filled
    with `fields`) and verify the reply against the numbered `sources`. None, with a warning logged, when
    the model could not be used; the caller then answers extractively."""
    try:
        system = prompts.render(f"{task}.system", prompts_dir, cannot_answer=CANNOT_ANSWER, **fields)
        user = prompts.render(f"{task}.user", prompts_dir, cannot_answer=CANNOT_ANSWER, **fields)
        reply = model.complete(system, user)
    except (LLMUnavailable, InvalidInput) as exc:
        log.warning("LLM %s unavailable, answering extractively: %s", task, exc)
        return None
    try:
        verified = verify(reply, sources)
    except Exception:  # a verifier bug must not become the user's error: log it in full, answer extractively
        log.exception("LLM %s could not be verified, answering extractively", task)
        return None
    if verified.refused:
        log.info("LLM %s: the model said the sources do not answer", task)
    elif not verified.usable:
        log.warning(
            "LLM %s failed verification (%d of %d sentences dropped), answering extractively",
            task,
            len(verified.dropped),
            len(verified.dropped) + verified.kept,
        )
    return verified
