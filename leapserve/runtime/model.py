"""What every op provides, and the shared classification logic.

An op module has a loader, registered with ``@op(name, family=...)``, that reads a node's
attributes and returns an immutable ``OpModel``. The model says which ports it reads and which it
can write, and builds two functions for a given set of wanted outputs:

* ``row_fn(outputs)`` -> ``f(*inputs) -> tuple`` for one record. Inputs are the internal row values
  (float, str, list of floats for a dense vector, SparseVector, list of str; None for null) in
  the order of ``input_ports()``; the tuple holds the wanted outputs in the order asked for.
* ``batch_fn(outputs)`` -> ``f(ctx, *columns) -> tuple`` for many records. Columns are numpy arrays
  (float64 for numbers, object arrays for strings and lists, 2-D arrays or SparseBatch for
  vectors). Numeric and vector columns never hold nulls on this path (rows with a null there go
  through the row path); string and list columns may hold None.

Errors caused by the input raise ScoringError subclasses whose ``field`` is the port name; the
plan renames it to the column. Row functions raise RowSkipped for rows Spark would drop; batch
functions call ``ctx.skip(mask, port, reason)`` instead and fill those rows with harmless values.
"""

from __future__ import annotations

import math
import sys
from typing import Callable, Sequence

import numpy as np

from .container import Limits, limits
from .errors import BundleError, InvalidInput
from .jvm.jmath import div_by_zero, seq_dot, seq_sparse_dot
from .types import DOUBLE, FieldType, vector
from .vectors import SparseBatch, SparseVector, argmax, argmax_rows, nonfinite_rows


# --- the text ops' caches ----------------------------------------------------------------------
# Stop words, HashingTF and FeatureHasher remember what they computed for each string (tokens
# repeat a lot). Each cache holds at most TEXT_CACHE_ENTRIES strings and
# LEAPSERVE_MAX_TEXT_CACHE_BYTES bytes (Python's size of the string, plus CACHE_ENTRY_BYTES for
# its slot and value); a string costing more than 1/64 of that is computed every time, never kept.
# When a cache is full it starts afresh.

TEXT_CACHE_ENTRIES = 1 << 16
CACHE_ENTRY_BYTES = 100


def bundle_limits(node) -> Limits:
    """The limits of the bundle ``node`` comes from (those in force when it has none)."""
    lim = getattr(getattr(node, "source", None), "limits", None)
    return lim if isinstance(lim, Limits) else limits()


def text_cache_bytes(node) -> int:
    """The byte budget of one text cache of ``node``'s op."""
    return bundle_limits(node).max_text_cache_bytes


def cache_cost(key) -> int:
    """What keeping ``key`` in a text cache costs, in bytes."""
    return sys.getsizeof(key) + CACHE_ENTRY_BYTES


class TextCache:
    """key -> value, remembered within the budget above. Readers look up ``values`` themselves (one
    dict lookup on the hot path) and ``keep`` what they computed on a miss; a full cache starts
    afresh with a new dict, so that readers holding the old one stay consistent."""

    __slots__ = ("values", "max_bytes", "bytes")

    def __init__(self, max_bytes: int):
        self.values: dict = {}
        self.max_bytes = max_bytes
        self.bytes = 0

    def keep(self, key, value):
        """Remember ``value`` for ``key`` (unless the key alone costs over 1/64 of the budget); returns ``value``."""
        cost = cache_cost(key)
        if cost > self.max_bytes >> 6:
            return value
        if len(self.values) >= TEXT_CACHE_ENTRIES or self.bytes + cost > self.max_bytes:
            self.values = {}
            self.bytes = 0
        self.values[key] = value
        self.bytes += cost
        return value


def frozen(values, dtype=np.float64) -> np.ndarray:
    """A read-only numpy copy, so models stay immutable once loaded."""
    arr = np.array(values, dtype=dtype)
    arr.flags.writeable = False
    return arr


