"""Vector scaling: standard_scaler, min_max_scaler, max_abs_scaler, normalizer.

Math as Spark 3.5's StandardScalerModel, MinMaxScalerModel, MaxAbsScalerModel and Normalizer,
which differ from MLeap's runtime in places; we follow Spark:

* standard_scaler multiplies by ``scale = 1/std`` (0 where std is 0), so a NaN in a zero-variance
  feature stays NaN (MLeap writes 0). With the mean the output is dense; std only keeps a sparse
  input sparse (same indices, stored zeros kept); with neither the input passes through.
* min_max_scaler computes ``(x - min) * ((max' - min') / range) + min'``, a constant feature gives
  ``(min' + max') / 2``, NaN passes through, and the row is ``compressed`` (MLeap: always dense).
* max_abs_scaler multiplies by ``1/maxAbs`` (1 where maxAbs is 0) without clamping to [-1, 1]
  (MLeap clamps); sparse stays sparse.
* normalizer divides by Spark's ``Vectors.norm`` (p = 1, 2, inf or general p >= 1; the inf-norm
  skips NaN); a zero norm returns the input unchanged.

A null vector is an error (Spark's UDFs fail on it), except for a standard scaler with neither
mean nor std, which passes the null through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import BundleError, InvalidInput
from ..jvm.jmath import java_pow, seq_dot, seq_sum
from ..model import OpModel, check_batch_width, frozen
from ..registry import op
from ..types import vector
from ..vectors import SparseBatch, SparseVector, compressed_dense


def _null(size) -> InvalidInput:
    return InvalidInput("input", f"vector of size {size}" if size is not None else "vector", "null")


def _checked_dense(x, size: int) -> list:
    """A row vector as a dense list of floats, after the null and size checks."""
    if x is None:
        raise _null(size)
    if isinstance(x, SparseVector):
        if x.size != size:
            raise InvalidInput("input", f"vector of size {size}", f"vector of size {x.size}")
        return x.to_list()
    if len(x) != size:
        raise InvalidInput("input", f"vector of size {size}", f"vector of size {len(x)}")
    return x


def _dense_batch(X) -> np.ndarray:
    return X.toarray() if isinstance(X, SparseBatch) else X


def scale_row(x, scale: list, size: int):
    """Spark's transformDenseWithScale / transformSparseWithScale: element-wise product that
    keeps a sparse vector's indices (stored zeros included)."""
    if x is None:
        raise _null(size)
    if isinstance(x, SparseVector):
        if x.size != size:
            raise InvalidInput("input", f"vector of size {size}", f"vector of size {x.size}")
        return SparseVector(size, x.indices, [v * scale[i] for i, v in zip(x.indices, x.values)])
    if len(x) != size:
        raise InvalidInput("input", f"vector of size {size}", f"vector of size {len(x)}")
    return [a * s for a, s in zip(x, scale)]


def scale_batch(X, scale: np.ndarray, size: int):
    check_batch_width("input", X, size)
    with np.errstate(all="ignore"):
        if isinstance(X, SparseBatch):
            return X.with_values(X.values * scale[X.indices])
        return X * scale


# --- standard_scaler ------------------------------------------------------------------------

@dataclass(frozen=True)
class StandardScalerModel(OpModel):
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None
    # 1/std (0 where std is 0) and the mean, as lists (rows) and arrays (batches)
    scale: tuple[float, ...] | None = field(default=None, repr=False)
    shift_array: np.ndarray | None = field(default=None, compare=False, repr=False)
    scale_array: np.ndarray | None = field(default=None, compare=False, repr=False)

    op_name = "standard_scaler"

    @property
    def size(self) -> int | None:
        ref = self.std if self.std is not None else self.mean
        return None if ref is None else len(ref)

    def input_ports(self):
        return [("input", vector(self.size))]

    def output_ports(self):
        return [("output", vector(self.size))]

    def row_fn(self, outputs):
        size = self.size
        shift = list(self.mean) if self.mean is not None else None
        scale = list(self.scale) if self.scale is not None else None
        if shift is not None and scale is not None:
            def both(x):
                v = _checked_dense(x, size)
                return ([(a - m) * s for a, m, s in zip(v, shift, scale)],)
            return both
        if shift is not None:
            def center(x):
                v = _checked_dense(x, size)
                return ([a - m for a, m in zip(v, shift)],)
            return center
        if scale is not None:
            return lambda x: (scale_row(x, scale, size),)
        return lambda x: (x,)

    def batch_fn(self, outputs):
        size, shift, scale = self.size, self.shift_array, self.scale_array

        def run(ctx, X):
            if shift is None and scale is None:
                return (X,)
            check_batch_width("input", X, size)
            if shift is None:
                return (scale_batch(X, scale, size),)
            with np.errstate(all="ignore"):
                D = _dense_batch(X) - shift
                return (D if scale is None else D * scale,)
        return run


