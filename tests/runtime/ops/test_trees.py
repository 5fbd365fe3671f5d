"""Tree ops (decision trees, random forests, gradient-boosted trees) against Spark 3.5: the
classifiers (classification_trees), the regressors (regression_trees) and the tree reading and
compilation they share (leapserve/runtime/trees.py), in one module because they share its data.

Spark fits the models on a vector column with nominal metadata, so that trees hold categorical
splits (including the even splits where MLeap's stored side differs from Spark's); many copies of
each fitted model (new uids, different output columns and thresholds) score the same rows in one
pipeline. Rows cover NaN, infinities, -0.0, values exactly on thresholds, category values that are
not categories, sparse and empty vectors, nulls, ties between classes, and depth-0 trees.
Hand-written bundles check the structural validation and the fallbacks for trees too big to
compile.
"""

from __future__ import annotations

import json
import math
import random
import struct

import numpy as np
import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.classification import (DecisionTreeClassifier, GBTClassifier, RandomForestClassifier)
from pyspark.ml.linalg import Vectors
from pyspark.ml.regression import DecisionTreeRegressor, GBTRegressor, RandomForestRegressor
from pyspark.ml.wrapper import JavaParams
from pyspark.sql import functions as F

from leapserve.bundler.compare import column_tolerances, compare, spark_discrete_columns, spark_value
from tests.support.bundles import FRAME, RF_ZIP
from tests.support.compared import compared
from tests.support.frames import vector_frame
from tests.support.parity import assert_parity, row_value, spark_like
from leapserve.runtime import load_bundle, registry
from leapserve.runtime import trees as tree_ops
from leapserve.runtime.bundle import NodeDef
from leapserve.runtime.container import open_source
from leapserve.runtime.errors import BundleError, InvalidInput, ScoringError
from leapserve.runtime.vectors import SparseBatch, SparseVector

NUM_FEATURES = 4
NOMINAL_META = {"ml_attr": {"attrs": {
    "numeric": [{"idx": 0, "name": "a"}, {"idx": 1, "name": "b"}],
    "nominal": [{"idx": 2, "name": "c", "vals": ["w", "x", "y", "z"]},
                {"idx": 3, "name": "d", "vals": ["p", "q", "r"]}]}, "num_attrs": 4}}


# --- Spark side: data and models -------------------------------------------------------------

def _training_rows(seed: int, label):
    rnd = random.Random(seed)
    rows = []
    for _ in range(80):
        a, b = round(rnd.uniform(-3, 3), 2), round(rnd.uniform(0, 10), 1)
        c, d = float(rnd.randrange(4)), float(rnd.randrange(3))
        rows.append((Vectors.dense([a, b, c, d]), label(a, b, c, d, rnd)))
    return rows


def _with_meta(df):
    return df.withColumn("features", F.col("features").alias("features", metadata=NOMINAL_META))


@pytest.fixture(scope="module")
def training(spark):
    def multiclass(a, b, c, d, rnd):
        if rnd.random() < 0.1:
            return float(rnd.randrange(3))
        return float((c in (1.0, 2.0)) + (a > 0.5 and d != 1.0))

    def binary(a, b, c, d, rnd):
        return float((c in (0.0, 3.0)) != (a + b / 5 > 1.0) or rnd.random() < 0.1)

    def regression(a, b, c, d, rnd):
        return round(3 * a - b + 10 * (c in (1.0, 2.0)) + 4 * (d == 2.0) + rnd.gauss(0, 0.5), 3)

    # Ties: two points, each with two labels, so both leaves hold equal counts of two classes.
    ties = [(Vectors.dense([-1.0, 0.0, 0.0, 0.0]), 0.0), (Vectors.dense([-1.0, 0.0, 0.0, 0.0]), 1.0),
            (Vectors.dense([1.0, 0.0, 0.0, 0.0]), 1.0), (Vectors.dense([1.0, 0.0, 0.0, 0.0]), 2.0)] * 2
    make = spark.createDataFrame
    return {
        "multiclass": _with_meta(make(_training_rows(1, multiclass), ["features", "label"])),
        "binary": _with_meta(make(_training_rows(2, binary), ["features", "label"])),
        "regression": _with_meta(make(_training_rows(3, regression), ["features", "label"])),
        "ties": make(ties, ["features", "label"]),
    }


def renamed(model, tag: str, **params):
    """A copy of a fitted tree model under a new uid (MLeap names nodes by uid), params set."""
    from pyspark import SparkContext

    j = model._java_obj
    cls = SparkContext._jvm
    for part in j.getClass().getName().split("."):
        cls = getattr(cls, part)
    uid = f"{j.uid()}_{tag}"
    name = j.getClass().getSimpleName()
    if name.startswith("DecisionTree"):
        args = (j.rootNode(), j.numFeatures()) + ((j.numClasses(),) if "Classification" in name else ())
    elif name.startswith("RandomForest"):
        args = (j.trees(), j.numFeatures()) + ((j.numClasses(),) if "Classification" in name else ())
    else:
        args = (j.trees(), j.treeWeights(), j.numFeatures())
    copy = JavaParams._from_java(cls(uid, *args))
    for param, value in model.extractParamMap().items():  # e.g. numTrees, which Spark divides by
        if copy.hasParam(param.name):
            copy._set(**{param.name: value})
    for key, value in params.items():
        copy._set(**{key: value})
    return copy


