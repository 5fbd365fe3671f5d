"""XGBoost boosters: xgboost.classifier and xgboost.regression (the optional ``xgboost`` extra).

The node's folder holds the booster in file ``xgboost.model``, in any format XGBoost writes: JSON,
UBJSON (what leapserve's export writes) or the legacy binary format of XGBoost < 1.0 (what
MLeap 0.13 wrote; XGBoost 2.x reads it, 3.x does not). Attributes: ``num_features`` (int),
``num_classes`` (int, classifier only), ``tree_limit`` (int, 0 = every tree; like xgboost4j's
treeLimit it counts trees, so boosting rounds = tree_limit / num_parallel_tree), ``missing``
(float, default NaN) and ``spark_api`` (string: "xgboost.spark" or "xgboost4j-spark", the
default: whose transform the node scores as). Other attributes MLeap's writer adds (``objective``,
``thresholds``, ``infer_batch_size``, ``use_external_memory``, ``allow_non_zero_for_missing``) do
not change scores and are not read: neither MLeap's runtime nor xgboost.spark applies ``thresholds``.

Scoring is XGBoost's own ``Booster.inplace_predict`` on dense float64 rows. A sparse vector's
absent entries are 0.0 for spark_api "xgboost.spark" (its transform densifies them) and missing
for "xgboost4j-spark" (its transform, and MLeap's runtime, hand XGBoost the sparse entries; in a
dense row, rows and batches alike, the zeros of a row that Spark's ``compressed`` stores sparse,
as VectorAssembler writes it); entries equal to ``missing`` (and NaN) are missing. From there the outputs follow that transform, in
XGBoost's float32 arithmetic, then widened to doubles:

* classifier, 2 classes: margin m (float32); raw_prediction = [-m, m]; probability = [1 - p, p]
  with p = scipy's expit(m) when the objective is binary:logistic (bit for bit XGBoost's own
  probability), else XGBoost's own prediction (MLeap's runtime rule: a reg:linear booster, as in
  MLeap's pixar example, gives p = m); prediction = argmax of the probability (the first on ties).
* classifier, k > 2 classes: raw_prediction = the k margins; probability = scipy's softmax of
  them in float32 for "xgboost.spark" (its rule), XGBoost's own multi:softprob prediction for
  "xgboost4j-spark" (its rule and MLeap's; another objective is refused at load); prediction =
  argmax of the probability.
* regression: prediction = XGBoost's own prediction (the objective's transform applied).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BundleError
from ..model import OpModel, check_batch_width, check_vector
from ..registry import op
from ..trees import read_num_features
from ..types import DOUBLE, vector
from ..vectors import SparseBatch, SparseVector

BOOSTER_FILE = "xgboost.model"
# XGBoost is handed dense rows (as xgboost.spark does); a sparse batch is densified in slices of
# at most this many values (32 MB of doubles)
DENSE_BATCH_VALUES = 1 << 22
INSTALL_HINT = "pip install 'leapserve[xgboost]'"
# attribute spark_api: whose transform the node scores as; without it, xgboost4j-spark's, which
# MLeap's JVM runtime follows (MLeap-written nodes have no such attribute)
XGBOOST_SPARK = "xgboost.spark"
XGBOOST4J_SPARK = "xgboost4j-spark"
SPARK_APIS = (XGBOOST4J_SPARK, XGBOOST_SPARK)


def import_xgboost(node):
    """XGBoost's Python library, imported only when a bundle needs it (the plain install lacks it)."""
    try:
        import xgboost
        import scipy.special  # noqa: F401  (an XGBoost dependency; expit and softmax come from it)
    except ImportError as e:
        raise BundleError(f"op {node.op!r} of node {node.name!r} needs XGBoost's Python library, which is "
                          f"not installed here ({e}): install leapserve's extra with `{INSTALL_HINT}`",
                          path=node.where()) from None
    return xgboost


def booster_format(data: bytes) -> str:
    """The serialization of a booster file: "JSON", "UBJSON" or "legacy binary" (XGBoost < 1.0)."""
    if data[:1] == b"{":
        rest = data[1:].lstrip(b" \t\r\n")
        # JSON: a quoted key or the closing brace; UBJSON: a type marker for the key's length
        return "JSON" if rest[:1] in (b'"', b"}") else "UBJSON"
    return "legacy binary"


