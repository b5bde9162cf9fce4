"""Domain errors. Each carries one sentence a Discord member or a CLI user can read; faces translate
them into exit codes or ephemeral replies at the edge and never show a traceback."""


class BylineError(Exception):
    """A problem the user can fix; str(error) is the sentence shown to them."""


class InvalidInput(BylineError):
    """The article, question or option given cannot be used (empty, binary, too large, ...)."""


class NotFound(BylineError):
    """No such article in this collection."""


class FetchError(BylineError):
    """A URL could not be fetched, or fetching it was refused for safety."""


class ModelMismatch(BylineError):
    """The stored vectors were made by another embedding model than the configured one."""
