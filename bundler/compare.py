"""Comparing Spark's answers with the native runtime's, row by row (export verification and tests).

Tolerances are the project's parity rule: the columns Spark's schema says are discrete (integer,
string and boolean types; doubles and vectors whose ML attributes are nominal or binary, such as a
classifier's prediction or a string indexer's index) exactly; other doubles within 1e-12 of the
larger of the two values (relative, so a probability near zero is held to its own digits), NaN
equal to NaN, an infinity only to itself. The few ops whose arithmetic legitimately differs from
the JVM's say so in OP_TOLERANCES, with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

RELATIVE = 1e-12


@dataclass(frozen=True)
class Tolerance:
    """How far a double of the runtime may be from the oracle's: within ``relative`` times the
    larger magnitude of the two (of the whole vector's largest element when ``vector_scale``), or
    within ``ulps`` units in the last place of it, or within ``absolute``; ``reason`` says why an
    op needs more than the default."""

    relative: float = RELATIVE
    ulps: int = 0
    absolute: float = 0.0
    vector_scale: bool = False
    reason: str = ""


TOLERANCE = Tolerance()

# Ops held to more than TOLERANCE, each with the reason (keyed by op name; a column takes the
# tolerance of the op that writes it: column_tolerances).
OP_TOLERANCES: dict[str, Tolerance] = {
    # Spark's DCT is JTransforms' FFT, the runtime's an O(n^2) matrix product: the two round
    # differently, and an element that cancels to about zero (1e-17 against the vector's 1.0) keeps
    # only the rounding of the vector's scale (3.5 ulps of the largest element at most in the
    # parity tests). So 1e-12 relative to the vector's largest element, not to the element itself.
    "dct": Tolerance(vector_scale=True,
                     reason="JTransforms' FFT against a matrix product: elements near zero differ in the "
                            "last bits of the vector's largest element"),
}


def column_tolerances(pipeline) -> dict:
    """Output column -> the Tolerance of the op writing it (OP_TOLERANCES, else TOLERANCE)."""
    return {col: OP_TOLERANCES.get(st.op, TOLERANCE) for st in pipeline.stages for _, col, _ in st.outputs}


_DISCRETE_TYPES = ("int", "bigint", "smallint", "tinyint", "string", "boolean", "array<string>")


def spark_discrete_columns(schema) -> frozenset:
    """The columns of a Spark DataFrame schema that hold discrete values: integer, string and
    boolean types, and doubles or vectors whose ML attributes (Spark's ``ml_attr`` metadata) are all
    nominal or binary (class predictions, indices, one-hot vectors)."""
    found = set()
    for f in schema.fields:
        kind = f.dataType.simpleString()
        if kind in _DISCRETE_TYPES:
            found.add(f.name)
            continue
        attr = (f.metadata or {}).get("ml_attr")
        if not attr:
            continue
        if kind in ("double", "float") and attr.get("type") in ("nominal", "binary"):
            found.add(f.name)
        elif kind == "vector" and attr.get("attrs") and set(attr["attrs"]) <= {"nominal", "binary"}:
            found.add(f.name)
    return frozenset(found)


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


def _close(a: float, b: float, tol: Tolerance, scale: float = 0.0) -> tuple[bool, float]:
    """(within tol, the difference: absolute under an absolute tolerance, else relative to the
    scale); ``scale``: the vector's largest magnitude when tol.vector_scale."""
    if a is None or b is None:
        return a is None and b is None, 0.0 if a is None and b is None else math.inf
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b), 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    if a == b:
        return True, 0.0
    if math.isinf(a) or math.isinf(b):
        return False, math.inf
    diff = abs(a - b)
    scale = max(abs(a), abs(b), scale if tol.vector_scale else 0.0)
    ok = diff <= tol.relative * scale or diff <= tol.ulps * math.ulp(scale) or diff <= tol.absolute
    return ok, diff if tol.absolute else diff / scale


def _vector_scale(values: list) -> float:
    return max((abs(x) for x in values if x is not None and math.isfinite(x)), default=0.0)


@dataclass
class Difference:
    """How one value of the runtime compares with Spark's."""

    equal: bool
    magnitude: float = 0.0  # largest difference seen (relative; absolute under an absolute tolerance)
    detail: str = ""


def compare(expected, actual, *, exact: bool = False, tol: Tolerance = TOLERANCE) -> Difference:
    """Compare Spark's value (expected) with the runtime's (actual): exactly (NaN equal to NaN)
    when ``exact``, else doubles within ``tol``."""
    from leapserve.runtime.vectors import SparseVector

    if not isinstance(tol, Tolerance):
        raise TypeError(f"tol must be a Tolerance, not {tol!r}")

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
        scale = max(_vector_scale(e), _vector_scale(a)) if tol.vector_scale else 0.0
        for i, (x, y) in enumerate(zip(e, a)):
            if exact:
                ok = x == y or (x != x and y != y)  # NaN equals NaN
                mag = 0.0 if ok else math.inf
            else:
                ok, mag = _close(x, y, tol, scale)
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
