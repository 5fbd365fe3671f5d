"""multi_layer_perceptron_classifier and one_vs_rest against Spark 3.5's own transform.

MLeap 0.16 cannot write a multi-layer perceptron on Spark 3, so its bundles are written here by
hand from the fitted model (layers and Spark's flat weights), for every combination of output
ports and with thresholds. One-vs-rest bundles come from MLeap's writer, with each kind of inner
classifier; the prediction follows Spark's rule (argmax of each classifier's rawPrediction[1]),
which differs from MLeap's runtime for linear SVC, naive Bayes and trees.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.classification import (DecisionTreeClassifier, GBTClassifier, LinearSVC, LogisticRegression,
                                       MultilayerPerceptronClassifier, NaiveBayes, OneVsRest,
                                       RandomForestClassifier)
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.sql.types import IntegerType, StructField, StructType

from tests.support.handmade import check_against_spark, double_list, long, long_list, node, tensor, write_bundle
from tests.support.parity import assert_parity
from leapserve.runtime import BundleError, InvalidInput, load_bundle
from leapserve.runtime.ops.classification_ann import NUMPY_ROW_WEIGHTS, softmax

NAN, INF = float("nan"), float("inf")
SCHEMA = StructType([StructField("rid", IntegerType()), StructField("features", VectorUDT())])


def frame(spark, vectors, first: int = 0):
    return spark.createDataFrame([(first + i, v) for i, v in enumerate(vectors)], SCHEMA)


@pytest.fixture(scope="module")
def training(spark):
    """Three classes over four non-negative features (naive Bayes needs them)."""
    rnd = np.random.default_rng(17)
    rows = []
    for label, center in enumerate(([1.0, 4.0, 0.5, 2.0], [4.0, 1.0, 2.0, 0.5], [2.5, 2.5, 4.0, 4.0])):
        for p in np.abs(rnd.normal(center, 0.9, (20, 4))).round(2).tolist():
            rows.append((Vectors.dense(p), float(label)))
    return spark.createDataFrame(rows, ["features", "label"])


@pytest.fixture(scope="module")
def score_rows(spark):
    rnd = np.random.default_rng(23)
    vectors = [Vectors.dense(v) for v in np.abs(rnd.normal(2.5, 1.5, (25, 4))).round(2).tolist()]
    vectors += [Vectors.dense([0.0] * 4), Vectors.sparse(4, [1], [3.0]), Vectors.sparse(4, [], []),
                Vectors.sparse(4, [0, 3], [5.0, 0.5]), Vectors.dense([1e6, 0.0, 0.0, 1e-6]),
                Vectors.dense([2.5, 2.5, 2.5, 2.5]), Vectors.dense([-0.0, 1.0, 2.0, 3.0])]
    return frame(spark, vectors)


@pytest.fixture(scope="module")
def odd_rows(spark):
    """NaN and infinities (scored by most models), a negative feature (naive Bayes refuses it)."""
    return frame(spark, [Vectors.dense([NAN, 1.0, 1.0, 1.0]), Vectors.dense([INF, 1.0, 1.0, 1.0]),
                         Vectors.dense([1.0, -INF, 1.0, 1.0]), Vectors.dense([-1.0, 2.0, 2.0, 2.0])], first=100)


@pytest.fixture(scope="module")
def bad_rows(spark):
    return frame(spark, [None, Vectors.dense([1.0, 2.0, 3.0]), Vectors.sparse(5, [0], [1.0])], first=200)


# --- multi-layer perceptron ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mlp_models(training):
    shallow = MultilayerPerceptronClassifier(layers=[4, 5, 3], seed=3, maxIter=12).fit(training)
    deep = MultilayerPerceptronClassifier(layers=[4, 6, 4, 3], seed=5, maxIter=8, blockSize=8).fit(training)
    # 4 x 20 first-layer weights: rows take the numpy path (NUMPY_ROW_WEIGHTS), the others Python's.
    wide = MultilayerPerceptronClassifier(layers=[4, 20, 3], seed=11, maxIter=10).fit(training)
    assert 4 * 20 >= NUMPY_ROW_WEIGHTS > 4 * 6
    return shallow, deep, wide


OUTPUTS = {"all": (True, True, True), "prediction": (False, False, True), "probability": (False, True, True),
           "raw": (True, False, True), "no_prediction": (True, True, False)}


def mlp_node(name, model, outputs, thresholds=None):
    attrs = {"layers": long_list(model.getLayers()), "weights": tensor(model.weights.toArray().tolist())}
    if thresholds is not None:
        attrs["thresholds"] = double_list(thresholds)
    raw, prob, pred = OUTPUTS[outputs]
    ports = [(port, f"{port}_{name}") for port, on in (("raw_prediction", raw), ("probability", prob),
                                                      ("prediction", pred)) if on]
    return node(name, "multi_layer_perceptron_classifier", attrs, inputs=[("features", "features")], outputs=ports)


def mlp_copy(name, model, outputs, thresholds=None):
    """A copy of the Spark model writing the columns of mlp_node(name, ...)."""
    raw, prob, pred = OUTPUTS[outputs]
    m = (model.copy().setRawPredictionCol(f"raw_prediction_{name}" if raw else "")
         .setProbabilityCol(f"probability_{name}" if prob else "")
         .setPredictionCol(f"prediction_{name}" if pred else ""))
    return m.setThresholds(thresholds) if thresholds is not None else m


@pytest.mark.parity("multi_layer_perceptron_classifier")
def test_mlp_outputs_and_thresholds(spark, tmp_path, mlp_models, score_rows, odd_rows):
    # Every combination of output ports, for both networks, and thresholds: with only the
    # prediction port Spark's MLP predict takes the argmax of the softmax and ignores thresholds;
    # the other paths apply them. One pipeline of copies, so that Spark runs once.
    thresholds = [0.9, 0.2, 0.5]
    cases = [(f"{outputs}{n}", model, outputs, None) for n, model in enumerate(mlp_models) for outputs in OUTPUTS]
    cases += [(f"{outputs}_t", mlp_models[0], outputs, thresholds) for outputs in ("all", "prediction", "probability",
                                                                                  "raw")]
    spark_model = PipelineModel(stages=[mlp_copy(*c) for c in cases])
    pipelines = []
    for fmt in ("json", "protobuf"):
        path = write_bundle(tmp_path / f"mlp-{fmt}", fmt, [mlp_node(*c) for c in cases], zip_it=fmt == "json")
        pipelines.append(load_bundle(path))
    rows = score_rows.union(odd_rows)
    compared, errors, _ = check_against_spark(pipelines, spark_model, rows, "mlp")
    ports = sum(sum(OUTPUTS[c[2]]) for c in cases)
    assert errors == 0 and compared == 2 * rows.count() * ports


def test_mlp_refuses_bad_rows(spark, tmp_path, mlp_models, bad_rows):
    model = mlp_models[0]
    pipeline = load_bundle(write_bundle(tmp_path / "b", "json", [mlp_node("all", model, "all")]))
    _, errors, _ = check_against_spark(pipeline, mlp_copy("all", model, "all"), bad_rows, "bad")
    assert errors == 3


def test_mlp_softmax_edges():
    assert softmax([1000.0, 1000.0]) == [0.5, 0.5]
    assert softmax([-INF, 0.0]) == [0.0, 1.0]
    assert all(math.isnan(v) for v in softmax([INF, INF]))
    assert all(math.isnan(v) for v in softmax([-INF, -INF]))  # exp(-Inf - MinValue) = 0: 0 / 0


def test_mlp_bad_attributes(tmp_path, mlp_models):
    model = mlp_models[0]
    weights = model.weights.toArray().tolist()
    for attrs, message in (({"layers": long_list([4, 5, 3]), "weights": tensor(weights[:-1])}, "weights"),
                           ({"layers": long_list([4]), "weights": tensor(weights)}, "layers"),
                           ({"layers": long_list([4, 0, 3]), "weights": tensor(weights)}, "layers"),
                           ({"layers": long_list([4, 5, 3]), "weights": tensor(weights),
                             "thresholds": double_list([0.5, 0.5])}, "thresholds")):
        path = write_bundle(tmp_path / "bad", "json", [node("mlp", "multi_layer_perceptron_classifier", attrs,
                                                            inputs=[("features", "f")], outputs=[("prediction", "p")])])
        with pytest.raises(BundleError, match=message):
            load_bundle(path)
    p = load_bundle(write_bundle(tmp_path / "ok", "protobuf", [mlp_node("all", model, "all")]))
    empty = p.transform_batch({"features": np.zeros((0, 4))})
    assert empty["probability_all"].shape == (0, 3) and len(empty["prediction_all"]) == 0
    p = load_bundle(write_bundle(tmp_path / "ok", "json", [mlp_node("prediction", model, "prediction")]))
    assert len(p.transform_batch({"features": np.zeros((0, 4))})["prediction_prediction"]) == 0
    x = [1.0, 2.0, 0.5, 3.0]
    assert p.transform({"features": x})["prediction_prediction"] == float(np.argmax(softmax(
        load_bundle(write_bundle(tmp_path / "ok", "json", [mlp_node("raw", model, "raw")])).transform(
            {"features": x})["raw_prediction_raw"].tolist())))


# --- one-vs-rest -------------------------------------------------------------------------------------

CLASSIFIERS = {
    "logistic_regression": lambda: LogisticRegression(maxIter=10, regParam=0.01),
    "linear_svc": lambda: LinearSVC(maxIter=10, regParam=0.01),
    "naive_bayes": lambda: NaiveBayes(smoothing=0.5),
    "decision_tree": lambda: DecisionTreeClassifier(maxDepth=3, seed=1),
    "random_forest": lambda: RandomForestClassifier(numTrees=3, maxDepth=3, seed=1),
    "gbt": lambda: GBTClassifier(maxIter=3, maxDepth=2, seed=1),
}


def one_vs_rest(training, kind):
    """OneVsRest over the given classifier kind, writing columns raw_<kind> and pred_<kind>."""
    inner = CLASSIFIERS[kind]().setRawPredictionCol(f"raw_{kind}")
    model = OneVsRest(classifier=inner, rawPredictionCol=f"raw_{kind}", predictionCol=f"pred_{kind}",
                      parallelism=3).fit(training)
    # PySpark's OneVsRestModel._to_java drops rawPredictionCol; leapserve.bundler.export hands it over.
    return model


def mleap_rule_differs(stage, report) -> int:
    """Rows where MLeap's runtime rule (probability[1], or the 0/1 prediction of a classifier
    without probabilities, first best) picks another class than Spark's rule, which we follow."""
    col = next(c for p, c, _ in stage.outputs if p == "prediction")
    differ = 0
    for want in report.spark.values():
        if not isinstance(want, dict):
            continue
        x = want["features"]
        x = x if isinstance(x, list) else x.to_list()
        scores = []
        for c in stage.model.classifiers:
            raw = c.predict_raw(x)
            scores.append(c.raw_to_probability(raw)[1] if c.supports_probability else c.predict(x))
        if any(math.isnan(v) for v in scores):
            continue
        mleap = max(range(len(scores)), key=lambda i: (scores[i], -i))
        differ += mleap != want[col]
    return differ


