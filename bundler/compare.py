"""Comparing Spark's answers with the native runtime's, row by row (export verification and tests).

Tolerances are the project's parity rule: indices, labels and class predictions exactly; doubles
within 1e-9 absolute or relative (NaN equals NaN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

TOLERANCE = 1e-9


def spark_value(v):
    """A value from a collected Spark Row as plain Python: vectors become lists or SparseVectors."""
    from pyspark.ml.linalg import DenseVector, SparseVector as SparkSparse

    from leapserve.runtime.vectors import SparseVector

    if isinstance(v, DenseVector):
        return [float(x) for x in v.toArray()]
    if isinstance(v, SparkSparse):
        return SparseVector(int(v.size), [int(i) for i in v.indices], [float(x) for x in v.values])
    if isinstance(v, (list, tuple)):
        return [spark_value(x) for x in v]
    return v


def record_from_row(row, columns) -> dict:
    """A runtime input record from a Spark Row (only the given columns)."""
    d = row.asDict()
    return {c: spark_value(d[c]) for c in columns if c in d}


def as_dense(v) -> list[float] | None:
    from leapserve.runtime.vectors import SparseVector

    if v is None:
        return None
    if isinstance(v, SparseVector):
        return v.to_list()
    if isinstance(v, np.ndarray):
        return v.astype(float).tolist()
    return [float(x) for x in v]


def _close(a: float, b: float, tol: float) -> tuple[bool, float]:
    if a is None or b is None:
        return a is None and b is None, 0.0 if a is None and b is None else math.inf
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b), 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    if a == b:
        return True, 0.0
    diff = abs(a - b)
    rel = diff / max(abs(a), abs(b))
    return diff <= tol or rel <= tol, min(diff, rel)


@dataclass
class Difference:
    """How one value of the runtime compares with Spark's."""

    equal: bool
    magnitude: float = 0.0  # largest absolute-or-relative difference seen
    detail: str = ""


def compare(expected, actual, *, exact: bool = False, tol: float = TOLERANCE) -> Difference:
    """Compare Spark's value (expected) with the runtime's (actual)."""
    from leapserve.runtime.vectors import SparseVector

    if isinstance(expected, list) and any(isinstance(x, (list, SparseVector, np.ndarray)) for x in expected):
        # an array of vectors (e.g. Spark's LSH hashes): element by element
        a = list(actual) if actual is not None else None
        if a is None or len(a) != len(expected):
            return Difference(False, math.inf, f"expected {len(expected)} elements, got {actual!r}")
        worst = 0.0
        for i, (x, y) in enumerate(zip(expected, a)):
            d = compare(x, y, exact=exact, tol=tol)
            worst = max(worst, d.magnitude)
            if not d.equal:
                return Difference(False, worst, f"element {i}: {d.detail}")
        return Difference(True, worst)
    if isinstance(expected, (list, SparseVector, np.ndarray)) and not _is_text_list(expected):
        e, a = as_dense(expected), as_dense(actual) if actual is not None else None
        if a is None or len(e) != len(a):
            return Difference(False, math.inf, f"expected vector of size {len(e)}, got {actual!r}")
        worst = 0.0
        for i, (x, y) in enumerate(zip(e, a)):
            if exact:
                ok = x == y or (x != x and y != y)  # NaN equals NaN
                mag = 0.0 if ok else math.inf
            else:
                ok, mag = _close(x, y, tol)
            worst = max(worst, mag)
            if not ok:
                return Difference(False, worst, f"element {i}: expected {x!r}, got {y!r}")
        return Difference(True, worst)
    if isinstance(expected, (list, tuple)):
        a = list(actual) if actual is not None else None
        return Difference(list(expected) == a, 0.0 if list(expected) == a else math.inf,
                          "" if list(expected) == a else f"expected {expected!r}, got {actual!r}")
    if isinstance(expected, float) or isinstance(actual, (float, np.floating)):
        if exact:
            ok = (expected == actual) or (expected is not None and actual is not None
                                          and math.isnan(float(expected)) and math.isnan(float(actual)))
            return Difference(ok, 0.0 if ok else math.inf, "" if ok else f"expected {expected!r}, got {actual!r}")
        ok, mag = _close(expected, actual, tol)
        return Difference(ok, mag, "" if ok else f"expected {expected!r}, got {actual!r}")
    if isinstance(actual, np.generic):
        actual = actual.item()
    ok = expected == actual
    return Difference(ok, 0.0 if ok else math.inf, "" if ok else f"expected {expected!r}, got {actual!r}")


def _is_text_list(v) -> bool:
    """A list of strings (nulls allowed), compared as a whole rather than as numbers."""
    return isinstance(v, list) and bool(v) and all(x is None or isinstance(x, str) for x in v)


@dataclass
class RowReport:
    rows: int = 0
    compared_values: int = 0
    max_difference: float = 0.0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches
