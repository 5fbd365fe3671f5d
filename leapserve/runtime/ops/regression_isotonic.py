"""isotonic_regression: Spark's IsotonicRegressionModel.

As Spark 3.5's IsotonicRegressionModel.predict: ``java.util.Arrays.binarySearch`` over the
boundaries (its exact probe order, so that with duplicate boundaries the same one is hit; -0.0
sorts below 0.0 and NaN above everything, as ``Double.doubleToLongBits`` orders them): an exact
hit gives that boundary's prediction, below the first or above the last boundary the first or last
prediction, otherwise ``y1 + (y2 - y1) * (x - x1) / (x2 - x1)`` between the neighbours. With
``feature_index`` the input is a vector and ``x = features[feature_index]`` (any vector longer than
the index); without it a double, and a null double gives a null prediction (Spark's UDF on a
primitive argument).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BundleError, InvalidInput
from ..jvm.jmath import double_to_long_bits, double_to_long_bits_batch, java_div
from ..model import OpModel, frozen
from ..registry import op
from ..types import DOUBLE, vector
from ..vectors import SparseBatch, SparseVector

def binary_search(a: list[float], key: float) -> int:
    """java.util.Arrays.binarySearch(double[], double)."""
    low, high = 0, len(a) - 1
    while low <= high:
        mid = (low + high) >> 1
        v = a[mid]
        if v < key:
            low = mid + 1
        elif v > key:
            high = mid - 1
        else:
            mid_bits, key_bits = double_to_long_bits(v), double_to_long_bits(key)
            if mid_bits == key_bits:
                return mid
            if mid_bits < key_bits:  # (-0.0, 0.0) or (!NaN, NaN)
                low = mid + 1
            else:
                high = mid - 1
    return -(low + 1)


def binary_search_batch(a: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """binary_search for every key at once, probing exactly as Java does."""
    n = len(keys)
    low = np.zeros(n, dtype=np.int64)
    high = np.full(n, len(a) - 1, dtype=np.int64)
    found = np.full(n, -1, dtype=np.int64)
    key_bits = double_to_long_bits_batch(keys)
    a_bits = double_to_long_bits_batch(a)
    while True:
        live = (low <= high) & (found < 0)
        if not live.any():
            break
        mid = (low + high) >> 1
        mid = np.where(live, mid, 0)
        v = a[mid]
        lt = live & (v < keys)
        gt = live & (v > keys)
        eq = live & ~lt & ~gt
        mb = a_bits[mid]
        hit = eq & (mb == key_bits)
        up = lt | (eq & ~hit & (mb < key_bits))
        down = gt | (eq & ~hit & (mb > key_bits))
        found = np.where(hit, mid, found)
        low = np.where(up, mid + 1, low)
        high = np.where(down, mid - 1, high)
    return np.where(found >= 0, found, -(low + 1))


@dataclass(frozen=True, eq=False)
class IsotonicRegressionModel(OpModel):
    boundaries: tuple[float, ...]
    predictions: tuple[float, ...]
    feature_index: int | None  # None: the input is a double
    boundary_array: np.ndarray
    prediction_array: np.ndarray

    op_name = "isotonic_regression"

    def input_ports(self):
        return [("features", DOUBLE if self.feature_index is None else vector())]

    def output_ports(self):
        return [("prediction", DOUBLE)]

    def predict(self, x: float) -> float:
        b, p = self.boundaries, self.predictions
        found = binary_search(b, x)
        insert = -found - 1
        if insert == 0:
            return p[0]
        if insert == len(b):
            return p[-1]
        if found < 0:
            x1, y1, x2, y2 = b[insert - 1], p[insert - 1], b[insert], p[insert]
            return y1 + java_div((y2 - y1) * (x - x1), x2 - x1)
        return p[found]

    def feature(self, v) -> float:
        i = self.feature_index
        if v is None:  # Spark's UDF fails on a null vector
            raise InvalidInput("features", f"vector with index {i}", "null")
        if isinstance(v, SparseVector):
            if i >= v.size:
                raise InvalidInput("features", f"vector with index {i}", f"vector of size {v.size}")
            lo, hi = 0, len(v.indices) - 1
            while lo <= hi:  # SparseVector.apply: binary search of the stored indices
                mid = (lo + hi) >> 1
                j = v.indices[mid]
                if j < i:
                    lo = mid + 1
                elif j > i:
                    hi = mid - 1
                else:
                    return v.values[mid]
            return 0.0
        if i >= len(v):
            raise InvalidInput("features", f"vector with index {i}", f"vector of size {len(v)}")
        return v[i]

    def row_fn(self, outputs):
        predict = self.predict
        if self.feature_index is None:
            def run(x):
                return (None if x is None else predict(x),)
        else:
            feature = self.feature

            def run(v):
                return (predict(feature(v)),)
        return run

    def predict_batch(self, keys: np.ndarray) -> np.ndarray:
        b, p = self.boundary_array, self.prediction_array
        n = len(keys)
        if n == 0:
            return np.zeros(0)
        found = binary_search_batch(b, keys)
        insert = -found - 1
        out = np.empty(n)
        hit = found >= 0
        out[hit] = p[found[hit]]
        below = insert == 0
        above = insert == len(b)
        out[below] = p[0]
        out[above] = p[-1]
        mid = ~hit & ~below & ~above
        if mid.any():
            j = insert[mid]
            x1, y1, x2, y2 = b[j - 1], p[j - 1], b[j], p[j]
            with np.errstate(all="ignore"):
                out[mid] = y1 + (y2 - y1) * (keys[mid] - x1) / (x2 - x1)
        return out

    def batch_fn(self, outputs):
        i = self.feature_index

        def run(ctx, X):
            if i is None:
                return (self.predict_batch(np.asarray(X, dtype=np.float64)),)
            if X.shape[1] <= i:
                raise InvalidInput("features", f"vectors with index {i}", f"vectors of size {X.shape[1]}")
            if isinstance(X, SparseBatch):
                keys = np.zeros(len(X))
                at = X.indices == i
                keys[X.row_ids()[at]] = X.values[at]
            else:
                keys = X[:, i]
            return (self.predict_batch(np.ascontiguousarray(keys, dtype=np.float64)),)
        return run


@op("isotonic_regression", family="regression")
def load_isotonic_regression(node) -> IsotonicRegressionModel:
    """Isotonic regression: piecewise-linear interpolation between the boundaries."""
    attrs = node.attrs
    boundaries = attrs.double_list("boundaries")
    predictions = attrs.double_list("predictions")
    if not boundaries or len(boundaries) != len(predictions):
        raise BundleError(f"{len(boundaries)} boundaries and {len(predictions)} predictions: need as many "
                          f"of each, at least one", path=attrs.where)
    if any(b != b for b in boundaries):
        raise BundleError("attribute 'boundaries' holds NaN", path=attrs.where)
    if any(b > a for a, b in zip(boundaries[1:], boundaries)):
        raise BundleError("attribute 'boundaries' must be sorted in increasing order", path=attrs.where)
    index = None
    if "feature_index" in attrs:
        index = attrs.long("feature_index")
        if index < 0:
            raise BundleError(f"attribute 'feature_index' is {index}", path=attrs.where)
    return IsotonicRegressionModel(tuple(boundaries), tuple(predictions), index, frozen(boundaries),
                                   frozen(predictions))
