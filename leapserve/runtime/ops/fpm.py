"""Frequent pattern mining: leapserve.fp_growth (MLeap has no op).

Spark 3.5's FPGrowthModel.transform: for a row's items, the consequents of every association rule
whose antecedent the items contain, leaving out items the row already holds, each item once, in
rule order (the order the bundle lists the rules: the model's associationRules as collected). Null
items give an empty list, as in Spark.

Attributes (written by leapserve's Spark op, bundler/jvm/spark_ops/FPGrowthOp.java): the rules'
items flattened, ``antecedents`` and ``consequents`` (string lists), with the length of each rule's
part in ``antecedent_lengths`` and ``consequent_lengths`` (long lists, one entry per rule).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BundleError
from ..model import OpModel
from ..registry import op
from ..types import STRING_LIST
from ..vectors import object_column, object_rows


@dataclass(frozen=True)
class FPGrowthModel(OpModel):
    """The rules as (antecedent, consequent) pairs of item tuples."""

    rules: tuple[tuple[frozenset, tuple[str, ...]], ...]

    op_name = "leapserve.fp_growth"

    def input_ports(self):
        return [("items", STRING_LIST)]

    def output_ports(self):
        return [("prediction", STRING_LIST)]

    def transform(self, items) -> list[str]:
        if items is None:
            return []
        held = set(items)
        out: dict[str, None] = {}  # insertion-ordered: Scala's distinct keeps first occurrences
        for antecedent, consequent in self.rules:
            if antecedent <= held:
                for item in consequent:
                    if item not in held:
                        out.setdefault(item)
        return list(out)

    def row_fn(self, outputs):
        transform = self.transform
        return lambda items: (transform(items),)

    def batch_fn(self, outputs):
        transform = self.transform

        def run(ctx, col):
            return (object_column([transform(items) for items in object_rows(col)]),)
        return run


def _split(node, items_name: str, lengths_name: str) -> list[tuple[str, ...]]:
    attrs = node.attrs
    items = attrs.string_list(items_name)
    lengths = attrs.long_list(lengths_name)
    if any(n < 0 for n in lengths) or sum(lengths) != len(items):
        raise BundleError(f"attribute '{lengths_name}' must split '{items_name}' ({len(items)} items) into "
                          f"rules; its lengths sum to {sum(lengths)}", path=attrs.where)
    parts, start = [], 0
    for n in lengths:
        parts.append(tuple(items[start:start + n]))
        start += n
    return parts


@op("leapserve.fp_growth", family="fpm")
def load_fp_growth(node) -> FPGrowthModel:
    """FPGrowthModel: the consequents of the association rules whose antecedent the items contain."""
    antecedents = _split(node, "antecedents", "antecedent_lengths")
    consequents = _split(node, "consequents", "consequent_lengths")
    if len(antecedents) != len(consequents):
        raise BundleError(f"{len(antecedents)} antecedents but {len(consequents)} consequents; expected one "
                          "of each per rule", path=node.attrs.where)
    return FPGrowthModel(tuple((frozenset(a), c) for a, c in zip(antecedents, consequents)))
