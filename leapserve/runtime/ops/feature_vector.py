"""Vector features: pca, dct, polynomial_expansion, elementwise_product, vector_slicer, interaction.

Semantics are Spark 3.5's:

* pca: ``pc^T x`` (pc is n x k, stored column-major); always dense.
* dct: orthonormal DCT-II (JTransforms ``forward(x, true)``), or DCT-III with ``inverse``; the
  output is always dense.
* polynomial_expansion: Spark's recursive expansion (monomials of degree 1..d; for n features the
  last feature is expanded outermost, e.g. (x, y) -> x, x^2, y, xy, y^2). A monomial is the product
  of its factors taken from the last feature to the first; as in Spark, once a partial product is
  0 the monomial stays 0 (0 * inf gives 0 when the 0 comes first in that order, NaN otherwise).
  Dense in -> dense out; sparse in -> sparse out with the monomials of stored entries only (Spark's
  sparse recursion never multiplies by an implicit zero, so NaN * implicit 0 is absent).
* elementwise_product: ``x_i * s_i``; sparse stays sparse (stored entries, zeros kept).
* vector_slicer: ``x[indices ++ named_indices]`` (names were resolved to indices when the bundle was
  written); dense -> dense, sparse -> sparse keeping the selected stored entries.
* interaction: each input is encoded into a block (numeric element: its value; nominal element with
  m values: 1.0 at its index, which must be an integer in [0, m)); the output is the product of
  one entry from each block for every combination, the last input varying fastest, zeros dropped,
  then ``compressed``. Like Spark, vector inputs contribute their *stored* entries: a nominal
  element stored as 0 in a dense vector selects category 0, while an implicit zero of a sparse
  vector contributes nothing.

Spark's PolynomialExpansion and VectorSlicer accept vectors of any size and IDF shorter dense ones;
the runtime holds every vector input to the size recorded in the bundle (the size of the column
the stage was fit on) and refuses others. Null vectors are an error, as in Spark.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from math import comb
from operator import mul

import numpy as np

from ..errors import BundleError, InvalidInput
from ..jvm.jmath import seq_dot, seq_sparse_dot
from ..model import OpModel, check_batch_width, check_vector, frozen
from ..registry import op
from ..types import DOUBLE, vector
from ..vectors import SparseBatch, SparseVector, compressed


def _dense(X) -> np.ndarray:
    return X.toarray() if isinstance(X, SparseBatch) else X


# --- pca ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PCAModel(OpModel):
    pc: np.ndarray  # n x k
    columns: tuple = field(compare=False, repr=False)  # the k principal components as tuples

    op_name = "pca"

    @property
    def num_features(self) -> int:
        return self.pc.shape[0]

    def input_ports(self):
        return [("input", vector(self.num_features))]

    def output_ports(self):
        return [("output", vector(self.pc.shape[1]))]

    def row_fn(self, outputs):
        columns, n = self.columns, self.num_features

        def run(x):
            check_vector("input", x, n)
            if isinstance(x, SparseVector):
                idx, vals = x.indices, x.values
                return ([seq_sparse_dot(idx, vals, col) for col in columns],)
            return ([seq_dot(col, x) for col in columns],)
        return run

    def batch_fn(self, outputs):
        pc = self.pc

        def run(ctx, X):
            check_batch_width("input", X, self.num_features)
            with np.errstate(over="ignore", invalid="ignore"):  # infinities and NaN as the row path's
                if isinstance(X, SparseBatch):
                    return (X.matmul_t(pc.T),)
                return (X @ pc,)
        return run


@op("pca", family="feature")
def load_pca(node) -> PCAModel:
    """PCAModel: projection onto the principal components (n x k matrix, column-major)."""
    pc = node.attrs.matrix("principal_components")
    pc.flags.writeable = False
    return PCAModel(pc, tuple(tuple(pc[:, j].tolist()) for j in range(pc.shape[1])))


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
    size = attrs.size("input_size")
    if not 1 <= size <= 1 << 16:
        raise BundleError(f"attribute 'input_size' must be in [1, 65536], found {size}", path=attrs.where)
    inverse = attrs.boolean("inverse", False)
    m = dct_matrix(size, inverse)
    m.flags.writeable = False
    return DCTModel(inverse, size, m, tuple(tuple(r) for r in m.tolist()))


# --- elementwise_product -----------------------------------------------------------------------

@dataclass(frozen=True)
class ElementwiseProductModel(OpModel):
    scaling: tuple[float, ...]
    scaling_array: np.ndarray = field(compare=False, repr=False)

    op_name = "elementwise_product"

    def input_ports(self):
        return [("input", vector(len(self.scaling)))]

    def output_ports(self):
        return [("output", vector(len(self.scaling)))]

    def row_fn(self, outputs):
        s, size = list(self.scaling), len(self.scaling)

        def run(x):
            check_vector("input", x, size)
            if isinstance(x, SparseVector):
                return (SparseVector(size, x.indices, [v * s[i] for i, v in zip(x.indices, x.values)]),)
            return (list(map(mul, x, s)),)
        return run

    def batch_fn(self, outputs):
        s = self.scaling_array

        def run(ctx, X):
            check_batch_width("input", X, len(s))
            with np.errstate(invalid="ignore", over="ignore"):
                if isinstance(X, SparseBatch):
                    return (X.with_values(X.values * s[X.indices]),)
                return (X * s,)
        return run


@op("elementwise_product", family="feature")
def load_elementwise_product(node) -> ElementwiseProductModel:
    """ElementwiseProduct: Hadamard product with the scaling vector."""
    s = node.attrs.vector("scaling_vec")
    return ElementwiseProductModel(tuple(s), frozen(s))


# --- vector_slicer -----------------------------------------------------------------------------

@dataclass(frozen=True)
class VectorSlicerModel(OpModel):
    selected: tuple[int, ...]  # indices, then the indices resolved from names
    input_size: int
    positions: np.ndarray = field(compare=False, repr=False)  # input index -> output position or -1

    op_name = "vector_slicer"

    def input_ports(self):
        return [("input", vector(self.input_size))]

    def output_ports(self):
        return [("output", vector(len(self.selected)))]

    def row_fn(self, outputs):
        selected, size, width = self.selected, self.input_size, len(self.selected)

        def run(x):
            check_vector("input", x, size)
            if isinstance(x, SparseVector):
                idx, vals = x.indices, x.values
                nnz = len(idx)
                out_idx, out_vals = [], []
                for p, i in enumerate(selected):
                    j = bisect_left(idx, i)
                    if j < nnz and idx[j] == i:
                        out_idx.append(p)
                        out_vals.append(vals[j])
                return (SparseVector(width, out_idx, out_vals),)
            return ([x[i] for i in selected],)
        return run

    def batch_fn(self, outputs):
        selected = np.asarray(self.selected, dtype=np.int64)
        positions, width = self.positions, len(self.selected)

        def run(ctx, X):
            check_batch_width("input", X, self.input_size)
            if not isinstance(X, SparseBatch):
                return (X[:, selected],)
            pos = positions[X.indices]
            keep = pos >= 0
            rows, pos, vals = X.row_ids()[keep], pos[keep], X.values[keep]
            order = np.lexsort((pos, rows))
            indptr = np.zeros(len(X) + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=len(X)), out=indptr[1:])
            return (SparseBatch(width, indptr, pos[order], vals[order]),)
        return run


@op("vector_slicer", family="feature")
def load_vector_slicer(node) -> VectorSlicerModel:
    """VectorSlicer: the entries at the given indices (named features resolved at save time)."""
    attrs = node.attrs
    selected = tuple(attrs.long_list("indices", [])) + tuple(attrs.int_list("named_indices", []))
    size = attrs.size("input_size")
    if not selected:
        raise BundleError("vector_slicer selects no feature (Spark requires at least one)", path=attrs.where)
    if len(set(selected)) != len(selected):
        raise BundleError(f"vector_slicer selects a feature twice: {list(selected)}", path=attrs.where)
    bad = [i for i in selected if not 0 <= i < size]
    if bad:
        raise BundleError(f"vector_slicer indices {bad} are outside [0, input_size={size})", path=attrs.where)
    positions = np.full(size, -1, dtype=np.int64)
    positions[list(selected)] = np.arange(len(selected))
    positions.flags.writeable = False
    return VectorSlicerModel(selected, size, positions)


# --- polynomial_expansion ----------------------------------------------------------------------

def poly_size(num_features: int, degree: int) -> int:
    """Number of monomials of degree 1..degree (Spark's getPolySize minus the constant)."""
    return comb(num_features + degree, degree) - 1


def poly_terms(num_features: int, degree: int) -> list[tuple[int, int, int]]:
    """(slot, parent slot or -1, feature) for every output slot, parents before children.

    Slots follow Spark's expandDense: f([..., c], d) = f([...], d) ++ f([...], d-1)*c ++ ... ++ c^d.
    A monomial's factors are multiplied from the last feature to the first; its parent is the
    monomial without the final factor, so value = parent value * x[feature].
    """
    factors: dict[int, tuple[int, ...]] = {}

    def expand(last: int, deg: int, prefix: tuple[int, ...], slot: int) -> int:
        if deg == 0 or last < 0:
            if slot >= 0:  # slot -1 is the constant term, which Spark drops
                factors[slot] = prefix
        else:
            start = slot
            for power in range(deg + 1):
                start = expand(last - 1, deg - power, prefix + (last,) * power, start)
        return slot + comb(last + 1 + deg, deg)

    expand(num_features - 1, degree, (), -1)
    slot_of = {f: s for s, f in factors.items()}
    terms = [(s, slot_of.get(f[:-1], -1), f[-1]) for s, f in factors.items()]
    terms.sort(key=lambda t: (len(factors[t[0]]), t[0]))
    return terms


@dataclass(frozen=True)
class PolynomialExpansionModel(OpModel):
    degree: int
    input_size: int
    terms: tuple = field(compare=False, repr=False)

    op_name = "polynomial_expansion"

    @property
    def output_size(self) -> int:
        return poly_size(self.input_size, self.degree)

    def input_ports(self):
        return [("input", vector(self.input_size))]

    def output_ports(self):
        return [("output", vector(self.output_size))]

    def expand(self, x: list, stored=None) -> list[float]:
        """Spark's expansion of a dense vector, or of a sparse one when ``stored`` says which
        features it stores: Spark's sparse recursion only visits stored entries, so a monomial
        with an unstored factor is absent even where the dense rule would give NaN (NaN * 0)."""
        out = [0.0] * self.output_size
        for slot, parent, f in self.terms:
            pv = out[parent] if parent >= 0 else 1.0
            if pv != 0.0 and (stored is None or stored[f]):
                p = pv * x[f]
                if p != 0.0:
                    out[slot] = p
        return out

    def row_fn(self, outputs):
        expand, size, width = self.expand, self.input_size, self.output_size

        def run(x):
            check_vector("input", x, size)
            if isinstance(x, SparseVector):
                stored = [False] * size
                for i in x.indices:
                    stored[i] = True
                dense = expand(x.to_list(), stored)
                idx = [i for i, v in enumerate(dense) if v != 0.0]
                return (SparseVector(width, idx, [dense[i] for i in idx]),)
            return (expand(x),)
        return run

    def batch_fn(self, outputs):
        terms = self.terms

        def run(ctx, X):
            check_batch_width("input", X, self.input_size)
            n = X.shape[0]
            if isinstance(X, SparseBatch):
                D = X.toarray()
                stored = np.zeros(D.shape, dtype=bool)
                stored[X.row_ids(), X.indices] = True
            else:
                D, stored = X, None
            out = np.zeros((n, self.output_size))
            ones = np.ones(n)
            with np.errstate(invalid="ignore", over="ignore", under="ignore"):
                for slot, parent, f in terms:
                    pv = out[:, parent] if parent >= 0 else ones
                    p = pv * D[:, f]
                    keep = (pv != 0.0) & (p != 0.0)
                    if stored is not None:
                        keep &= stored[:, f]
                    out[:, slot] = np.where(keep, p, 0.0)
            return (SparseBatch.from_dense(out) if stored is not None else out,)
        return run


@op("polynomial_expansion", family="feature")
def load_polynomial_expansion(node) -> PolynomialExpansionModel:
    """PolynomialExpansion: all monomials of degree 1..degree, in Spark's order."""
    attrs = node.attrs
    degree, size = attrs.long("degree"), attrs.size("input_size")
    if degree < 1 or size < 0:
        raise BundleError(f"polynomial_expansion needs degree >= 1 and input_size >= 0, found "
                          f"degree {degree}, input_size {size}", path=attrs.where)
    if comb(size + degree, degree) > 2**31 - 1:
        raise BundleError(f"polynomial_expansion of {size} features to degree {degree} exceeds "
                          f"Spark's limit of 2^31 - 1 outputs", path=attrs.where)
    attrs.check_size(comb(size + degree, degree) - 1, f"polynomial_expansion of {size} features to degree {degree}")
    return PolynomialExpansionModel(degree, size, tuple(poly_terms(size, degree)))


# --- interaction -------------------------------------------------------------------------------

@dataclass(frozen=True)
class InteractionModel(OpModel):
    num_features: tuple[tuple[int, ...], ...]  # per input, per element: 1 numeric, m > 1 nominal
    is_vector: tuple[bool, ...]
    offsets: tuple[tuple[int, ...], ...] = field(compare=False, repr=False)

    op_name = "interaction"

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(sum(nf) for nf in self.num_features)

    @property
    def output_size(self) -> int:
        out = 1
        for w in self.widths:
            out *= w
        return out

    def input_ports(self):
        return [(f"input{j}", vector(len(nf)) if vec else DOUBLE)
                for j, (nf, vec) in enumerate(zip(self.num_features, self.is_vector))]

    def output_ports(self):
        return [("output", vector(self.output_size))]

    def encode(self, j: int, v) -> list[tuple[int, float]]:
        """Spark's FeatureEncoder.foreachNonzeroOutput for input j: (index in the block, value)."""
        port = f"input{j}"
        nf = self.num_features[j]
        if v is None:
            raise InvalidInput(port, "a value (interaction does not accept nulls)", "null")
        if not self.is_vector[j]:
            m = nf[0]
            if m > 1:
                return [(_category(port, v, m), 1.0)]
            return [(0, v)]
        check_vector(port, v, len(nf))
        offs = self.offsets[j]
        items = zip(v.indices, v.values) if isinstance(v, SparseVector) else enumerate(v)
        out = []
        for i, x in items:
            m = nf[i]
            if m > 1:
                out.append((offs[i] + _category(port, x, m), 1.0))
            else:
                out.append((offs[i], x))
        return out

    def interact(self, values) -> list | SparseVector:
        indices, prods, size = [0], [1.0], 1
        widths = self.widths
        for j in range(len(values) - 1, -1, -1):
            enc = self.encode(j, values[j])
            indices = [pi + i * size for i, _ in enc for pi in indices]
            prods = [pv * a for _, a in enc for pv in prods]
            size *= widths[j]
        keep = [k for k, v in enumerate(prods) if v != 0.0]
        return compressed(size, [indices[k] for k in keep], [prods[k] for k in keep])

    def row_fn(self, outputs):
        interact = self.interact
        return lambda *values: (interact(values),)

    def batch_fn(self, outputs):
        def run(ctx, *columns):
            n = ctx.n
            acc, live = np.ones((n, 1)), np.ones((n, 1), dtype=bool)
            for j in range(len(columns) - 1, -1, -1):
                block, active = self._encode_batch(j, columns[j], n)
                with np.errstate(invalid="ignore", over="ignore", under="ignore"):
                    acc = (block[:, :, None] * acc[:, None, :]).reshape(n, -1)
                live = (active[:, :, None] & live[:, None, :]).reshape(n, -1)
            # Only combinations of entries Spark visits exist (an implicit 0 times NaN is no NaN).
            out = np.where(live, acc, 0.0)
            if self.output_size > 256:
                return (SparseBatch.from_dense(out),)
            return (out,)
        return run

    def _encode_batch(self, j: int, col, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Input j's block for every row, and which of its entries Spark visits."""
        port, nf = f"input{j}", self.num_features[j]
        width = sum(nf)
        block = np.zeros((n, width))
        active = np.zeros((n, width), dtype=bool)
        if not self.is_vector[j]:
            col = np.asarray(col, dtype=np.float64)
            if nf[0] > 1:
                cat = _categories(port, col, nf[0])
                block[np.arange(n), cat] = 1.0
                active[np.arange(n), cat] = True
            else:
                block[:, 0] = col
                active[:, 0] = True
            return block, active
        check_batch_width(port, col, len(nf))
        offs = np.asarray(self.offsets[j], dtype=np.int64)
        m = np.asarray(nf, dtype=np.int64)
        if isinstance(col, SparseBatch):
            rows, elems, vals = col.row_ids(), col.indices, col.values
        else:
            rows = np.repeat(np.arange(n), col.shape[1])
            elems = np.tile(np.arange(col.shape[1]), n)
            vals = col.reshape(-1)
        nominal = m[elems] > 1
        target = offs[elems].copy()
        out_vals = vals.copy()
        if nominal.any():
            cats = _categories(port, vals[nominal], m[elems][nominal], rows[nominal])
            target[nominal] += cats
            out_vals[nominal] = 1.0
        block[rows, target] = out_vals
        active[rows, target] = True
        return block, active


def _category(port: str, v: float, m: int) -> int:
    if not (v >= 0.0 and v < m and v == int(v)):
        raise InvalidInput(port, f"a category index in [0, {m}) (interaction of a nominal feature)", repr(v))
    return int(v)


def _categories(port: str, vals: np.ndarray, m, rows=None) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        ok = (vals >= 0.0) & (vals < m) & (vals == np.floor(vals))
    if not ok.all():
        k = int(np.argmin(ok))
        bound = m if np.isscalar(m) else int(np.asarray(m)[k])
        raise InvalidInput(port, f"a category index in [0, {bound}) (interaction of a nominal feature)",
                           repr(float(vals[k])), row=int(rows[k]) if rows is not None else k)
    return vals.astype(np.int64)


@op("interaction", family="feature")
def load_interaction(node) -> InteractionModel:
    """Interaction: products of one encoded entry from each input, the last input varying fastest."""
    attrs = node.attrs
    count = attrs.int("num_inputs")
    shapes = attrs.data_shape_list("input_shapes")
    if count < 1 or len(shapes) != count:
        raise BundleError(f"interaction: num_inputs is {count} but input_shapes has {len(shapes)} entries",
                          path=attrs.where)
    specs, vectors, offsets = [], [], []
    for j, shape in enumerate(shapes):
        nf = tuple(attrs.int_list(f"num_features{j}"))
        if not nf or any(m < 1 for m in nf):
            raise BundleError(f"interaction: num_features{j} must be positive counts, found {list(nf)}",
                              path=attrs.where)
        if shape.base == "scalar":
            if len(nf) != 1:
                raise BundleError(f"interaction: scalar input{j} needs one feature count, found {list(nf)}",
                                  path=attrs.where)
        elif shape.base == "tensor":
            if shape.dims is not None and len(shape.dims) == 1 and shape.dims[0] != len(nf):
                raise BundleError(f"interaction: input{j} has size {shape.dims[0]} but {len(nf)} feature counts",
                                  path=attrs.where)
        else:
            raise BundleError(f"interaction: input{j} must be a scalar or a vector, found {shape.base}",
                              path=attrs.where)
        specs.append(nf)
        vectors.append(shape.base == "tensor")
        offs, total = [], 0
        for m in nf:
            offs.append(total)
            total += m
        offsets.append(tuple(offs))
    width = 1
    for nf in specs:
        width *= attrs.check_size(sum(nf), "interaction: an input's encoded width")
    attrs.check_size(width, "interaction: the output")
    return InteractionModel(tuple(specs), tuple(vectors), tuple(offsets))
