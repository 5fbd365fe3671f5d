"""Linear classifiers: logistic_regression, linear_svc, naive_bayes.

Math as Spark 3.5's LogisticRegressionModel, LinearSVCModel and NaiveBayesModel; the choice of
code path by output columns is ProbabilisticClassifier's (model.py). Where MLeap's runtime differs
from Spark we follow Spark:

* multinomial probabilities are Spark 3's ``Utils.softmax`` (subtract the largest margin, one-hot
  at the first +Inf margin with every other entry multiplied by 0), not MLeap's older rule;
* binary probability is ``p0 = 1 / (1 + e^-raw0)``, ``p1 = 1 - p0`` (not two sigmoids);
* naive Bayes refuses negative (and NaN) features, bernoulli anything but 0/1, as Spark's
  ``requireNonnegativeValues`` / ``requireZeroOneBernoulliValues``; "complement" and "gaussian"
  models are scored too (MLeap's runtime knows only multinomial and bernoulli).

JSON bundles write infinities as null, read back as NaN. Two Spark models hold infinities: logistic
regression fitted on a constant label (zero coefficients, intercept +Inf, or -Inf for a one-class
binary model), and naive Bayes with smoothing 0 (log-probabilities -Inf). The loaders restore them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import BundleError, InvalidInput
from ..jvm.jmath import MIN_DOUBLE, java_exp, java_log, java_log1p, seq_dot, seq_sparse_dot, seq_sum
from ..model import ProbabilisticClassifier, dot, dot_rows, frozen, matmul_t, read_thresholds
from ..registry import op
from ..vectors import SparseBatch, SparseVector

def softmax(raw) -> list[float]:
    """Spark 3's Utils.softmax on a row: probabilities from margins / log-likelihoods."""
    total = sum(raw)  # only whether it is finite is read: compensated or not, the same answer
    if raw and total - total == 0.0:  # all finite (a NaN or an infinity makes this NaN)
        top = max(raw)  # Spark's scan from Double.MinValue finds the same
        exps = [math.exp(v - top) for v in raw]
        scale = 1.0 / seq_sum(exps)  # the largest term is exp(0) = 1: the sum is at least 1
        return [e * scale for e in exps]
    top = MIN_DOUBLE
    for i, v in enumerate(raw):
        if v == math.inf:  # one-hot at the first +Inf; Spark scales the others by 0 (NaN stays NaN)
            out = [0.0 * r for r in raw]
            out[i] = 1.0
            return out
        if v > top:
            top = v
    exps = [math.exp(v - top) for v in raw]  # v <= top: no overflow
    total = seq_sum(exps)
    scale = 1.0 / total if total != 0.0 else math.inf
    return [e * scale for e in exps]


def softmax_rows(R: np.ndarray) -> np.ndarray:
    """softmax on each row of a batch."""
    # Loops over the (few) classes: whole-column operations cost far less than numpy's row-wise
    # reductions of a narrow matrix. The sum runs left to right, as Spark's and the row path's.
    n, k = R.shape
    with np.errstate(all="ignore"):
        top = np.full(n, MIN_DOUBLE)
        for j in range(k):
            top = np.fmax(top, R[:, j])  # NaN skipped; -Inf and all-NaN rows keep MinValue
        E = np.exp(R - top[:, None])
        total = E[:, 0].copy() if k else np.zeros(n)
        for j in range(1, k):
            total += E[:, j]
        P = E * (1.0 / total)[:, None]
        posinf = R == np.inf
        if posinf.any():
            rows = np.nonzero(posinf.any(axis=1))[0]
            one_hot = R[rows] * 0.0
            one_hot[np.arange(len(rows)), posinf[rows].argmax(axis=1)] = 1.0
            P[rows] = one_hot
    return P


def _matrix_rows(M: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in M)


# --- logistic regression ---------------------------------------------------------------------

class MarginClassifier(ProbabilisticClassifier):
    """A binary linear classifier, Spark's binomial LogisticRegressionModel or LinearSVCModel:
    margin = coefficients . x + intercept, rawPrediction = [-margin, margin]. Subclasses hold
    ``coefficients``, ``intercept`` and ``coefficient_array``."""

    num_classes = 2
    thresholds = None  # a binary model uses its single `threshold` only

    @property
    def num_features(self) -> int:
        return len(self.coefficients)

    def margin(self, x) -> float:
        return dot(x, self.coefficients) + self.intercept

    predict_raw_positive = margin  # rawPrediction[1] is the margin

    def predict_raw(self, x) -> list[float]:
        m = self.margin(x)
        return [-m, m]

    def margin_batch(self, X) -> np.ndarray:
        return dot_rows(X, self.coefficient_array) + self.intercept

    def predict_raw_batch(self, X) -> np.ndarray:
        m = self.margin_batch(X)
        return np.column_stack([-m, m])