@op("standard_scaler", family="feature")
def load_standard_scaler(node) -> StandardScalerModel:
    """StandardScaler: (x - mean) * (1 / std), with either part optional."""
    mean = node.attrs.vector("mean", None)
    std = node.attrs.vector("std", None)
    if mean is not None and std is not None and len(mean) != len(std):
        raise BundleError(f"'mean' has {len(mean)} values but 'std' has {len(std)}", path=node.attrs.where)
    scale = None if std is None else tuple(1.0 / s if s != 0.0 else 0.0 for s in std)
    return StandardScalerModel(
        None if mean is None else tuple(mean), None if std is None else tuple(std), scale,
        None if mean is None else frozen(mean), None if scale is None else frozen(scale))


# --- min_max_scaler -------------------------------------------------------------------------

@dataclass(frozen=True)
class MinMaxScalerModel(OpModel):
    original_min: tuple[float, ...]
    original_max: tuple[float, ...]
    min_value: float
    max_value: float
    # Spark's scaleArray: (max' - min') / range, 0 for a constant feature
    scale: tuple[float, ...] = field(default=(), repr=False)
    min_array: np.ndarray | None = field(default=None, compare=False, repr=False)
    scale_array: np.ndarray | None = field(default=None, compare=False, repr=False)

    op_name = "min_max_scaler"

    @property
    def size(self) -> int:
        return len(self.original_min)

    @property
    def constant_output(self) -> float:
        return (self.min_value + self.max_value) / 2

    def input_ports(self):
        return [("input", vector(self.size))]

    def output_ports(self):
        return [("output", vector(self.size))]

    def row_fn(self, outputs):
        size, lows, scale = self.size, list(self.original_min), list(self.scale)
        low, constant = self.min_value, self.constant_output

        def run(x):
            v = _checked_dense(x, size)
            return (compressed_dense([
                a if a != a else ((a - m) * s + low if s != 0.0 else constant)
                for a, m, s in zip(v, lows, scale)]),)
        return run

    def batch_fn(self, outputs):
        size, lows, scale = self.size, self.min_array, self.scale_array
        low, constant = self.min_value, self.constant_output

        def run(ctx, X):
            check_batch_width("input", X, size)
            D = _dense_batch(X)
            with np.errstate(invalid="ignore", over="ignore"):
                out = np.where(scale != 0.0, (D - lows) * scale + low, constant)
            return (np.where(np.isnan(D), D, out),)
        return run


@op("min_max_scaler", family="feature")
def load_min_max_scaler(node) -> MinMaxScalerModel:
    """MinMaxScaler: rescale each feature from [min, max] to [minValue, maxValue]."""
    attrs = node.attrs
    lows, highs = attrs.vector("min"), attrs.vector("max")
    if len(lows) != len(highs):
        raise BundleError(f"'min' has {len(lows)} values but 'max' has {len(highs)}", path=attrs.where)
    low, high = attrs.double("minValue", 0.0), attrs.double("maxValue", 1.0)
    span = high - low
    scale = []
    for a, b in zip(lows, highs):
        rng = b - a
        scale.append(span / rng if rng != 0.0 else 0.0)
    return MinMaxScalerModel(tuple(lows), tuple(highs), low, high, tuple(scale), frozen(lows), frozen(scale))


# --- max_abs_scaler -------------------------------------------------------------------------

@dataclass(frozen=True)
class MaxAbsScalerModel(OpModel):
    max_abs: tuple[float, ...]
    scale: tuple[float, ...] = field(default=(), repr=False)  # 1/maxAbs, 1 where maxAbs is 0
    scale_array: np.ndarray | None = field(default=None, compare=False, repr=False)

    op_name = "max_abs_scaler"

    @property
    def size(self) -> int:
        return len(self.max_abs)

    def input_ports(self):
        return [("input", vector(self.size))]

    def output_ports(self):
        return [("output", vector(self.size))]

    def row_fn(self, outputs):
        scale, size = list(self.scale), self.size
        return lambda x: (scale_row(x, scale, size),)

    def batch_fn(self, outputs):
        scale, size = self.scale_array, self.size
        return lambda ctx, X: (scale_batch(X, scale, size),)