@pytest.mark.parity("one_vs_rest", "logistic_regression", "linear_svc", "decision_tree_classifier", "random_forest_classifier", "gbt_classifier")
def test_one_vs_rest(spark, tmp_path, training, score_rows, odd_rows):
    # Every inner classifier kind but naive Bayes in one pipeline (Spark's one-vs-rest transform
    # runs several jobs per model: one pipeline keeps the test fast).
    kinds = [k for k in sorted(CLASSIFIERS) if k != "naive_bayes"]
    model = PipelineModel(stages=[one_vs_rest(training, k) for k in kinds])
    report = assert_parity(model, score_rows.union(odd_rows), tmp_path / "rows")
    assert report.errors == 0
    assert report.compared == 2 * 2 * len(kinds) * (score_rows.count() + odd_rows.count())
    pipeline = report.pipelines["json"]
    for kind, st in zip(kinds, pipeline.stages):
        assert [p for p, _, _ in st.outputs] == ["raw_prediction", "prediction"]  # what MLeap writes
        assert [c.op_name for c in st.model.classifiers] == [{"decision_tree": "decision_tree_classifier",
                                                               "random_forest": "random_forest_classifier",
                                                               "gbt": "gbt_classifier"}.get(kind, kind)] * 3
    assert mleap_rule_differs(pipeline.stages[kinds.index("linear_svc")], report) > 0


