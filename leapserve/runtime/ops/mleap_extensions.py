"""MLeap's extension ops: math_unary, math_binary, string_map.

They have no Spark counterpart, so the math is MLeap's (mleap-core MathUnaryModel,
MathBinaryModel, StringMapModel), computed with the JVM's rules rather than Python's:

* math_unary: log, exp, sqrt, sin, cos, tan, abs as java.lang.Math (no exceptions: log(0) is
  -Infinity, sqrt(-1) and sin(Infinity) are NaN, exp overflows to Infinity); logit as Commons
  Math's Logit on [0, 1] (log(x / (1 - x)); a value outside [0, 1] is an error); floor and ceil
  keep the sign of zero; round is Math.round (ties toward +Infinity, NaN -> 0, clamped to the
  long range) returned as a double.
* math_binary: add, sub, mul, div (IEEE: x / 0 is +-Infinity or NaN), rem (Java's %, the sign of
  the dividend: fmod), log_n = log(a) / log(b), pow (Math.pow: pow(x, NaN) and pow(+-1, +-Inf)
  are NaN), min and max (NaN wins; -0.0 is below 0.0). An input port the node does not wire takes
  the constant ``da`` / ``db``.
* string_map: label -> value; an unknown label (or null) is an error, or ``default_value`` with
  handle_invalid "keep".

Inputs are non-nullable doubles (a null is an error), except string_map's string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import BundleError, InvalidInput, some_of
from ..jvm.jmath import (exp_batch, java_ceil, java_cos, java_div, java_exp, java_floor, java_log, java_max,
                         java_min, java_pow, java_rem, java_round, java_sin, java_sqrt, java_tan, max_batch,
                         min_batch, pow_batch, round_batch)
from ..model import OpModel, read_handle_invalid
from ..registry import op
from ..types import DOUBLE, STRING, FieldType

NON_NULL_DOUBLE = FieldType("scalar", "double", nullable=False)


# --- math_unary --------------------------------------------------------------------------------

def logit(x: float) -> float:
    """Commons Math Logit (lo 0, hi 1): log((x - 0) / (1 - x)), refusing x outside [0, 1]."""
    if x < 0.0 or x > 1.0:
        raise InvalidInput("input", "a value in [0, 1] (logit)", repr(x))
    return java_log(java_div(x - 0.0, 1.0 - x))


UNARY: dict[str, Callable[[float], float]] = {
    "log": java_log, "exp": java_exp, "sqrt": java_sqrt,
    "sin": java_sin, "cos": java_cos, "tan": java_tan,
    "abs": abs, "logit": logit, "floor": java_floor, "ceil": java_ceil, "round": java_round,
}


def _logit_batch(x: np.ndarray) -> np.ndarray:
    bad = (x < 0.0) | (x > 1.0)
    if bad.any():
        r = int(np.argmax(bad))
        raise InvalidInput("input", "a value in [0, 1] (logit)", repr(float(x[r])), row=r)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x / (1.0 - x))


# exp from the row path's libm: numpy's own exp rounds some results a unit in the last place away
# from it and from MLeap's JVM (e.g. exp(30.794079))
UNARY_BATCH: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "log": np.log, "exp": exp_batch, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "abs": np.abs, "logit": _logit_batch, "floor": np.floor, "ceil": np.ceil, "round": round_batch,
}


def _null(port: str, row: int | None = None) -> InvalidInput:
    return InvalidInput(port, "double (nulls are not accepted)", "null", row=row)


@dataclass(frozen=True)
class MathUnaryModel(OpModel):
    operation: str

    op_name = "math_unary"

    def input_ports(self):
        return [("input", NON_NULL_DOUBLE)]

    def output_ports(self):
        return [("output", DOUBLE)]

    def row_fn(self, outputs):
        fn = UNARY[self.operation]

        def run(x):
            if x is None:
                raise _null("input")
            return (fn(x),)
        return run

    def batch_fn(self, outputs):
        fn = UNARY_BATCH[self.operation]

        def run(ctx, x):
            with np.errstate(all="ignore"):
                return (np.asarray(fn(np.asarray(x, dtype=np.float64)), dtype=np.float64),)
        return run


@op("math_unary", family="feature")
def load_math_unary(node) -> MathUnaryModel:
    """MathUnary (MLeap extension): one java.lang.Math function of a double."""
    operation = node.attrs.string("operation")
    if operation not in UNARY:
        raise BundleError(f"attribute 'operation' must be one of {sorted(UNARY)}, found {operation!r}",
                          path=node.attrs.where)
    return MathUnaryModel(operation)


# --- math_binary -------------------------------------------------------------------------------

BINARY: dict[str, Callable[[float, float], float]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": java_div,
    "rem": java_rem,
    "log_n": lambda a, b: java_div(java_log(a), java_log(b)),
    "pow": java_pow,
    "min": java_min,
    "max": java_max,
}

BINARY_BATCH: dict[str, Callable] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "rem": np.fmod, "log_n": lambda a, b: np.log(a) / np.log(b), "pow": pow_batch,
    "min": min_batch, "max": max_batch,
}


@dataclass(frozen=True)
class MathBinaryModel(OpModel):
    operation: str
    has_a: bool  # input_a is wired (else the constant da)
    has_b: bool
    da: float | None
    db: float | None

    op_name = "math_binary"

    def input_ports(self):
        return ([("input_a", NON_NULL_DOUBLE)] if self.has_a else []) + \
               ([("input_b", NON_NULL_DOUBLE)] if self.has_b else [])

    def output_ports(self):
        return [("output", DOUBLE)]

    def row_fn(self, outputs):
        fn, da, db = BINARY[self.operation], self.da, self.db
        if self.has_a and self.has_b:
            def run(a, b):
                if a is None or b is None:
                    raise _null("input_a" if a is None else "input_b")
                return (fn(a, b),)
        elif self.has_a:
            def run(a):
                if a is None:
                    raise _null("input_a")
                return (fn(a, db),)
        elif self.has_b:
            def run(b):
                if b is None:
                    raise _null("input_b")
                return (fn(da, b),)
        else:
            value = fn(da, db)

            def run():
                return (value,)
        return run

    def batch_fn(self, outputs):
        fn, da, db = BINARY_BATCH[self.operation], self.da, self.db
        has_a, has_b = self.has_a, self.has_b

        def run(ctx, *columns):
            cols = list(columns)
            a = np.asarray(cols.pop(0), dtype=np.float64) if has_a else np.full(ctx.n, da)
            b = np.asarray(cols.pop(0), dtype=np.float64) if has_b else np.full(ctx.n, db)
            with np.errstate(all="ignore"):
                return (np.asarray(fn(a, b), dtype=np.float64),)
        return run


@op("math_binary", family="feature")
def load_math_binary(node) -> MathBinaryModel:
    """MathBinary (MLeap extension): a java.lang.Math operation of two doubles (or constants)."""
    attrs = node.attrs
    operation = attrs.string("operation")
    if operation not in BINARY:
        raise BundleError(f"attribute 'operation' must be one of {sorted(BINARY)}, found {operation!r}",
                          path=attrs.where)
    da = attrs.double("da", None)
    db = attrs.double("db", None)
    wired = {s.port for s in node.inputs}
    has_a, has_b = "input_a" in wired, "input_b" in wired
    for port, has, default in (("input_a", has_a, "da"), ("input_b", has_b, "db")):
        if not has and attrs.double(default, None) is None:
            raise BundleError(f"node {node.name!r} wires no {port!r} and has no default {default!r}",
                              path=node.where())
    return MathBinaryModel(operation, has_a, has_b, da, db)


# --- string_map --------------------------------------------------------------------------------

@dataclass(frozen=True)
class StringMapModel(OpModel):
    labels: dict = field(compare=False)
    keep_invalid: bool
    default_value: float

    op_name = "string_map"

    def input_ports(self):
        return [("input", STRING)]

    def output_ports(self):
        return [("output", DOUBLE)]

    def known_labels(self) -> str:
        """What an error expects: the labels the map knows, a few of them then their count."""
        return f"one of the {len(self.labels)} known labels (handle_invalid is 'error'): {some_of(list(self.labels))}"

    def map_label(self, label) -> float:
        value = self.labels.get(label) if label is not None else None
        if value is None:
            if self.keep_invalid:
                return self.default_value
            raise InvalidInput("input", self.known_labels(), "null" if label is None else f"unknown label {label!r}")
        return value

    def row_fn(self, outputs):
        map_label = self.map_label
        return lambda label: (map_label(label),)

    def batch_fn(self, outputs):
        get, keep, default = self.labels.get, self.keep_invalid, self.default_value

        def run(ctx, col):
            items = col.tolist() if isinstance(col, np.ndarray) else list(col)
            out = np.empty(len(items), dtype=np.float64)
            for r, label in enumerate(items):
                value = get(label) if label is not None else None
                if value is None:
                    if not keep:
                        raise InvalidInput("input", self.known_labels(),
                                           "null" if label is None else f"unknown label {label!r}", row=r)
                    value = default
                out[r] = value
            return (out,)
        return run


@op("string_map", family="feature")
def load_string_map(node) -> StringMapModel:
    """StringMap (MLeap extension): a label -> double lookup with an optional default."""
    attrs = node.attrs
    labels = attrs.string_list("labels")
    values = attrs.double_list("values")
    if len(labels) != len(values):
        raise BundleError(f"'labels' has {len(labels)} entries but 'values' {len(values)}", path=attrs.where)
    handle_invalid = read_handle_invalid(node, ("error", "keep"))
    default = attrs.double("default_value", 0.0)
    return StringMapModel(dict(zip(labels, values)), handle_invalid == "keep", default)
