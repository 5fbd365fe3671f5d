"""Parity: imputer against Spark 3.5's own transform. Imputer bundles are written here from a fitted
model's surrogates (one MLeap ``imputer`` node per column) and compared with that model's transform;
the export of Spark's ImputerModel (leapserve's Spark op) is tested in tests/bundler/test_spark_ops.py."""

from __future__ import annotations

import math

import pytest
from pyspark.ml.feature import Imputer

from leapserve.runtime import load_bundle
from tests.support.handmade import check_against_spark, write_bundle

NAN, INF = float("nan"), float("inf")


def imputer_nodes(model) -> list[dict]:
    """One MLeap imputer node per column of a fitted Spark ImputerModel."""
    surrogates = model.surrogateDF.collect()[0].asDict()
    missing = model.getMissingValue()
    nodes = []
    for i, (col, out) in enumerate(zip(model.getInputCols(), model.getOutputCols())):
        attrs = {"surrogate_value": {"double": surrogates[col]} if surrogates[col] != 0.0 else {},
                 "missing_value": {"double": None if missing != missing else missing},
                 "strategy": {"string": model.getStrategy()}, "nullable_input": {"boolean": True}}
        nodes.append({"name": f"imputer{i}", "op": "imputer", "attrs": attrs,
                      "inputs": [("input", col)], "outputs": [("output", out)]})
    return nodes


@pytest.mark.parity("imputer")
@pytest.mark.parametrize("missing, strategy", [(NAN, "mean"), (-1.0, "median"), (0.0, "mode"), (NAN, "median")])
def test_imputer_hand_written(spark, tmp_path, missing, strategy):
    train = spark.createDataFrame(
        [(1.0, 2.0), (NAN, 3.0), (None, 4.0), (5.0, -1.0), (-1.0, NAN), (5.0, 0.0), (0.0, 2.0)], "a double, b double")
    rows = spark.createDataFrame(
        [(0, 1.0, 2.0), (1, NAN, 3.0), (2, None, None), (3, -1.0, -1.0), (4, 0.0, -0.0), (5, 1e300, NAN),
         (6, -INF, 0.5)],
        "rid int, a double, b double")
    model = Imputer(inputCols=["a", "b"], outputCols=["a_out", "b_out"], strategy=strategy,
                    missingValue=missing).fit(train)
    for fmt in ("json", "protobuf"):
        pipeline = load_bundle(write_bundle(tmp_path / fmt, fmt, imputer_nodes(model)))
        assert check_against_spark(pipeline, model, rows, fmt) == (2 * 7, 0, 0)
    # NaN is missing only when missing_value is NaN (MLeap's runtime imputes it always)
    assert math.isnan(pipeline.transform({"a": NAN, "b": 1.0})["a_out"]) != math.isnan(missing)
    assert pipeline.transform({"a": None, "b": missing})["b_out"] == model.surrogateDF.collect()[0]["b"]
