"""Vectors as the runtime passes them around.

Row path: a dense vector is a plain ``list`` of floats (indexing a list is several times faster
than indexing a numpy array, which matters for trees); a sparse vector is a ``SparseVector``.
Dense outputs are handed to callers as ``DenseVector`` (an immutable tuple of floats) at the
boundary.

Batch path: a dense vector column is a 2-D float64 array (rows x size); a sparse one is a
``SparseBatch`` (CSR layout) with ``toarray()``.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidInput


class SparseVector:
    """A sparse vector like Spark's: size, strictly increasing indices, and their values."""

    __slots__ = ("size", "indices", "values")

    def __init__(self, size: int, indices, values):
        self.size = size
        self.indices = tuple(indices)
        self.values = tuple(values)

    @classmethod
    def checked(cls, size: int, indices, values, field: str | None = None) -> "SparseVector":
        """Build from untrusted input: indices in range, strictly increasing, as many as values."""
        try:
            idx = [int(i) for i in indices]
            vals = [float(v) for v in values]
        except (TypeError, ValueError):
            raise InvalidInput(field, "sparse vector with integer indices and numeric values",
                               "non-numeric indices or values") from None
        if len(idx) != len(vals):
            raise InvalidInput(field, "as many sparse indices as values", f"{len(idx)} indices and {len(vals)} values")
        prev = -1
        for i in idx:
            if i <= prev or i >= size:
                raise InvalidInput(field, f"strictly increasing indices in [0, {size})", f"indices {idx[:10]}")
            prev = i
        return cls(size, idx, vals)

    def toarray(self) -> np.ndarray:
        out = np.zeros(self.size, dtype=np.float64)
        if self.indices:
            out[list(self.indices)] = self.values
        return out

    def to_list(self) -> list[float]:
        out = [0.0] * self.size
        for i, v in zip(self.indices, self.values):
            out[i] = v
        return out

    def __len__(self) -> int:
        return self.size

    def __eq__(self, other) -> bool:
        return (isinstance(other, SparseVector) and self.size == other.size
                and self.indices == other.indices and self.values == other.values)

    def __hash__(self):
        return hash((self.size, self.indices, self.values))

    def __repr__(self) -> str:
        return f"SparseVector({self.size}, {list(self.indices)}, {list(self.values)})"


def dense_list(v) -> list[float]:
    """A row vector (list or SparseVector) as a dense list of floats."""
    return v.to_list() if isinstance(v, SparseVector) else v


def active(v):
    """(index, value) pairs of the stored entries of a row vector, like Spark's foreachActive."""
    if isinstance(v, SparseVector):
        return zip(v.indices, v.values)
    return enumerate(v)


def vector_size(v) -> int:
    return v.size if isinstance(v, SparseVector) else len(v)


def compressed(size: int, indices, values):
    """Spark's Vector.compressed: sparse when 1.5 * (nnz + 1) < size, else dense."""
    if 1.5 * (len(indices) + 1.0) < size:
        return SparseVector(size, indices, values)
    out = [0.0] * size
    for i, v in zip(indices, values):
        out[i] = v
    return out


def compressed_dense(values: list[float]):
    """Spark's compressed applied to a dense list."""
    nnz = sum(1 for v in values if v != 0.0)
    if 1.5 * (nnz + 1.0) < len(values):
        idx = [i for i, v in enumerate(values) if v != 0.0]
        return SparseVector(len(values), idx, [values[i] for i in idx])
    return values


class DenseVector(tuple):
    """A dense vector as the row path hands it to callers: an immutable tuple of floats.

    A copy (callers cannot change a list a model keeps), and about a quarter of the cost of a
    numpy array, which matters when a pipeline hands back several vectors per record. Indexing,
    ``len``, iteration and ``np.asarray`` work as on any sequence; ``toarray()`` and
    ``tolist()`` answer as a numpy array's would."""

    __slots__ = ()

    @property
    def size(self) -> int:
        return len(self)

    def toarray(self) -> np.ndarray:
        return np.array(self, dtype=np.float64)

    def tolist(self) -> list[float]:
        return list(self)

    def __repr__(self) -> str:
        return f"DenseVector({list(self)})"


def to_output(v):
    """Row vector -> what callers get: DenseVector (dense) or SparseVector."""
    if type(v) is list:
        return DenseVector(v)
    if isinstance(v, np.ndarray) and v.ndim == 1:
        return DenseVector(v.astype(np.float64, copy=False).tolist())
    return v


