"""The checks every face's input goes through before it reaches a room: one sentence a member can read."""

from __future__ import annotations

import re

from index.errors import InvalidInput

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
