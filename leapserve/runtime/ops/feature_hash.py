"""Hashing features: feature_hasher, min_hash_lsh, bucketed_random_projection_lsh.

Semantics are Spark 3.5's (FeatureHasher, MinHashLSHModel, BucketedRandomProjectionLSHModel):

* feature_hasher: null inputs are ignored. A numeric column (byte, short, int, long, float,
  double) not listed in ``categorical_cols`` adds its value at the bucket of
  murmur3(column name); any other column (string, boolean, listed numeric) adds 1.0 at the
  bucket of murmur3("name=value"), the value printed as the JVM prints it (1.0, 1E10, true).
  MurmurHash3 x86_32 of the UTF-8 bytes, seed 42 (Spark's hashUnsafeBytes2), non-negative
  modulo. Values in one bucket are summed in column order; zeros are stored. Always sparse.
  (MLeap 0.16 treats byte columns as categorical; Spark, followed here, treats them as numbers.)
* min_hash_lsh: for each (a, b), the minimum over the non-zero indices i of
  ``((1 + i) * a + b) mod 2038074743`` in 64-bit arithmetic (Spark; MLeap 0.16 overflows 32-bit
  ints). A vector without non-zero entries is an error.
* bucketed_random_projection_lsh: ``floor(dot(u, x) * (1 / bucket_length))`` for each random unit
  vector u (Spark's gemv scales the dot product by the reciprocal; for dense vectors its Java
  BLAS accumulates with fused multiply-adds, reproduced where the floor can tell).

Spark returns LSH hashes as an array of one-element vectors and MLeap as a [k, 1] tensor; here
they are one vector of k hash values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import BundleError, InvalidInput
from ..jvm.format import java_double_str, java_float_str
from ..jvm.jmath import ML_EPSILON, TWO_52, fma, java_floor, seq_sparse_dot, seq_sum, to_float32
from ..jvm.murmur3 import hash_string
from ..model import OpModel, TextCache, check_batch_width, check_vector, frozen, text_cache_bytes
from ..registry import op
from ..types import FieldType, vector
from ..vectors import SparseBatch, SparseVector

NUMERIC = ("byte", "short", "int", "long", "float", "double")
SUPPORTED_BASES = NUMERIC + ("boolean", "string")


def _csr(size: int, indptr, indices, values) -> SparseBatch:
    return SparseBatch(size, np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int64),
                       np.asarray(values, dtype=np.float64))


# --- feature_hasher ----------------------------------------------------------------------------

def _jvm_text(base: str):
    """How Spark's ``value.toString`` prints a value of this column type."""
    if base == "string":
        return lambda v: v
    if base == "boolean":
        return lambda v: "true" if v else "false"
    if base == "double":
        return lambda v: java_double_str(float(v))
    if base == "float":
        return lambda v: java_float_str(float(v))
    return lambda v: str(int(v))


class _BucketCache(TextCache):
    """value -> bucket of "name=value" for one categorical column, remembered (values repeat).
    Keys tell -0.0 from 0.0 and collapse NaNs, since the JVM prints them differently / alike."""

    __slots__ = ("prefix", "text", "num_features")

    def __init__(self, name: str, base: str, num_features: int, max_bytes: int):
        super().__init__(max_bytes)
        self.prefix = name + "="
        self.text = _jvm_text(base)
        self.num_features = num_features

    def bucket(self, v) -> int:
        key = v
        if isinstance(v, float) and (v != v or v == 0.0):
            key = ("special", repr(v))
        i = self.values.get(key)
        if i is None:
            i = self.keep(key, hash_string(self.prefix + self.text(v), 42, 2) % self.num_features)
        return i


