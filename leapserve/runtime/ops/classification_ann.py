"""multi_layer_perceptron_classifier: Spark's MultilayerPerceptronClassificationModel.

The topology is Spark's FeedForwardTopology.multiLayerPerceptron(layers, softmaxOnTop = true):
for each pair of consecutive layer sizes an affine layer ``W a + b`` (``W`` is nOut x nIn, stored
column-major in the flat ``weights``, followed by the nOut biases), a sigmoid after every affine
layer but the last, and a softmax on top.

* raw_prediction is the last affine layer's output (Spark's ``predictRaw``);
* probability is Spark's softmax layer: subtract the largest value (starting from
  Double.MinValue, NaN skipped), exponentiate, divide by the sum;
* prediction with only the prediction port is Spark's ``predict``: the argmax of the softmax
  output, which ignores ``thresholds``; otherwise the usual raw / probability rules (model.py).

Attributes as MLeap writes them: ``layers``, ``weights``, ``thresholds``. leapserve's export writes
them with its own op (MLeap 0.16's reads the ``layers`` field Spark 3 removed; docs/export.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BundleError
from ..jvm.jmath import MIN_DOUBLE, div_by_zero, java_exp, seq_dot, seq_sum, seq_sum_arrays
from ..model import ProbabilisticClassifier, frozen, read_thresholds, sigmoid
from ..registry import op
from ..vectors import SparseBatch, SparseVector, argmax, argmax_rows

# A row takes the numpy path from this many weights in the first layer (Python loops below it).
NUMPY_ROW_WEIGHTS = 64


def softmax(raw) -> list[float]:
    """Spark's SoftmaxLayerModelWithCrossEntropyLoss.eval on one column."""
    top = MIN_DOUBLE
    for v in raw:
        if v > top:
            top = v
    exps = [java_exp(v - top) for v in raw]
    total = seq_sum(exps)
    if total == 0.0:
        return [div_by_zero(e, total) for e in exps]
    return [e / total for e in exps]


def softmax_rows(R: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        top = np.full(R.shape[0], MIN_DOUBLE)
        for j in range(R.shape[1]):
            top = np.where(R[:, j] > top, R[:, j], top)
        E = np.exp(R - top[:, None])
        return E / seq_sum_arrays(E.T)[:, None]


@dataclass(frozen=True, eq=False)
class MultilayerPerceptronModel(ProbabilisticClassifier):
    layers: tuple[int, ...]
    thresholds: tuple[float, ...] | None
    weight_rows: tuple[tuple[tuple[tuple[float, ...], float], ...], ...]  # per layer: (row of W, bias)
    matrices: tuple[np.ndarray, ...]  # per layer: W, nOut x nIn
    biases: tuple[np.ndarray, ...]
    numpy_rows: bool  # rows through numpy (wide first layer) rather than Python loops

    op_name = "multi_layer_perceptron_classifier"

    @property
    def num_features(self) -> int:
        return self.layers[0]

    @property
    def num_classes(self) -> int:
        return self.layers[-1]

    def predict_raw(self, x) -> list[float]:
        a = x.to_list() if isinstance(x, SparseVector) else x
        last = len(self.weight_rows) - 1
        if self.numpy_rows:
            a = np.array(a, dtype=np.float64)
            with np.errstate(all="ignore"):
                for i, (W, b) in enumerate(zip(self.matrices, self.biases)):
                    z = W.dot(a) + b
                    a = z if i == last else 1.0 / (1.0 + np.exp(-z))
            return a.tolist()
        for i, layer in enumerate(self.weight_rows):
            z = [b + seq_dot(row, a) for row, b in layer]
            a = z if i == last else [sigmoid(v) for v in z]
        return a

    def raw_to_probability(self, raw) -> list[float]:
        return softmax(raw)

    def predict(self, x) -> float:
        return float(argmax(softmax(self.predict_raw(x))))

    def predict_raw_batch(self, X) -> np.ndarray:
        A = X.toarray() if isinstance(X, SparseBatch) else X
        last = len(self.matrices) - 1
        with np.errstate(all="ignore"):
            for i, (W, b) in enumerate(zip(self.matrices, self.biases)):
                Z = A @ W.T + b
                A = Z if i == last else 1.0 / (1.0 + np.exp(-Z))
        return A

    def raw_to_probability_batch(self, R: np.ndarray) -> np.ndarray:
        return softmax_rows(R)

    def predict_batch(self, X) -> np.ndarray:
        P = softmax_rows(self.predict_raw_batch(X))
        return argmax_rows(P).astype(np.float64) if len(P) else np.zeros(0)


@op("multi_layer_perceptron_classifier", family="classification")
def load_multi_layer_perceptron_classifier(node) -> MultilayerPerceptronModel:
    """Multi-layer perceptron: sigmoid hidden layers, softmax output (Spark's topology)."""
    attrs = node.attrs
    layers = attrs.long_list("layers")
    if len(layers) < 2 or any(n < 1 for n in layers):
        raise BundleError(f"attribute 'layers' is {layers}; it needs at least two positive sizes",
                          path=attrs.where)
    weights = attrs.vector("weights")
    needed = sum(n_out * n_in + n_out for n_in, n_out in zip(layers, layers[1:]))
    if len(weights) != needed:
        raise BundleError(f"attribute 'weights' has {len(weights)} values; layers {layers} need {needed}",
                          path=attrs.where)
    thresholds = read_thresholds(node, layers[-1])
    if thresholds is not None and (any(not t >= 0.0 for t in thresholds)
                                   or sum(1 for t in thresholds if t == 0.0) > 1):
        raise BundleError(f"attribute 'thresholds' {list(thresholds)}: Spark requires values >= 0 with at "
                          f"most one 0", path=attrs.where)
    flat = np.asarray(weights, dtype=np.float64)
    rows, matrices, biases = [], [], []
    offset = 0
    for n_in, n_out in zip(layers, layers[1:]):
        W = flat[offset:offset + n_out * n_in].reshape((n_in, n_out)).T  # column-major nOut x nIn
        offset += n_out * n_in
        b = flat[offset:offset + n_out]
        offset += n_out
        matrices.append(frozen(W))
        biases.append(frozen(b))
        rows.append(tuple((tuple(r), float(v)) for r, v in zip(W.tolist(), b.tolist())))
    # numpy's fixed cost per call is below Python's cost for this many first-layer products.
    numpy_rows = layers[0] * layers[1] >= NUMPY_ROW_WEIGHTS
    return MultilayerPerceptronModel(tuple(layers), thresholds, tuple(rows), tuple(matrices), tuple(biases),
                                     numpy_rows)