# Which outputs a classifier writes: (raw, probability, prediction) present or not. Thresholds
# only matter for the prediction, which comes from raw (1, 0, 1), from the probability (0, 1, 1)
# or from predict (0, 0, 1).
COMBOS = [(1, 1, 1), (1, 0, 1), (0, 1, 1), (0, 0, 1), (1, 0, 0), (0, 1, 0), (1, 1, 0)]
PREDICTION_PATHS = [(1, 0, 1), (0, 1, 1), (0, 0, 1)]


def classifier_variants(model, tag: str, threshold_sets, combos=COMBOS):
    out = []
    for r, p, y in combos:
        for k, thresholds in enumerate(threshold_sets if (r, p, y) in PREDICTION_PATHS else [None]):
            name = f"{tag}{r}{p}{y}t{k}"
            params = dict(rawPredictionCol=f"raw_{name}" if r else "",
                          probabilityCol=f"prob_{name}" if p else "",
                          predictionCol=f"pred_{name}" if y else "")
            if thresholds is not None:
                params["thresholds"] = thresholds
            out.append(renamed(model, name, **params))
    return out


def java_thresholds(model) -> list[tuple[int, float]]:
    """(feature, threshold) of every continuous split of a fitted tree model."""
    j = model._java_obj
    roots = [j.rootNode()] if j.getClass().getSimpleName().startswith("DecisionTree") else \
        [t.rootNode() for t in j.trees()]
    out, stack = [], list(roots)
    while stack:
        node = stack.pop()
        if node.getClass().getSimpleName() != "InternalNode":
            continue
        split = node.split()
        if split.getClass().getSimpleName() == "ContinuousSplit":
            out.append((split.featureIndex(), split.threshold()))
        stack += [node.leftChild(), node.rightChild()]
    return out


def scoring_frame(spark, models):
    """Rows to score: edge values, values on and just past split thresholds, random rows."""
    dense, sparse = Vectors.dense, Vectors.sparse
    nan, inf = math.nan, math.inf
    vectors = [
        dense([0.3, 2.0, 1.0, 2.0]), dense([-2.0, 8.0, 3.0, 0.0]), dense([2.5, 5.0, 0.0, 1.0]),
        sparse(4, [1], [5.0]), sparse(4, [0, 2], [1.5, 2.0]), sparse(4, [], []),   # empty vector
        dense([nan, 2.0, 1.0, 2.0]), dense([0.3, nan, nan, 1.0]), dense([nan, nan, nan, nan]),
        dense([1.0, 3.0, 7.0, 5.0]),      # not categories: too large
        dense([1.0, 3.0, 1.5, 0.5]),      # not categories: fractional
        dense([-1.0, 3.0, -1.0, -2.0]),   # not categories: negative
        dense([-0.0, -0.0, -0.0, -0.0]), dense([inf, -inf, inf, -inf]), dense([-inf, inf, 2.0, 1.0]),
        dense([0.0, 0.0, 0.0, 0.0]), dense([1e300, -1e300, 3.0, 2.0]),
    ]
    for m in models:
        for f, t in java_thresholds(m)[:8]:
            for value in (t, math.nextafter(t, inf)):
                v = [0.5, 4.0, 1.0, 1.0]
                v[f] = value
                vectors.append(dense(v))
    rnd = random.Random(11)
    for _ in range(24):
        vectors.append(dense([round(rnd.uniform(-3.5, 3.5), 2), round(rnd.uniform(-1, 11), 1),
                              float(rnd.randrange(4)), float(rnd.randrange(3))]))
    # No null vector here: Spark's UDF fails on it (NullPointerException), which would make the
    # harness score every row in a job of its own; test_wrong_size_and_null_vectors covers nulls.
    return vector_frame(spark, vectors)


@pytest.fixture(scope="module")
def classifiers(training):
    dt = DecisionTreeClassifier(maxDepth=4, seed=1).fit(training["multiclass"])
    rf = RandomForestClassifier(numTrees=6, maxDepth=3, seed=1).fit(training["multiclass"])
    gbt = GBTClassifier(maxIter=5, maxDepth=3, stepSize=0.3, seed=1).fit(training["binary"])
    flat = DecisionTreeClassifier(maxDepth=0).fit(training["multiclass"])
    flat_gbt = GBTClassifier(maxIter=2, maxDepth=0).fit(training["binary"])
    tie_dt = DecisionTreeClassifier(maxDepth=3).fit(training["ties"])
    tie_rf = RandomForestClassifier(numTrees=2, bootstrap=False, featureSubsetStrategy="all",
                                    maxDepth=3).fit(training["ties"])
    return dict(dt=dt, rf=rf, gbt=gbt, flat=flat, flat_gbt=flat_gbt, tie_dt=tie_dt, tie_rf=tie_rf)


@pytest.fixture(scope="module")
def regressors(training):
    train = training["regression"]
    return dict(
        dt=DecisionTreeRegressor(maxDepth=5).fit(train),
        rf=RandomForestRegressor(numTrees=5, maxDepth=3, seed=3).fit(train),
        gbt=GBTRegressor(maxIter=7, maxDepth=2, stepSize=0.3, seed=3).fit(train),
        flat=DecisionTreeRegressor(maxDepth=0).fit(train),
        flat_rf=RandomForestRegressor(numTrees=2, maxDepth=0).fit(train),
        flat_gbt=GBTRegressor(maxIter=2, maxDepth=0).fit(train))