@dataclass(frozen=True)
class FeatureHasherModel(OpModel):
    num_features: int
    input_names: tuple[str, ...]
    bases: tuple[str, ...]
    categorical: frozenset
    real_buckets: tuple  # per input: the bucket of a numeric column, or None when categorical
    caches: tuple = field(compare=False, repr=False)  # per input: _BucketCache or None

    op_name = "feature_hasher"

    def input_ports(self):
        return [(f"input{i}", FieldType("scalar", b)) for i, b in enumerate(self.bases)]

    def output_ports(self):
        return [("output", vector(self.num_features))]

    def hash_features(self, values) -> SparseVector:
        acc: dict = {}
        for v, real, cache, base in zip(values, self.real_buckets, self.caches, self.bases):
            if v is None:
                continue
            if real is not None:
                i, x = real, (float(v) if base != "float" else to_float32(v))
            else:
                i, x = cache.bucket(v), 1.0
            acc[i] = acc[i] + x if i in acc else x
        idx = sorted(acc)
        return SparseVector(self.num_features, idx, [acc[i] for i in idx])

    def row_fn(self, outputs):
        hash_features = self.hash_features
        return lambda *values: (hash_features(values),)

    def batch_fn(self, outputs):
        size = self.num_features

        def run(ctx, *columns):
            n = ctx.n
            keys, vals, present = [], [], []  # per input: bucket, value and non-null mask per row
            for col, real, cache, base in zip(columns, self.real_buckets, self.caches, self.bases):
                if real is not None:
                    arr = np.asarray(col, dtype=np.float64)
                    if base == "float":
                        with np.errstate(over="ignore"):
                            arr = arr.astype(np.float32).astype(np.float64)
                    keys.append(np.full(n, real, dtype=np.int64))
                    vals.append(arr)
                    present.append(np.ones(n, dtype=bool))
                else:
                    items = col.tolist() if isinstance(col, np.ndarray) else list(col)
                    have = np.array([v is not None for v in items], dtype=bool)
                    keys.append(np.array([cache.bucket(v) if v is not None else 0 for v in items],
                                         dtype=np.int64))
                    vals.append(np.ones(n, dtype=np.float64))
                    present.append(have)
            if not columns or n == 0:
                return (_csr(size, np.zeros(n + 1), [], []),)
            # Entries row-major (row, then column order), so sums run in Spark's column order.
            K = np.stack(keys, axis=1).ravel()
            V = np.stack(vals, axis=1).ravel()
            P = np.stack(present, axis=1).ravel()
            R = np.repeat(np.arange(n, dtype=np.int64), len(columns))
            K, V, R = K[P], V[P], R[P]
            flat = R * size + K
            uniq, inverse = np.unique(flat, return_inverse=True)
            # A bucket's first value is stored as is (Spark keeps a lone -0.0); later values are
            # added one by one in entry order, which is Spark's column order within a row.
            first = np.full(len(uniq), len(flat), dtype=np.int64)
            np.minimum.at(first, inverse, np.arange(len(flat), dtype=np.int64))
            sums = V[first].copy()
            rest = np.ones(len(flat), dtype=bool)
            rest[first] = False
            if rest.any():
                with np.errstate(invalid="ignore", over="ignore"):
                    np.add.at(sums, inverse[rest], V[rest])
            rows = uniq // size
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
            return (SparseBatch(size, indptr, (uniq % size).astype(np.int64), sums),)
        return run


@op("feature_hasher", family="feature")
def load_feature_hasher(node) -> FeatureHasherModel:
    """FeatureHasher: numeric values at murmur3(name), categories as 1.0 at murmur3(name=value)."""
    attrs = node.attrs
    num_features = attrs.size("num_features")
    if not 0 < num_features < 1 << 31:
        raise BundleError(f"attribute 'num_features' must be a positive int, found {num_features}",
                          path=attrs.where)
    names = attrs.string_list("input_names")
    bases = attrs.basic_type_list("basic_types")
    shapes = attrs.data_shape_list("input_shapes", None)
    if len(bases) != len(names) or (shapes is not None and len(shapes) != len(names)):
        raise BundleError(f"'input_names', 'basic_types' and 'input_shapes' must have the same length "
                          f"({len(names)}, {len(bases)}, {len(shapes) if shapes is not None else '-'})",
                          path=attrs.where)
    for name, base, shape in zip(names, bases, shapes or [None] * len(names)):
        if base not in SUPPORTED_BASES:
            raise BundleError(f"input {name!r} has type {base!r}; feature_hasher reads numbers, "
                              f"booleans and strings", path=attrs.where)
        if shape is not None and shape.base != "scalar":
            raise BundleError(f"input {name!r} must be a scalar, found a {shape.base}", path=attrs.where)
    categorical = frozenset(attrs.string_list("categorical_cols", []))
    real, caches = [], []
    # The op's cache budget, shared by its categorical columns.
    hashed = sum(1 for name, base in zip(names, bases) if not (base in NUMERIC and name not in categorical))
    budget = text_cache_bytes(node) // max(hashed, 1)
    for name, base in zip(names, bases):
        if base in NUMERIC and name not in categorical:
            real.append(hash_string(name, 42, 2) % num_features)
            caches.append(None)
        else:
            real.append(None)
            caches.append(_BucketCache(name, base, num_features, budget))
    return FeatureHasherModel(num_features, tuple(names), tuple(bases), categorical, tuple(real), tuple(caches))


