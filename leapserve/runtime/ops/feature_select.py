"""Vector feature selection and transforms: vector_indexer, chi_sq_selector, dct.

Semantics are Spark 3.5's (VectorIndexerModel, ChiSqSelectorModel, DCT):

* vector_indexer: each categorical feature's value is replaced by its category index. A value
  missing from the map (NaN always is: Scala's map lookup never finds NaN) is an error, becomes
  ``len(map)`` with handle_invalid "keep", or drops the row with "skip" (Spark filters the null
  result out; MLeap would return a null vector). Dense vectors stay dense; sparse vectors keep
  their layout and only stored entries are mapped (an implicit zero stays 0.0).
* chi_sq_selector: the selected features, in order; dense stays dense, sparse stays sparse.
* dct: orthonormal DCT-II (JTransforms ``forward(x, true)``), or DCT-III with ``inverse``; the
  output is always dense.

A null vector is an error for all three (Spark's UDFs throw on it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import BundleError, InvalidInput, RowSkipped
from ..jvm.jmath import seq_dot
from ..model import OpModel, check_batch_width, check_vector, frozen
from ..registry import op
from ..types import vector
from ..vectors import SparseBatch, SparseVector

HANDLE_INVALID = ("error", "keep", "skip")


# --- vector_indexer ----------------------------------------------------------------------------

@dataclass(frozen=True)
class VectorIndexerModel(OpModel):
    num_features: int
    category_maps: tuple = field(compare=False)  # ((feature index, {value: category}), ...), bundle order
    map_sizes: dict = field(compare=False)  # feature index -> number of categories (NaN keys included)
    handle_invalid: str
    lookup_tables: dict = field(compare=False, repr=False)  # feature -> (sorted keys, indices)
    map_of: dict = field(compare=False, repr=False)  # feature -> {value: category}

    op_name = "vector_indexer"

    def input_ports(self):
        return [("input", vector(self.num_features))]

    def output_ports(self):
        return [("output", vector(self.num_features))]

    def _invalid(self, feature: int, value: float):
        if self.handle_invalid == "skip":
            return RowSkipped("input", f"value {value!r} of feature {feature} is not a known category")
        return InvalidInput("input", f"a known category of feature {feature}", f"value {value!r}")

    def index_features(self, x):
        keep = self.handle_invalid == "keep"
        if isinstance(x, SparseVector):
            maps = self.map_of
            values = list(x.values)
            for k, i in enumerate(x.indices):
                cmap = maps.get(i)
                if cmap is None:
                    continue
                v = values[k]
                c = cmap.get(v) if v == v else None
                if c is None:
                    if not keep:
                        raise self._invalid(i, v)
                    c = self.map_sizes[i]
                values[k] = float(c)
            return SparseVector(x.size, x.indices, values)
        out = list(x)
        for i, cmap in self.category_maps:
            v = out[i]
            c = cmap.get(v) if v == v else None
            if c is None:
                if not keep:
                    raise self._invalid(i, v)
                c = self.map_sizes[i]
            out[i] = float(c)
        return out

    def row_fn(self, outputs):
        index_features, size = self.index_features, self.num_features

        def run(x):
            check_vector("input", x, size)
            return (index_features(x),)
        return run

    def _map_values(self, ctx, feature: int, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Category indices of one feature's values; invalid ones per handle_invalid."""
        keys, indices = self.lookup_tables[feature]
        pos = np.searchsorted(keys, values)
        pos_ok = np.minimum(pos, max(len(keys) - 1, 0))
        found = (pos < len(keys)) & (keys[pos_ok] == values) if len(keys) else np.zeros(len(values), bool)
        out = np.where(found, indices[pos_ok] if len(keys) else 0.0, float(self.map_sizes[feature]))
        bad = ~found
        if bad.any():
            if self.handle_invalid == "error":
                k = int(np.argmax(bad))
                raise InvalidInput("input", f"a known category of feature {feature}",
                                   f"value {float(values[k])!r}", row=int(rows[k]))
            if self.handle_invalid == "skip":
                mask = np.zeros(ctx.n, dtype=bool)
                mask[rows[bad]] = True
                ctx.skip(mask, "input", f"a value of feature {feature} is not a known category")
                out = np.where(found, out, values)
        return out

    def batch_fn(self, outputs):
        size = self.num_features

        def run(ctx, X):
            check_batch_width("input", X, size)
            if isinstance(X, SparseBatch):
                values = X.values.copy()
                row_ids = X.row_ids()
                for i, _ in self.category_maps:
                    at = np.nonzero(X.indices == i)[0]
                    if len(at):
                        values[at] = self._map_values(ctx, i, X.values[at], row_ids[at])
                return (X.with_values(values),)
            out = np.array(X, dtype=np.float64, copy=True)
            rows = np.arange(ctx.n)
            for i, _ in self.category_maps:
                out[:, i] = self._map_values(ctx, i, X[:, i], rows)
            return (out,)
        return run


