"""Linear models for regression: linear_regression, generalized_linear_regression.

Math as Spark's LinearRegressionModel.predict: dot(features, coefficients) + intercept; and as
Spark's GeneralizedLinearRegressionModel: eta = dot + intercept, prediction = family.project(
link.unlink(eta)), link_prediction = eta.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import BundleError
from ..jvm.jmath import MAX_DOUBLE, div_by_zero, exp_batch, java_exp
from ..model import OpModel, check_batch_width, check_vector, dot, dot_rows, frozen
from ..registry import op
from ..types import DOUBLE, vector


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
        return dot_rows(X, self.coefficient_array) + self.intercept

    def row_fn(self, outputs):
        coefficients, intercept, size = self.coefficients, self.intercept, self.num_features

        def run(x):
            check_vector("features", x, size)
            return (dot(x, coefficients) + intercept,)
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


# --- generalized linear regression -----------------------------------------------------------

EPSILON = 1e-16  # Spark's GeneralizedLinearRegression.epsilon
SQRT2 = math.sqrt(2.0)


def _inverse(eta: float) -> float:
    """Inverse.unlink: 1 / eta, with the JVM's division by zero."""
    return 1.0 / eta if eta != 0.0 else div_by_zero(1.0, eta)


# Link.unlink as Spark computes it (row: float -> float; batch: array -> array).
UNLINK: dict[str, tuple[Callable, Callable]] = {
    "identity": (lambda eta: eta, lambda eta: eta),
    "logit": (lambda eta: 1.0 / (1.0 + java_exp(-1.0 * eta)), lambda eta: 1.0 / (1.0 + np.exp(-1.0 * eta))),
    "log": (java_exp, np.exp),
    "inverse": (_inverse, lambda eta: 1.0 / eta),
    # breeze's Gaussian(0, 1).cdf
    "probit": (lambda eta: 0.5 * (1.0 + math.erf((eta - 0.0) / (SQRT2 * 1.0))),
               lambda eta: 0.5 * (1.0 + np.array([math.erf(v) for v in ((eta - 0.0) / (SQRT2 * 1.0)).tolist()],
                                                 dtype=np.float64))),
    # 1 - exp(-e^eta) cancels near zero: the batch takes exp from the same libm as the row
    "cloglog": (lambda eta: 1.0 - java_exp(-1.0 * java_exp(eta)), lambda eta: 1.0 - exp_batch(-1.0 * exp_batch(eta))),
    "sqrt": (lambda eta: eta * eta, lambda eta: eta * eta),
}


def _project_gaussian(mu: float) -> float:
    if mu == -math.inf:
        return -MAX_DOUBLE
    if mu == math.inf:
        return MAX_DOUBLE
    return mu


def _project_binomial(mu: float) -> float:
    if mu < EPSILON:
        return EPSILON
    if mu > 1.0 - EPSILON:
        return 1.0 - EPSILON
    return mu


def _project_positive(mu: float) -> float:  # Spark's Tweedie.project, used by poisson and gamma
    if mu < EPSILON:
        return EPSILON
    if mu == math.inf:
        return MAX_DOUBLE
    return mu


def _project_gaussian_batch(mu: np.ndarray) -> np.ndarray:
    return np.where(mu == -np.inf, -MAX_DOUBLE, np.where(mu == np.inf, MAX_DOUBLE, mu))


def _project_binomial_batch(mu: np.ndarray) -> np.ndarray:
    return np.where(mu < EPSILON, EPSILON, np.where(mu > 1.0 - EPSILON, 1.0 - EPSILON, mu))


def _project_positive_batch(mu: np.ndarray) -> np.ndarray:
    return np.where(mu < EPSILON, EPSILON, np.where(mu == np.inf, MAX_DOUBLE, mu))


# Family.project, the family's default link, and the links Spark allows with it
# (GeneralizedLinearRegression.supportedFamilyAndLinkPairs).
FAMILIES: dict[str, tuple[Callable, Callable, str, tuple[str, ...]]] = {
    "gaussian": (_project_gaussian, _project_gaussian_batch, "identity", ("identity", "log", "inverse")),
    "binomial": (_project_binomial, _project_binomial_batch, "logit", ("logit", "probit", "cloglog")),
    "poisson": (_project_positive, _project_positive_batch, "log", ("log", "identity", "sqrt")),
    "gamma": (_project_positive, _project_positive_batch, "inverse", ("inverse", "identity", "log")),
}


@dataclass(frozen=True)
class GeneralizedLinearRegressionModel(OpModel):
    coefficients: tuple[float, ...]
    intercept: float
    family: str
    link: str
    coefficient_array: np.ndarray

    op_name = "generalized_linear_regression"

    @property
    def num_features(self) -> int:
        return len(self.coefficients)

    def input_ports(self):
        return [("features", vector(self.num_features))]

    def output_ports(self):
        return [("prediction", DOUBLE), ("link_prediction", DOUBLE)]

    def predict_link(self, x) -> float:
        # Spark adds the offset column, 0.0 without one (which also turns -0.0 into 0.0)
        return dot(x, self.coefficients) + self.intercept + 0.0

    def fitted(self, eta: float) -> float:
        return FAMILIES[self.family][0](UNLINK[self.link][0](eta))

    def predict(self, x) -> float:
        return self.fitted(self.predict_link(x))

    def row_fn(self, outputs):
        predict_link, size = self.predict_link, self.num_features
        project, unlink = FAMILIES[self.family][0], UNLINK[self.link][0]
        order = tuple(outputs)

        def run(x):
            check_vector("features", x, size)
            eta = predict_link(x)
            if order == ("prediction",):
                return (project(unlink(eta)),)
            if order == ("link_prediction",):
                return (eta,)
            return (project(unlink(eta)), eta)
        return run

    def batch_fn(self, outputs):
        project, unlink = FAMILIES[self.family][1], UNLINK[self.link][1]
        order = tuple(outputs)

        def run(ctx, X):
            check_batch_width("features", X, self.num_features)
            with np.errstate(invalid="ignore", over="ignore"):
                eta = dot_rows(X, self.coefficient_array) + self.intercept + 0.0
            values = {"link_prediction": eta}
            if "prediction" in order:
                with np.errstate(all="ignore"):
                    values["prediction"] = project(unlink(eta))
            return tuple(values[o] for o in order)
        return run


@op("generalized_linear_regression", family="regression")
def load_generalized_linear_regression(node) -> GeneralizedLinearRegressionModel:
    """Generalized linear regression: family.project(link.unlink(dot + intercept))."""
    attrs = node.attrs
    coefficients = attrs.vector("coefficients")
    family = attrs.string("family").lower()  # Spark accepts family and link names in any case
    if family == "tweedie":
        raise BundleError("family 'tweedie' cannot be scored: the bundle does not record Spark's "
                          "variancePower and linkPower (MLeap writes only family and link)",
                          path=attrs.where)
    if family not in FAMILIES:
        raise BundleError(f"attribute 'family' is {family!r}; expected one of {sorted(FAMILIES)}",
                          path=attrs.where)
    _, _, default_link, links = FAMILIES[family]
    link = attrs.string("link", "").lower() or default_link  # absent (or empty) means the default
    if link not in links:
        raise BundleError(f"link {link!r} is not allowed with family {family!r} (Spark allows {list(links)})",
                          path=attrs.where)
    return GeneralizedLinearRegressionModel(tuple(coefficients), attrs.double("intercept", 0.0), family, link,
                                            frozen(coefficients))
