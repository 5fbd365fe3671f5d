"""Factorization machines: leapserve.fm_classifier, leapserve.fm_regression (MLeap has no op).

Math as Spark 3.5's FMClassificationModel and FMRegressionModel (getRawPrediction): the margin is
``intercept + x . linear`` plus, for each factor column f, ``0.5 * (s_f^2 - q_f)`` where s_f sums
``factors[i, f] * x_i`` and q_f sums its squares over the row's non-zero entries, the factor terms
added in column order. The regression predicts the margin; the classifier's rawPrediction is
[-m, m], its probability ``p1 = 1 / (1 + e^-m)``, ``p0 = 1 - p1`` (FMClassificationModel's
raw2probabilityInPlace), prediction Spark's ProbabilisticClassificationModel rules (argmax, or the
thresholds when set).

Attributes (written by leapserve's Spark ops, bundler/jvm/spark_ops/FMClassifierOp.java and
FMRegressorOp.java): ``intercept`` (double), ``linear`` (vector, one entry per feature), ``factors`` (tensor
[num_features, factor_size], column-major as Spark's matrix) and, for the classifier, optional
``thresholds`` (two doubles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BundleError
from ..jvm.jmath import java_exp
from ..model import (OpModel, ProbabilisticClassifier, check_batch_width, check_vector, dot, dot_rows, frozen,
                     matmul_t, read_thresholds)
from ..registry import op
from ..types import DOUBLE, vector
from ..vectors import SparseBatch, SparseVector


def _nonzero(x):
    """(index, value) of the row's non-zero entries, as Spark's foreachNonZero visits them."""
    if isinstance(x, SparseVector):
        return [(i, v) for i, v in zip(x.indices, x.values) if v != 0.0]
    return [(i, v) for i, v in enumerate(x) if v != 0.0]


@dataclass(frozen=True)
class FactorizationMachine:
    """The margin of Spark's FactorizationMachines models: ``intercept``, ``linear``, ``factors``
    (rows per feature), their arrays and the factors squared (the batch margin's sums of squares)."""

    intercept: float
    linear: tuple[float, ...]
    factors: tuple[tuple[float, ...], ...]
    factor_size: int
    linear_array: np.ndarray
    factor_array: np.ndarray
    factor_squares: np.ndarray

    @property
    def num_features(self) -> int:
        return len(self.linear)

    def margin(self, x) -> float:
        m = self.intercept + dot(x, self.linear)
        active = _nonzero(x)
        for f in range(self.factor_size):
            total = 0.0
            squares = 0.0
            for i, v in active:
                vx = self.factors[i][f] * v
                squares += vx * vx
                total += vx
            m += 0.5 * (total * total - squares)
        return m

    def margin_batch(self, X) -> np.ndarray:
        m = dot_rows(X, self.linear_array) + self.intercept
        V = self.factor_array  # features x factors
        with np.errstate(invalid="ignore", over="ignore"):
            totals = matmul_t(X, V.T)  # rows x factors
            if isinstance(X, SparseBatch):
                X2 = X.with_values(X.values * X.values)
            else:
                X2 = X * X
            squares = matmul_t(X2, self.factor_squares.T)
            for f in range(V.shape[1]):
                m = m + 0.5 * (totals[:, f] * totals[:, f] - squares[:, f])
        return m


@dataclass(frozen=True)
class FMRegressionModel(FactorizationMachine, OpModel):
    """Spark's FMRegressionModel: prediction = the margin."""

    op_name = "leapserve.fm_regression"

    def input_ports(self):
        return [("features", vector(self.num_features))]

    def output_ports(self):
        return [("prediction", DOUBLE)]

    def predict(self, x) -> float:
        return self.margin(x)

    def predict_batch(self, X) -> np.ndarray:
        return self.margin_batch(X)

    def row_fn(self, outputs):
        size, predict = self.num_features, self.predict

        def run(x):
            check_vector("features", x, size)
            return (predict(x),)
        return run

    def batch_fn(self, outputs):
        def run(ctx, X):
            check_batch_width("features", X, self.num_features)
            return (self.predict_batch(X),)
        return run


@dataclass(frozen=True)
class FMClassificationModel(FactorizationMachine, ProbabilisticClassifier):
    """Spark's FMClassificationModel: raw [-m, m], p1 = sigmoid(m), p0 = 1 - p1."""

    thresholds: tuple[float, float] | None

    op_name = "leapserve.fm_classifier"
    num_classes = 2

    def predict_raw(self, x) -> list[float]:
        m = self.margin(x)
        return [-m, m]

    def raw_to_probability(self, raw) -> list[float]:
        p1 = 1.0 / (1.0 + java_exp(-raw[1]))
        return [1.0 - p1, p1]

    def predict_raw_batch(self, X) -> np.ndarray:
        m = self.margin_batch(X)
        return np.column_stack([-m, m])

    def raw_to_probability_batch(self, R: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            p1 = 1.0 / (1.0 + np.exp(-R[:, 1]))
        return np.column_stack([1.0 - p1, p1])


def _read(node):
    attrs = node.attrs
    linear = attrs.vector("linear")
    factors = attrs.matrix("factors")
    if factors.ndim != 2 or factors.shape[0] != len(linear):
        raise BundleError(f"attribute 'factors' has shape {list(factors.shape)}; expected [{len(linear)}, "
                          f"factor_size] (one row per entry of 'linear')", path=attrs.where)
    rows = tuple(tuple(float(v) for v in row) for row in factors)
    factor_array = frozen(factors)
    return (attrs.double("intercept", 0.0), tuple(float(v) for v in linear), rows, int(factors.shape[1]),
            frozen(linear), factor_array, frozen(factor_array * factor_array))


@op("leapserve.fm_regression", family="regression")
def load_fm_regression(node) -> FMRegressionModel:
    """FMRegressionModel: intercept + linear term + pairwise factor interactions."""
    return FMRegressionModel(*_read(node))


@op("leapserve.fm_classifier", family="classification")
def load_fm_classifier(node) -> FMClassificationModel:
    """FMClassificationModel: the factorization machine's margin m, raw [-m, m], p1 = sigmoid(m)."""
    return FMClassificationModel(*_read(node), read_thresholds(node, 2))
