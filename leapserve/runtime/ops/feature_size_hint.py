"""VectorSizeHint: leapserve.vector_size_hint (leapserve's own op; MLeap has none).

Semantics are Spark 3.5's VectorSizeHint, which replaces its column by itself, checked:

* handle_invalid "error": a null vector, or one of another size than ``size``, is an error;
* "skip": such a row is dropped;
* "optimistic": nothing is checked, the value (null and any size included) passes through.

The node reads port ``input`` and writes port ``output``, both naming the same column, as Spark's
stage has one column (leapserve's export writes it so; see docs/ops.md). The input is read as a
vector of any size so that the op, not the input's cast, decides what another size means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BundleError, InvalidInput, RowSkipped
from ..model import OpModel, read_handle_invalid
from ..registry import op
from ..types import vector
from ..vectors import vector_size

MODES = ("error", "skip", "optimistic")


@dataclass(frozen=True)
class VectorSizeHintModel(OpModel):
    size: int
    handle_invalid: str

    op_name = "leapserve.vector_size_hint"
    in_place_outputs = frozenset({"output"})

    def input_ports(self):
        return [("input", vector(None))]

    def output_ports(self):
        return [("output", vector(None if self.handle_invalid == "optimistic" else self.size))]

    def row_fn(self, outputs):
        size, mode = self.size, self.handle_invalid
        if mode == "optimistic":
            return lambda x: (x,)

        def run(x):
            if x is None:
                if mode == "skip":
                    raise RowSkipped("input", "null vector")
                raise InvalidInput("input", f"vector of size {size} (nulls are not accepted)", "null")
            n = vector_size(x)
            if n != size:
                if mode == "skip":
                    raise RowSkipped("input", f"vector of size {n}, expected {size}")
                raise InvalidInput("input", f"vector of size {size}", f"vector of size {n}")
            return (x,)
        return run

    def batch_fn(self, outputs):
        size, mode = self.size, self.handle_invalid

        def run(ctx, X):
            # a batch column holds vectors of one width (the plan sends the others to the row path)
            if mode != "optimistic" and X.shape[0] and X.shape[1] != size:
                if mode == "skip":
                    ctx.skip(np.ones(X.shape[0], dtype=bool), "input",
                             f"vector of size {X.shape[1]}, expected {size}")
                else:
                    raise InvalidInput("input", f"vector of size {size}", f"vector of size {X.shape[1]}", row=0)
            return (X,)
        return run


@op("leapserve.vector_size_hint", family="feature")
def load_vector_size_hint(node) -> VectorSizeHintModel:
    """VectorSizeHint (leapserve's op): the vector's size checked per handle_invalid (error, skip, optimistic)."""
    size = node.attrs.size("size")
    if size < 0:
        raise BundleError(f"attribute 'size' must be at least 0, found {size}", path=node.attrs.where)
    return VectorSizeHintModel(size, read_handle_invalid(node, allowed=MODES))
