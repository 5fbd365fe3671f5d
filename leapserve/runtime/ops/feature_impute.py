"""imputer: Spark's ImputerModel, one MLeap node per column.

As Spark 3.5 (where MLeap's runtime differs we follow Spark): null, and values equal to
``missing_value``, take the surrogate; NaN is missing only when ``missing_value`` is NaN (MLeap
imputes NaN always).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..model import OpModel
from ..registry import op
from ..types import DOUBLE


@dataclass(frozen=True)
class ImputerModel(OpModel):
    surrogate_value: float
    missing_value: float
    strategy: str

    op_name = "imputer"

    def input_ports(self):
        return [("input", DOUBLE)]

    def output_ports(self):
        return [("output", DOUBLE)]

    def row_fn(self, outputs):
        surrogate, missing = self.surrogate_value, self.missing_value
        if math.isnan(missing):
            return lambda x: (surrogate if x is None or x != x else x,)
        return lambda x: (surrogate if x is None or x == missing else x,)

    def batch_fn(self, outputs):
        surrogate, missing = self.surrogate_value, self.missing_value

        def run(ctx, X):
            hit = np.isnan(X) if math.isnan(missing) else X == missing
            return (np.where(hit, surrogate, X),)
        return run


@op("imputer", family="feature")
def load_imputer(node) -> ImputerModel:
    """Imputer: missing values (null, or equal to missing_value) -> the surrogate."""
    attrs = node.attrs
    return ImputerModel(attrs.double("surrogate_value"), attrs.double("missing_value", math.nan),
                        attrs.string("strategy", ""))
