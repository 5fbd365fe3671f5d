"""aft_survival_regression: Spark's AFTSurvivalRegressionModel (accelerated failure time).

As Spark 3.5's model: ``lambda = exp(dot(coefficients, x) + intercept)`` is the prediction;
quantile q is ``lambda * exp(log(-log1p(-q)) * scale)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..jvm.jmath import java_exp, java_log, java_log1p
from ..model import OpModel, check_batch_width, check_vector, dot, frozen
from ..registry import op
from ..types import DOUBLE, vector
from ..vectors import SparseBatch


def quantile_factor(q: float, scale: float) -> float:
    """exp(log(-log1p(-q)) * scale), Spark's per-quantile factor of lambda."""
    return java_exp(java_log(-java_log1p(-q)) * scale)


@dataclass(frozen=True, eq=False)
class AFTSurvivalRegressionModel(OpModel):
    coefficients: tuple[float, ...]
    intercept: float
    scale: float
    quantile_factors: tuple[float, ...]
    coefficient_array: np.ndarray
    factor_array: np.ndarray

    op_name = "aft_survival_regression"

    @property
    def num_features(self) -> int:
        return len(self.coefficients)

    def input_ports(self):
        return [("features", vector(self.num_features))]

    def output_ports(self):
        return [("prediction", DOUBLE), ("quantiles", vector(len(self.quantile_factors)))]

    def predict(self, x) -> float:
        return java_exp(dot(x, self.coefficients) + self.intercept)

    def row_fn(self, outputs):
        size, predict, factors = self.num_features, self.predict, self.quantile_factors
        order = tuple(outputs)

        def run(x):
            check_vector("features", x, size)
            lam = predict(x)
            if order == ("prediction",):
                return (lam,)
            quantiles = [lam * f for f in factors]
            return (lam, quantiles) if order == ("prediction", "quantiles") else (quantiles,)
        return run

    def batch_fn(self, outputs):
        order = tuple(outputs)
        size = self.num_features

        def run(ctx, X):
            check_batch_width("features", X, size)
            with np.errstate(all="ignore"):
                if isinstance(X, SparseBatch):
                    m = X.dot(self.coefficient_array)
                elif np.isfinite(X).all() and np.isfinite(self.coefficient_array).all():
                    m = X @ self.coefficient_array
                else:
                    m = (X * self.coefficient_array).sum(axis=1)
                lam = np.exp(m + self.intercept)
                values = {"prediction": lam, "quantiles": lam[:, None] * self.factor_array[None, :]}
            return tuple(values[o] for o in order)
        return run


@op("aft_survival_regression", family="regression")
def load_aft_survival_regression(node) -> AFTSurvivalRegressionModel:
    """AFT survival regression: exp(dot + intercept) and its Weibull quantiles."""
    attrs = node.attrs
    coefficients = attrs.vector("coefficients")
    intercept = attrs.double("intercept", 0.0)
    scale = attrs.double("scale")
    probabilities = attrs.double_list("quantile_probabilities", [])
    factors = [quantile_factor(q, scale) for q in probabilities]
    return AFTSurvivalRegressionModel(tuple(coefficients), intercept, scale, tuple(factors), frozen(coefficients),
                                      frozen(factors))
