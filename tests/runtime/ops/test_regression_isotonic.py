"""isotonic_regression against Spark 3.5's own transform.

Isotonic models are fitted by Spark and also built through the JVM from boundaries Spark's fit
would not produce on demand (long runs of duplicates, -0.0 next to 0.0), to check that the
runtime probes the boundaries exactly as java.util.Arrays.binarySearch does.
"""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml.linalg import Vectors
from pyspark.ml.regression import IsotonicRegression, IsotonicRegressionModel
from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

from tests.support.frames import vector_frame
from tests.support.handmade import double_list, long, node, write_bundle
from tests.support.parity import assert_parity
from leapserve.runtime import BundleError, InvalidInput, load_bundle
from leapserve.runtime.ops.regression_isotonic import binary_search, binary_search_batch

NAN, INF = float("nan"), float("inf")
SCALAR = StructType([StructField("rid", IntegerType()), StructField("features", DoubleType())])


def scalars(spark, values, first=0):
    return spark.createDataFrame([(first + i, v) for i, v in enumerate(values)], SCALAR)


def isotonic_model(spark, boundaries, predictions, isotonic=True) -> IsotonicRegressionModel:
    jvm = spark._jvm
    gateway = spark.sparkContext._gateway

    def doubles(values):
        arr = gateway.new_array(gateway.jvm.double, len(values))
        for i, v in enumerate(values):
            arr[i] = float(v)
        return arr

    old = jvm.org.apache.spark.mllib.regression.IsotonicRegressionModel(doubles(boundaries), doubles(predictions),
                                                                        isotonic)
    return IsotonicRegressionModel(jvm.org.apache.spark.ml.regression.IsotonicRegressionModel("iso_by_hand", old))


# --- isotonic regression -------------------------------------------------------------------------

@pytest.mark.parity("isotonic_regression")
def test_isotonic_fitted(spark, tmp_path):
    train = spark.createDataFrame(
        [(1.0, 0.0), (2.0, 1.0), (1.5, 1.0), (3.0, 2.0), (3.0, 2.0), (7.0, 3.0), (5.0, 4.0), (8.0, 4.0),
         (9.0, 6.0), (9.5, 7.0), (9.0, 7.0), (12.0, 7.0)], "label double, features double")
    model = IsotonicRegression().fit(train)
    boundaries = model.boundaries.toArray().tolist()  # Spark 3.5 pools equal x first: no duplicates
    probes = sorted(set(boundaries)) + [-1.0, 0.5, 1.0, 2.5, 4.5, 6.5, 6.9999, 100.0, NAN, INF, -INF, -0.0, 0.0,
                                        5e-324, 1.7976931348623157e308]
    report = assert_parity(model, scalars(spark, probes + [None]), tmp_path)
    assert report.errors == 0 and report.compared == 2 * (len(probes) + 1)
    antitonic = IsotonicRegression(isotonic=False).fit(train)
    assert_parity(antitonic, scalars(spark, probes), tmp_path / "anti", formats=("protobuf",))


def test_isotonic_binary_search_like_java(spark, tmp_path):
    boundaries = [-1.0, -0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 3.0, 4.0]
    predictions = [0.0, 0.5, 1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 5.5, 7.0]
    model = isotonic_model(spark, boundaries, predictions)
    probes = [-2.0, -1.0, -0.5, -0.0, 0.0, 1e-300, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, NAN, 0.1 + 0.2]
    report = assert_parity(model, scalars(spark, probes), tmp_path)
    assert report.errors == 0
    keys = np.array(probes)
    assert binary_search_batch(np.array(boundaries), keys).tolist() == [binary_search(boundaries, k) for k in probes]
    # only -0.0 below 0.0: the interpolation between -1 and 0.0 at -0.0
    zero_below = isotonic_model(spark, [-1.0, 0.0, 1.0], [0.1, 0.7, 0.9])
    assert_parity(zero_below, scalars(spark, [-0.0, 0.0, -1e-320]), tmp_path / "zero", formats=("json",))


@pytest.mark.parity("isotonic_regression")
def test_isotonic_vector_feature_index(spark, tmp_path):
    train = spark.createDataFrame([(float(y), Vectors.dense([0.0, float(x), 1.0])) for x, y in
                                   ((1, 1), (2, 3), (3, 2), (4, 5), (5, 5), (6, 8))], ["label", "features"])
    model = IsotonicRegression(featureIndex=1).fit(train)
    rows = [Vectors.dense([9.0, 2.5, 0.0]), Vectors.dense([0.0, 0.0, 0.0]), Vectors.sparse(3, [1], [4.5]),
            Vectors.sparse(3, [0, 2], [3.0, 3.0]), Vectors.dense([NAN, 3.0, 1.0]), Vectors.dense([1.0, NAN, 1.0]),
            Vectors.dense([0.0, 10.0, 0.0]), Vectors.sparse(3, [], [])]
    report = assert_parity(model, vector_frame(spark, rows), tmp_path / "good")
    assert report.errors == 0
    st = report.pipelines["protobuf"].stages[0]
    assert st.model.feature_index == 1
    # Spark reads features(1) of any vector: longer ones score, a shorter one fails, null fails
    longer = [Vectors.dense([0.0, 3.5, 0.0, 7.0]), Vectors.sparse(10, [1, 9], [2.0, 1.0])]
    pipeline = report.pipelines["json"]
    expected = [r["prediction"] for r in model.transform(vector_frame(spark, longer)).orderBy("rid").collect()]
    got = [pipeline.transform({"features": [0.0, 3.5, 0.0, 7.0]})["prediction"],
           pipeline.transform({"features": {"size": 10, "indices": [1, 9], "values": [2.0, 1.0]}})["prediction"]]
    assert got == expected
    report = assert_parity(model, vector_frame(spark, [Vectors.dense([1.0]), None], first=100), tmp_path / "bad",
                           formats=("json",))
    assert report.errors == 2
    with pytest.raises(InvalidInput):
        pipeline.transform_batch({"features": np.zeros((3, 1))})


def test_isotonic_bad_attributes(tmp_path):
    def load(attrs):
        path = write_bundle(tmp_path / "b", "json", [node("iso", "isotonic_regression", attrs,
                                                          inputs=[("features", "x")], outputs=[("prediction", "y")])])
        return load_bundle(path)

    with pytest.raises(BundleError, match="as many"):
        load({"boundaries": double_list([1.0, 2.0]), "predictions": double_list([1.0]),
              "isotonic": {"boolean": True}})
    with pytest.raises(BundleError, match="sorted"):
        load({"boundaries": double_list([2.0, 1.0]), "predictions": double_list([1.0, 2.0])})
    with pytest.raises(BundleError, match="feature_index"):
        load({"boundaries": double_list([1.0]), "predictions": double_list([1.0]), "feature_index": long(-1)})
    p = load({"boundaries": double_list([1.0]), "predictions": double_list([4.0]), "feature_index": {}})
    assert p.transform({"x": [2.0]})["y"] == 4.0  # feature_index {} is 0
    p = load({"boundaries": double_list([1.0, 3.0]), "predictions": double_list([4.0, 6.0])})
    assert p.transform({"x": 2.0})["y"] == 5.0 and p.transform({"x": None})["y"] is None
    batch = p.transform_batch({"x": [2.0, None, NAN, 0.0]})
    assert batch["y"][0] == 5.0 and batch["y"][1] is None and batch["y"][2] == 6.0 and batch["y"][3] == 4.0
    assert len(p.transform_batch({"x": np.zeros(0)})["y"]) == 0