def check_vector(port: str, x, size: int) -> None:
    """A row's vector has the model's width; Spark's UDFs fail on a null or another size."""
    if type(x) is list and len(x) == size:  # the common case: a dense row of the right size
        return
    if x is None:
        raise InvalidInput(port, f"vector of size {size} (nulls are not accepted)", "null")
    n = x.size if isinstance(x, SparseVector) else len(x)
    if n != size:
        raise InvalidInput(port, f"vector of size {size}", f"vector of size {n}")


def check_batch_width(port: str, X, size: int) -> None:
    """A batch column of vectors (2-D array or SparseBatch) has the model's width."""
    if X.shape[1] != size:
        raise InvalidInput(port, f"vectors of size {size}", f"vectors of size {X.shape[1]}")


# --- linear algebra as Spark does it --------------------------------------------------------

def dot(x, coefficients) -> float:
    """Spark's BLAS.dot of a row vector with a dense vector (sparse: active entries only), added
    left to right; for a dense row Spark's ddot adds in another order, not followed here (jmath's
    note on Spark's dot products says why)."""
    if isinstance(x, SparseVector):
        return seq_sparse_dot(x.indices, x.values, coefficients)
    return seq_dot(x, coefficients)


def matmul_t(X, M: np.ndarray) -> np.ndarray:
    """Batch rows times M.T (M is classes x features), with inf * 0 = NaN as in Spark."""
    with np.errstate(invalid="ignore", over="ignore"):
        if isinstance(X, SparseBatch):
            return X.matmul_t(M)  # active entries only, like Spark's sparse gemv
        # BLAS kernels may skip zero entries and so lose inf * 0 = NaN: where an infinity or NaN
        # takes part, multiply every pair
        if not np.isfinite(M).all():
            return _products_summed(X, M)
        out = X @ M.T
        odd = nonfinite_rows(X)
        if odd is not None:
            out[odd] = _products_summed(X[odd], M)
        return out


def _products_summed(X: np.ndarray, M: np.ndarray) -> np.ndarray:
    out = np.empty((X.shape[0], M.shape[0]))
    for k, row in enumerate(M):
        out[:, k] = (X * row).sum(axis=1)
    return out


def dot_rows(X, w: np.ndarray) -> np.ndarray:
    """Each batch row dotted with w."""
    if isinstance(X, SparseBatch):
        with np.errstate(invalid="ignore", over="ignore"):
            return X.dot(w)  # active entries only; one bincount instead of matmul_t's add.at
    return matmul_t(X, w.reshape(1, -1))[:, 0]


class BatchContext:
    """Per-call state of the batch path: the row count and the rows dropped by "skip"."""

    __slots__ = ("n", "skipped", "reasons")

    def __init__(self, n: int):
        self.n = n
        self.skipped = np.zeros(n, dtype=bool)
        self.reasons: list[tuple[np.ndarray, str, str]] = []

    def skip(self, mask: np.ndarray, field: str, reason: str) -> None:
        if mask.any():
            self.skipped |= mask
            self.reasons.append((mask, field, reason))


class OpModel:
    """Base of the immutable op models (subclasses are frozen dataclasses)."""

    op_name = ""
    # Output ports whose values are discrete (indices, labels, class predictions), as
    # the runtime's own declaration (the parity tests take discreteness from Spark's schema).
    discrete_outputs: frozenset = frozenset()
    # Output ports that may write the very column the stage reads (Spark's VectorSizeHint replaces
    # its input column by itself, checked).
    in_place_outputs: frozenset = frozenset()

    def input_ports(self) -> list[tuple[str, FieldType]]:
        raise NotImplementedError

    def output_ports(self) -> list[tuple[str, FieldType]]:
        """Every port the op can write, in the order the op computes them."""
        raise NotImplementedError

    def row_fn(self, outputs: Sequence[str]) -> Callable:
        raise NotImplementedError

    def batch_fn(self, outputs: Sequence[str]) -> Callable:
        raise NotImplementedError

    def null_probe_inputs(self, port: str) -> dict:
        """Values for the ports other than ``port`` with which the op scores a row, when the plan
        tries a null at ``port`` to learn whether the op takes it (ports left out get zeros or
        empty text); ops that refuse such plain values give their own."""
        return {}