@pytest.fixture(scope="module")
def classifier_parity(spark, classifiers, tmp_path_factory):
    c = classifiers
    multi = [None, [0.5, 0.3, 0.2], [0.4, 0.0, 0.6]]
    binary = [None, [0.7, 0.3], [0.0, 1.0]]
    stages = (classifier_variants(c["dt"], "dt", multi) + classifier_variants(c["rf"], "rf", multi)
              + classifier_variants(c["gbt"], "gbt", binary)
              + classifier_variants(c["tie_dt"], "tdt", [None, [0.5, 0.5, 0.5], [1.0, 1.0, 2.0]],
                                    [(1, 1, 1)] + PREDICTION_PATHS)
              + classifier_variants(c["tie_rf"], "trf", [None, [0.5, 0.5, 0.5]], PREDICTION_PATHS))
    for key, thresholds in (("flat", multi), ("flat_gbt", binary)):
        stages += [renamed(c[key], f"{key}{k}", thresholds=t, rawPredictionCol=f"raw_{key}{k}",
                           probabilityCol=f"prob_{key}{k}", predictionCol=f"pred_{key}{k}")
                   if t else renamed(c[key], f"{key}{k}", predictionCol=f"pred_{key}{k}",
                                     rawPredictionCol="", probabilityCol="")
                   for k, t in enumerate(thresholds)]
    model = PipelineModel(stages=stages)
    rows = scoring_frame(spark, [c["dt"], c["rf"], c["gbt"]])
    return assert_parity(model, rows, tmp_path_factory.mktemp("tree-classifiers"))


@pytest.fixture(scope="module")
def regressor_parity(spark, regressors, tmp_path_factory):
    stages = [renamed(m, key, predictionCol=f"pred_{key}") for key, m in regressors.items()]
    rows = scoring_frame(spark, [regressors["dt"], regressors["rf"], regressors["gbt"]])
    return assert_parity(PipelineModel(stages=stages), rows, tmp_path_factory.mktemp("tree-regressors"))


# --- parity ----------------------------------------------------------------------------------

@pytest.mark.parity("decision_tree_classifier", "random_forest_classifier", "gbt_classifier")
def test_classifiers_match_spark(classifier_parity):
    """Every output combination, with and without thresholds (one with a 0), both formats."""
    report = classifier_parity
    assert report.compared > 1000 and report.errors == 0


@pytest.mark.parity("decision_tree_regression", "random_forest_regression", "gbt_regression")
def test_regressors_match_spark(regressor_parity):
    assert regressor_parity.compared > 100 and regressor_parity.errors == 0


def test_trees_hold_categorical_and_even_splits(classifier_parity):
    """The models really split on categories, and some split has MLeap's isLeft != Spark's, so
    that the rows with values that are not categories check where Spark sends them."""
    pipeline = classifier_parity.pipelines["json"]
    categorical = sum(s is not None for st in pipeline.stages for tree in st.model.trees for s in tree.categories)
    assert categorical > 0
    # Spark keeps the left side of a 2-of-4 split (2 <= 4 / 2); MLeap writes the right side.
    even = 0
    source = open_source(classifier_parity.bundles["json"])
    for st in pipeline.stages:
        if st.op == "decision_tree_classifier":
            node = NodeDef(source, "json", st.path.split("!/", 1)[1])
            for raw in node.decision_tree_nodes():
                split = raw.get("split") or {}
                if split.get("type") == "categorical" and 2 * len(split["categories"]) == split["numCategories"] \
                        and not split["isLeft"]:
                    even += 1
    assert even > 0


def test_ties_between_classes(classifier_parity):
    """Leaves with equal counts exist; argmax takes the first class, as Spark's."""
    pipeline = classifier_parity.pipelines["protobuf"]
    stage = next(st for st in pipeline.stages if st.name.endswith("_tdt111t0"))
    tree = stage.model.trees[0]
    leaf_counts = sorted(v for v in tree.values if v is not None)
    assert leaf_counts == [(0.0, 2.0, 2.0), (2.0, 2.0, 0.0)]
    out = pipeline.transform({"features": [-1.0, 0.0, 0.0, 0.0]}, ["pred_tdt111t0", "pred_trf001t0"])
    assert out == {"pred_tdt111t0": 0.0, "pred_trf001t0": 0.0}
    out = pipeline.transform({"features": [1.0, 0.0, 0.0, 0.0]}, ["pred_tdt111t0", "pred_trf001t0"])
    assert out == {"pred_tdt111t0": 1.0, "pred_trf001t0": 1.0}


def test_depth_zero_trees(classifier_parity, regressor_parity):
    sizes = [tree.size for report in (classifier_parity, regressor_parity)
             for st in report.pipelines["json"].stages if "flat" in st.name for tree in st.model.trees]
    assert sizes and set(sizes) == {1}


def test_nan_goes_right(regressor_parity):
    """x <= threshold is false for NaN, and NaN is in no category set: an all-NaN row goes right
    at continuous splits and to the side Spark's set does not lead to at categorical ones."""
    for st in regressor_parity.pipelines["json"].stages:
        if st.op != "decision_tree_regression":
            continue
        tree = st.model.trees[0]
        i = 0
        while tree.feature[i] != tree_ops.LEAF:
            goes_left = tree.categories[i] is not None and not tree.in_set_goes_left[i]
            i = tree.left[i] if goes_left else tree.right[i]
        assert st.model.row_program([math.nan] * NUM_FEATURES) == (tree.values[i][0],)


