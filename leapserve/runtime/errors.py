"""Errors of the native runtime.

Loading problems are BundleError (they name the file or node); scoring problems caused by the
input are ScoringError, a ValueError that names the field, what was expected and what came.
"""

from __future__ import annotations


class RuntimeErrorBase(Exception):
    """Base of every error the runtime raises on purpose."""


class BundleError(RuntimeErrorBase):
    """A bundle that cannot be loaded: malformed files, bad attributes, broken trees."""

    def __init__(self, message: str, *, path: str | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class UnsupportedOpError(BundleError):
    """The bundle uses an op the runtime does not implement."""

    def __init__(self, op: str, node: str, path: str):
        self.op = op
        self.node = node
        super().__init__(f"op {op!r} of node {node!r} is not supported by the leapserve runtime", path=path)


class ScoringError(RuntimeErrorBase, ValueError):
    """Bad input for scoring. ``field`` is the input or column at fault (None when not one field);
    ``row`` is the row of a batch (None for a single record)."""

    def __init__(self, message: str, *, field: str | None = None, row: int | None = None):
        super().__init__(message)
        self.detail = message
        self.field = field
        self.row = row

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.detail}" if where else self.detail


class InvalidInput(ScoringError):
    """A value of the wrong type, size or content: says what was expected and what came."""

    def __init__(self, field: str | None, expected: str, actual: str, *, row: int | None = None):
        self.expected = expected
        self.actual = actual
        super().__init__(f"expected {expected}, got {actual}", field=field, row=row)


class TimeLimitExceeded(InvalidInput):
    """A value an op gave up on after its time budget (a bundle's regex on this text). Unlike other
    bad input it ends the whole request: scoring the remaining rows one by one to find the other
    bad ones could cost the budget again for each row."""


class MissingInput(ScoringError):
    def __init__(self, field: str, expected: str, *, row: int | None = None):
        self.expected = expected
        self.actual = "nothing"
        super().__init__(f"required input is missing (expected {expected})", field=field, row=row)


class RowSkipped(ScoringError):
    """The row would be dropped by Spark (handle_invalid "skip"): there is no output for it."""

    def __init__(self, field: str, reason: str, *, row: int | None = None):
        self.reason = reason
        super().__init__(f"row dropped by handle_invalid='skip': {reason}", field=field, row=row)


def describe(value) -> str:
    """A short description of a value for error messages: its type and, when small, the value."""
    if value is None:
        return "null"
    kind = type(value).__name__
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind} {text}"
