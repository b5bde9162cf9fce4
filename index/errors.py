"""Domain errors, and the checks every face's input goes through before it reaches a room. Each error
carries one sentence a Discord member or a CLI user can read; faces translate them into exit codes or
ephemeral replies at the edge and never show a traceback."""

from __future__ import annotations

import re


class BylineError(Exception):
    """A problem the user can fix; str(error) is the sentence shown to them."""


class InvalidInput(BylineError):
    """The article, question or option given cannot be used (empty, binary, too large, ...)."""


class NotFound(BylineError):
    """No such article in this collection."""


class FetchError(BylineError):
    """A URL could not be fetched, or fetching it was refused for safety. `reason` is a short code for
    machines and moderators' lists, set where the error is raised: "bad link", "refused address",
    "unreachable", "too slow", "too large", "wrong type", "redirects" or "http" (then `status` is the
    HTTP status the server answered). `retry_after` is the seconds the server asked us to wait."""

    def __init__(
        self, message: str, *, reason: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class ModelMismatch(BylineError):
    """The stored vectors were made by another embedding model than the configured one."""


def human_size(size: int) -> str:
    """Bytes as people read them in an error message: 812 bytes, 97.7 kB, 5.2 MB."""
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"


# -- input checks ------------------------------------------------------------------------------------
_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_collection(name: str) -> str:
    if not _COLLECTION_NAME.match(name or ""):
        raise InvalidInput(
            "A collection name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit."
        )
    return name


def check_question(question: str, max_chars: int) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise InvalidInput("Ask a question: the text was empty.")
    if len(question) > max_chars:
        raise InvalidInput(f"That question is {len(question):,} characters; please keep it under {max_chars:,}.")
    return question