def test_batch_path_matches_row_path(classifier_parity, regressor_parity):
    """numpy traversal (dense and sparse batches) against the compiled row functions."""
    rnd = np.random.default_rng(5)
    n = 400
    X = np.column_stack([rnd.uniform(-4, 4, n), rnd.uniform(-2, 12, n), rnd.integers(-1, 6, n).astype(float),
                         rnd.integers(0, 4, n).astype(float)])
    X[rnd.random((n, 4)) < 0.1] = np.nan
    X[rnd.random((n, 4)) < 0.2] = 0.0
    X[::17, 2] = 1.5
    for report in (classifier_parity, regressor_parity):
        pipeline = report.pipelines["json"]
        for columns in ({"features": X}, {"features": SparseBatch.from_dense(np.nan_to_num(X, nan=-7.0))}):
            batch = pipeline.transform_batch(columns)
            rows = columns["features"]
            for i in range(0, n, 7):
                x = rows.row(i) if isinstance(rows, SparseBatch) else rows[i].tolist()
                single = pipeline.transform({"features": x})
                for col, value in single.items():
                    got = batch[col][i]
                    # exp in numpy and in libm may differ in the last bit (GBT probabilities)
                    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(value, dtype=float),
                                               rtol=1e-14, atol=0, err_msg=f"{col}, row {i}")


def test_wrong_size_and_null_vectors(regressor_parity, classifier_parity):
    for report in (regressor_parity, classifier_parity):
        pipeline = report.pipelines["json"]
        for bad in ([1.0, 2.0], SparseVector(5, [0], [1.0]), None):
            with pytest.raises(InvalidInput) as err:
                pipeline.transform({"features": bad})
            assert err.value.field == "features"
        with pytest.raises(InvalidInput):
            pipeline.transform_batch({"features": np.zeros((40, 3))})


# --- the airbnb random forest fixture --------------------------------------------------------

@pytest.fixture(scope="module")
def airbnb_spark(spark):
    from mleap.pyspark.spark_support import SimpleSparkSerializer

    return SimpleSparkSerializer().deserializeFromBundle(f"jar:file:{RF_ZIP}")


def test_airbnb_forest_submodel(spark, airbnb_spark):
    """The forest node on its own against Spark's RandomForestRegressionModel read by MLeap."""
    source = open_source(RF_ZIP)
    node = NodeDef(source, "json", "root/rfr_5af14f58ae5f.node")
    model = registry.lookup(node.op).loader(node)
    assert len(model.trees) == 20 and model.num_features == 13
    forest = airbnb_spark.stages[-1]
    rnd = random.Random(3)
    vectors = []
    for i in range(60):
        cats = [float(rnd.randrange(k)) for k in (3, 2, 4, 2, 10)]
        if i % 9 == 0:
            cats[rnd.randrange(5)] = rnd.choice([12.0, -1.0, 0.5, math.nan])
        cont = [rnd.gauss(0, 1.5) for _ in range(8)]
        if i % 7 == 0:
            cont[rnd.randrange(8)] = math.nan
        vectors.append(Vectors.dense(cats + cont))
    vectors.append(Vectors.sparse(13, [4, 8], [3.0, 2.0]))
    df = spark.createDataFrame([(i, v) for i, v in enumerate(vectors)], ["rid", "features_rf"])
    expected = {r["rid"]: r["price_prediction"] for r in forest.transform(df).collect()}
    run = model.row_fn(("prediction",))
    X = []
    for i, v in enumerate(vectors):
        x = v.toArray().tolist() if isinstance(v, type(vectors[0])) else \
            SparseVector(13, v.indices.tolist(), v.values.tolist())
        got = run(x)[0]
        assert compare(expected[i], got).equal, (i, got, expected[i])  # 1e-12 relative, no absolute floor
        X.append(v.toArray())
    batch = model.batch_fn(("prediction",))(None, np.array(X))[0]
    assert compare([expected[i] for i in range(len(vectors))], batch.tolist()).equal


@pytest.mark.parity("random_forest_regression", "string_indexer", "vector_assembler", "standard_scaler")
def test_airbnb_full_pipeline(spark, airbnb_spark):
    """The whole airbnb RF bundle (string indexers, assemblers, scaler, forest) against Spark."""
    needed = ("string_indexer", "vector_assembler", "standard_scaler")
    missing = [op for op in needed if registry.lookup(op) is None]
    if missing:
        pytest.skip(f"ops not available yet: {missing}")
    pipeline = load_bundle(RF_ZIP)
    frame = json.loads(FRAME.read_text())
    names = [f["name"] for f in frame["schema"]["fields"]]
    base = dict(zip(names, frame["rows"][0]))
    records = [base, {**base, "state": "CA", "room_type": "Private room", "square_feet": 400.0},
               {**base, "bathrooms": 1.0, "bedrooms": 1.0, "cleaning_fee": 0.0, "review_scores_rating": 70.0},
               {**base, "host_is_superhost": "0.0", "cancellation_policy": "flexible", "instant_bookable": "0.0"}]
    types = {f["name"]: f["type"] for f in frame["schema"]["fields"]}
    schema = ", ".join(f"{n} {'double' if types[n] == 'double' else 'string'}" for n in names)
    df = spark.createDataFrame([tuple(r[n] for n in names) for r in records], schema)
    transformed = airbnb_spark.transform(df)
    discrete, tolerance = spark_discrete_columns(transformed.schema), column_tolerances(pipeline)
    written = [c for c in pipeline.outputs if c in transformed.columns]
    assert "price_prediction" in written and len(written) > len(needed)
    batch = pipeline.transform_batch({c: [r.get(c) for r in records] for c in pipeline.inputs}, written)
    for i, (record, row) in enumerate(zip(records, transformed.collect())):
        got = pipeline.transform(record)
        for col in written:  # every column both write: the indices, vectors, scaled features, price
            for path, value in (("row", got[col]), ("batch", spark_like(row_value(batch[col], i)))):
                diff = compare(spark_value(row[col]), value, exact=col in discrete, tol=tolerance[col])
                assert diff.equal, f"{path} {record}, column {col!r}: {diff.detail}"
    compared(pipeline, written)


