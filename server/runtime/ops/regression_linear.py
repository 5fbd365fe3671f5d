"""Linear models for regression: linear_regression.

Math as Spark's LinearRegressionModel.predict: dot(features, coefficients) + intercept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInput
from ..registry import op
from ..types import DOUBLE, vector
from ..vectors import SparseBatch, SparseVector
from .base import OpModel, frozen


def dot(x, coefficients: list[float]) -> float:
    """Spark's BLAS dot of a row vector (dense list or SparseVector) with a dense vector."""
    if isinstance(x, SparseVector):
        return sum(v * coefficients[i] for i, v in zip(x.indices, x.values))
    return sum(a * b for a, b in zip(x, coefficients))


def dot_batch(X, coefficients: np.ndarray) -> np.ndarray:
    if isinstance(X, SparseBatch):
        return X.dot(coefficients)
    return X @ coefficients


def check_width(port: str, x, size: int) -> None:
    n = x.size if isinstance(x, SparseVector) else len(x)
    if n != size:
        raise InvalidInput(port, f"vector of size {size}", f"vector of size {n}")


def check_batch_width(port: str, X, size: int) -> None:
    if X.shape[1] != size:
        raise InvalidInput(port, f"vectors of size {size}", f"vectors of size {X.shape[1]}")


@dataclass(frozen=True)
class LinearRegressionModel(OpModel):
    coefficients: tuple[float, ...]
    intercept: float
    coefficient_array: np.ndarray

    op_name = "linear_regression"

    @property
    def num_features(self) -> int:
        return len(self.coefficients)

    def input_ports(self):
        return [("features", vector(self.num_features))]

    def output_ports(self):
        return [("prediction", DOUBLE)]

    def predict(self, x) -> float:
        return dot(x, self.coefficients) + self.intercept

    def predict_batch(self, X) -> np.ndarray:
        return dot_batch(X, self.coefficient_array) + self.intercept

    def row_fn(self, outputs):
        coefficients, intercept, size = list(self.coefficients), self.intercept, self.num_features

        def run(x):
            if isinstance(x, SparseVector):
                check_width("features", x, size)
                return (sum(v * coefficients[i] for i, v in zip(x.indices, x.values)) + intercept,)
            if len(x) != size:
                check_width("features", x, size)
            return (sum(a * b for a, b in zip(x, coefficients)) + intercept,)
        return run

    def batch_fn(self, outputs):
        def run(ctx, X):
            check_batch_width("features", X, self.num_features)
            return (self.predict_batch(X),)
        return run


@op("linear_regression", family="regression")
def load_linear_regression(node) -> LinearRegressionModel:
    """Linear regression: dot(features, coefficients) + intercept."""
    coefficients = node.attrs.vector("coefficients")
    return LinearRegressionModel(tuple(coefficients), node.attrs.double("intercept", 0.0), frozen(coefficients))