# --- min_hash_lsh ------------------------------------------------------------------------------

HASH_PRIME = 2038074743


@dataclass(frozen=True)
class MinHashLSHModel(OpModel):
    coefficients: tuple[tuple[int, int], ...]
    input_size: int
    a: np.ndarray = field(compare=False, repr=False)
    b: np.ndarray = field(compare=False, repr=False)

    op_name = "min_hash_lsh"
    discrete_outputs = frozenset({"output"})

    def input_ports(self):
        return [("input", vector(self.input_size))]

    def output_ports(self):
        return [("output", vector(len(self.coefficients)))]

    def hash_function(self, x) -> list[float]:
        if isinstance(x, SparseVector):
            elems = [i for i, v in zip(x.indices, x.values) if v != 0.0]
        else:
            elems = [i for i, v in enumerate(x) if v != 0.0]
        if not elems:
            raise InvalidInput("input", "a vector with at least 1 non-zero entry", "no non-zero entry")
        ones = [1 + i for i in elems]
        return [float(min([(e * a + b) % HASH_PRIME for e in ones])) for a, b in self.coefficients]

    def row_fn(self, outputs):
        hash_function, size = self.hash_function, self.input_size

        def run(x):
            check_vector("input", x, size)
            return (hash_function(x),)
        return run

    def batch_fn(self, outputs):
        size = self.input_size

        def run(ctx, X):
            check_batch_width("input", X, size)
            n, k = ctx.n, len(self.coefficients)
            if isinstance(X, SparseBatch):
                nz = X.values != 0.0
                rows, cols = X.row_ids()[nz], X.indices[nz]
            else:
                rows, cols = np.nonzero(X != 0.0)
            has = np.zeros(n, dtype=bool)
            has[rows] = True
            if not has.all():
                raise InvalidInput("input", "a vector with at least 1 non-zero entry", "no non-zero entry",
                                   row=int(np.argmin(has)))
            out = np.full((n, k), np.iinfo(np.int64).max, dtype=np.int64)
            hashes = ((cols.astype(np.int64) + 1)[:, None] * self.a[None, :] + self.b[None, :]) % HASH_PRIME
            np.minimum.at(out, rows, hashes)
            return (out.astype(np.float64),)
        return run


@op("min_hash_lsh", family="feature")
def load_min_hash_lsh(node) -> MinHashLSHModel:
    """MinHashLSHModel: one vector of hashes, min over non-zero i of ((1 + i) * a + b) mod 2038074743.

    Spark's output column holds the same hashes as an array of one-element vectors."""
    attrs = node.attrs
    a = attrs.long_list("random_coefficients_a")
    b = attrs.long_list("random_coefficients_b")
    if len(a) != len(b):
        raise BundleError(f"'random_coefficients_a' has {len(a)} values but 'random_coefficients_b' {len(b)}",
                          path=attrs.where)
    if any(not 0 <= v < 1 << 31 for v in a + b):  # Spark draws them in [0, 2038074743)
        raise BundleError("random coefficients must be non-negative 32-bit ints", path=attrs.where)
    size = attrs.size("input_size")
    if not 0 <= size <= HASH_PRIME:
        raise BundleError(f"attribute 'input_size' must be in [0, {HASH_PRIME}], found {size}", path=attrs.where)
    return MinHashLSHModel(tuple(zip(a, b)), size, frozen(a, dtype=np.int64), frozen(b, dtype=np.int64))


# --- bucketed_random_projection_lsh -----------------------------------------------------------

def _near_edge(scaled: float, bound: float, terms: int) -> bool:
    """Whether the floor of ``scaled`` could change with the rounding of its sum: within the
    summation error bound of an integer, or so large that floor keeps every last bit."""
    if not math.isfinite(scaled):
        return False
    return abs(scaled) >= TWO_52 or abs(scaled - round(scaled)) <= (terms + 2) * ML_EPSILON * bound