# --- hand-written bundles: validation, limits ------------------------------------------------

def leaf(*values):
    return {"type": "leaf", "values": list(values)}


def cont(f, t):
    return {"type": "internal", "split": {"type": "continuous", "featureIndex": f, "threshold": t}}


def cat(f, n, cats, is_left):
    return {"type": "internal", "split": {"type": "categorical", "featureIndex": f, "numCategories": n,
                                          "categories": cats, "isLeft": is_left}}


def write_bundle(root, op, attrs, tree=None, sub_trees=None, outputs=("prediction",), fmt="json"):
    """A one-node bundle directory: the op reading 'features', its tree file or treeN folders."""
    ext = "json" if fmt == "json" else "pb"
    (root / "root").mkdir(parents=True)
    (root / "bundle.json").write_text(json.dumps({"uid": "u", "name": "trees", "format": fmt,
                                                  "version": "0.16.0", "timestamp": "now"}))
    shape = {"inputs": [{"port": "features", "name": "features"}],
             "outputs": [{"port": p, "name": p} for p in outputs]}
    if fmt == "json":
        (root / "root" / "node.json").write_text(json.dumps({"name": "n", "shape": shape}))
    else:
        from leapserve.bundleml import bundle_pb2 as pb
        node = pb.Node(name="n")
        for s in shape["inputs"]:
            node.shape.inputs.add(port=s["port"], name=s["name"])
        for s in shape["outputs"]:
            node.shape.outputs.add(port=s["port"], name=s["name"])
        (root / "root" / "node.pb").write_bytes(node.SerializeToString())
    write_model(root / "root", op, attrs, tree, fmt)
    for name, (sub_op, sub_attrs, sub_tree) in (sub_trees or {}).items():
        (root / "root" / name).mkdir()
        write_model(root / "root" / name, sub_op, sub_attrs, sub_tree, fmt)
    return root


def write_model(folder, op, attrs, tree, fmt):
    if fmt == "json":
        (folder / "model.json").write_text(json.dumps({"op": op, "attributes": attrs}))
        if tree is not None:
            (folder / "tree.json").write_text("".join(json.dumps(n) + "\n" for n in tree))
        return
    from leapserve.bundleml import bundle_pb2 as pb
    model = pb.Model(op=op)
    for key, value in attrs.items():
        v = model.attributes.list[key]
        if "long" in value:
            v.s.l = value["long"]
        elif "string" in value and value.get("type") == "list":
            v.l.s.extend(value["string"])
        elif "double" in value and value.get("type") == "list":
            v.l.d.extend(value["double"])
        elif "string" in value:
            v.s.s = value["string"]
    (folder / "model.pb").write_bytes(model.SerializeToString())
    if tree is not None:
        data = b""
        for n in tree:
            msg = pb.DecisionNode()
            if n["type"] == "leaf":
                msg.leaf.values.extend(n["values"])
            else:
                s = n["split"]
                if s["type"] == "continuous":
                    msg.internal.split.continuous.feature_index = s["featureIndex"]
                    msg.internal.split.continuous.threshold = s["threshold"]
                else:
                    c = msg.internal.split.categorical
                    c.feature_index, c.num_categories, c.is_left = s["featureIndex"], s["numCategories"], s["isLeft"]
                    c.categories.extend(s["categories"])
            body = msg.SerializeToString()
            data += struct.pack(">i", len(body)) + body
        (folder / "tree.pb").write_bytes(data)


def features_attrs(n=3, **extra):
    return {"num_features": {"long": n}, **extra}


STRUCTURE_ERRORS = [
    ("dangling", [cont(0, 1.0), leaf(1.0)], "no right child"),
    ("dangling-left", [cont(0, 1.0), cont(1, 2.0), leaf(1.0)], "no right child"),
    ("leaf size", [cont(0, 1.0), leaf(1.0), leaf(1.0, 2.0)], "leaf has 2 value(s), expected 1"),
    ("feature range", [cont(3, 1.0), leaf(1.0), leaf(2.0)], "featureIndex 3 is out of range"),
    ("negative feature", [cont(-1, 1.0), leaf(1.0), leaf(2.0)], "featureIndex -1 is out of range"),
    ("trailing", [cont(0, 1.0), leaf(1.0), leaf(2.0), leaf(3.0)], "after the end of the tree"),
    ("trailing leaf", [leaf(1.0), leaf(2.0)], "after the end of the tree"),
    ("empty", [], "no nodes"),
    ("node type", [{"type": "branch"}], "node type"),
    ("split missing", [{"type": "internal"}, leaf(1.0), leaf(2.0)], "without a split"),
    ("split type", [{"type": "internal", "split": {"type": "oblique", "featureIndex": 0}}, leaf(1.0), leaf(2.0)],
     "split type"),
    ("category range", [cat(0, 3, [0.0, 3.0], True), leaf(1.0), leaf(2.0)], "category 3.0 is not an index"),
    ("fractional category", [cat(0, 3, [0.5], True), leaf(1.0), leaf(2.0)], "category 0.5 is not an index"),
    ("bad leaf value", [leaf("big")], "must be a number"),
    ("bool feature", [cont(True, 1.0), leaf(1.0), leaf(2.0)], "must be an integer"),
]


