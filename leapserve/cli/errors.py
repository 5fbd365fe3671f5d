"""How the training side's commands (export, score) report a failure: one line on stderr, exit
code 1; ``--debug`` adds the Python traceback and the Java stack trace."""

from __future__ import annotations

import sys
import traceback
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
        raise CommandError(f"{flag} {e}", e.java_trace) from e


def one_line(text: str, limit: int = 600) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def report_failure(command: str, error: BaseException, debug: bool, note: str = "") -> int:
    """Print why ``leapserve <command>`` failed, in one line on stderr, and return exit code 1.
    The training side's errors and the command's own say what is wrong as they are (``note``
    appended); anything else is unexpected: its type or Java cause, the details behind --debug."""
    from leapserve.bundler.errors import BundlerError, spark_failure

    if debug:
        traceback.print_exc()
        if getattr(error, "java_trace", None):
            print(error.java_trace, file=sys.stderr)
    if isinstance(error, (BundlerError, CommandError)):
        message = one_line(str(error) + note)
    else:
        detail = spark_failure(error) or f"{type(error).__name__}: {error}"
        message = f"unexpected failure: {one_line(detail)} (run with --debug for the full trace)"
    print(f"leapserve {command}: error: {message}", file=sys.stderr)
    return 1