def require_ports(node, ports: Sequence[str]) -> None:
    """Fail at load time, naming the node, if a port the op reads is not wired."""
    have = {s.port for s in getattr(node, "inputs", ())}
    missing = [p for p in ports if p not in have]
    if missing:
        raise BundleError(f"node {getattr(node, 'name', '?')!r} lacks input port(s) {missing} "
                          f"needed by op {node.op!r}", path=node.where())


HANDLE_INVALID = ("error", "skip", "keep")


def read_handle_invalid(node, allowed=HANDLE_INVALID, default: str = "error") -> str:
    """The ``handle_invalid`` attribute (MLeap and Spark write it in lower case)."""
    value = node.attrs.string("handle_invalid", default)
    mode = (value or default).lower()
    if mode not in allowed:
        raise BundleError(f"attribute 'handle_invalid' must be one of {list(allowed)} for op "
                          f"{node.op!r}, found {value!r}", path=node.attrs.where)
    return mode


def check_size(port: str, v, size: int) -> None:
    n = v.size if hasattr(v, "indices") else len(v)
    if n != size:
        raise InvalidInput(port, f"vector of size {size}", f"vector of size {n}")


# --- classification ------------------------------------------------------------------------

class ProbabilisticClassifier(OpModel):
    """Spark's ProbabilisticClassificationModel: which outputs exist decides the code path.

    Subclasses implement ``predict_raw`` / ``raw_to_probability`` (row: lists of floats) and
    ``predict_raw_batch`` / ``raw_to_probability_batch`` (batch: 2-D arrays), plus ``num_classes``,
    ``num_features`` and ``thresholds`` (None when unset). They override ``predict`` and friends
    where Spark's model does (e.g. binary logistic regression with its single threshold).

    As in Spark's transform: raw_prediction comes from predict_raw; probability from the raw
    column when it exists, else predict_probability; prediction from raw_to_prediction when the
    raw column exists, else probability_to_prediction when the probability column exists, else
    predict.
    """

    supports_probability = True
    discrete_outputs = frozenset({"prediction"})

    def input_ports(self):
        return [("features", vector(self.num_features))]

    def output_ports(self):
        k = self.num_classes
        ports = [("raw_prediction", vector(k))]
        if self.supports_probability:
            ports.append(("probability", vector(k)))
        ports.append(("prediction", DOUBLE))
        return ports

    # Spark's default math; subclasses override as their Spark model does.
    def predict_probability(self, x):
        return self.raw_to_probability(self.predict_raw(x))

    def probability_to_prediction(self, p) -> float:
        t = self.thresholds
        if t is None:
            return float(argmax(p))
        # Spark: the first largest p_i / t_i, starting from -Inf, with IEEE division (p / 0 is
        # +Inf, but 0 / 0 is NaN and never chosen).
        best_i, best = 0, -math.inf
        for i, (pi, ti) in enumerate(zip(p, t)):
            scaled = pi / ti if ti != 0.0 else div_by_zero(pi, ti)
            if scaled > best:
                best_i, best = i, scaled
        return float(best_i)

    def raw_to_prediction(self, raw) -> float:
        if self.thresholds is None:
            return float(argmax(raw))
        return self.probability_to_prediction(self.raw_to_probability(raw))

    def predict(self, x) -> float:
        return self.raw_to_prediction(self.predict_raw(x))

    def predict_raw_positive(self, x) -> float:
        """rawPrediction[1] of a binary classifier: what one-vs-rest ranks its classifiers by."""
        return self.predict_raw(x)[1]

    def predict_probability_batch(self, X):
        return self.raw_to_probability_batch(self.predict_raw_batch(X))

    def probability_to_prediction_batch(self, P: np.ndarray) -> np.ndarray:
        t = self.thresholds
        if t is None:
            return argmax_rows(P).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = P / np.asarray(t, dtype=np.float64)
        out = np.zeros(scaled.shape[0], dtype=np.float64)
        best = np.full(scaled.shape[0], -np.inf)
        for j in range(scaled.shape[1]):
            better = scaled[:, j] > best
            out[better] = j
            best[better] = scaled[better, j]
        return out

    def raw_to_prediction_batch(self, R: np.ndarray) -> np.ndarray:
        if self.thresholds is None:
            return argmax_rows(R).astype(np.float64)
        return self.probability_to_prediction_batch(self.raw_to_probability_batch(R))

    def predict_batch(self, X) -> np.ndarray:
        return self.raw_to_prediction_batch(self.predict_raw_batch(X))

    def row_fn(self, outputs):
        # `outputs` is a subsequence of (raw_prediction, probability, prediction): the plan keeps
        # the order of output_ports().
        has_raw, has_prob, has_pred = ("raw_prediction" in outputs, "probability" in outputs,
                                       "prediction" in outputs)
        size = self.num_features
        predict_raw, raw_to_probability = self.predict_raw, self.raw_to_probability
        raw_to_prediction, probability_to_prediction = self.raw_to_prediction, self.probability_to_prediction
        predict_probability, predict = self.predict_probability, self.predict

        if has_raw and has_prob and has_pred:
            def run_all(x):
                check_vector("features", x, size)
                raw = predict_raw(x)
                return raw, raw_to_probability(raw), raw_to_prediction(raw)
            return run_all
        if has_raw:
            def run(x):
                check_vector("features", x, size)
                raw = predict_raw(x)
                out = [raw]
                if has_prob:
                    out.append(raw_to_probability(raw))
                if has_pred:
                    out.append(raw_to_prediction(raw))
                return tuple(out)
        elif has_prob:
            def run(x):
                check_vector("features", x, size)
                prob = predict_probability(x)
                return (prob, probability_to_prediction(prob)) if has_pred else (prob,)
        else:
            def run(x):
                check_vector("features", x, size)
                return (predict(x),)
        return run

    def batch_fn(self, outputs):
        has_raw, has_prob, has_pred = ("raw_prediction" in outputs, "probability" in outputs,
                                       "prediction" in outputs)
        order = list(outputs)
        size = self.num_features

        def run(ctx, X):
            check_batch_width("features", X, size)
            values = {}
            if has_raw:
                raw = self.predict_raw_batch(X)
                values["raw_prediction"] = raw
                if has_prob:
                    values["probability"] = self.raw_to_probability_batch(raw)
                if has_pred:
                    values["prediction"] = self.raw_to_prediction_batch(raw)
            elif has_prob:
                prob = self.predict_probability_batch(X)
                values["probability"] = prob
                if has_pred:
                    values["prediction"] = self.probability_to_prediction_batch(prob)
            elif has_pred:
                values["prediction"] = self.predict_batch(X)
            return tuple(values[o] for o in order)
        return run


def read_thresholds(node, num_classes: int):
    """The optional ``thresholds`` attribute, checked against the class count."""
    if "thresholds" not in node.attrs:
        return None
    t = node.attrs.double_list("thresholds")
    if len(t) != num_classes:
        raise BundleError(f"attribute 'thresholds' has {len(t)} values for {num_classes} classes",
                          path=node.attrs.where)
    return tuple(t)


def sigmoid(m: float) -> float:
    """Spark's 1 / (1 + e^-m), bit for bit; e^-m overflowing means the result is 0."""
    try:
        return 1.0 / (1.0 + math.exp(-m))
    except OverflowError:
        return 0.0
