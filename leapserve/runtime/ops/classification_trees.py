"""Tree models for classification: decision_tree_classifier, random_forest_classifier, gbt_classifier.

Which outputs exist decides the code path, as in Spark's ProbabilisticClassificationModel
(model.ProbabilisticClassifier). The math follows Spark 3.5's models:

* DecisionTreeClassificationModel: raw = the leaf's class counts; probability = counts / their sum;
  ``predict`` (prediction is the only output) is the leaf's own prediction, the first class with
  the most counts, and ignores ``thresholds`` (MLeap applies them; Spark does not).
* RandomForestClassificationModel: raw = votes, the sum over trees of each leaf's counts divided by
  their total (leaves whose counts sum to 0 add nothing; ``tree_weights`` are ignored);
  probability = votes / their sum; ``predict`` = argmax of the votes (thresholds, when set, apply
  through the probability).
* GBTClassificationModel: m = weighted sum of the trees' predictions; raw = [-m, m]; probability
  = [p, 1 - p] with p = 1 / (1 + exp(-2 * raw[0])); ``predict`` without thresholds is m > 0.

Spark 3.5 refuses to turn counts summing to 0 into probabilities (MLeap leaves them at 0): such a
record raises ScoringError when a probability is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import BundleError, ScoringError
from ..jvm.jmath import ddot_sum_arrays, seq_sum, seq_sum_arrays
from ..model import ProbabilisticClassifier, read_thresholds
from ..registry import op
from ..trees import (SMALL_BATCH, BatchTrees, Tree, compile_trees, leaf_table, literal, read_ensemble,
                     read_num_features, read_tree, read_tree_weights, weighted_sum_code)
from ..vectors import argmax, batch_rows

ZERO_COUNTS = ("class counts sum to 0: Spark cannot normalize them to probabilities "
               "(its transform fails on this record)")


def normalize_counts(raw: list[float]) -> list[float]:
    """Spark's normalizeToProbabilitiesInPlace: divide by the sum, which must be positive."""
    total = seq_sum(raw)
    if not total > 0.0:
        raise ScoringError(ZERO_COUNTS, field="features")
    return [v / total for v in raw]


def normalize_counts_batch(R: np.ndarray) -> np.ndarray:
    total = seq_sum_arrays(R.T)
    bad = ~(total > 0.0)
    if bad.any():
        raise ScoringError(ZERO_COUNTS, field="features", row=int(np.argmax(bad)))
    return R / total[:, None]


def read_num_classes(node) -> int:
    k = node.attrs.long("num_classes")
    if k < 1:
        raise BundleError(f"attribute 'num_classes' must be at least 1, found {k}", path=node.attrs.where)
    return k


def _small_rows(X):
    """The rows of a batch too small for numpy to pay off, as row vectors (else None)."""
    n = X.shape[0]
    return list(batch_rows(X, n)) if n < SMALL_BATCH else None


@dataclass(frozen=True, eq=False)
class TreeClassifier(ProbabilisticClassifier):
    num_features: int
    num_classes: int
    thresholds: tuple[float, ...] | None
    trees: tuple[Tree, ...]
    batch_trees: BatchTrees

    def raw_to_probability(self, raw):
        return normalize_counts(raw)

    def raw_to_probability_batch(self, R):
        return normalize_counts_batch(R)

    def predict_raw_batch(self, X):
        rows = _small_rows(X)
        if rows is not None:
            return np.array([self.predict_raw(x) for x in rows], dtype=np.float64).reshape(len(rows), -1)
        return self.predict_raw_leaves(self.batch_trees.leaves(X))


@dataclass(frozen=True, eq=False)
class DecisionTreeClassifierModel(TreeClassifier):
    leaf_of: Callable           # compiled: features -> index of the leaf reached
    raw_by_node: tuple          # class counts per node (None for internal nodes)
    probability_by_node: tuple  # normalized counts per node (None: internal, or counts sum to 0)
    prediction_by_node: tuple   # the leaf's prediction, argmax of its counts
    raw_table: np.ndarray       # (nodes, classes)
    prediction_table: np.ndarray

    op_name = "decision_tree_classifier"

    def predict_raw(self, x):
        return list(self.raw_by_node[self.leaf_of(x)])

    def predict_probability(self, x):
        p = self.probability_by_node[self.leaf_of(x)]
        if p is None:
            raise ScoringError(ZERO_COUNTS, field="features")
        return list(p)

    def predict(self, x) -> float:
        return self.prediction_by_node[self.leaf_of(x)]

    def predict_raw_leaves(self, leaves):
        return self.raw_table[leaves[0]]

    def predict_batch(self, X):
        rows = _small_rows(X)
        if rows is not None:
            return np.array([self.predict(x) for x in rows], dtype=np.float64)
        return self.prediction_table[self.batch_trees.leaves(X)[0]]


@dataclass(frozen=True, eq=False)
class RandomForestClassifierModel(TreeClassifier):
    predict_raw: Callable       # compiled: features -> votes
    votes_table: np.ndarray     # (nodes, classes): each leaf's normalized counts

    op_name = "random_forest_classifier"

    def predict_raw_leaves(self, leaves):
        votes = np.zeros((leaves.shape[1], self.num_classes))
        for t in range(leaves.shape[0]):
            votes += self.votes_table[leaves[t]]
        return votes