# Protobuf's typed messages cannot hold these (an unknown node type, a missing split, a string
# leaf value, a boolean or negative feature index): they are JSON-only cases.
JSON_ONLY = {"node type", "split missing", "split type", "bad leaf value", "bool feature", "negative feature"}
MALFORMED_CASES = [(fmt, *case) for case in STRUCTURE_ERRORS for fmt in ("json", "protobuf")
                   if fmt == "json" or case[0] not in JSON_ONLY]


@pytest.mark.parametrize("fmt,label,tree,message", MALFORMED_CASES, ids=[f"{c[1]}-{c[0]}" for c in MALFORMED_CASES])
def test_malformed_trees(tmp_path, fmt, label, tree, message):
    root = write_bundle(tmp_path / "b", "decision_tree_regression", features_attrs(), tree, fmt=fmt)
    with pytest.raises(BundleError) as err:
        load_bundle(root)
    text = str(err.value)
    assert message in text and ("tree.json" if fmt == "json" else "tree.pb") in text


def test_malformed_ensembles(tmp_path):
    sub = ("decision_tree_regression", features_attrs(), [cont(0, 1.0), leaf(1.0), leaf(2.0)])
    cases = [
        ("gbt_regression", {"trees": {"type": "list", "string": ["tree0", "tree1"]},
                            "tree_weights": {"type": "list", "double": [1.0]}},
         {"tree0": sub, "tree1": sub}, "tree_weights"),
        ("random_forest_regression", {"trees": {"type": "list", "string": []}}, {}, "at least one tree"),
        ("random_forest_regression", {"trees": {"type": "list", "string": ["tree0"]}},
         {"tree0": ("decision_tree_classifier", features_attrs(), [leaf(1.0)])}, "expected 'decision_tree_regression'"),
        ("random_forest_regression", {"trees": {"type": "list", "string": ["tree0", "tree9"]}}, {"tree0": sub},
         "missing"),
        ("random_forest_classifier", {"num_classes": {"long": 2}, "trees": {"type": "list", "string": ["tree0"]}},
         {"tree0": ("decision_tree_classifier", features_attrs(), [cont(0, 1.0), leaf(1.0, 1.0), leaf(1.0)])},
         "tree0/tree.json"),
        ("random_forest_classifier", {"num_classes": {"long": 2}, "trees": {"type": "list", "string": ["tree0"]}},
         {"tree0": ("decision_tree_classifier", features_attrs(), [leaf(1.0, -2.0)])}, "non-negative"),
        ("gbt_classifier", {"num_classes": {"long": 3}, "trees": {"type": "list", "string": ["tree0"]},
                            "tree_weights": {"type": "list", "double": [1.0]}}, {"tree0": sub}, "must be 2"),
        ("gbt_classifier", {"num_classes": {"long": 2}, "lossType": {"string": "squared"},
                            "trees": {"type": "list", "string": ["tree0"]},
                            "tree_weights": {"type": "list", "double": [1.0]}}, {"tree0": sub}, "logistic"),
        ("decision_tree_classifier", {"num_classes": {"long": 2}, "thresholds": {"type": "list", "double": [0.5]}},
         None, "thresholds"),
    ]
    for k, (op, attrs, subs, message) in enumerate(cases):
        tree = [leaf(1.0, 1.0)] if op == "decision_tree_classifier" else None
        root = write_bundle(tmp_path / f"b{k}", op, features_attrs(**attrs), tree, subs)
        with pytest.raises(BundleError, match=message):
            load_bundle(root)


def test_formats_agree_and_categorical_rules(tmp_path):
    """A hand-made tree, JSON and protobuf: isLeft both ways, the even split, NaN threshold."""
    # Feature 0: 4 categories, bundle keeps the right side {0, 3} of an even split (Spark keeps the
    # left {1, 2}); values that are not categories then go right, as Spark sends them.
    tree = [cat(0, 4, [0.0, 3.0], False),
            cont(1, 0.5), leaf(1.0), leaf(2.0),
            cat(2, 5, [4.0], True),
            leaf(3.0),
            cont(1, None),   # NaN threshold (written as null): everything goes right
            leaf(4.0), leaf(5.0)]
    expected = {(1.0, 0.0, 0.0): 1.0, (2.0, 1.0, 0.0): 2.0, (0.0, 0.0, 4.0): 3.0, (3.0, 0.0, 1.0): 5.0,
                (7.0, 0.0, 4.0): 3.0, (math.nan, 0.0, 0.0): 5.0, (1.0, math.nan, 0.0): 2.0,
                (-0.0, 0.0, 4.0): 3.0, (2.0, -0.0, 0.0): 1.0, (1.5, 0.0, 2.0): 5.0}
    for fmt in ("json", "protobuf"):
        nodes = tree if fmt == "json" else [n if n != cont(1, None) else cont(1, math.nan) for n in tree]
        root = write_bundle(tmp_path / fmt, "decision_tree_regression", features_attrs(), nodes, fmt=fmt)
        pipeline = load_bundle(root)
        for x, want in expected.items():
            assert pipeline.transform({"features": list(x)})["prediction"] == want, (fmt, x)
        X = np.array([list(x) for x in expected] * 10)
        batch = pipeline.transform_batch({"features": X})["prediction"]
        assert batch.tolist() == list(expected.values()) * 10


def _chain(depth: int, feature_of=lambda d: d % 3):
    """A degenerate tree: left children are leaves, the right spine goes ``depth`` levels down."""
    nodes = []
    for d in range(depth):
        nodes += [cont(feature_of(d), float(d)), leaf(float(d))]
    return nodes + [leaf(-1.0)]