@dataclass(frozen=True)
class BinaryLogisticRegressionModel(MarginClassifier):
    """Spark's binomial LogisticRegressionModel: one margin, a single threshold."""

    coefficients: tuple[float, ...]
    intercept: float
    threshold: float
    raw_threshold: float  # the threshold on the margin: log(t / (1 - t)), +-Inf at t = 1 / 0
    coefficient_array: np.ndarray

    op_name = "logistic_regression"

    def raw_to_probability(self, raw) -> list[float]:
        p0 = 1.0 / (1.0 + java_exp(-raw[0]))
        return [p0, 1.0 - p0]

    def raw_to_prediction(self, raw) -> float:
        return 1.0 if raw[1] > self.raw_threshold else 0.0

    def probability_to_prediction(self, p) -> float:
        return 1.0 if p[1] > self.threshold else 0.0

    def predict(self, x) -> float:
        return 1.0 if 1.0 / (1.0 + java_exp(-self.margin(x))) > self.threshold else 0.0

    def raw_to_probability_batch(self, R: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            p0 = 1.0 / (1.0 + np.exp(-R[:, 0]))
        return np.column_stack([p0, 1.0 - p0])

    def raw_to_prediction_batch(self, R: np.ndarray) -> np.ndarray:
        return (R[:, 1] > self.raw_threshold).astype(np.float64)

    def probability_to_prediction_batch(self, P: np.ndarray) -> np.ndarray:
        return (P[:, 1] > self.threshold).astype(np.float64)

    def predict_batch(self, X) -> np.ndarray:
        with np.errstate(over="ignore"):
            score = 1.0 / (1.0 + np.exp(-self.margin_batch(X)))
        return (score > self.threshold).astype(np.float64)


@dataclass(frozen=True)
class MultinomialLogisticRegressionModel(ProbabilisticClassifier):
    """Spark's multinomial LogisticRegressionModel: one margin per class, softmax, thresholds."""

    coefficient_rows: tuple[tuple[float, ...], ...]  # classes x features
    intercepts: tuple[float, ...]
    thresholds: tuple[float, ...] | None
    coefficient_matrix: np.ndarray
    intercept_array: np.ndarray

    op_name = "logistic_regression"

    @property
    def num_classes(self) -> int:
        return len(self.intercepts)

    @property
    def num_features(self) -> int:
        return self.coefficient_matrix.shape[1]

    def predict_raw(self, x) -> list[float]:
        if isinstance(x, SparseVector):
            indices, values = x.indices, x.values
            return [b + seq_sparse_dot(indices, values, row)
                    for row, b in zip(self.coefficient_rows, self.intercepts)]
        return [b + seq_dot(x, row) for row, b in zip(self.coefficient_rows, self.intercepts)]

    def raw_to_probability(self, raw) -> list[float]:
        return softmax(raw)

    def predict_raw_batch(self, X) -> np.ndarray:
        return matmul_t(X, self.coefficient_matrix) + self.intercept_array

    def raw_to_probability_batch(self, R: np.ndarray) -> np.ndarray:
        return softmax_rows(R)


def _check_thresholds(node, thresholds) -> None:
    """Spark's rule for `thresholds`: non-negative, at most one zero."""
    if thresholds is None:
        return
    if any(not t >= 0.0 for t in thresholds) or sum(1 for t in thresholds if t == 0.0) > 1:
        raise BundleError(f"attribute 'thresholds' {list(thresholds)}: Spark requires values >= 0 "
                          f"with at most one 0", path=node.attrs.where)


@op("logistic_regression", family="classification")
def load_logistic_regression(node):
    """Logistic regression: binary (coefficients, intercept, threshold) or multinomial
    (coefficient_matrix, intercept_vector, thresholds)."""
    attrs = node.attrs
    num_classes = attrs.long("num_classes")
    # MLeap branches on num_classes > 2; a 2-class multinomial model (which MLeap 0.16 cannot
    # write) is recognised by its coefficient_matrix.
    multinomial = num_classes > 2 or ("coefficient_matrix" in attrs and "coefficients" not in attrs)
    if not multinomial:
        if num_classes < 1:
            raise BundleError(f"attribute 'num_classes' is {num_classes}", path=attrs.where)
        coefficients = attrs.vector("coefficients")
        intercept = attrs.double("intercept", 0.0)
        if math.isnan(intercept) and not any(coefficients):
            # Spark's constant-label model (+Inf intercept, -Inf when it saw a single class);
            # JSON bundles lose the infinity.
            intercept = math.inf if num_classes == 2 else -math.inf
        threshold = attrs.double("threshold", 0.5)
        if not 0.0 <= threshold <= 1.0:
            raise BundleError(f"attribute 'threshold' is {threshold}; Spark requires a value in [0, 1]",
                              path=attrs.where)
        if threshold == 0.0:
            raw_threshold = -math.inf
        elif threshold == 1.0:
            raw_threshold = math.inf
        else:
            raw_threshold = math.log(threshold / (1.0 - threshold))
        return BinaryLogisticRegressionModel(tuple(coefficients), intercept, threshold, raw_threshold,
                                             frozen(coefficients))
    matrix = attrs.matrix("coefficient_matrix")
    intercepts = attrs.vector("intercept_vector")
    if matrix.shape[0] != num_classes or len(intercepts) != num_classes:
        raise BundleError(f"coefficient_matrix has {matrix.shape[0]} rows and intercept_vector "
                          f"{len(intercepts)} values for num_classes {num_classes}", path=attrs.where)
    if not matrix.any():
        # Constant label: Spark's intercept is +Inf for the one class seen, written as null in JSON.
        intercepts = [math.inf if math.isnan(b) else b for b in intercepts]
    thresholds = read_thresholds(node, num_classes)
    _check_thresholds(node, thresholds)
    return MultinomialLogisticRegressionModel(_matrix_rows(matrix), tuple(intercepts), thresholds,
                                              frozen(matrix), frozen(intercepts))


# --- linear SVC ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LinearSVCModel(MarginClassifier):
    """Spark's LinearSVCModel: raw = [-m, m], prediction m > threshold; no probability."""

    coefficients: tuple[float, ...]
    intercept: float
    threshold: float
    coefficient_array: np.ndarray

    op_name = "linear_svc"
    supports_probability = False

    def raw_to_prediction(self, raw) -> float:
        return 1.0 if raw[1] > self.threshold else 0.0

    def predict(self, x) -> float:
        return 1.0 if self.margin(x) > self.threshold else 0.0

    def raw_to_probability(self, raw):
        raise NotImplementedError("linear_svc has no probability")  # no port for it (output_ports)

    def raw_to_prediction_batch(self, R: np.ndarray) -> np.ndarray:
        return (R[:, 1] > self.threshold).astype(np.float64)

    def predict_batch(self, X) -> np.ndarray:
        return (self.margin_batch(X) > self.threshold).astype(np.float64)


@op("linear_svc", family="classification")
def load_linear_svc(node) -> LinearSVCModel:
    """Linear SVC: margin dot(x, coefficients) + intercept against threshold."""
    attrs = node.attrs
    num_classes = attrs.long("num_classes", 2)
    if num_classes != 2:
        raise BundleError(f"attribute 'num_classes' is {num_classes}; linear_svc is binary", path=attrs.where)
    coefficients = attrs.vector("coefficients")
    threshold = attrs.double("threshold", 0.0)  # Spark's default 0.0 is written as {} (read as 0.0)
    return LinearSVCModel(tuple(coefficients), attrs.double("intercept", 0.0), threshold, frozen(coefficients))


# --- naive Bayes -----------------------------------------------------------------------------

def require_nonnegative(x) -> None:
    """Spark's requireNonnegativeValues: every non-zero entry > 0 (NaN fails)."""
    if isinstance(x, SparseVector):
        pairs = zip(x.indices, x.values)
    else:
        pairs = enumerate(x)
    for i, v in pairs:
        if not v > 0.0 and v != 0.0:
            raise InvalidInput("features", "non-negative feature values (naive Bayes)", f"{v!r} at index {i}")


def require_zero_one(x) -> None:
    """Spark's requireZeroOneBernoulliValues: every non-zero entry == 1."""
    if isinstance(x, SparseVector):
        pairs = zip(x.indices, x.values)
    else:
        pairs = enumerate(x)
    for i, v in pairs:
        if v != 1.0 and v != 0.0:
            raise InvalidInput("features", "feature values 0 or 1 (bernoulli naive Bayes)", f"{v!r} at index {i}")


def _batch_values(X) -> np.ndarray:
    return X.values if isinstance(X, SparseBatch) else X


def _first_bad_row(X, bad: np.ndarray) -> tuple[int, int, float]:
    """(row, column, value) of the first flagged entry of a batch."""
    if isinstance(X, SparseBatch):
        k = int(np.argmax(bad))
        row = int(np.searchsorted(X.indptr, k, side="right") - 1)
        return row, int(X.indices[k]), float(X.values[k])
    row, col = np.argwhere(bad)[0]
    return int(row), int(col), float(X[row, col])


def require_nonnegative_batch(X) -> None:
    values = _batch_values(X)
    bad = ~(values > 0.0) & (values != 0.0)
    if bad.any():
        row, col, v = _first_bad_row(X, bad)
        raise InvalidInput("features", "non-negative feature values (naive Bayes)", f"{v!r} at index {col}",
                           row=row)


def require_zero_one_batch(X) -> None:
    values = _batch_values(X)
    bad = (values != 1.0) & (values != 0.0)
    if bad.any():
        row, col, v = _first_bad_row(X, bad)
        raise InvalidInput("features", "feature values 0 or 1 (bernoulli naive Bayes)", f"{v!r} at index {col}",
                           row=row)


@dataclass(frozen=True)
class NaiveBayesModel(ProbabilisticClassifier):
    """Spark's NaiveBayesModel. For multinomial and bernoulli the raw prediction is
    ``base + weights . x``; complement normalizes ``weights . x`` by its log-sum-exp; gaussian
    is ``pi - (sum((x - theta)^2 / sigma) + sum(log sigma)) / 2``. Probability is softmax."""

    model_type: str
    weight_rows: tuple[tuple[float, ...], ...]  # classes x features: theta, or theta - log(1 - e^theta)
    base: tuple[float, ...]  # per class: pi, pi + sum(log(1 - e^theta)), 0 (complement), or pi - logVarSum/2
    thresholds: tuple[float, ...] | None
    weights: np.ndarray
    base_array: np.ndarray
    sigma_rows: tuple[tuple[float, ...], ...] = ()  # gaussian: variances
    sigma: np.ndarray | None = None  # gaussian
    pi_array: np.ndarray | None = None  # gaussian
    log_var_sum: tuple[float, ...] = ()  # gaussian

    op_name = "naive_bayes"

    @property
    def num_classes(self) -> int:
        return len(self.base)

    @property
    def num_features(self) -> int:
        return self.weights.shape[1]

    def predict_raw(self, x) -> list[float]:
        kind = self.model_type
        if kind == "gaussian":
            return self._gaussian(x)
        if kind == "bernoulli":
            require_zero_one(x)
        else:
            require_nonnegative(x)
        if isinstance(x, SparseVector):
            indices, values = x.indices, x.values
            raw = [b + seq_sparse_dot(indices, values, row) for row, b in zip(self.weight_rows, self.base)]
        else:
            raw = [b + seq_dot(x, row) for row, b in zip(self.weight_rows, self.base)]
        if kind == "complement":
            return complement_normalize(raw)
        return raw

    def _gaussian(self, x) -> list[float]:
        if isinstance(x, SparseVector):
            x = x.to_list()
        out = []
        for mean, var, p, lvs in zip(self.weight_rows, self.sigma_rows, self.base, self.log_var_sum):
            s = 0.0
            for xj, mj, vj in zip(x, mean, var):
                d = xj - mj
                s += d * d / vj
            out.append(p - (s + lvs) / 2.0)
        return out

    def raw_to_probability(self, raw) -> list[float]:
        return softmax(raw)

    def predict_raw_batch(self, X) -> np.ndarray:
        kind = self.model_type
        if kind == "gaussian":
            D = X.toarray() if isinstance(X, SparseBatch) else X
            out = np.empty((D.shape[0], self.num_classes))
            with np.errstate(all="ignore"):
                for k in range(self.num_classes):
                    diff = D - self.weights[k]
                    s = (diff * diff / self.sigma[k]).sum(axis=1)
                    out[:, k] = self.pi_array[k] - (s + self.log_var_sum[k]) / 2.0
            return out
        if kind == "bernoulli":
            require_zero_one_batch(X)
        else:
            require_nonnegative_batch(X)
        with np.errstate(invalid="ignore"):
            raw = matmul_t(X, self.weights) + self.base_array
        if kind == "complement":
            return complement_normalize_rows(raw)
        return raw

    def raw_to_probability_batch(self, R: np.ndarray) -> np.ndarray:
        return softmax_rows(R)


def complement_normalize(raw: list[float]) -> list[float]:
    """Complement NB: raw minus its log-sum-exp. The maximum is Scala's reduceLeft with IEEE >=."""
    top = raw[0]
    for v in raw[1:]:
        top = top if top >= v else v
    total = 0.0
    for v in raw:  # left to right, as seq_sum would add them, without a list per record
        total += java_exp(v - top)
    log_sum = java_log(total) + top
    return [v - log_sum for v in raw]


def complement_normalize_rows(R: np.ndarray) -> np.ndarray:
    top = R[:, 0].copy()
    for j in range(1, R.shape[1]):
        top = np.where(top >= R[:, j], top, R[:, j])
    with np.errstate(all="ignore"):
        total = np.exp(R - top[:, None]).sum(axis=1)
        log_sum = np.log(total) + top
        return R - log_sum[:, None]


NAIVE_BAYES_TYPES = ("multinomial", "bernoulli", "complement", "gaussian")


@op("naive_bayes", family="classification")
def load_naive_bayes(node) -> NaiveBayesModel:
    """Naive Bayes (multinomial, bernoulli, complement, gaussian): pi, theta (and sigma)."""
    attrs = node.attrs
    kind = attrs.string("model_type", "multinomial").lower()
    if kind not in NAIVE_BAYES_TYPES:
        raise BundleError(f"attribute 'model_type' is {kind!r}; expected one of {NAIVE_BAYES_TYPES}",
                          path=attrs.where)
    pi = attrs.vector("pi")
    theta = attrs.matrix("theta")
    k = len(pi)
    if theta.shape[0] != k:
        raise BundleError(f"theta has {theta.shape[0]} rows for {k} classes (pi)", path=attrs.where)
    num_classes = attrs.long("num_classes", k)
    num_features = attrs.long("num_features", theta.shape[1])
    if num_classes != k or num_features != theta.shape[1]:
        raise BundleError(f"num_classes {num_classes} / num_features {num_features} disagree with "
                          f"theta of shape {list(theta.shape)}", path=attrs.where)
    thresholds = read_thresholds(node, k)
    _check_thresholds(node, thresholds)
    if kind != "gaussian":
        # log-probabilities: a null (NaN) in a JSON bundle was -Inf (smoothing 0)
        pi = [-math.inf if math.isnan(v) else v for v in pi]
        theta = np.where(np.isnan(theta), -math.inf, theta)
    if kind in ("multinomial", "complement"):
        base = [0.0] * k if kind == "complement" else list(pi)
        return NaiveBayesModel(kind, _matrix_rows(theta), tuple(base), thresholds, frozen(theta), frozen(base))
    if kind == "bernoulli":
        rows, base = [], []
        for p, theta_row in zip(pi, theta.tolist()):
            # log(1 - P(feature | class)): Math.log1p, -Infinity where theta is log 1 = 0
            neg = [java_log1p(-math.exp(t)) for t in theta_row]
            rows.append(tuple(t - n for t, n in zip(theta_row, neg)))
            base.append(p + seq_sum(neg))
        return NaiveBayesModel(kind, tuple(rows), tuple(base), thresholds, frozen(rows), frozen(base))
    if "sigma" not in attrs:
        raise BundleError("a gaussian naive_bayes model needs attribute 'sigma' (variances, classes x "
                          "features, column-major)", path=attrs.where)
    sigma = attrs.matrix("sigma")
    if sigma.shape != theta.shape:
        raise BundleError(f"sigma has shape {list(sigma.shape)}, theta {list(theta.shape)}", path=attrs.where)
    if not (sigma > 0.0).all():
        raise BundleError("sigma (variances) must be > 0", path=attrs.where)
    log_var_sum = tuple(seq_sum([math.log(s) for s in row]) for row in sigma.tolist())  # Scala's Array.sum
    return NaiveBayesModel(kind, _matrix_rows(theta), tuple(pi), thresholds, frozen(theta), frozen(pi),
                           sigma_rows=_matrix_rows(sigma), sigma=frozen(sigma), pi_array=frozen(pi),
                           log_var_sum=log_var_sum)
