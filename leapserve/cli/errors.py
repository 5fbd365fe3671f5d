"""How the training side's commands (export, score) report a failure: one line on stderr, exit
code 1; ``--debug`` adds the Python traceback and the Java stack trace."""

from __future__ import annotations

from contextlib import contextmanager


class CommandError(Exception):
    """A user's mistake the command finds itself (bad paths, unreadable data): one line, exit 1."""

    def __init__(self, message: str, java_trace: str | None = None):
        super().__init__(message)
        self.java_trace = java_trace


@contextmanager
def argument(flag: str):
    """The training side's errors about one argument's value, prefixed with its flag: the library
    says `rows.csv: no such file or directory`, the command `--input rows.csv: no such ...`."""
    from leapserve.bundler.errors import BundlerError

    try:
        yield
    except BundlerError as e:
        raise CommandError(f"{flag} {e}", getattr(e, "java_trace", None)) from e


def one_line(text: str, limit: int = 600) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