def _balanced(depth: int, rnd, nf=3):
    out = []

    def rec(d):
        if d == depth:
            out.append(leaf(round(rnd.uniform(-5, 5), 3)))
            return
        out.append(cont(rnd.randrange(nf), round(rnd.uniform(-1, 1), 3)))
        rec(d + 1)
        rec(d + 1)
    rec(0)
    return out


def test_deep_and_huge_trees_fall_back_to_arrays(tmp_path):
    rnd = random.Random(1)
    deep = _chain(3000)                                        # far beyond compiled depth
    edge = _chain(tree_ops.MAX_COMPILED_DEPTH)                 # compiled, at the limit
    big = _balanced(14, rnd)                                   # 32767 nodes: over the per-tree limit
    subs = {f"tree{k}": ("decision_tree_regression", features_attrs(), t)
            for k, t in enumerate([deep, edge, big, _balanced(6, rnd)])}
    attrs = {"trees": {"type": "list", "string": list(subs)},
             "tree_weights": {"type": "list", "double": [0.5, 1.0, -2.0, 0.25]}}
    root = write_bundle(tmp_path / "b", "gbt_regression", features_attrs(**attrs), None, subs)
    pipeline = load_bundle(root)
    model = pipeline.stages[0].model
    assert [tree_ops.compilable(t) for t in model.trees] == [False, True, False, True]
    X = np.column_stack([rnd_vals(rnd, 300, 3000) for _ in range(3)])
    X[::13] = np.nan
    batch = pipeline.transform_batch({"features": X})["prediction"]
    for i, x in enumerate(X.tolist()):
        parts = [w * t.values[t.leaf_index(x)][0] for w, t in zip(model.tree_weights, model.trees)]
        want = 0.0 + (((parts[0] + parts[1]) + parts[2]) + parts[3])
        assert pipeline.transform({"features": x})["prediction"] == want
        assert batch[i] == want


def rnd_vals(rnd, n, top):
    return [rnd.choice([rnd.uniform(-2, 2), float(rnd.randrange(top)), rnd.randrange(top) + 0.5]) for _ in range(n)]


def test_model_budget_and_wide_sparse_vectors(tmp_path, monkeypatch):
    """Trees past the compiled-node budget walk arrays; wide sparse rows are not densified."""
    monkeypatch.setattr(tree_ops, "MAX_COMPILED_MODEL_NODES", 300)
    rnd = random.Random(2)
    width = tree_ops.WIDE_VECTOR * 4
    count = 4
    trees = [_balanced(7, rnd, nf=width) for _ in range(count)]  # 255 nodes each: one fits the budget
    subs = {f"tree{k}": ("decision_tree_regression", features_attrs(width), t) for k, t in enumerate(trees)}
    attrs = {"trees": {"type": "list", "string": list(subs)}}
    root = write_bundle(tmp_path / "b", "random_forest_regression", features_attrs(width, **attrs), None, subs)
    pipeline = load_bundle(root)
    model = pipeline.stages[0].model
    assert len([k for k in model.row_program.__globals__ if k.startswith("W")]) == count - 1
    used = sorted(set().union(*(t.used_features() for t in model.trees)))
    rows = []
    for _ in range(50):
        idx = sorted(set(rnd.sample(range(width), 30) + rnd.sample(used, 30)))
        rows.append(SparseVector(width, idx, [rnd.uniform(-1, 1) for _ in idx]))
    batch = pipeline.transform_batch({"features": rows})["prediction"]
    for i, x in enumerate(rows):
        dense = x.to_list()
        total = 0.0
        for t in model.trees:
            total += t.values[t.leaf_index(dense)][0]
        assert pipeline.transform({"features": x})["prediction"] == total / count
        assert pipeline.transform({"features": dense})["prediction"] == total / count
        assert batch[i] == total / count


def test_zero_class_counts(tmp_path):
    """Spark 3.5 refuses to normalize counts summing to 0: raw works, probability raises."""
    tree = [cont(0, 0.0), leaf(0.0, 0.0), leaf(1.0, 3.0)]
    root = write_bundle(tmp_path / "b", "decision_tree_classifier",
                        features_attrs(num_classes={"long": 2}), tree,
                        outputs=("raw_prediction", "probability", "prediction"))
    pipeline = load_bundle(root)
    assert pipeline.transform({"features": [1.0, 0.0, 0.0]})["probability"].tolist() == [0.25, 0.75]
    with pytest.raises(ScoringError, match="sum to 0"):
        pipeline.transform({"features": [-1.0, 0.0, 0.0]})
    with pytest.raises(ScoringError, match="sum to 0"):
        pipeline.transform_batch({"features": np.array([[1.0, 0, 0]] * 40 + [[-1.0, 0, 0]])})
    for outputs in (("probability",), ("probability", "prediction")):
        root = write_bundle(tmp_path / f"p{len(outputs)}", "decision_tree_classifier",
                            features_attrs(num_classes={"long": 2}), tree, outputs=outputs)
        with pytest.raises(ScoringError, match="sum to 0"):
            load_bundle(root).transform({"features": [-1.0, 0.0, 0.0]})
    # Without a probability output, Spark computes none: raw counts and the leaf's prediction.
    for outputs in (("raw_prediction", "prediction"), ("prediction",)):
        root = write_bundle(tmp_path / f"r{len(outputs)}", "decision_tree_classifier",
                            features_attrs(num_classes={"long": 2}), tree, outputs=outputs)
        out = load_bundle(root).transform({"features": [-1.0, 0.0, 0.0]})
        assert out["prediction"] == 0.0 and out.get("raw_prediction", np.zeros(2)).tolist() == [0.0, 0.0]


