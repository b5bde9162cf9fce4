"""The prompt templates, as data: prompts/<name>.md filled in with string.Template ($question, $quotes, ...).

Files are read on every use, so an edited prompt takes effect on the next question without a restart."""

from __future__ import annotations

import string
from pathlib import Path

from index.errors import InvalidInput

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"


def render(name: str, directory: Path | None = None, **fields: object) -> str:
    """prompts/<name>.md with its $fields filled in (write $$ for a literal dollar sign)."""
    path = (directory or PROMPTS_DIR) / f"{name}.md"
    try:
        template = string.Template(path.read_text(encoding="utf-8"))
    except OSError:
        raise InvalidInput(f"The prompt file {path} could not be read.") from None
    try:
        return template.substitute({key: str(value) for key, value in fields.items()}).strip()
    except (KeyError, ValueError) as exc:
        raise InvalidInput(f"The prompt file {path} has a placeholder that cannot be filled: {exc}.") from None
