"""multi_layer_perceptron_classifier against Spark 3.5's own transform.

Bundles are written here by hand from the fitted model (layers and Spark's flat weights), for
every combination of output ports and with thresholds; the export itself (leapserve's Spark op) is
tested in tests/bundler/test_spark_ops.py. The data (training, score_rows, odd_rows, bad_rows) is conftest.py's,
shared with the one-vs-rest tests.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.classification import MultilayerPerceptronClassifier

from tests.support.handmade import check_against_spark, double_list, long_list, node, tensor, write_bundle
from leapserve.runtime import BundleError, load_bundle
from leapserve.runtime.ops.classification_ann import NUMPY_ROW_WEIGHTS, softmax

INF = float("inf")


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
