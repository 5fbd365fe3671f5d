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

from ..errors import BundleError
from ..registry import op
from .feature_threshold import BinarizerModel, binarizer_shape


@dataclass(frozen=True)
class SklearnBinarizerModel(BinarizerModel):
    """Spark's binarizer but for implicit zeros and nulls (see the module docstring)."""

    op_name = "sklearn_binarizer"
    zeros_compared = False
    null_passes = False


@op("sklearn_binarizer", family="feature")
def load_sklearn_binarizer(node) -> SklearnBinarizerModel:
    """scikit-learn Binarizer: 1.0 above the threshold, else 0.0 (scalars or vectors)."""
    attrs = node.attrs
    shapes = attrs.data_shape_list("input_shapes")
    if not shapes:
        raise BundleError("attribute 'input_shapes': expected one data shape (the input's), found none",
                          path=attrs.where)
    # MLeap reads the first shape only
    return SklearnBinarizerModel(attrs.double("threshold"), *binarizer_shape(shapes[0], node))
