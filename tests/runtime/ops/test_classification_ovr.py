"""one_vs_rest against Spark 3.5's own transform.

One-vs-rest bundles come from MLeap's writer, with each kind of inner classifier; the prediction
follows Spark's rule (argmax of each classifier's rawPrediction[1]), which differs from MLeap's
runtime for linear SVC, naive Bayes and trees. The data (training, score_rows, odd_rows) is
conftest.py's, shared with the multi-layer perceptron tests.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.classification import (DecisionTreeClassifier, GBTClassifier, LinearSVC, LogisticRegression,
                                       NaiveBayes, OneVsRest, RandomForestClassifier)

from tests.support.handmade import long, node, tensor, write_bundle
from tests.support.parity import assert_parity
from leapserve.runtime import BundleError, InvalidInput, load_bundle


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
