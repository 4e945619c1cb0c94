"""Exception types whose messages a user can act on; the CLI prints them on one line."""


class TweetlingError(Exception):
    """Base class: anything raised as this is shown to the user without a traceback."""


class InputError(TweetlingError):
    """Malformed input: the message names the file, the record or line and the field."""

    def __init__(self, where: str, problem: str):
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


class SourceError(TweetlingError):
    """A network source failed: unknown or private account, bad token, unreachable host."""


class ReplyError(SourceError):
    """A server reply of the wrong shape: the message names the host and path, the record and the field."""

    def __init__(self, where: str, problem: str):
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


class StoreBusyError(TweetlingError):
    """Another process held the store's write lock for longer than the busy timeout."""


class InsufficientDataError(TweetlingError):
    """Too little kept text to train on."""


def one_line(error: BaseException) -> str:
    """ERROR's message on one line; a file the machine refused (an OSError) names the file, cut
    short when it is too long to read, and why."""
    if isinstance(error, OSError):
        name = str(error.filename or "")
        where = f"{name if len(name) <= 200 else name[:100] + '…'}: " if name else ""
        return f"{where}{error.strerror or error}"
    return " ".join(str(error).split())