@dataclass(frozen=True, eq=False)
class GBTClassifierModel(TreeClassifier):
    tree_weights: tuple[float, ...]
    predict_raw: Callable       # compiled: features -> [-margin, margin]
    contributions: np.ndarray   # by node: weight * leaf prediction

    op_name = "gbt_classifier"

    def raw_to_probability(self, raw):
        try:
            p = 1.0 / (1.0 + math.exp(-2.0 * raw[0]))
        except OverflowError:  # the JVM's exp gives infinity, so p is 0
            p = 0.0
        return [p, 1.0 - p]

    def raw_to_probability_batch(self, R):
        with np.errstate(over="ignore"):
            p = 1.0 / (1.0 + np.exp(-2.0 * R[:, 0]))
        return np.column_stack([p, 1.0 - p])

    def predict(self, x) -> float:
        if self.thresholds is not None:
            return self.raw_to_prediction(self.predict_raw(x))
        return 1.0 if self.predict_raw(x)[1] > 0.0 else 0.0

    def predict_raw_leaves(self, leaves):
        m = ddot_sum_arrays(self.contributions.take(leaves))
        return np.column_stack([-m, m])

    def predict_batch(self, X):
        if self.thresholds is not None:
            return super().predict_batch(X)
        return (self.predict_raw_batch(X)[:, 1] > 0.0).astype(np.float64)


def _code_name(node) -> str:
    return f"{node.op} {node.name}"


@op("decision_tree_classifier", family="classification")
def load_decision_tree_classifier(node) -> DecisionTreeClassifierModel:
    """Decision tree classifier: the class counts of the leaf reached."""
    num_features = read_num_features(node)
    num_classes = read_num_classes(node)
    thresholds = read_thresholds(node, num_classes)
    tree = read_tree(node, num_features=num_features, leaf_size=num_classes, class_counts=True)
    leaf_of = compile_trees(
        (tree,), num_features=num_features, check=False, name=_code_name(node),
        leaf=lambda t, i: [f"return {i}"], fallback=lambda t, expr: [f"return {expr}"],
        table=lambda t: list(range(tree.size)), prologue=[], epilogue=[])
    probability, prediction = [], []
    for counts in tree.values:
        if counts is None:
            probability.append(None)
            prediction.append(None)
            continue
        total = seq_sum(counts)
        probability.append(tuple(c / total for c in counts) if total > 0.0 else None)
        prediction.append(float(argmax(counts)))
    batch = BatchTrees((tree,), num_features)
    raw_table = leaf_table((tree,), batch.offsets, num_classes, lambda t, i: tree.values[i])
    prediction_table = leaf_table((tree,), batch.offsets, None, lambda t, i: prediction[i])
    return DecisionTreeClassifierModel(num_features, num_classes, thresholds, (tree,), batch, leaf_of,
                                       tree.values, tuple(probability), tuple(prediction), raw_table,
                                       prediction_table)


def _votes(counts: tuple[float, ...]) -> tuple[float, ...]:
    """A tree's vote: its leaf counts over their total, or nothing when they sum to 0."""
    total = seq_sum(counts)
    if total == 0.0:
        return (0.0,) * len(counts)
    return tuple(c / total for c in counts)


@op("random_forest_classifier", family="classification")
def load_random_forest_classifier(node) -> RandomForestClassifierModel:
    """Random forest classifier: normalized leaf counts summed over trees (tree_weights ignored)."""
    num_features = read_num_features(node)
    num_classes = read_num_classes(node)
    thresholds = read_thresholds(node, num_classes)
    trees = read_ensemble(node, tree_op="decision_tree_classifier", num_features=num_features,
                          leaf_size=num_classes, class_counts=True)
    votes = [[_votes(v) if v is not None else None for v in tree.values] for tree in trees]
    k = num_classes
    zeros = (0.0,) * k

    def leaf(t: int, i: int) -> list[str]:
        # Adding 0.0 changes no vote (votes start at 0.0 and never go negative): skip it.
        return [f"v{c} += {literal(p)}" for c, p in enumerate(votes[t][i]) if p != 0.0]

    predict_raw = compile_trees(
        trees, num_features=num_features, check=False, name=_code_name(node), leaf=leaf,
        fallback=lambda t, expr: [f"c = {expr}"] + [f"v{c} += c[{c}]" for c in range(k)],
        table=lambda t: [v if v is not None else zeros for v in votes[t]],
        prologue=[" = ".join(f"v{c}" for c in range(k)) + " = 0.0"],
        epilogue=[f"return [{', '.join(f'v{c}' for c in range(k))}]"])
    batch = BatchTrees(trees, num_features)
    votes_table = leaf_table(trees, batch.offsets, k, lambda t, i: votes[t][i])
    return RandomForestClassifierModel(num_features, num_classes, thresholds, trees, batch, predict_raw,
                                       votes_table)


@op("gbt_classifier", family="classification")
def load_gbt_classifier(node) -> GBTClassifierModel:
    """Gradient-boosted trees classifier (binary): margin m gives raw [-m, m]."""
    num_features = read_num_features(node)
    num_classes = read_num_classes(node)
    if num_classes != 2:
        raise BundleError(f"attribute 'num_classes' must be 2 for gbt_classifier, found {num_classes}",
                          path=node.attrs.where)
    loss = node.attrs.string("lossType", None)
    if loss is not None and loss != "logistic":
        raise BundleError(f"attribute 'lossType' must be \"logistic\", found {loss!r}", path=node.attrs.where)
    thresholds = read_thresholds(node, num_classes)
    trees = read_ensemble(node, tree_op="decision_tree_regression", num_features=num_features, leaf_size=1)
    weights = read_tree_weights(node, len(trees))
    code = weighted_sum_code(trees, weights, "m")
    code["epilogue"] = code["epilogue"] + ["return [-m, m]"]
    predict_raw = compile_trees(trees, num_features=num_features, check=False,
                                name=_code_name(node), **code)
    batch = BatchTrees(trees, num_features)
    contributions = leaf_table(trees, batch.offsets, None, lambda t, i: weights[t] * trees[t].values[i][0])
    return GBTClassifierModel(num_features, num_classes, thresholds, trees, batch, weights, predict_raw,
                              contributions)
