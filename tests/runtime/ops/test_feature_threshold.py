"""Parity: bucketizer and binarizer against Spark 3.5's own transform."""

from __future__ import annotations

import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.feature import Binarizer, Bucketizer
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

from leapserve.bundler.compare import record_from_row
from tests.support.parity import assert_parity
from leapserve.runtime import BundleError, InvalidInput, RowSkipped, SparseVector, load_bundle
from tests.support.handmade import write_bundle

NAN, INF = float("nan"), float("inf")


# --- bucketizer ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bucket_rows(spark):
    # x goes to splits with infinite ends, y to finite splits [-1, 0, 1, 2]
    return spark.createDataFrame(
        [(0, -INF, -1.0), (1, -1.0, 0.0), (2, 0.0, 2.0), (3, -0.0, -0.0), (4, 0.5, 1.5), (5, 1.0, 1.0),
         (6, INF, 0.999), (7, NAN, 0.5), (8, None, 0.5), (9, 2.0, NAN), (10, 3.0, None),
         (11, 1e308, 2.5), (12, -5.0, -1.5), (13, -1e-320, 1e-320)],
        "rid int, x double, y double")


@pytest.mark.parity("bucketizer")
@pytest.mark.parametrize("mode", ["error", "skip", "keep"])
def test_bucketizer(spark, tmp_path, bucket_rows, mode):
    model = PipelineModel(stages=[
        Bucketizer(splits=[-INF, -1.0, 0.0, 1.0, INF], inputCol="x", outputCol="bx", handleInvalid=mode),
        Bucketizer(splits=[-1.0, 0.0, 1.0, 2.0], inputCol="y", outputCol="by", handleInvalid=mode),
    ])
    rows = bucket_rows
    if mode == "error":  # Spark scores refused rows one at a time: keep them few
        rows = rows.filter("rid not in (9, 12)")
    report = assert_parity(model, rows, tmp_path)
    # out of the finite splits (rids 11, 12) is an error in every mode; NaN (7, 9) only under error;
    # null (8, 10) gives a null bucket, skip drops NaN and null rows
    expected = {"error": (2 * 2, 0), "skip": (2 * 2, 2 * 4), "keep": (2 * 2, 0)}[mode]
    assert (report.errors, report.skipped) == expected
    pipeline = report.pipelines["json"]
    assert pipeline.discrete_outputs == {"bx", "by"}
    if mode == "keep":
        assert pipeline.transform({"x": NAN, "y": None}) == {"bx": 4.0, "by": None}
    if mode == "skip":
        with pytest.raises(RowSkipped):
            pipeline.transform({"x": 0.0, "y": None})
        batch = pipeline.transform_batch({"x": [0.0, NAN, 1.0, None], "y": [0.5, 0.5, NAN, 0.5]})
        assert batch.skipped.tolist() == [False, True, True, True]
        assert batch["bx"][0] == 2.0
    with pytest.raises(InvalidInput) as e:
        pipeline.transform({"x": 0.0, "y": 7.0})
    assert e.value.field == "y" and "7.0" in str(e.value)


def test_bucketizer_negative_zero_split(spark, tmp_path, bucket_rows):
    """A -0.0 split: Java's binary search orders -0.0 before 0.0. Protobuf only: MLeap's JSON
    writer prints -0.0 as 0.0, so the sign is lost in JSON bundles."""
    model = PipelineModel(stages=[Bucketizer(splits=[-1.0, -0.0, 1.0], inputCol="y", outputCol="by")])
    rows = bucket_rows.filter("rid in (1, 3, 5, 7, 13)")
    report = assert_parity(model, rows, tmp_path, formats=("protobuf",))
    assert report.compared == 5 and report.errors == 0
    pipeline = report.pipelines["protobuf"]
    assert pipeline.transform({"y": 0.0})["by"] == 1.0 and pipeline.transform({"y": -0.0})["by"] == 1.0


def test_bucketizer_splits_from_json(tmp_path):
    """JSON null end splits are the infinities; bad splits are refused at load time."""
    def bundle(name, splits, mode=None):
        attrs = {"splits": {"type": "list", "double": splits}}
        if mode:
            attrs["handle_invalid"] = {"string": mode}
        return write_bundle(tmp_path / name, "json", [{"name": "b", "op": "bucketizer", "attrs": attrs,
                                                      "inputs": [("input", "x")], "outputs": [("output", "o")]}])

    pipeline = load_bundle(bundle("ok", [None, 0.0, None]))
    assert [pipeline.transform({"x": x})["o"] for x in (-1e308, -0.0, 0.0, INF)] == [0.0, 0.0, 1.0, 1.0]
    with pytest.raises(InvalidInput):  # handle_invalid defaults to error
        pipeline.transform({"x": NAN})
    for name, splits in (("unsorted", [0.0, 2.0, 1.0]), ("nan", [0.0, None, 1.0, 2.0]), ("short", [1.0])):
        with pytest.raises(BundleError, match="splits"):
            load_bundle(bundle(name, splits))
    with pytest.raises(BundleError, match="handle_invalid"):
        load_bundle(bundle("mode", [0.0, 1.0, 2.0], "drop"))


