"""Tree models for regression: decision_tree_regression, random_forest_regression, gbt_regression.

Math as Spark's models (leaves hold ``[prediction]``):

* DecisionTreeRegressionModel.predict: the leaf's prediction;
* RandomForestRegressionModel.predict: the plain mean of the trees' predictions, summed left to
  right then divided by the tree count (``tree_weights`` are ignored, as Spark does);
* GBTRegressionModel.predict: ``sum_i tree_weights[i] * prediction_i`` (Spark's learning rate is in
  the weights), in the order of Spark's BLAS ddot (see jmath.ddot_sum_arrays).

Each model compiles, at load time, one Python function for the row path (see trees.compile_trees)
and node arrays for the batch path (trees.BatchTrees).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..jvm.jmath import ddot_sum_arrays, seq_sum_arrays
from ..model import OpModel, check_batch_width
from ..registry import op
from ..trees import (SMALL_BATCH, BatchTrees, Tree, compile_trees, leaf_table, literal, read_ensemble,
                     read_num_features, read_tree, read_tree_weights, weighted_sum_code)
from ..types import DOUBLE, vector
from ..vectors import batch_rows


@dataclass(frozen=True, eq=False)
class TreeRegressionModel(OpModel):
    """Shared shape of the three regressors: features -> prediction."""

    num_features: int
    trees: tuple[Tree, ...]
    row_program: Callable     # compiled: features -> (prediction,)
    batch_trees: BatchTrees
    contributions: np.ndarray  # by global node id: what each leaf adds to its model's sum

    def input_ports(self):
        return [("features", vector(self.num_features))]

    def output_ports(self):
        return [("prediction", DOUBLE)]

    def predict(self, x) -> float:
        return self.row_program(x)[0]

    def tree_outputs_batch(self, X) -> np.ndarray:
        """Per tree and row, the reached leaf's contribution: shape (trees, rows)."""
        return self.contributions.take(self.batch_trees.leaves(X))

    def predict_batch(self, X) -> np.ndarray:
        raise NotImplementedError

    def row_fn(self, outputs):
        return self.row_program

    def batch_fn(self, outputs):
        program = self.row_program

        def run(ctx, X):
            check_batch_width("features", X, self.num_features)
            n = X.shape[0]
            if n < SMALL_BATCH:  # numpy's per-call cost would dominate
                return (np.array([program(x)[0] for x in batch_rows(X, n)], dtype=np.float64),)
            return (self.predict_batch(X),)
        return run


@dataclass(frozen=True, eq=False)
class DecisionTreeRegressionModel(TreeRegressionModel):
    op_name = "decision_tree_regression"

    def predict_batch(self, X) -> np.ndarray:
        return self.tree_outputs_batch(X)[0]


@dataclass(frozen=True, eq=False)
class RandomForestRegressionModel(TreeRegressionModel):
    op_name = "random_forest_regression"

    def predict_batch(self, X) -> np.ndarray:
        return seq_sum_arrays(self.tree_outputs_batch(X)) / float(len(self.trees))


@dataclass(frozen=True, eq=False)
class GBTRegressionModel(TreeRegressionModel):
    tree_weights: tuple[float, ...] = ()

    op_name = "gbt_regression"

    def predict_batch(self, X) -> np.ndarray:
        return ddot_sum_arrays(self.tree_outputs_batch(X))


def _build(cls, name: str, num_features: int, trees: tuple[Tree, ...], code: dict, weights=None, **extra):
    program = compile_trees(trees, num_features=num_features, check=True, name=name, **code)
    batch = BatchTrees(trees, num_features)
    w = weights if weights is not None else (1.0,) * len(trees)
    contributions = leaf_table(trees, batch.offsets, None, lambda t, i: w[t] * trees[t].values[i][0])
    return cls(num_features, trees, program, batch, contributions, **extra)


@op("decision_tree_regression", family="regression")
def load_decision_tree_regression(node) -> DecisionTreeRegressionModel:
    """Decision tree regression: the prediction of the leaf reached."""
    num_features = read_num_features(node)
    tree = read_tree(node, num_features=num_features, leaf_size=1)
    code = dict(
        leaf=lambda t, i: [f"return ({literal(tree.values[i][0])},)"],
        fallback=lambda t, expr: [f"return ({expr},)"],
        table=lambda t: [v[0] if v is not None else 0.0 for v in tree.values],
        prologue=[], epilogue=[])
    return _build(DecisionTreeRegressionModel, f"decision_tree_regression {node.name}", num_features,
                  (tree,), code)


@op("random_forest_regression", family="regression")
def load_random_forest_regression(node) -> RandomForestRegressionModel:
    """Random forest regression: the mean of the trees' predictions (tree_weights ignored)."""
    num_features = read_num_features(node)
    trees = read_ensemble(node, tree_op="decision_tree_regression", num_features=num_features, leaf_size=1)
    code = dict(
        leaf=lambda t, i: [f"s += {literal(trees[t].values[i][0])}"],
        fallback=lambda t, expr: [f"s += {expr}"],
        table=lambda t: [v[0] if v is not None else 0.0 for v in trees[t].values],
        prologue=["s = 0.0"],
        epilogue=[f"return (s / {literal(float(len(trees)))},)"])
    return _build(RandomForestRegressionModel, f"random_forest_regression {node.name}", num_features,
                  trees, code)


@op("gbt_regression", family="regression")
def load_gbt_regression(node) -> GBTRegressionModel:
    """Gradient-boosted trees regression: the weighted sum of the trees' predictions."""
    num_features = read_num_features(node)
    trees = read_ensemble(node, tree_op="decision_tree_regression", num_features=num_features, leaf_size=1)
    weights = read_tree_weights(node, len(trees))
    code = weighted_sum_code(trees, weights, "m")
    code["epilogue"] = code["epilogue"] + ["return (m,)"]
    return _build(GBTRegressionModel, f"gbt_regression {node.name}", num_features, trees, code,
                  weights=weights, tree_weights=weights)