@op("vector_indexer", family="feature")
def load_vector_indexer(node) -> VectorIndexerModel:
    """VectorIndexerModel: categorical features mapped to category indices."""
    attrs = node.attrs
    num_features = attrs.long("num_features")
    if not 0 <= num_features < 1 << 31:
        raise BundleError(f"attribute 'num_features' must be a non-negative int, found {num_features}",
                          path=attrs.where)
    handle_invalid = attrs.string("handle_invalid", "error") or "error"
    if handle_invalid not in HANDLE_INVALID:
        raise BundleError(f"attribute 'handle_invalid' must be one of {list(HANDLE_INVALID)}, "
                          f"found {handle_invalid!r}", path=attrs.where)
    maps, sizes, tables = [], {}, {}
    for feature in attrs.long_list("keys"):
        if not 0 <= feature < num_features:
            raise BundleError(f"categorical feature {feature} is outside [0, {num_features})", path=attrs.where)
        if feature in sizes:
            raise BundleError(f"categorical feature {feature} is listed twice in 'keys'", path=attrs.where)
        values = attrs.double_list(f"key_{feature}_keys")
        indices = attrs.long_list(f"key_{feature}_values")
        if len(values) != len(indices):
            raise BundleError(f"'key_{feature}_keys' has {len(values)} values but 'key_{feature}_values' "
                              f"{len(indices)}", path=attrs.where)
        # NaN keys count in the map's size (handle_invalid "keep") but are never found, as in Scala.
        cmap = {v: c for v, c in zip(values, indices) if v == v}
        sizes[feature] = len(values)
        maps.append((feature, cmap))
        keys = sorted(cmap)
        tables[feature] = (frozen(keys), frozen([float(cmap[k]) for k in keys]))
    return VectorIndexerModel(num_features, tuple(maps), sizes, handle_invalid, tables, dict(maps))


# --- chi_sq_selector ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ChiSqSelectorModel(OpModel):
    filter_indices: tuple[int, ...]
    input_size: int
    index_array: np.ndarray = field(compare=False, repr=False)
    position: np.ndarray = field(compare=False, repr=False)  # input index -> output index or -1

    op_name = "chi_sq_selector"

    def input_ports(self):
        return [("input", vector(self.input_size))]

    def output_ports(self):
        return [("output", vector(len(self.filter_indices)))]

    def select(self, x):
        selected = self.filter_indices
        if isinstance(x, SparseVector):
            # Spark's compressSparse: walk both sorted index lists together.
            new_indices, new_values = [], []
            indices, values = x.indices, x.values
            i = j = 0
            while i < len(indices) and j < len(selected):
                a, b = indices[i], selected[j]
                if a == b:
                    new_indices.append(j)
                    new_values.append(values[i])
                    i += 1
                    j += 1
                elif a > b:
                    j += 1
                else:
                    i += 1
            return SparseVector(len(selected), new_indices, new_values)
        return [x[i] for i in selected]

    def row_fn(self, outputs):
        select, size = self.select, self.input_size

        def run(x):
            check_vector("input", x, size)
            return (select(x),)
        return run

    def batch_fn(self, outputs):
        size = self.input_size

        def run(ctx, X):
            check_batch_width("input", X, size)
            if isinstance(X, SparseBatch):
                new = self.position[X.indices] if len(X.indices) else np.zeros(0, dtype=np.int64)
                keep = new >= 0
                counts = np.bincount(X.row_ids()[keep], minlength=len(X))
                indptr = np.zeros(len(X) + 1, dtype=np.int64)
                np.cumsum(counts, out=indptr[1:])
                return (SparseBatch(len(self.filter_indices), indptr, new[keep].astype(np.int64),
                                    X.values[keep]),)
            return (X[:, self.index_array],)
        return run


