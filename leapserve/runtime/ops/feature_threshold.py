"""Thresholds: bucketizer, binarizer.

Math as Spark 3.5's Bucketizer and Binarizer. Where MLeap's runtime differs from
Spark we follow Spark:

* bucketizer: a null input gives a null bucket under "error"/"keep" and drops the row under "skip"
  (Spark's ``na.drop``), as NaN does; values outside the splits are errors in every mode. Bucket
  search orders -0.0 before 0.0 like Java's ``Arrays.binarySearch``.
* binarizer: scalar NaN gives 0.0 and null gives null. On vectors Spark 3.5 looks at non-zero
  entries only: with a threshold >= 0 the output holds 1.0 where ``v > threshold``; with a negative
  threshold every implicit zero becomes 1.0 (a dense output) and entries ``v <= threshold`` 0.0;
  the result is ``compressed``. (MLeap never turns an implicit zero into 1.0.)
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field

import numpy as np

from ..errors import BundleError, InvalidInput, RowSkipped
from ..model import OpModel, frozen, read_handle_invalid
from ..registry import op
from ..types import DOUBLE, vector
from ..vectors import SparseBatch, SparseVector, compressed, compressed_dense


# --- bucketizer -----------------------------------------------------------------------------

@dataclass(frozen=True)
class BucketizerModel(OpModel):
    splits: tuple[float, ...]
    handle_invalid: str
    split_array: np.ndarray | None = field(default=None, compare=False, repr=False)

    op_name = "bucketizer"
    discrete_outputs = frozenset({"output"})

    def input_ports(self):
        return [("input", DOUBLE)]

    def output_ports(self):
        return [("output", DOUBLE)]

    @property
    def positive_zero_split(self) -> int | None:
        """Index of a +0.0 split: Java's binary search puts -0.0 before it (bucket one lower)."""
        for j, s in enumerate(self.splits):
            if s == 0.0 and math.copysign(1.0, s) > 0:
                return j
        return None

    def out_of_bounds(self, x: float, row: int | None = None) -> InvalidInput:
        return InvalidInput("input", f"a value within the splits [{self.splits[0]}, {self.splits[-1]}]",
                            f"value {x!r}", row=row)

    def invalid(self, x):
        """Bucket of a null or NaN input under the handle_invalid mode (None: a null output)."""
        mode = self.handle_invalid
        if mode == "skip":
            raise RowSkipped("input", "null input" if x is None else "NaN input")
        if x is None:
            return None
        if mode == "keep":
            return float(len(self.splits) - 1)
        raise InvalidInput("input", "a number (bucketizer with handle_invalid='error' refuses NaN)", "NaN")

    def row_fn(self, outputs):
        splits = list(self.splits)
        last, last_bucket, count = splits[-1], float(len(splits) - 2), len(splits)
        zero = self.positive_zero_split
        invalid, out_of_bounds = self.invalid, self.out_of_bounds

        def run(x):
            if x is None or x != x:
                return (invalid(x),)
            if x == last:
                return (last_bucket,)
            p = bisect_right(splits, x)  # splits[p - 1] <= x < splits[p]
            if zero is not None and p == zero + 1 and x == 0.0 and math.copysign(1.0, x) < 0:
                p = zero
            if p == 0 or p == count:
                raise out_of_bounds(x)
            return (float(p - 1),)
        return run

    def batch_fn(self, outputs):
        splits = self.split_array
        count, last = len(splits), splits[-1]
        zero = self.positive_zero_split
        mode = self.handle_invalid

        def run(ctx, X):
            nan = np.isnan(X)
            p = np.searchsorted(splits, X, side="right")
            if zero is not None:
                p = p - ((p == zero + 1) & (X == 0.0) & np.signbit(X))
            bucket = (p - 1).astype(np.float64)
            at_last = X == last
            bucket[at_last] = count - 2
            bad = ((p == 0) | (p == count)) & ~at_last & ~nan
            if bad.any():
                r = int(np.argmax(bad))
                raise self.out_of_bounds(float(X[r]), row=r)
            if nan.any():
                if mode == "keep":
                    bucket[nan] = count - 1
                elif mode == "skip":
                    ctx.skip(nan, "input", "NaN input")
                    bucket[nan] = 0.0
                else:
                    raise InvalidInput("input", "a number (bucketizer with handle_invalid='error' refuses NaN)",
                                       "NaN", row=int(np.argmax(nan)))
            return (bucket,)
        return run


