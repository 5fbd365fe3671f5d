"""Feature selection: chi_sq_selector.

Semantics are Spark 3.5's (ChiSqSelectorModel): the selected features, in order; dense stays
dense, sparse stays sparse. A null vector is an error (Spark's UDF throws on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import BundleError
from ..model import OpModel, check_batch_width, check_vector, frozen
from ..registry import op
from ..types import vector
from ..vectors import SparseBatch, SparseVector


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
    input_size = attrs.size("input_size")
    if any(b <= a for a, b in zip(selected, selected[1:])):
        raise BundleError("attribute 'filter_indices' must be strictly increasing (Spark sorts them)",
                          path=attrs.where)
    if selected and (selected[0] < 0 or selected[-1] >= input_size):
        raise BundleError(f"attribute 'filter_indices' holds indices outside [0, {input_size})", path=attrs.where)
    position = np.full(max(input_size, 0), -1, dtype=np.int64)
    position[selected] = np.arange(len(selected))
    position.flags.writeable = False
    return ChiSqSelectorModel(tuple(selected), input_size, frozen(selected, dtype=np.int64), position)