@pytest.mark.parity("one_vs_rest", "naive_bayes")
def test_one_vs_rest_naive_bayes(spark, tmp_path, training, score_rows, odd_rows):
    model = one_vs_rest(training, "naive_bayes")
    report = assert_parity(model, score_rows, tmp_path / "rows")
    assert report.errors == 0 and report.compared == 2 * 2 * score_rows.count()
    # Spark refuses negative (and NaN) features, infinity passes (Spark scores refused rows one at
    # a time, several jobs each for one-vs-rest: keep them few)
    report = assert_parity(model, odd_rows.filter("rid in (101, 103)"), tmp_path / "odd", formats=("protobuf",))
    assert report.errors == 1 and report.compared == 2


def test_one_vs_rest_bundle_checks(tmp_path):
    lr = {"num_classes": long(2), "coefficients": tensor([1.0, -1.0]), "intercept": {"double": 0.5},
          "threshold": {"double": 0.5}}
    svc = {"num_classes": long(2), "coefficients": tensor([0.5, 2.0]), "intercept": {"double": -1.0},
           "threshold": {"double": 0.0}}
    kids = {"model0": {"op": "logistic_regression", "attrs": lr}, "model1": {"op": "linear_svc", "attrs": svc}}

    def load(attrs, outputs=(("raw_prediction", "raw"), ("prediction", "p")), children=kids):
        path = write_bundle(tmp_path / "ovr", "protobuf", [node("ovr", "one_vs_rest", attrs, children=children,
                                                                inputs=[("features", "f")], outputs=outputs)])
        return load_bundle(path)

    only = load({"num_classes": long(2), "num_features": long(2)}, outputs=[("prediction", "p")])
    assert only.transform({"f": [1.0, 3.0]}) == {"p": 1.0}
    assert only.transform_batch({"f": np.array([[1.0, 3.0], [3.0, 0.0]])})["p"].tolist() == [1.0, 0.0]
    p = load({"num_classes": long(2), "num_features": long(2)})
    out = p.transform({"f": [1.0, 3.0]})
    assert out["raw"].tolist() == [1.0 - 3.0 + 0.5, 0.5 + 6.0 - 1.0] and out["p"] == 1.0
    batch = p.transform_batch({"f": np.array([[1.0, 3.0], [3.0, 0.0]])})
    assert batch["p"].tolist() == [1.0, 0.0]
    assert len(p.transform_batch({"f": np.zeros((0, 2))})["p"]) == 0
    with pytest.raises(InvalidInput):
        p.transform({"f": [1.0]})
    with pytest.raises(InvalidInput):
        p.transform({"f": None})  # Spark's inner transforms fail on a null vector
    with pytest.raises(BundleError, match="spark-extension"):
        load({"num_classes": long(2), "num_features": long(2)}, outputs=[("probability", "q"), ("prediction", "p")])
    with pytest.raises(BundleError, match="reads 2 features"):
        load({"num_classes": long(2), "num_features": long(3)})
    with pytest.raises(BundleError):
        load({"num_classes": long(3), "num_features": long(2)})  # model2 is missing
    with pytest.raises(BundleError, match="not a classifier"):
        load({"num_classes": long(1), "num_features": long(2)},
             children={"model0": {"op": "linear_regression", "attrs": {"coefficients": tensor([1.0, 1.0])}}})