@dataclass(frozen=True)
class BucketedRandomProjectionLSHModel(OpModel):
    unit_vectors: tuple[tuple[float, ...], ...]
    bucket_length: float
    input_size: int
    matrix: np.ndarray = field(compare=False, repr=False)

    op_name = "bucketed_random_projection_lsh"
    discrete_outputs = frozenset({"output"})

    def input_ports(self):
        return [("input", vector(self.input_size))]

    def output_ports(self):
        return [("output", vector(len(self.unit_vectors)))]

    def hash_function(self, x) -> list[float]:
        """Spark: gemv(1 / bucket_length, U, x) then floor. For a sparse x Spark's own loop sums
        the products in order; for a dense x the Java BLAS (netlib-java on JDK 17) accumulates
        with Math.fma, which shows only near a bucket edge: there the fma sum is computed."""
        alpha = 1.0 / self.bucket_length
        if isinstance(x, SparseVector):
            indices, values = x.indices, x.values
            # Spark's sparse loop stores sum * alpha + beta * y with beta = y = 0.0: -0.0 becomes 0.0
            return [java_floor(seq_sparse_dot(indices, values, u) * alpha + 0.0) for u in self.unit_vectors]
        out = []
        for u in self.unit_vectors:
            products = [v * w for v, w in zip(x, u)]
            scaled = seq_sum(products) * alpha
            if _near_edge(scaled, abs(alpha) * seq_sum([abs(p) for p in products]), len(products)):
                total = 0.0
                for v, w in zip(x, u):
                    total = fma(w, v, total)
                scaled = total * alpha
            out.append(java_floor(scaled))
        return out

    def row_fn(self, outputs):
        hash_function, size = self.hash_function, self.input_size

        def run(x):
            check_vector("input", x, size)
            return (hash_function(x),)
        return run

    def batch_fn(self, outputs):
        size, alpha = self.input_size, 1.0 / self.bucket_length

        def run(ctx, X):
            check_batch_width("input", X, size)
            with np.errstate(invalid="ignore", over="ignore"):
                if isinstance(X, SparseBatch):
                    raw = X.matmul_t(self.matrix)
                    bound = X.with_values(np.abs(X.values)).matmul_t(np.abs(self.matrix))
                else:
                    raw = X @ self.matrix.T
                    bound = np.abs(X) @ np.abs(self.matrix).T
                scaled = raw * alpha
                out = np.floor(scaled)
                # BLAS sums in its own order: rows where that could move the floor are redone
                # the way Spark computes them.
                edge = np.isfinite(scaled) & ((np.abs(scaled) >= TWO_52)
                                              | (np.abs(scaled - np.round(scaled))
                                                 <= (size + 2) * ML_EPSILON * abs(alpha) * bound))
            for r in np.nonzero(edge.any(axis=1))[0]:
                x = X.row(int(r)) if isinstance(X, SparseBatch) else X[r].tolist()
                out[r] = self.hash_function(x)
            return (out,)
        return run


@op("bucketed_random_projection_lsh", family="feature")
def load_bucketed_random_projection_lsh(node) -> BucketedRandomProjectionLSHModel:
    """BucketedRandomProjectionLSHModel: one vector of hashes, floor(dot(u, x) / bucket_length) per u.

    Spark's output column holds the same hashes as an array of one-element vectors."""
    attrs = node.attrs
    size = attrs.size("input_size")
    tensors = attrs.tensor_list("random_unit_vectors")
    vectors = []
    for t in tensors:
        values = [float(v) for v in t.values]
        if len(values) != size:
            raise BundleError(f"a random unit vector has {len(values)} values for input_size {size}",
                              path=attrs.where)
        vectors.append(tuple(values))
    bucket_length = attrs.double("bucket_length")
    if not bucket_length > 0.0:
        raise BundleError(f"attribute 'bucket_length' must be > 0, found {bucket_length}", path=attrs.where)
    matrix = np.asarray(vectors, dtype=np.float64).reshape(len(vectors), size)
    matrix.flags.writeable = False
    return BucketedRandomProjectionLSHModel(tuple(vectors), bucket_length, size, matrix)