# --- binarizer ----------------------------------------------------------------------------

BINARIZER_SCHEMA = StructType([StructField("rid", IntegerType()), StructField("x", DoubleType()),
                               StructField("v", VectorUDT())])


def binarizer_rows(spark):
    return spark.createDataFrame(
        [(0, 0.5, Vectors.sparse(5, [1, 3], [-1.0, 2.0])),
         (1, -0.5, Vectors.dense([-1.0, 0.0, 2.0, NAN, -0.5])),
         (2, NAN, Vectors.sparse(5, [0, 2], [0.0, NAN])),
         (3, None, Vectors.sparse(5, [], [])),
         (4, -1.0, Vectors.dense([0.0, 0.0, 0.0, 0.0, 0.0])),
         (5, 0.0, Vectors.dense([1.0, 1.5, -0.25, 0.0, 0.75])),
         (6, 1.0, Vectors.sparse(5, [0, 4], [-0.75, 1.25])),
         (7, -0.0, None)],
        BINARIZER_SCHEMA)


@pytest.mark.parity("binarizer")
def test_binarizer(spark, tmp_path):
    model = PipelineModel(stages=[
        Binarizer(inputCol="x", outputCol="bx", threshold=-0.5),
        Binarizer(inputCol="x", outputCol="bx0", threshold=0.0),
        Binarizer(inputCol="v", outputCol="neg", threshold=-0.5),
        Binarizer(inputCol="v", outputCol="zero", threshold=0.0),
        Binarizer(inputCol="v", outputCol="one", threshold=1.0),
    ])
    rows = binarizer_rows(spark)
    report = assert_parity(model, rows, tmp_path)
    assert report.errors == 2  # the null vector
    assert report.compared == 2 * 7 * 5
    pipeline = report.pipelines["json"]
    assert pipeline.outputs["neg"].size == 5
    # sparse exactly where Spark's output is (compressed; a negative threshold fills implicit zeros)
    from pyspark.ml.linalg import SparseVector as SparkSparse

    for row in model.transform(rows.filter("rid < 7")).collect():
        got = pipeline.transform(record_from_row(row, ["x", "v"]))
        for col in ("neg", "zero", "one"):
            assert isinstance(got[col], SparseVector) == isinstance(row[col], SparkSparse), (row["rid"], col)
    assert pipeline.transform({"x": None, "v": SparseVector(5, [], [])})["bx"] is None
    assert list(pipeline.transform({"x": 1.0, "v": SparseVector(5, [2], [-3.0])})["neg"]) == [1, 1, 0, 1, 1]


def test_binarizer_batches(spark, tmp_path):
    """Dense and sparse batch columns give the row path's answers."""
    import numpy as np

    from leapserve.runtime import SparseBatch

    model = PipelineModel(stages=[Binarizer(inputCol="v", outputCol=f"b{i}", threshold=t)
                                  for i, t in enumerate((-0.5, 0.0, 1.0))])
    rows = binarizer_rows(spark).filter("rid < 7")
    pipeline = assert_parity(model, rows.filter("rid = 1"), tmp_path, formats=("protobuf",)).pipelines["protobuf"]
    vectors = [record_from_row(r, ["v"])["v"] for r in rows.collect()]
    dense = np.array([v.to_list() if isinstance(v, SparseVector) else v for v in vectors])
    for column in (dense, SparseBatch.from_rows(5, vectors)):
        batch = pipeline.transform_batch({"v": column})
        for col in pipeline.outputs:
            out = batch[col].toarray() if isinstance(batch[col], SparseBatch) else batch[col]
            for i, v in enumerate(vectors):
                single = pipeline.transform({"v": v})[col]
                want = single.to_list() if isinstance(single, SparseVector) else list(single)
                assert out[i].tolist() == want, (col, i)


def test_binarizer_attributes(tmp_path):
    def bundle(name, attrs):
        return write_bundle(tmp_path / name, "json", [{"name": "b", "op": "binarizer", "attrs": attrs,
                                                      "inputs": [("input", "x")], "outputs": [("output", "o")]}])

    scalar = {"data_shape": {"base": "scalar", "isNullable": True}}
    pipeline = load_bundle(bundle("zero", {"threshold": {}, "input_shapes": scalar}))  # {} is 0.0
    assert [pipeline.transform({"x": x})["o"] for x in (0.0, 1e-300, NAN)] == [0.0, 1.0, 0.0]
    with pytest.raises(BundleError, match="multi-column"):
        load_bundle(bundle("multi", {"thresholds": {"type": "list", "double": [0.0]}, "input_shapes": scalar}))
    with pytest.raises(BundleError, match="input_shapes"):
        load_bundle(bundle("noshape", {"threshold": {"double": 1.0}}))