@op("max_abs_scaler", family="feature")
def load_max_abs_scaler(node) -> MaxAbsScalerModel:
    """MaxAbsScaler: x / maxAbs per feature."""
    max_abs = node.attrs.vector("maxAbs")
    scale = tuple(1.0 if v == 0.0 else 1.0 / v for v in max_abs)
    return MaxAbsScalerModel(tuple(max_abs), scale, frozen(scale))


# --- normalizer -----------------------------------------------------------------------------

def vector_norm(values, p: float) -> float:
    """Spark's Vectors.norm over the stored values (a sparse vector's zeros do not count)."""
    if p == 1.0:
        return seq_sum([abs(v) for v in values])
    if p == 2.0:
        return math.sqrt(seq_dot(values, values))
    if p == math.inf:
        top = 0.0
        for v in values:
            a = abs(v)
            if a > top:  # NaN never compares greater: skipped
                top = a
        return top
    # |v| ** p is Math.pow here (|v| >= 0, p >= 1) but for overflow, which raises: one try per row
    try:
        powers = [abs(v) ** p for v in values]
    except OverflowError:
        powers = [java_pow(abs(v), p) for v in values]
    return java_pow(seq_sum(powers), 1.0 / p)


@dataclass(frozen=True)
class NormalizerModel(OpModel):
    p_norm: float
    input_size: int

    op_name = "normalizer"

    def input_ports(self):
        return [("input", vector(self.input_size))]

    def output_ports(self):
        return [("output", vector(self.input_size))]

    def normalize(self, x):
        if x is None:
            raise _null(self.input_size)
        sparse = isinstance(x, SparseVector)
        n = x.size if sparse else len(x)
        if n != self.input_size:
            raise InvalidInput("input", f"vector of size {self.input_size}", f"vector of size {n}")
        values = x.values if sparse else x
        norm = vector_norm(values, self.p_norm)
        if norm == 0.0:
            return x
        if sparse:
            return SparseVector(n, x.indices, [v / norm for v in values])
        return [v / norm for v in values]

    def norms_batch(self, values: np.ndarray, rows: np.ndarray | None, n: int) -> np.ndarray:
        """The norm of each row; ``values`` is a 2-D array, or a sparse batch's stored values
        with the row of each in ``rows``."""
        p = self.p_norm
        with np.errstate(over="ignore", invalid="ignore"):
            if p == math.inf:
                a = np.abs(values)
                a = np.where(np.isnan(a), 0.0, a)
                if rows is None:
                    return a.max(axis=1, initial=0.0)
                out = np.zeros(n)
                np.maximum.at(out, rows, a)
                return out
            if p == 1.0:
                terms = np.abs(values)
            elif p == 2.0:
                terms = values * values
            else:
                terms = np.abs(values) ** p
            total = terms.sum(axis=1) if rows is None else np.bincount(rows, weights=terms, minlength=n)
            if p == 1.0:
                return total
            if p == 2.0:
                return np.sqrt(total)
            return total ** (1.0 / p)

    def row_fn(self, outputs):
        normalize = self.normalize
        return lambda x: (normalize(x),)

    def batch_fn(self, outputs):
        size = self.input_size

        def run(ctx, X):
            check_batch_width("input", X, size)
            if isinstance(X, SparseBatch):
                rows = X.row_ids()
                norms = self.norms_batch(X.values, rows, ctx.n)
                divisor = np.where(norms == 0.0, 1.0, norms)
                with np.errstate(invalid="ignore"):
                    return (X.with_values(X.values / divisor[rows]),)
            norms = self.norms_batch(X, None, ctx.n)
            divisor = np.where(norms == 0.0, 1.0, norms)
            with np.errstate(invalid="ignore"):
                return (X / divisor[:, None],)
        return run


@op("normalizer", family="feature")
def load_normalizer(node) -> NormalizerModel:
    """Normalizer: x / ||x||_p."""
    p = node.attrs.double("p_norm")
    if math.isnan(p):
        # JSON bundles write p = +Inf as null; no NaN is a valid p (Spark requires p >= 1)
        p = math.inf
    if not p >= 1.0:
        raise BundleError(f"attribute 'p_norm' must be at least 1 (Spark's Vectors.norm), found {p}",
                          path=node.attrs.where)
    size = node.attrs.size("input_size")
    if size < 0:
        raise BundleError(f"attribute 'input_size' must not be negative, found {size}", path=node.attrs.where)
    return NormalizerModel(p, size)