@op("chi_sq_selector", family="feature")
def load_chi_sq_selector(node) -> ChiSqSelectorModel:
    """ChiSqSelectorModel: keep the selected features."""
    attrs = node.attrs
    selected = attrs.long_list("filter_indices")
    input_size = attrs.int("input_size")
    if any(b <= a for a, b in zip(selected, selected[1:])):
        raise BundleError("attribute 'filter_indices' must be strictly increasing (Spark sorts them)",
                          path=attrs.where)
    if selected and (selected[0] < 0 or selected[-1] >= input_size):
        raise BundleError(f"attribute 'filter_indices' holds indices outside [0, {input_size})", path=attrs.where)
    position = np.full(max(input_size, 0), -1, dtype=np.int64)
    position[selected] = np.arange(len(selected))
    position.flags.writeable = False
    return ChiSqSelectorModel(tuple(selected), input_size, frozen(selected, dtype=np.int64), position)


# --- dct ---------------------------------------------------------------------------------------

def dct_matrix(n: int, inverse: bool) -> np.ndarray:
    """The orthonormal DCT-II matrix (rows = outputs), or its transpose, the DCT-III."""
    k = np.arange(n, dtype=np.float64)[:, None]
    j = np.arange(n, dtype=np.float64)[None, :]
    m = np.cos(math.pi / n * (j + 0.5) * k)
    m *= math.sqrt(2.0 / n)
    m[0, :] = math.sqrt(1.0 / n)
    return m.T.copy() if inverse else m


@dataclass(frozen=True)
class DCTModel(OpModel):
    inverse: bool
    input_size: int
    matrix: np.ndarray = field(compare=False, repr=False)
    rows: tuple = field(compare=False, repr=False)  # the matrix as tuples of floats, for rows

    op_name = "dct"

    def input_ports(self):
        return [("input", vector(self.input_size))]

    def output_ports(self):
        return [("output", vector(self.input_size))]

    def row_fn(self, outputs):
        rows, size, matrix = self.rows, self.input_size, self.matrix

        if size > 4:  # past a few values numpy's product beats the O(n^2) Python loop
            def run(x):
                check_vector("input", x, size)
                v = x.toarray() if isinstance(x, SparseVector) else np.asarray(x, dtype=np.float64)
                with np.errstate(invalid="ignore", over="ignore"):
                    return ((matrix @ v).tolist(),)
            return run

        def run(x):
            check_vector("input", x, size)
            if isinstance(x, SparseVector):
                x = x.to_list()
            return ([seq_dot(row, x) for row in rows],)
        return run

    def batch_fn(self, outputs):
        size, mt = self.input_size, self.matrix.T

        def run(ctx, X):
            check_batch_width("input", X, size)
            dense = X.toarray() if isinstance(X, SparseBatch) else X
            with np.errstate(invalid="ignore", over="ignore"):
                return (dense @ mt,)
        return run


@op("dct", family="feature")
def load_dct(node) -> DCTModel:
    """DCT: orthonormal DCT-II, or DCT-III when inverse."""
    attrs = node.attrs
    size = attrs.int("input_size")
    if not 1 <= size <= 1 << 16:
        raise BundleError(f"attribute 'input_size' must be in [1, 65536], found {size}", path=attrs.where)
    inverse = attrs.boolean("inverse", False)
    m = dct_matrix(size, inverse)
    m.flags.writeable = False
    return DCTModel(inverse, size, m, tuple(tuple(r) for r in m.tolist()))
