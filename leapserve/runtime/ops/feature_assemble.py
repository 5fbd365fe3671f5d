"""vector_assembler: concatenate numeric and vector columns into one vector.

As Spark's VectorAssembler with handleInvalid "error" (MLeap does not write handleInvalid, so a
bundle always assembles this way): a null input or a NaN scalar is an error, NaN inside a vector
passes through, zeros are dropped and the result is ``compressed`` (sparse when that is smaller).
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
class VectorAssemblerModel(OpModel):
    ports: tuple[str, ...]
    sizes: tuple[int | None, ...]  # None: a scalar input; else the width of a vector input

    op_name = "vector_assembler"

    @property
    def output_size(self) -> int:
        return sum(1 if s is None else s for s in self.sizes)

    def input_ports(self):
        return [(p, DOUBLE if s is None else vector(s)) for p, s in zip(self.ports, self.sizes)]

    def output_ports(self):
        return [("output", vector(self.output_size))]

    def assemble(self, values) -> list | SparseVector:
        indices: list[int] = []
        out: list[float] = []
        offset = 0
        for port, size, v in zip(self.ports, self.sizes, values):
            if v is None:
                raise InvalidInput(port, "a value (vector_assembler does not accept nulls)", "null")
            if size is None:
                if v != v:
                    raise InvalidInput(port, "a number (vector_assembler does not accept NaN)", "NaN")
                if v != 0.0:
                    indices.append(offset)
                    out.append(v)
                offset += 1
            else:
                if isinstance(v, SparseVector):
                    if v.size != size:
                        raise InvalidInput(port, f"vector of size {size}", f"vector of size {v.size}")
                    for i, x in zip(v.indices, v.values):
                        if x != 0.0:
                            indices.append(offset + i)
                            out.append(x)
                else:
                    if len(v) != size:
                        raise InvalidInput(port, f"vector of size {size}", f"vector of size {len(v)}")
                    for i, x in enumerate(v):
                        if x != 0.0:
                            indices.append(offset + i)
                            out.append(x)
                offset += size
        return compressed(offset, indices, out)

    def row_fn(self, outputs):
        assemble = self.assemble
        size = self.output_size
        if size > DENSE_ASSEMBLY_LIMIT:
            return lambda *values: (assemble(values),)
        if all(s is None for s in self.sizes):
            # Only scalars (the common case): the values are the dense vector. sum() refuses a
            # None and turns any NaN into NaN, so one C-level pass screens for both.
            def run(*values):
                try:
                    total = sum(values)
                except TypeError:
                    return (assemble(values),)  # raises, naming the null port
                if total != total:
                    return (assemble(values),)  # NaN input (or inf - inf): the careful path
                return (_compress_dense(list(values), size),)
            return run
        sizes = self.sizes

        def run_mixed(*values):
            dense = []
            for width, v in zip(sizes, values):
                if width is None:
                    if v is None or v != v:
                        return (assemble(values),)
                    dense.append(v)
                elif type(v) is list and len(v) == width:
                    dense.extend(v)
                elif type(v) is SparseVector and v.size == width:
                    dense.extend(v.to_list())
                else:
                    return (assemble(values),)  # sparse, null or wrong size: the careful path
            return (_compress_dense(dense, size),)
        return run_mixed

    def batch_fn(self, outputs):
        def run(ctx, *columns):
            n = ctx.n
            blocks = []
            any_sparse = False
            for port, size, col in zip(self.ports, self.sizes, columns):
                if size is None:
                    nan = np.isnan(col)
                    if nan.any():
                        raise InvalidInput(port, "a number (vector_assembler does not accept NaN)", "NaN",
                                           row=int(np.argmax(nan)))
                    blocks.append(col.reshape(n, 1))
                else:
                    if col.shape[1] != size:
                        raise InvalidInput(port, f"vectors of size {size}", f"vectors of size {col.shape[1]}")
                    any_sparse = any_sparse or isinstance(col, SparseBatch)
                    blocks.append(col)
            if any_sparse and self.output_size > 256:
                return (_hstack_sparse(blocks, n),)
            dense = np.hstack([b.toarray() if isinstance(b, SparseBatch) else b for b in blocks]) if blocks \
                else np.zeros((n, 0))
            return (dense,)
        return run


# Up to this width the row path assembles a dense list and then applies Spark's `compressed`
# rule; wider outputs (e.g. hashed text features) are assembled from their non-zeros only.
DENSE_ASSEMBLY_LIMIT = 256


def _compress_dense(values: list, size: int):
    """Spark's compressed on an assembled dense list (zeros, -0.0 included, are not stored)."""
    nnz = size - values.count(0.0)
    if 1.5 * (nnz + 1.0) < size:
        idx = [i for i, v in enumerate(values) if v != 0.0]
        return SparseVector(size, idx, [values[i] for i in idx])
    if nnz < size:
        # Spark assembles into a sparse vector first, so a -0.0 comes back as +0.0; adding 0.0
        # turns -0.0 into +0.0 and leaves every other value as it is.
        return [v + 0.0 for v in values]
    return values


def _hstack_sparse(blocks, n: int) -> SparseBatch:
    """Concatenate dense and sparse column blocks into one SparseBatch, dropping zeros."""
    parts = []
    offset = 0
    for b in blocks:
        sb = b if isinstance(b, SparseBatch) else SparseBatch.from_dense(b)
        keep = sb.values != 0.0
        parts.append((sb.row_ids()[keep], sb.indices[keep] + offset, sb.values[keep]))
        offset += sb.size
    rows = np.concatenate([p[0] for p in parts])
    cols = np.concatenate([p[1] for p in parts])
    vals = np.concatenate([p[2] for p in parts])
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return SparseBatch(offset, indptr, cols, vals)


@op("vector_assembler", family="feature")
def load_vector_assembler(node) -> VectorAssemblerModel:
    """VectorAssembler: scalars and vectors concatenated, zeros dropped, compressed."""
    shapes = node.attrs.data_shape_list("input_shapes")
    ports = tuple(f"input{i}" for i in range(len(shapes)))
    sizes = []
    for port, shape in zip(ports, shapes):
        if shape.base == "scalar":
            sizes.append(None)
        elif shape.base == "tensor" and shape.dims is not None and len(shape.dims) == 1:
            sizes.append(shape.dims[0])
        else:
            raise BundleError(f"input_shapes: {port} must be a scalar or a 1-D tensor of known size, "
                              f"found {shape}", path=node.attrs.where)
    node.attrs.check_size(sum(1 if n is None else n for n in sizes), "vector_assembler: the output")
    return VectorAssemblerModel(ports, tuple(sizes))

