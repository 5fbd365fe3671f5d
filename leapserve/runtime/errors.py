"""Errors of the native runtime.

Loading problems are BundleError (they name the file or node); scoring problems caused by the
input are ScoringError, a ValueError that names the field, what was expected and what came.
"""

from __future__ import annotations

import difflib
from typing import Iterable, Sequence


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
    """Bad input for scoring. ``field`` is the input or column at fault (None when not one field;
    several fields at fault are joined by ", ", as MissingInput does); ``row`` is the row of a
    batch (None for a single record)."""

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
            where.append(naming(self))
        return f"{', '.join(where)}: {self.detail}" if where else self.detail


# Bounds on "did you mean": a request can send many names (or ask for many outputs), and a hint
# must cost far less than reading them. Only this many names get a hint, each compared (difflib)
# with the first HINT_CANDIDATES names of each length within TYPO_LENGTH of its own, and only
# names of at most HINT_LONGEST characters are compared at all (case differences are found by
# lookup among all names).
HINTED_NAMES = 5
HINT_CANDIDATES = 8
TYPO_LENGTH = 2
HINT_LONGEST = 64
# Names listed in a message at most, then how many more.
LISTED_NAMES = 20


def naming(e: ScoringError) -> str:
    """How a message names the field(s) of an error: "field 'a'" or "fields 'a', 'b'" (the first
    LISTED_NAMES, then how many more)."""
    fields = getattr(e, "fields", None) or (e.field,)
    if len(fields) > 1:
        return "fields " + some_of(fields, LISTED_NAMES)
    return f"field {fields[0]!r}"


class NameIndex:
    """Names a client sent or a pipeline knows, indexed in one pass to tell which of them another
    name meant. Only names that could match one of ``targets`` (a length near theirs) are kept, so
    building it costs a length check per name; ``exclude`` are names never suggested."""

    def __init__(self, names: Iterable, targets: Iterable[str] = (), exclude: Iterable[str] = ()):
        excluded = set(exclude)
        lengths = {len(t) + d for t in targets for d in range(-TYPO_LENGTH, TYPO_LENGTH + 1)}
        self._by_lower: dict[str, str] = {}
        self._by_length: dict[int, list[str]] = {}
        for name in names:
            if type(name) is not str or len(name) not in lengths or name in excluded:
                continue
            low = name.lower()
            if low in self._by_lower:
                continue
            self._by_lower[low] = name
            bucket = self._by_length.setdefault(len(low), [])
            if len(bucket) < HINT_CANDIDATES:
                bucket.append(low)

    def meant(self, name: str) -> str | None:
        """The indexed name ``name`` most likely meant: the same but for case, else one a small typo
        away (difflib's ratio of at least 0.8 on lower-cased names, among the first HINT_CANDIDATES
        names of each length within TYPO_LENGTH of its own); None when none is close."""
        low = name.lower()
        same = self._by_lower.get(low)
        if same is not None and same != name:
            return same
        if len(low) > HINT_LONGEST:
            return None
        nearest_lengths = sorted(range(-TYPO_LENGTH, TYPO_LENGTH + 1), key=abs)
        candidates = [c for d in nearest_lengths for c in self._by_length.get(len(low) + d, ()) if c != low]
        close = difflib.get_close_matches(low, candidates, n=1, cutoff=0.8)
        return self._by_lower[close[0]] if close else None


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """The known name that ``name`` most likely meant (see NameIndex.meant); None when none is close."""
    return NameIndex(known, [name], exclude=[name]).meant(name)


def some_of(items: Sequence, shown: int = 5) -> str:
    """A few items of a long list, then how many more: "'a', 'b', 'c' and 17 more"."""
    head = ", ".join(_short_repr(x) for x in items[:shown])
    rest = len(items) - shown
    return f"{head} and {rest} more" if rest > 0 else head


def _short_repr(x) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


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
    """Required inputs absent from a record (or columns absent from a batch). ``missing`` is each
    (field, expected type) in the pipeline's order; ``fields`` names them all and ``field`` joins
    them. ``sent`` are the names the record did hold: one that differs from a missing field only
    by case or a small typo is suggested ("did you mean 'island'?"), unless it is one of ``known``
    (the pipeline's input fields: sent rightly, whatever it resembles). Only the first
    HINTED_NAMES missing fields get a hint."""

    def __init__(self, field: str, expected: str, *, row: int | None = None,
                 missing: Sequence[tuple[str, str]] = (), sent: Iterable[str] = (), known: Iterable[str] = ()):
        missing = list(missing) or [(field, expected)]
        self.fields = tuple(f for f, _ in missing)
        self.expected = expected if len(missing) == 1 else ", ".join(f"{f}: {t}" for f, t in missing)
        self.actual = "nothing"
        hinted = self.fields[:HINTED_NAMES]
        index = NameIndex(sent, hinted, exclude=(*self.fields, *known))
        hints = [f"{guess!r} was sent: did you mean {f!r}?" for f in hinted if (guess := index.meant(f)) is not None]
        if len(missing) == 1:
            message = f"required input is missing (expected {expected})"
        else:
            message = f"{len(missing)} required inputs are missing (expected {self.expected})"
        if hints:
            message += "; " + "; ".join(hints)
        super().__init__(message, field=", ".join(self.fields), row=row)


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