# XGBoost's readers trust the file too: a few changed bytes in a legacy binary booster made its
# reader run for minutes, and a reader that crashes takes the process with it. So a child process
# reads the untrusted file and hands back the booster as XGBoost re-serializes it (UBJSON); this
# process only ever reads what XGBoost itself wrote, then checks its trees (check_booster).
READ_TIMEOUT_S = 60.0
_READ_IN_CHILD = """\
import sys
import xgboost
booster = xgboost.Booster()
with xgboost.config_context(verbosity=0):
    booster.load_model(bytearray(sys.stdin.buffer.read()))
    sys.stdout.buffer.write(bytes(booster.save_raw("ubj")))
"""


def _child_error(stderr: bytes) -> str:
    """The first line of XGBoost's error in the child's traceback."""
    lines = stderr.decode("utf-8", "replace").splitlines()
    for line in lines:
        if "XGBoostError:" in line:
            return line.split("XGBoostError:", 1)[1].strip()
    return lines[-1].strip() if lines else "no detail"


def read_untrusted(xgb, data: bytes, fmt: str, where: str) -> bytes:
    """The booster in ``data`` re-serialized as UBJSON by XGBoost in a child process."""
    try:
        done = subprocess.run([sys.executable, "-I", "-c", _READ_IN_CHILD], input=data, capture_output=True,
                              timeout=READ_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BundleError(f"XGBoost {xgb.__version__} did not finish reading the booster (XGBoost's {fmt} "
                          f"format) within {READ_TIMEOUT_S:g} s", path=where) from None
    if done.returncode < 0:
        raise BundleError(f"XGBoost {xgb.__version__} crashed reading the booster (XGBoost's {fmt} format, "
                          f"signal {-done.returncode})", path=where)
    if done.returncode != 0:
        raise BundleError(f"XGBoost {xgb.__version__} cannot read the booster (XGBoost's {fmt} format): "
                          f"{_child_error(done.stderr)} (XGBoost 2.x reads JSON, UBJSON and legacy binary; "
                          "3.x no legacy binary)", path=where)
    return done.stdout


def load_booster(node):
    """The node's booster, read by the installed XGBoost; returns (booster, its JSON config)."""
    xgb = import_xgboost(node)
    where = node.where(BOOSTER_FILE)
    if not node.has_file(BOOSTER_FILE):
        raise BundleError(f"op {node.op!r} needs its booster in file {BOOSTER_FILE!r}, which is missing",
                          path=where)
    data = node.read_file(BOOSTER_FILE)
    fmt = booster_format(data)
    written = read_untrusted(xgb, data, fmt, where)
    booster = xgb.Booster()
    try:
        with xgb.config_context(verbosity=0):
            booster.load_model(bytearray(written))
            # one thread per call: the server scores calls side by side on its own threads, and
            # OpenMP threads waiting for a busy core made one record take 5.6 ms instead of 0.3
            booster.set_param({"nthread": 1})
            config = json.loads(booster.save_config())
    except xgb.core.XGBoostError as e:
        detail = (str(e).strip().splitlines() or ["no detail"])[0]
        raise BundleError(f"XGBoost {xgb.__version__} cannot read back the booster it re-serialized: {detail}",
                          path=where) from None
    return booster, config


def _param(config: dict, *keys: str, default: Any = None) -> Any:
    for k in keys:
        if not isinstance(config, dict) or k not in config:
            return default
        config = config[k]
    return config


def trees_per_round(config: dict) -> int:
    """Trees per boosting round (1 unless a forest is boosted); 0 for the linear booster."""
    booster = _param(config, "learner", "gradient_booster", "name", default="gbtree")
    if booster == "gblinear":
        return 0
    if booster == "dart":
        n = _param(config, "learner", "gradient_booster", "gbtree", "gbtree_model_param", "num_parallel_tree")
    else:
        n = _param(config, "learner", "gradient_booster", "gbtree_model_param", "num_parallel_tree")
    try:
        return max(1, int(n))
    except (TypeError, ValueError):
        return 1


def read_iteration_end(node, config: dict) -> int:
    """``tree_limit`` as the end of XGBoost's iteration range (0 = every round), as XGBoost turns
    the old ntree_limit into rounds: divided by the trees per round."""
    limit = node.attrs.long("tree_limit", 0)
    if limit < 0:
        raise BundleError(f"attribute 'tree_limit' must be at least 0, found {limit}", path=node.attrs.where)
    per_round = trees_per_round(config)
    return limit // per_round if limit and per_round else 0


# XGBoost trusts the trees it loads: a child index out of range or a split on a feature past the
# row segfaults the process when it predicts, and a cycle never ends. Bundles are untrusted, so
# the trees are checked (in XGBoost's own JSON form of the loaded booster) before any scoring.

def _int_list(tree: dict, key: str, n: int, where: str) -> list[int]:
    values = tree.get(key)
    if not isinstance(values, list) or len(values) != n or not all(isinstance(v, int) for v in values):
        raise BundleError(f"the booster's tree has a malformed {key!r} (expected {n} integers)", path=where)
    return values


def check_tree(tree: dict, num_features: int, where: str) -> None:
    """One tree of the booster's JSON: every child in range and reached once from the root, every
    split on a feature of the row, categorical splits within their category list."""
    param = tree.get("tree_param") or {}
    try:
        n = int(param.get("num_nodes"))
        leaf_size = int(param.get("size_leaf_vector", 1))
    except (TypeError, ValueError):
        raise BundleError("the booster's tree has no valid num_nodes", path=where) from None
    if n < 1:
        raise BundleError(f"the booster's tree has {n} nodes", path=where)
    if leaf_size > 1:
        raise BundleError("the booster has vector leaves (multi_strategy multi_output_tree), which the "
                          "ops do not describe", path=where)
    left = _int_list(tree, "left_children", n, where)
    right = _int_list(tree, "right_children", n, where)
    feature = _int_list(tree, "split_indices", n, where)
    split_type = tree.get("split_type") or [0] * n
    if len(split_type) != n or len(tree.get("split_conditions") or []) != n \
            or len(tree.get("default_left") or []) != n or len(tree.get("base_weights") or []) != n:
        raise BundleError("the booster's tree has arrays of unequal lengths", path=where)
    categorical = dict(zip(tree.get("categories_nodes") or [], zip(tree.get("categories_segments") or [],
                                                                    tree.get("categories_sizes") or [])))
    n_categories = len(tree.get("categories") or [])
    seen = [False] * n
    stack = [0]
    while stack:
        i = stack.pop()
        if seen[i]:
            raise BundleError(f"the booster's tree reaches node {i} twice (a cycle or a shared child)", path=where)
        seen[i] = True
        if left[i] == -1 and right[i] == -1:
            continue
        for child in (left[i], right[i]):
            if not 0 < child < n:
                raise BundleError(f"the booster's tree node {i} has child {child}, outside 1..{n - 1}", path=where)
            stack.append(child)
        if not 0 <= feature[i] < num_features:
            raise BundleError(f"the booster's tree node {i} splits on feature {feature[i]}, outside "
                              f"0..{num_features - 1}", path=where)
        if split_type[i] == 1:
            segment, size = categorical.get(i, (-1, -1))
            if not (0 <= segment and 0 <= size and segment + size <= n_categories):
                raise BundleError(f"the booster's tree node {i} has a malformed category list", path=where)


def check_booster(booster, num_features: int, where: str) -> None:
    """The loaded booster's trees (or linear weights) are safe for XGBoost to predict with."""
    try:
        doc = json.loads(bytes(booster.save_raw("json")))
        gb = doc["learner"]["gradient_booster"]
        name = gb["name"]
        model = gb["gbtree"]["model"] if name == "dart" else gb["model"]
    except (KeyError, TypeError, ValueError) as e:
        first = (str(e).strip().splitlines() or [""])[0]
        raise BundleError(f"the booster's structure is not what XGBoost writes ({type(e).__name__}: {first})",
                          path=where) from None
    if name == "gblinear":
        return  # XGBoost checks the weights' count against the features and groups itself
    trees = model.get("trees")
    info = model.get("tree_info")
    if not isinstance(trees, list) or not isinstance(info, list) or len(info) != len(trees):
        raise BundleError("the booster's trees and tree_info disagree", path=where)
    groups = max(1, int(_param(doc, "learner", "learner_model_param", "num_class", default="0") or 0))
    if not all(isinstance(g, int) and 0 <= g < groups for g in info):
        raise BundleError(f"the booster's tree_info names an output group outside 0..{groups - 1}", path=where)
    bounds = model.get("iteration_indptr")
    if bounds is not None and (not isinstance(bounds, list) or not bounds or bounds[0] != 0
                               or bounds[-1] != len(trees) or any(a > b for a, b in zip(bounds, bounds[1:]))):
        raise BundleError("the booster's iteration_indptr does not partition its trees", path=where)
    for tree in trees:
        if not isinstance(tree, dict):
            raise BundleError("the booster holds a tree that is not an object", path=where)
        check_tree(tree, num_features, where)


def read_booster_model(node) -> dict:
    """What both ops read: the booster, its objective, and the checked attributes."""
    num_features = read_num_features(node)
    booster, config = load_booster(node)
    have = booster.num_features()
    if have != num_features:
        raise BundleError(f"attribute 'num_features' is {num_features} but the booster in {BOOSTER_FILE!r} "
                          f"was trained on {have} features", path=node.attrs.where)
    check_booster(booster, num_features, node.where(BOOSTER_FILE))
    iteration_end = read_iteration_end(node, config)
    if iteration_end > booster.num_boosted_rounds():
        raise BundleError(f"attribute 'tree_limit' asks for {iteration_end} boosting rounds but the booster has "
                          f"{booster.num_boosted_rounds()}", path=node.attrs.where)
    return dict(
        num_features=num_features, booster=booster,
        objective=str(_param(config, "learner", "objective", "name", default="")),
        booster_classes=int(_param(config, "learner", "learner_model_param", "num_class", default="0") or 0),
        iteration_end=iteration_end,
        missing=node.attrs.double("missing", math.nan),
        spark_api=read_spark_api(node),
    )


def read_spark_api(node) -> str:
    api = node.attrs.string("spark_api", XGBOOST4J_SPARK)
    if api not in SPARK_APIS:
        raise BundleError(f"attribute 'spark_api' must be one of {', '.join(map(repr, SPARK_APIS))}, "
                          f"found {api!r}", path=node.attrs.where)
    return api


def dense_rows(X, absent: float = 0.0) -> np.ndarray:
    """A batch column of vectors as dense float64 rows, a sparse vector's absent entries set to
    ``absent`` (0.0 as xgboost.spark densifies them, NaN: missing, as xgboost4j-spark reads them).
    With ``absent`` NaN, the zeros of a dense row that Spark's ``compressed`` stores sparse are
    missing too: the runtime holds assembled vectors dense where Spark (VectorAssembler) holds
    them sparse, so a dense row is read as Spark would hold it, in rows and batches alike."""
    if isinstance(X, SparseBatch):
        out = np.full(X.shape, absent, dtype=np.float64)
        out[X.row_ids(), X.indices] = X.values
        return out
    out = np.asarray(X, dtype=np.float64)
    if absent == 0.0 or out.size == 0:
        return out
    zeros = out == 0.0
    nonzeros = out.shape[1] - zeros.sum(axis=1)
    sparse_rows = 1.5 * (nonzeros + 1.0) < out.shape[1]
    if not sparse_rows.any():
        return out
    out = out.copy()
    out[zeros & sparse_rows[:, None]] = absent
    return out


def dense_row(x, absent: float = 0.0) -> np.ndarray:
    if isinstance(x, SparseVector):
        out = np.full((1, x.size), absent, dtype=np.float64)
        out[0, list(x.indices)] = x.values
        return out
    return dense_rows(np.asarray(x, dtype=np.float64).reshape(1, -1), absent)


@dataclass(frozen=True, eq=False)
class BoosterModel(OpModel):
    num_features: int
    booster: Any            # xgboost.Booster; inplace_predict is safe from several threads
    objective: str
    iteration_end: int
    missing: float
    spark_api: str

    @property
    def absent(self) -> float:
        """What a sparse vector's absent entries are: 0.0 for xgboost.spark, missing (NaN) else."""
        return 0.0 if self.spark_api == XGBOOST_SPARK else math.nan

    def input_ports(self):
        return [("features", vector(self.num_features))]

    def predict_array(self, X: np.ndarray, kind: str) -> np.ndarray:
        """XGBoost's float32 predictions ("margin" or "value") for dense rows X."""
        return self.booster.inplace_predict(X, predict_type=kind, missing=self.missing,
                                            iteration_range=(0, self.iteration_end), validate_features=False)

    def outputs(self, X: np.ndarray, wanted) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def row_fn(self, outputs):
        order = list(outputs)
        size = self.num_features

        def run(x):
            check_vector("features", x, size)
            values = self.outputs(dense_row(x, self.absent), order)
            return tuple(values[o][0].tolist() if values[o].ndim > 1 else float(values[o][0]) for o in order)
        return run

    def batch_fn(self, outputs):
        order = list(outputs)
        size = self.num_features

        def run(ctx, X):
            check_batch_width("features", X, size)
            n = X.shape[0]
            if not isinstance(X, SparseBatch) or n * size <= DENSE_BATCH_VALUES:
                values = self.outputs(dense_rows(X, self.absent), order)
                return tuple(values[o] for o in order)
            # wide sparse rows are densified a slice at a time, so memory stays bounded
            step = max(1, DENSE_BATCH_VALUES // max(size, 1))
            parts = [self.outputs(dense_rows(X.take(np.arange(a, min(a + step, n))), self.absent), order)
                     for a in range(0, n, step)]
            return tuple(np.concatenate([p[o] for p in parts]) for o in order)
        return run


@dataclass(frozen=True, eq=False)
class XGBoostClassifierModel(BoosterModel):
    num_classes: int

    op_name = "xgboost.classifier"
    discrete_outputs = frozenset({"prediction"})

    def output_ports(self):
        k = self.num_classes
        return [("raw_prediction", vector(k)), ("probability", vector(k)), ("prediction", DOUBLE)]

    def outputs(self, X, wanted):
        margins = self.predict_array(X, "margin")
        binary = self.num_classes == 2
        raw = (np.column_stack((-margins.reshape(-1), margins.reshape(-1))) if binary
               else margins.reshape(X.shape[0], self.num_classes))
        values = {"raw_prediction": raw.astype(np.float64)}
        if "probability" in wanted or "prediction" in wanted:  # a second prediction only when asked
            probability = self.probability(X, raw).astype(np.float64)
            values["probability"] = probability
            values["prediction"] = np.argmax(probability, axis=1).astype(np.float64)
        return {o: values[o] for o in wanted}

    def probability(self, X, raw):
        from scipy.special import expit, softmax

        if self.num_classes == 2:
            m = raw[:, 1]
            p = expit(m) if self.objective == "binary:logistic" else self.predict_array(X, "value").reshape(-1)
            return np.column_stack((1.0 - p, p))
        if self.spark_api == XGBOOST_SPARK:
            return softmax(raw, axis=1)
        # xgboost4j-spark and MLeap's runtime: XGBoost's own multi:softprob
        return self.predict_array(X, "value").reshape(X.shape[0], self.num_classes)


@dataclass(frozen=True, eq=False)
class XGBoostRegressionModel(BoosterModel):
    op_name = "xgboost.regression"

    def output_ports(self):
        return [("prediction", DOUBLE)]

    def outputs(self, X, wanted):
        return {"prediction": self.predict_array(X, "value").reshape(X.shape[0], -1)[:, 0].astype(np.float64)}


@op("xgboost.classifier", family="classification", extra="xgboost")
def load_xgboost_classifier(node) -> XGBoostClassifierModel:
    """XGBoost classifier (XGBoost's own scoring): margins, then xgboost.spark's probabilities."""
    common = read_booster_model(node)
    k = node.attrs.long("num_classes")
    if k < 2:
        raise BundleError(f"attribute 'num_classes' must be at least 2, found {k}", path=node.attrs.where)
    have = common.pop("booster_classes")
    # a binary booster has one margin (num_class 0 or 1), a multi-class one num_class margins
    margins = 1 if have in (0, 1) else have
    if (k == 2) != (margins == 1) or (margins > 1 and margins != k):
        raise BundleError(f"attribute 'num_classes' is {k} but the booster in {BOOSTER_FILE!r} has "
                          f"num_class {have}", path=node.attrs.where)
    if k > 2 and common["spark_api"] == XGBOOST4J_SPARK and common["objective"] != "multi:softprob":
        # its probability is the booster's own prediction, k values a row only with multi:softprob
        raise BundleError(f"a {k}-class node scored as xgboost4j-spark's (attribute 'spark_api') needs a "
                          f"multi:softprob booster, found objective {common['objective']!r}", path=node.attrs.where)
    return XGBoostClassifierModel(num_classes=k, **common)


@op("xgboost.regression", family="regression", extra="xgboost")
def load_xgboost_regression(node) -> XGBoostRegressionModel:
    """XGBoost regression (XGBoost's own scoring): the objective's prediction."""
    common = read_booster_model(node)
    common.pop("booster_classes")
    return XGBoostRegressionModel(**common)
