"""als: Spark's ALSModel (collaborative filtering) scoring a (user, item) pair.

As Spark 3.5's ALSModel.transform:

* ids must be integers within Int range: a null, NaN, fractional or out-of-range id is an error
  (Spark's ``checkIntegers`` raises). The ports therefore take doubles and check them, rather
  than truncating to int as a cast would;
* the prediction is the float32 dot product of the two factor vectors, accumulated in float32
  from 0 in index order (each product and each sum rounded to float, as the JVM computes
  ``dotProduct += a(i) * b(i)`` on floats);
* a user or item without factors (not seen in training) is cold: coldStartStrategy "nan" gives
  NaN, "drop" drops the row (RowSkipped / ctx.skip). MLeap does not record the strategy; a bundle
  may carry it as attribute ``cold_start_strategy`` ("nan" when absent, as MLeap scores).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from functools import cached_property
from operator import mul
from types import MappingProxyType

import numpy as np

from ..errors import BundleError, InvalidInput, RowSkipped
from ..model import OpModel
from ..registry import op
from ..types import DOUBLE, FLOAT

INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
COLD_START = ("nan", "drop")


def _bad_id(port: str, value) -> InvalidInput:
    return InvalidInput(port, "an integer id within Int range (ALS ids must not be null, NaN or fractional)",
                        "null" if value is None else repr(value))


def _dot32(a: list, b: list) -> float:
    """Spark's float loop: each product rounded to float, summed in float from 0 in order.

    Factors are float32 values held as Python floats. A product of two floats is exact in a
    double, so storing it in a float array rounds it once, as the JVM does; the sum of two floats
    computed in double and then rounded to float is the correctly rounded float sum (a double has
    more than twice a float's precision), so each step matches the JVM's float addition.
    """
    acc = array("f", (0.0,))
    s = 0.0
    for p in array("f", map(mul, a, b)):
        acc[0] = s + p
        s = acc[0]
    return s


def check_id(port: str, v) -> int:
    """Spark's checkIntegers: the id as an int, or an error."""
    if v is None or v != v or not INT_MIN <= v <= INT_MAX or v != int(v):
        raise _bad_id(port, v)
    return int(v)


@dataclass(frozen=True, eq=False)
class ALSModel(OpModel):
    rank: int
    user_rows: MappingProxyType   # user id -> row of user_factors
    item_rows: MappingProxyType
    user_factors: np.ndarray      # float32 (users, rank)
    item_factors: np.ndarray
    cold_start_strategy: str

    op_name = "als"

    def input_ports(self):
        return [("user", DOUBLE), ("item", DOUBLE)]

    def output_ports(self):
        return [("prediction", FLOAT)]

    def predict(self, user: int, item: int) -> float:
        u = self.user_rows.get(user)
        i = self.item_rows.get(item)
        if u is None or i is None:
            return math.nan
        return _dot32(self.user_factors[u].tolist(), self.item_factors[i].tolist())

    @cached_property
    def factor_lists(self) -> tuple[dict, dict]:
        """Per id its factor row as Python floats (float32 values), built once for the row path."""
        user_lists, item_lists = self.user_factors.tolist(), self.item_factors.tolist()
        return ({k: user_lists[r] for k, r in self.user_rows.items()},
                {k: item_lists[r] for k, r in self.item_rows.items()})

    def row_fn(self, outputs):
        drop = self.cold_start_strategy == "drop"
        users, items = self.factor_lists  # two lookups and the dot per record

        def run(user, item):
            u = check_id("user", user)
            i = check_id("item", item)
            fu = users.get(u)
            fi = items.get(i)
            if fu is None or fi is None:
                if drop:
                    port, value = ("user", u) if fu is None else ("item", i)
                    raise RowSkipped(port, f"{port} {value} has no factors (coldStartStrategy \"drop\")")
                return (math.nan,)
            return (_dot32(fu, fi),)
        return run

    def batch_fn(self, outputs):
        def run(ctx, users, items):
            n = len(users)
            ids = []
            for port, col in (("user", users), ("item", items)):
                col = np.asarray(col, dtype=np.float64)
                bad = ~(np.isfinite(col) & (col >= INT_MIN) & (col <= INT_MAX))
                with np.errstate(invalid="ignore"):
                    bad |= col != np.trunc(col)
                if bad.any():
                    r = int(np.argmax(bad))
                    e = _bad_id(port, float(col[r]))
                    e.row = r
                    raise e
                ids.append(col.astype(np.int64))
            u_idx = np.array([self.user_rows.get(v, -1) for v in ids[0].tolist()], dtype=np.int64)
            i_idx = np.array([self.item_rows.get(v, -1) for v in ids[1].tolist()], dtype=np.int64)
            cold = (u_idx < 0) | (i_idx < 0)
            out = np.full(n, np.nan, dtype=np.float32)
            warm = np.nonzero(~cold)[0]
            if len(warm):
                P = self.user_factors[u_idx[warm]] * self.item_factors[i_idx[warm]]
                acc = np.zeros(len(warm), dtype=np.float32)
                for j in range(self.rank):
                    acc = acc + P[:, j]
                out[warm] = acc
            if self.cold_start_strategy == "drop" and cold.any():
                ctx.skip(u_idx < 0, "user", "the user has no factors (coldStartStrategy \"drop\")")
                ctx.skip((i_idx < 0) & (u_idx >= 0), "item", "the item has no factors (coldStartStrategy \"drop\")")
            return (out.astype(np.float64),)
        return run


def _factors(attrs, ids_name: str, factors_name: str, rank: int) -> tuple[dict, np.ndarray]:
    ids = attrs.int_list(ids_name)
    tensors = attrs.tensor_list(factors_name)
    if len(ids) != len(tensors):
        raise BundleError(f"{len(ids)} {ids_name} but {len(tensors)} {factors_name}", path=attrs.where)
    rows = {}
    for r, v in enumerate(ids):
        if v in rows:
            raise BundleError(f"{ids_name}: id {v} appears twice", path=attrs.where)
        rows[v] = r
    matrix = np.zeros((len(ids), rank), dtype=np.float32)
    for r, t in enumerate(tensors):
        if len(t.values) != rank:
            raise BundleError(f"{factors_name}[{r}] has {len(t.values)} values for rank {rank}", path=attrs.where)
        matrix[r] = np.asarray([math.nan if v is None else v for v in t.values], dtype=np.float64).astype(np.float32)
    matrix.flags.writeable = False
    return rows, matrix


@op("als", family="recommendation")
def load_als(node) -> ALSModel:
    """ALS: float32 dot product of the user's and the item's factors."""
    attrs = node.attrs
    rank = attrs.int("rank")
    if rank < 0:
        raise BundleError(f"attribute 'rank' is {rank}", path=attrs.where)
    strategy = attrs.string("cold_start_strategy", "nan").lower() or "nan"
    if strategy not in COLD_START:
        raise BundleError(f"attribute 'cold_start_strategy' is {strategy!r}; Spark knows {list(COLD_START)}",
                          path=attrs.where)
    users, user_factors = _factors(attrs, "users", "user_factors", rank)
    items, item_factors = _factors(attrs, "items", "item_factors", rank)
    return ALSModel(rank, MappingProxyType(users), MappingProxyType(items), user_factors, item_factors, strategy)
