"""Parity: standard_scaler, min_max_scaler, max_abs_scaler and normalizer against Spark 3.5's own
transform, including which outputs Spark leaves sparse and which dense."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import MaxAbsScaler, MinMaxScaler, Normalizer, StandardScaler
from pyspark.ml.linalg import Vectors

from leapserve.bundler.compare import compare, record_from_row
from tests.support.bundles import FIXTURES
from tests.support.frames import vector_frame
from tests.support.parity import assert_parity
from leapserve.runtime import BundleError, InvalidInput, SparseBatch, SparseVector, load_bundle
from tests.support.handmade import write_bundle

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def train(spark):
    # feature 1 is constant (std 0, range 0, maxAbs 0)
    return vector_frame(spark, [Vectors.dense([1.0, 0.0, 5.0, -2.0]), Vectors.dense([3.0, 0.0, -5.0, 4.0]),
                                Vectors.dense([2.0, 0.0, 1.0, -8.0]), Vectors.sparse(4, [0], [2.5])], column="v")


@pytest.fixture(scope="module")
def rows(spark):
    return vector_frame(spark, [
        Vectors.dense([1.0, 0.0, -5.0, -8.0]),
        Vectors.sparse(4, [0, 2], [1.0, -3.0]),
        Vectors.dense([1.0, 2.0, NAN, 0.0]),
        Vectors.sparse(4, [1, 3], [NAN, 0.0]),      # NaN in the constant feature; a stored zero
        Vectors.dense([10.0, 0.0, -100.0, 1e300]),
        Vectors.sparse(4, [], []),
        Vectors.dense([0.0, 0.0, 0.0, 0.0]),
        Vectors.dense([INF, -1.0, 0.5, 1e-300]),
        Vectors.sparse(4, [3], [-1e200]),
        Vectors.dense([1e200, 1e200, 0.0, 0.0]),
        None,
    ], column="v")


def scalers():
    return [
        StandardScaler(inputCol="v", outputCol="std_both", withMean=True, withStd=True),
        StandardScaler(inputCol="v", outputCol="std_mean", withMean=True, withStd=False),
        StandardScaler(inputCol="v", outputCol="std_only", withMean=False, withStd=True),
        MinMaxScaler(inputCol="v", outputCol="min_max"),
        MinMaxScaler(inputCol="v", outputCol="min_max_custom", min=-2.0, max=3.0),
        MaxAbsScaler(inputCol="v", outputCol="max_abs"),
        Normalizer(inputCol="v", outputCol="norm_1", p=1.0),
        Normalizer(inputCol="v", outputCol="norm_2", p=2.0),
        Normalizer(inputCol="v", outputCol="norm_inf", p=INF),
        Normalizer(inputCol="v", outputCol="norm_3", p=3.0),
    ]


def assert_same_kinds(model, df, pipeline, columns):
    """Each output is sparse exactly where Spark's is (dense outputs come back as numpy arrays)."""
    from pyspark.ml.linalg import SparseVector as SparkSparse

    for row in model.transform(df).collect():
        got = pipeline.transform(record_from_row(row, list(pipeline.inputs)), columns)
        for col in columns:
            spark_sparse = isinstance(row[col], SparkSparse)
            assert isinstance(got[col], SparseVector) == spark_sparse, \
                f"rid {row['rid']}, {col}: Spark {'sparse' if spark_sparse else 'dense'}, runtime {got[col]!r}"


@pytest.mark.parity("standard_scaler", "min_max_scaler", "max_abs_scaler", "normalizer")
def test_scalers_and_normalizers(spark, tmp_path, train, rows):
    # Dense and sparse rows apart: a batch column mixing both is all sparse for the runtime, and
    # Spark's answer depends on the representation (a dense [1, 0, NaN] normalizes to all NaN, a
    # sparse one keeps its implicit zeros).
    model = Pipeline(stages=scalers()).fit(train)
    dense = rows.filter("rid in (0, 2, 4, 6, 7, 9, 10)")
    report = assert_parity(model, dense, tmp_path / "dense")
    assert report.errors == 2  # the null vector, in both formats
    assert report.compared == 2 * 6 * 10
    sparse = rows.filter("rid in (1, 3, 5, 8)")
    assert assert_parity(model, sparse, tmp_path / "sparse").compared == 2 * 4 * 10
    pipeline = report.pipelines["json"]
    assert_same_kinds(model, rows.filter("rid < 10"), pipeline, list(pipeline.outputs))
    with pytest.raises(InvalidInput) as e:
        pipeline.transform({"v": None}, ["norm_2"])
    assert e.value.field == "v" and e.value.actual == "null"
    with pytest.raises(InvalidInput) as e:
        pipeline.transform({"v": [1.0, 2.0]}, ["std_only"])
    assert "size 4" in str(e.value)