@op("bucketizer", family="feature")
def load_bucketizer(node) -> BucketizerModel:
    """Bucketizer: value -> index of the split interval holding it."""
    splits = node.attrs.double_list("splits")
    if len(splits) < 2:
        raise BundleError(f"attribute 'splits' needs at least 2 values, found {len(splits)}",
                          path=node.attrs.where)
    # JSON writes the usual -Inf/+Inf end splits as null (read back as NaN)
    if math.isnan(splits[0]):
        splits[0] = -math.inf
    if math.isnan(splits[-1]):
        splits[-1] = math.inf
    for a, b in zip(splits, splits[1:]):
        if not a < b:
            raise BundleError(f"attribute 'splits' must be strictly increasing without NaN, found {splits}",
                              path=node.attrs.where)
    return BucketizerModel(tuple(splits), read_handle_invalid(node), frozen(splits))


# --- binarizer ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BinarizerModel(OpModel):
    threshold: float
    is_vector: bool
    size: int | None  # vector size when known
    # whether only a vector's stored entries can turn 1.0 (set from the above when built)
    stored_only: bool = field(init=False, repr=False)

    op_name = "binarizer"
    # Spark compares a sparse vector's implicit zeros too (a negative threshold makes them 1.0) and
    # passes a null scalar on as null
    zeros_compared = True
    null_passes = True

    def __post_init__(self):
        # v > t >= 0 holds for non-zero values only (a NaN threshold, maybe a +Inf lost by JSON,
        # marks nothing); uncompared zeros stay 0.0 whatever the threshold
        object.__setattr__(self, "stored_only", not self.threshold < 0.0 or not self.zeros_compared)

    def input_ports(self):
        return [("input", vector(self.size) if self.is_vector else DOUBLE)]

    def output_ports(self):
        return [("output", vector(self.size) if self.is_vector else DOUBLE)]

    def binarize_vector(self, x):
        t, size = self.threshold, self.size
        if x is None:
            raise InvalidInput("input", "vector", "null")
        sparse = isinstance(x, SparseVector)
        n = x.size if sparse else len(x)
        if size is not None and n != size:
            raise InvalidInput("input", f"vector of size {size}", f"vector of size {n}")
        pairs = zip(x.indices, x.values) if sparse else enumerate(x)
        if self.stored_only:
            hot = [i for i, v in pairs if v > t]
            return compressed(n, hot, [1.0] * len(hot))
        out = [1.0] * n
        for i, v in pairs:
            if v <= t:  # t < 0, so v is non-zero
                out[i] = 0.0
        return compressed_dense(out)

    def row_fn(self, outputs):
        t = self.threshold
        if self.is_vector:
            binarize = self.binarize_vector
            return lambda x: (binarize(x),)
        if self.null_passes:
            # NaN > t is false: 0.0, as Spark's explicit NaN test gives
            return lambda x: (None if x is None else (1.0 if x > t else 0.0),)

        def run(x):
            if x is None:
                raise InvalidInput("input", "a number", "null")
            return (1.0 if x > t else 0.0,)
        return run

    def batch_fn(self, outputs):
        t, size, stored_only = self.threshold, self.size, self.stored_only

        def run(ctx, X):
            if not self.is_vector:
                return ((X > t).astype(np.float64),)
            if size is not None and X.shape[1] != size:
                raise InvalidInput("input", f"vectors of size {size}", f"vectors of size {X.shape[1]}")
            if isinstance(X, SparseBatch):
                if stored_only:
                    hot = X.values > t
                    indptr = np.zeros(len(X) + 1, dtype=np.int64)
                    np.cumsum(np.bincount(X.row_ids()[hot], minlength=len(X)), out=indptr[1:])
                    return (SparseBatch(X.size, indptr, X.indices[hot], np.ones(int(hot.sum()))),)
                out = np.ones(X.shape)
                low = X.values <= t
                out[X.row_ids()[low], X.indices[low]] = 0.0
                return (out,)
            if stored_only:
                return ((X > t).astype(np.float64),)
            return ((~(X <= t)).astype(np.float64),)
        return run


@op("binarizer", family="feature")
def load_binarizer(node) -> BinarizerModel:
    """Binarizer: 1.0 above the threshold, else 0.0 (scalars or vectors)."""
    attrs = node.attrs
    if "thresholds" in attrs or "input_shapes_list" in attrs:
        raise BundleError("multi-column binarizer bundles are not supported (one column per binarizer)",
                          path=attrs.where)
    return BinarizerModel(attrs.double("threshold"), *binarizer_shape(attrs.data_shape("input_shapes"), node))


def binarizer_shape(shape, node) -> tuple[bool, int | None]:
    """(is_vector, size or None) of a binarizer's input shape: a scalar or a 1-D tensor."""
    if shape.base == "scalar":
        return False, None
    if shape.base != "tensor" or (shape.dims is not None and len(shape.dims) > 1):
        raise BundleError(f"attribute 'input_shapes': {node.op} reads a scalar or a 1-D tensor, found {shape}",
                          path=node.attrs.where)
    return True, (shape.dims[0] if shape.dims and shape.dims[0] >= 0 else None)  # -1: size unknown