def test_gbt_margin_edges(tmp_path):
    """m = 0 predicts 0 (and p = 0.5); huge margins saturate the probability without overflow."""
    sub = lambda v: ("decision_tree_regression", features_attrs(), [cont(0, 0.0), leaf(v), leaf(-v)])
    subs = {"tree0": sub(400.0), "tree1": sub(0.0)}
    attrs = {"num_classes": {"long": 2}, "trees": {"type": "list", "string": list(subs)},
             "tree_weights": {"type": "list", "double": [1.0, 1.0]}}
    root = write_bundle(tmp_path / "b", "gbt_classifier", features_attrs(**attrs), None, subs,
                        outputs=("raw_prediction", "probability", "prediction"))
    pipeline = load_bundle(root)
    low = pipeline.transform({"features": [-1.0, 0.0, 0.0]})
    assert low["raw_prediction"].tolist() == [-400.0, 400.0]
    assert low["probability"].tolist() == [0.0, 1.0] and low["prediction"] == 1.0
    high = pipeline.transform({"features": [1.0, 0.0, 0.0]})
    assert high["probability"].tolist() == [1.0, 0.0] and high["prediction"] == 0.0
    X = np.array([[-1.0, 0, 0], [1.0, 0, 0]] * 20)
    batch = pipeline.transform_batch({"features": X})
    assert batch["probability"][:2].tolist() == [[0.0, 1.0], [1.0, 0.0]]
    zero = {"tree0": sub(0.0), "tree1": sub(-0.0)}
    attrs["trees"] = {"type": "list", "string": list(zero)}
    root = write_bundle(tmp_path / "z", "gbt_classifier", features_attrs(**attrs), None, zero,
                        outputs=("probability", "prediction"))
    out = load_bundle(root).transform({"features": [1.0, 0.0, 0.0]})
    assert out["probability"].tolist() == [0.5, 0.5] and out["prediction"] == 0.0


def test_gbt_sums_in_ddot_order(tmp_path):
    """The row code compiled for a GBT and its batch path add the weighted predictions in Spark's
    ddot order (jmath.ddot_sum_arrays): 2.5 for these trees, where left to right gives 1.5."""
    values = [1e100, 1.0, 0.0, 0.0, -1e100, 1.0, 0.0, 0.0, 0.5]
    subs = {f"tree{t}": ("decision_tree_regression", features_attrs(), [leaf(v)]) for t, v in enumerate(values)}
    attrs = {"trees": {"type": "list", "string": list(subs)},
             "tree_weights": {"type": "list", "double": [1.0] * len(values)}}
    pipeline = load_bundle(write_bundle(tmp_path / "b", "gbt_regression", features_attrs(**attrs), None, subs))
    assert pipeline.transform({"features": [0.0, 0.0, 0.0]})["prediction"] == 2.5
    X = np.zeros((2 * tree_ops.SMALL_BATCH, 3))  # past SMALL_BATCH: the numpy path
    assert pipeline.transform_batch({"features": X})["prediction"].tolist() == [2.5] * len(X)


def test_generated_code_uses_only_numbers():
    """Bundle values reach the generated source only as validated ints and floats."""
    tree = tree_ops.parse_tree([cat(1, 3, [2.0], True), cont(0, math.inf), leaf(1e308), leaf(-math.inf),
                                cont(0, -math.inf), leaf(math.nan), leaf(-0.0)], "t", num_features=2, leaf_size=1)
    program = tree_ops.Program()
    out = []
    tree_ops._emit_tree(out, program, tree, lambda i: [f"return {tree_ops.literal(tree.values[i][0])}"],
                        lambda f: f"x[{f}]")
    source = "\n".join(out)
    assert "1e999" in source and "nan" not in source and "inf" not in source
    fn = tree_ops.compile_trees([tree], num_features=2, check=True, name="t",
                                leaf=lambda t, i: [f"return {tree_ops.literal(tree.values[i][0])}"],
                                fallback=None, table=None, prologue=[], epilogue=[])
    assert fn([5.0, 2.0]) == 1e308 and fn([math.nan, 2.0]) == -math.inf
    assert math.isnan(fn([-math.inf, 0.0])) and fn([-1.0, 0.0]) == 0.0 and str(fn([-1.0, 0.0])) == "-0.0"


def test_malformed_protobuf_records(tmp_path):
    """tree.pb records without a node kind or split, and a truncated length prefix."""
    from leapserve.bundleml import bundle_pb2 as pb

    def record(msg) -> bytes:
        body = msg.SerializeToString()
        return struct.pack(">i", len(body)) + body

    internal = pb.DecisionNode()
    internal.internal.SetInParent()
    good_leaf = pb.DecisionNode()
    good_leaf.leaf.values.append(1.0)
    cases = [(record(pb.DecisionNode()), "node type"),
             (record(internal) + record(good_leaf) * 2, "without a split"),
             (record(good_leaf)[:-3], "past the end"),
             (record(good_leaf) + b"\x00\x00", "truncated record header")]
    for k, (data, message) in enumerate(cases):
        root = write_bundle(tmp_path / f"b{k}", "decision_tree_regression", features_attrs(), [leaf(1.0)],
                            fmt="protobuf")
        (root / "root" / "tree.pb").write_bytes(data)
        with pytest.raises(BundleError, match=message) as err:
            load_bundle(root)
        assert "tree.pb" in str(err.value)