def test_batch_paths_agree_with_rows(spark, tmp_path, train, rows):
    """A dense batch (2-D array) gives the row path's answers for dense rows, a sparse batch
    (SparseBatch) those for sparse rows."""
    model = Pipeline(stages=scalers()).fit(train)
    report = assert_parity(model, rows.filter("rid = 0"), tmp_path, formats=("protobuf",))
    pipeline = report.pipelines["protobuf"]
    vectors = [record_from_row(r, ["v"])["v"] for r in rows.filter("rid < 10").collect()]
    dense = [v.to_list() if isinstance(v, SparseVector) else v for v in vectors]
    sparse = [v if isinstance(v, SparseVector) else
              SparseVector(4, [i for i, x in enumerate(v) if x != 0], [x for x in v if x != 0]) for v in vectors]
    for singles, column in ((dense, np.array(dense)), (sparse, SparseBatch.from_rows(4, sparse))):
        expected = [pipeline.transform({"v": v}) for v in singles]
        batch = pipeline.transform_batch({"v": column})
        for col in pipeline.outputs:
            out = batch[col].toarray() if isinstance(batch[col], SparseBatch) else batch[col]
            for i, single in enumerate(expected):
                want = single[col].to_list() if isinstance(single[col], SparseVector) else list(single[col])
                diff = compare(want, out[i].tolist())
                assert diff.equal, f"{col} row {i} ({type(column).__name__}): {diff.detail}"


def test_standard_scaler_without_mean_or_std(spark, tmp_path, train, rows):
    """Neither withMean nor withStd: Spark passes vectors (and nulls) through."""
    model = PipelineModel(stages=[StandardScaler(inputCol="v", outputCol="same", withMean=False,
                                                 withStd=False).fit(train)])
    report = assert_parity(model, rows, tmp_path)
    assert report.errors == 0 and report.compared == 2 * 11
    pipeline = report.pipelines["json"]
    assert pipeline.transform({"v": SparseVector(4, [1], [2.0])})["same"] == SparseVector(4, [1], [2.0])
    assert pipeline.transform({"v": None})["same"] is None


def test_min_max_scaler_fixture():
    """min_max_scaler_tf.zip: legacy bundle without minValue/maxValue (so 0 and 1), behind a vector
    assembler. Expected values from Spark's formula (x - min) * (1 / (max - min)), compressed."""
    pipeline = load_bundle(FIXTURES / "min_max_scaler_tf.zip")
    assert set(pipeline.inputs) == {"dti", "loan_amount"}
    lows, highs = [-0.01, 500.0], [32256.0, 1200000.0]

    def expected(x):
        return [(a - lo) * (1.0 / (hi - lo)) for a, lo, hi in zip(x, lows, highs)]

    cases = [[0.5, 500.0], [32256.0, 1200000.0], [10.0, 123456.0], [-1.0, 2e6], [16128.0, 600250.0]]
    for x in cases:
        got = pipeline.transform({"dti": x[0], "loan_amount": x[1]})["scaled_features"]
        assert compare(expected(x), list(got)).equal, (x, got)
    batch = pipeline.transform_batch({"dti": [c[0] for c in cases], "loan_amount": [c[1] for c in cases]})
    for i, x in enumerate(cases):
        assert compare(expected(x), batch["scaled_features"][i].tolist()).equal
    # both features at their minimum: the zero vector, which Spark's compressed makes sparse
    assert pipeline.transform({"dti": -0.01, "loan_amount": 500.0})["scaled_features"] == SparseVector(2, [], [])


def _normalizer_bundle(folder, attrs):
    return write_bundle(folder, "json", [{"name": "n", "op": "normalizer", "attrs": attrs,
                                          "inputs": [("input", "v")], "outputs": [("output", "o")]}])


def test_normalizer_attributes(tmp_path):
    # JSON writes p = +Inf as null: it is read back as the infinity norm
    pipeline = load_bundle(_normalizer_bundle(tmp_path / "a", {"p_norm": {"double": None}, "input_size": {"int": 3}}))
    assert list(pipeline.transform({"v": [3.0, -4.0, NAN]})["o"][:2]) == [0.75, -1.0]
    with pytest.raises(BundleError, match="p_norm"):
        load_bundle(_normalizer_bundle(tmp_path / "b", {"p_norm": {"double": 0.5}, "input_size": {"int": 3}}))
    assert math.isnan(pipeline.transform({"v": [NAN, 1.0, 0.0]})["o"][0])