def argmax(values) -> int:
    """Spark's DenseVector.argmax: start at element 0, move only on a strictly greater value
    (ties go to the lowest index; a NaN at 0 stays the answer)."""
    best_i, best = 0, values[0]
    for i in range(1, len(values)):
        v = values[i]
        if v > best:
            best_i, best = i, v
    return best_i


def argmax_rows(m: np.ndarray) -> np.ndarray:
    """Row-wise argmax of a 2-D array with Spark's tie and NaN rule."""
    # A loop over the (few) columns: numpy reduces a narrow matrix along axis 1 row by row, which
    # costs several times more than a handful of whole-column operations.
    out = np.zeros(m.shape[0], dtype=np.int64)
    best = m[:, 0]
    for j in range(1, m.shape[1]):
        col = m[:, j]
        better = col > best
        np.copyto(out, j, where=better)
        best = np.where(better, col, best)
    return out


def nonfinite_rows(m: np.ndarray) -> np.ndarray | None:
    """Mask of the rows of a 2-D array holding NaN or an infinity; None when there are none."""
    finite = np.isfinite(m)
    if finite.all():  # one pass over the whole array: the common case costs no row-wise reduce
        return None
    return ~finite.all(axis=1)


class SparseBatch:
    """A column of sparse vectors in CSR layout: row r holds indices[indptr[r]:indptr[r+1]]."""

    __slots__ = ("size", "indptr", "indices", "values")

    def __init__(self, size: int, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray):
        self.size = size
        self.indptr = indptr
        self.indices = indices
        self.values = values

    @classmethod
    def from_rows(cls, size: int, rows) -> "SparseBatch":
        indptr = [0]
        indices: list[int] = []
        values: list[float] = []
        for v in rows:
            if isinstance(v, SparseVector):
                indices.extend(v.indices)
                values.extend(v.values)
            else:
                for i, x in enumerate(v):
                    if x != 0.0:
                        indices.append(i)
                        values.append(x)
            indptr.append(len(indices))
        return cls(size, np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int64),
                   np.asarray(values, dtype=np.float64))

    @classmethod
    def from_dense(cls, arr: np.ndarray) -> "SparseBatch":
        rows, cols = np.nonzero(arr)
        indptr = np.zeros(arr.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=arr.shape[0]), out=indptr[1:])
        return cls(arr.shape[1], indptr, cols.astype(np.int64), arr[rows, cols].astype(np.float64))

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.size)

    def row_ids(self) -> np.ndarray:
        """The row of each stored entry."""
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.indptr))

    def toarray(self) -> np.ndarray:
        out = np.zeros((len(self), self.size), dtype=np.float64)
        out[self.row_ids(), self.indices] = self.values
        return out

    def row(self, r: int) -> SparseVector:
        a, b = self.indptr[r], self.indptr[r + 1]
        return SparseVector(self.size, self.indices[a:b].tolist(), self.values[a:b].tolist())

    def __getitem__(self, r: int) -> SparseVector:
        return self.row(r)

    def take(self, rows: np.ndarray) -> "SparseBatch":
        return SparseBatch.from_rows(self.size, (self.row(int(r)) for r in rows))

    def dot(self, w: np.ndarray) -> np.ndarray:
        """Each row dotted with the dense vector w."""
        return np.bincount(self.row_ids(), weights=self.values * w[self.indices], minlength=len(self))

    def matmul_t(self, m: np.ndarray) -> np.ndarray:
        """rows x m.T, for m of shape (k, size): each row's k dot products."""
        out = np.zeros((len(self), m.shape[0]), dtype=np.float64)
        np.add.at(out, self.row_ids(), self.values[:, None] * m[:, self.indices].T)
        return out

    def with_values(self, values: np.ndarray) -> "SparseBatch":
        return SparseBatch(self.size, self.indptr, self.indices, values)


def batch_rows(col, n: int):
    """Iterate a vector column of a batch as row vectors (lists or SparseVectors)."""
    if isinstance(col, SparseBatch):
        return (col.row(r) for r in range(n))
    return (row.tolist() for row in col)


def object_rows(col) -> list:
    """A batch's object column (list-valued or text: a numpy object array, or any sequence) as the
    list of its row values."""
    return col.tolist() if isinstance(col, np.ndarray) else list(col)


def object_column(values: list) -> np.ndarray:
    """Row values as a batch's object column: one entry per row, even when the rows are lists of one
    length (which np.array would stack into a 2-D array)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def batch_to_dense(col) -> np.ndarray:
    return col.toarray() if isinstance(col, SparseBatch) else col
