"""Ops only scikit-learn bundles hold (written by MLeap's Python package for scikit-learn).

* sklearn_binarizer: scikit-learn's Binarizer as MLeap's runtime scores it: 1.0 where the value is
  greater than the threshold, else 0.0 (NaN gives 0.0), on a scalar or a vector column. Attributes
  as MLeap writes them: ``threshold`` (double) and ``input_shapes``, a list of data shapes whose
  first one is the input's (scalar or 1-D tensor). On vectors MLeap looks at the stored entries
  only: a sparse vector's implicit zeros stay 0.0 even under a negative threshold (scikit-learn
  and Spark would make them 1.0); a dense vector's every entry is compared. The result is
  ``compressed`` (sparse or dense, whichever is smaller), as MLeap returns it. A null scalar is an
  error (MLeap's column is a non-nullable double).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BundleError, InvalidInput
from ..model import OpModel
from ..registry import op
from ..types import DOUBLE, vector
from ..vectors import SparseBatch, SparseVector, compressed


@dataclass(frozen=True)
class SklearnBinarizerModel(OpModel):
    threshold: float
    is_vector: bool
    size: int | None  # vector size when known

    op_name = "sklearn_binarizer"

    def input_ports(self):
        return [("input", vector(self.size) if self.is_vector else DOUBLE)]

    def output_ports(self):
        return [("output", vector(self.size) if self.is_vector else DOUBLE)]

    def binarize_vector(self, x):
        if x is None:
            raise InvalidInput("input", "vector", "null")
        sparse = isinstance(x, SparseVector)
        n = x.size if sparse else len(x)
        if self.size is not None and n != self.size:
            raise InvalidInput("input", f"vector of size {self.size}", f"vector of size {n}")
        t = self.threshold
        pairs = zip(x.indices, x.values) if sparse else enumerate(x)
        hot = [i for i, v in pairs if v > t]
        return compressed(n, hot, [1.0] * len(hot))

    def row_fn(self, outputs):
        if self.is_vector:
            binarize = self.binarize_vector
            return lambda x: (binarize(x),)
        t = self.threshold

        def run(x):
            if x is None:
                raise InvalidInput("input", "a number", "null")
            return (1.0 if x > t else 0.0,)
        return run

    def batch_fn(self, outputs):
        t, size = self.threshold, self.size

        def run(ctx, X):
            if not self.is_vector:
                return ((X > t).astype(np.float64),)
            if size is not None and X.shape[1] != size:
                raise InvalidInput("input", f"vectors of size {size}", f"vectors of size {X.shape[1]}")
            if isinstance(X, SparseBatch):  # stored entries only, whatever the threshold's sign
                hot = X.values > t
                indptr = np.zeros(len(X) + 1, dtype=np.int64)
                np.cumsum(np.bincount(X.row_ids()[hot], minlength=len(X)), out=indptr[1:])
                return (SparseBatch(X.size, indptr, X.indices[hot], np.ones(int(hot.sum()))),)
            return ((X > t).astype(np.float64),)
        return run


@op("sklearn_binarizer", family="feature")
def load_sklearn_binarizer(node) -> SklearnBinarizerModel:
    """scikit-learn Binarizer: 1.0 above the threshold, else 0.0 (scalars or vectors)."""
    attrs = node.attrs
    shapes = attrs.data_shape_list("input_shapes")
    if not shapes:
        raise BundleError("attribute 'input_shapes': expected one data shape (the input's), found none",
                          path=attrs.where)
    shape = shapes[0]  # MLeap reads the first one only
    threshold = attrs.double("threshold")
    if shape.base == "scalar":
        return SklearnBinarizerModel(threshold, False, None)
    if shape.base != "tensor" or (shape.dims is not None and len(shape.dims) > 1):
        raise BundleError(f"attribute 'input_shapes': sklearn_binarizer reads a scalar or a 1-D tensor, "
                          f"found {shape}", path=attrs.where)
    size = shape.dims[0] if shape.dims and shape.dims[0] >= 0 else None  # -1: size unknown
    return SklearnBinarizerModel(threshold, True, size)
