"""How the commands report a failure: one line on stderr, ``leapserve COMMAND: error: MESSAGE``
(argparse's own usage errors have the same form), and the exit codes they share; ``--debug`` adds
the Python traceback (and, on the training side, the Java stack trace)."""

from __future__ import annotations

import sys
import traceback
from contextlib import contextmanager

# Exit codes shared by the commands (each command's --help lists the ones it uses).
OK = 0
FAILURE = 1      # what was asked for failed: a refused record, a bundle that cannot serve, NOT_SERVING
USAGE = 2        # the command line, a LEAPSERVE_* variable or an input file is wrong (argparse's code)
UNREACHABLE = 3  # no answer from the server at the address tried


class CommandError(Exception):
    """A user's mistake the command finds itself (bad paths, unreadable data): one line, exit 1."""

    def __init__(self, message: str, java_trace: str | None = None):
        super().__init__(message)
        self.java_trace = java_trace


class UsageError(CommandError):
    """A mistake in what the command was given that it finds itself (a path that does not exist, a
    malformed LEAPSERVE_* limit): one line, exit 2, as argparse's usage errors."""


def missing_path(text: str, flag: str | None = None) -> str | None:
    """"[FLAG ]PATH: no such file or directory" when the path (or the file a jar:file:/file: URI
    names) does not exist, else None. The one rule of every command: a given path that does not
    exist is a usage error (exit 2); one that exists but cannot serve or be read is a failure (1)."""
    import os
    from urllib.parse import unquote, urlparse

    local = text
    if local.startswith("jar:"):
        local = local[len("jar:"):].split("!", 1)[0]
    if local.startswith("file:"):
        local = unquote(urlparse(local).path)
    elif "://" in local:  # hdfs://, s3a://: only Spark can say
        return None
    if os.path.exists(os.path.expanduser(local)):
        return None
    return f"{flag + ' ' if flag else ''}{text}: no such file or directory"


def error_line(command: str | None, message: str) -> str:
    """The one line every command prints for an error."""
    return f"leapserve {command}: error: {message}" if command else f"leapserve: error: {message}"


def print_error(command: str, message: str) -> None:
    print(error_line(command, one_line(message)), file=sys.stderr)


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


def unexpected_failure(command: str, error: BaseException, debug: bool) -> int:
    """A failure no command foresaw: its type and message in one line, the traceback with --debug."""
    if debug:
        traceback.print_exception(error)
    print(error_line(command, f"unexpected failure: {one_line(f'{type(error).__name__}: {error}')} "
                              f"(run with --debug for the full trace)"), file=sys.stderr)
    return FAILURE


def report_failure(command: str, error: BaseException, debug: bool, note: str = "") -> int:
    """Print why ``leapserve <command>`` failed, in one line on stderr, and return exit code 1 (2
    for a UsageError).
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
    print(error_line(command, message), file=sys.stderr)
    return USAGE if isinstance(error, UsageError) else FAILURE

