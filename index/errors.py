"""Domain errors. Each carries one sentence a Discord member or a CLI user can read; faces translate
them into exit codes or ephemeral replies at the edge and never show a traceback."""


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
