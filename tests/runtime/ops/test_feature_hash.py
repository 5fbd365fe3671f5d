"""Parity with Spark 3.5: feature_hasher (alone and into linear and logistic regression), min_hash_lsh
and bucketed_random_projection_lsh."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import BucketedRandomProjectionLSH, FeatureHasher, MinHashLSH
from pyspark.ml.linalg import Vectors
from pyspark.ml.regression import LinearRegression

from leapserve.bundler.compare import record_from_row
from leapserve.bundler.export import export_bundle
from tests.support import golden
from tests.support.compared import compared as oracle_compared
from tests.support.frames import vector_frame
from tests.support.parity import assert_parity, spark_outcomes
from leapserve.runtime import BundleError, ScoringError, SparseVector, load_bundle
from tests.support.handmade import node, write_bundle

NAN = float("nan")
INF = float("inf")

# --- feature_hasher ------------------------------------------------------------------------

HASHER_SCHEMA = ("rid int, d double, f float, i int, l long, sh short, by byte, b boolean, s string, "
                 "cd double, ci int, cf float")
HASHER_ROWS = [
    (0, 1.5, 2.5, 3, 4, 5, 6, True, "x", 1.0, 7, 0.1),
    (1, 0.0, 0.0, 0, 0, 0, 0, False, "", 0.0, 0, 0.0),          # zeros are stored, "" is a category
    (2, -0.0, -0.0, -1, -1, -1, -1, True, "\u00e9\U0001F600", -0.0, -1, -0.0),
    (3, NAN, NAN, 2147483647, 9223372036854775807, 32767, 127, False, "x=y", NAN, 2147483647, NAN),
    (4, None, None, None, None, None, None, None, None, None, None, None),  # nulls are ignored
    (5, 1e10, 1e-5, -2147483648, -9223372036854775808, -32768, -128, None, "s", 1e10, None, 1e10),
    (6, 1e7, 3.4e38, 12, 1 << 40, 3, 4, True, None, 1e-3, 12, 1e-3),
    (7, INF, -INF, 1, 1, 1, 1, True, "TRUE", -INF, 1, INF),
]
HASHER_COLS = ["d", "f", "i", "l", "sh", "by", "b", "s", "cd", "ci", "cf"]


@pytest.fixture(scope="module")
def hasher_frame(spark):
    return spark.createDataFrame(HASHER_ROWS, HASHER_SCHEMA)


@pytest.mark.parity("feature_hasher")
@pytest.mark.parametrize("num_features", [1 << 18, 7])  # 7: many collisions, values summed
def test_feature_hasher_parity(spark, tmp_path, hasher_frame, num_features):
    model = FeatureHasher(inputCols=HASHER_COLS, categoricalCols=["cd", "ci", "cf"], outputCol="h",
                          numFeatures=num_features)
    report = assert_parity(model, hasher_frame, tmp_path)
    assert report.errors == 0 and report.compared == 2 * len(HASHER_ROWS)
    # Spark's layout exactly: always sparse, the same stored indices (zeros included)
    expected = report.spark
    for pipeline in report.pipelines.values():
        for row in hasher_frame.collect():
            got = pipeline.transform(record_from_row(row, HASHER_COLS))["h"]
            want = expected[row["rid"]]["h"]
            assert isinstance(got, SparseVector) and got.indices == want.indices, (row["rid"], got, want)
    # a FloatType column holds 32-bit floats: a double sent for it is rounded as Spark stores it
    pipeline = report.pipelines["json"]
    nulls = {c: None for c in HASHER_COLS}
    as_sent = pipeline.transform({**nulls, "f": 0.1})["h"]
    assert as_sent == pipeline.transform({**nulls, "f": float(np.float32(0.1))})["h"]
    assert as_sent.values == (0.10000000149011612,)
    full = dict(zip(HASHER_COLS, [1.5, 0.1, 3, 4, 5, 6, True, "x", 1.0, 7, 0.1]))  # no nulls: the batch path
    batch = pipeline.transform_batch({c: [v] for c, v in full.items()})["h"]
    assert batch.row(0) == pipeline.transform(full)["h"]
    assert 0.10000000149011612 in batch.row(0).values


@pytest.mark.parity("feature_hasher", "linear_regression")
def test_feature_hasher_into_linear_regression(spark, tmp_path):
    train = spark.createDataFrame(
        [(i, float(i % 5), ["a", "b", "c"][i % 3], i % 2 == 0, float(2 * (i % 5) + (i % 3) + (3 if i % 2 == 0 else 0)))
         for i in range(30)], "rid int, x double, cat string, flag boolean, label double")
    model = Pipeline(stages=[
        FeatureHasher(inputCols=["x", "cat", "flag"], outputCol="features", numFeatures=64),
        LinearRegression(maxIter=50, regParam=0.01),
    ]).fit(train)
    score = spark.createDataFrame([(0, 1.0, "a", True, 0.0), (1, 3.5, "zzz", False, 0.0), (2, None, "b", None, 0.0),
                                   (3, 0.0, None, True, 0.0), (4, NAN, "c", False, 0.0)],
                                  "rid int, x double, cat string, flag boolean, label double")
    report = assert_parity(model, score, tmp_path)
    assert report.errors == 0 and report.compared == 2 * 5 * 2


@pytest.mark.parity("feature_hasher", "logistic_regression")
def test_feature_hasher_into_logistic_regression(spark, tmp_path):
    train = spark.createDataFrame(
        [(i, float(i % 7), ["red", "green", "blue"][i % 3], i % 4, 1.0 if (i % 3 == 0 or i % 7 > 4) else 0.0)
         for i in range(40)], "rid int, x double, color string, n int, label double")
    model = Pipeline(stages=[
        FeatureHasher(inputCols=["x", "color", "n"], categoricalCols=["n"], outputCol="features", numFeatures=32),
        LogisticRegression(maxIter=50, regParam=0.01),
    ]).fit(train)
    score = spark.createDataFrame([(0, 1.0, "red", 0), (1, 6.0, "blue", 3), (2, None, "green", 9),
                                   (3, 2.0, None, None), (4, -1.0, "purple", 1)],
                                  "rid int, x double, color string, n int")
    report = assert_parity(model, score, tmp_path)
    assert report.errors == 0 and report.compared == 2 * 5 * 4


def test_feature_hasher_bad_attributes(tmp_path):
    attrs = {"num_features": {"long": 16}, "categorical_cols": {"type": "list", "string": []},
             "input_names": {"type": "list", "string": ["a", "b"]},
             "basic_types": {"type": "list", "basic_type": ["double", "string"]},
             "input_shapes": {"type": "list", "data_shape": [{"base": "scalar", "isNullable": True},
                                                             {"base": "list", "isNullable": True}]}}
    n = node("fh", "feature_hasher", attrs, inputs=[("input0", "a"), ("input1", "b")], outputs=[("output", "o")])
    with pytest.raises(BundleError, match="must be a scalar"):
        load_bundle(write_bundle(tmp_path / "a", "json", [n]))
    attrs["input_shapes"]["data_shape"][1]["base"] = "scalar"
    attrs["num_features"] = {"long": 0}
    with pytest.raises(BundleError, match="num_features"):
        load_bundle(write_bundle(tmp_path / "b", "json", [n]))
    attrs["num_features"] = {"long": 16}
    attrs["basic_types"]["basic_type"] = ["double"]
    with pytest.raises(BundleError, match="same length"):
        load_bundle(write_bundle(tmp_path / "c", "json", [n]))


# --- LSH: Spark's hashes are an array of one-element vectors, the runtime's one vector --------

def lsh_parity(model, df, tmp_path, column="h"):
    """Every row hashed like Spark (exactly), Spark's refusals refused, batch equal to rows."""
    expected = spark_outcomes(model, df)
    rows = df.collect()
    compared = errors = 0
    for fmt in ("json", "protobuf"):
        path = tmp_path / f"lsh-{fmt}.zip"
        export_bundle(model, df, path, format=fmt, force=True, verify=False)
        pipeline = load_bundle(path)
        good = []
        for row in rows:
            want = expected[row["rid"]]
            record = record_from_row(row, ["v"])
            if want == "error":
                with pytest.raises(ScoringError):
                    pipeline.transform(record)
                errors += 1
                continue
            flat = [h[0] for h in want[column]]
            got = pipeline.transform(record)[column].tolist()
            assert len(got) == len(flat) and all(a == b or (a != a and b != b) for a, b in zip(got, flat)), \
                (fmt, row["rid"], got, flat)
            good.append((record["v"], got))
            compared += 1
        golden.record(pipeline, [(row["rid"], record_from_row(row, ["v"])) for row in rows],
                      {rid: want if want == "error" else {column: [h[0] for h in want[column]]}
                       for rid, want in expected.items()}, outputs=[column])
        batch = pipeline.transform_batch({"v": [v for v, _ in good]})[column]
        for i, (_, got) in enumerate(good):
            assert [x for x in batch[i]] == got or all(a == b or (a != a and b != b) for a, b in zip(batch[i], got))
        if good:
            oracle_compared(pipeline, [column])
    return compared, errors


LSH_VECTORS = [Vectors.sparse(8, [0, 3], [1.0, 1.0]), Vectors.dense([0.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0]),
               Vectors.sparse(8, [7], [5.0]), Vectors.dense([1.0] * 8), Vectors.sparse(8, [1, 2, 6], [0.0, -3.0, 0.5]),
               Vectors.dense([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1e-300])]


@pytest.mark.parity("min_hash_lsh")
def test_min_hash_lsh_parity(spark, tmp_path):
    rows = vector_frame(spark, LSH_VECTORS, column="v")
    model = MinHashLSH(inputCol="v", outputCol="h", numHashTables=5, seed=11).fit(rows)
    compared, errors = lsh_parity(model, rows, tmp_path / "ok")
    assert compared == 2 * len(LSH_VECTORS) and errors == 0
    # no non-zero entry: Spark refuses (explicit zeros do not count)
    bad = vector_frame(spark, [Vectors.sparse(8, [], []), Vectors.sparse(8, [2], [0.0]), Vectors.dense([0.0] * 8)],
                       column="v")
    compared, errors = lsh_parity(model, bad, tmp_path / "bad")
    assert errors == 6 and compared == 0


def test_min_hash_lsh_large_index_uses_64_bit_arithmetic(spark, tmp_path):
    """(1 + i) * a overflows a 32-bit int for large indices: Spark computes in longs (MLeap 0.16
    in ints); the runtime follows Spark."""
    size = 5_000_000
    vectors = [Vectors.sparse(size, [4_999_999], [1.0]), Vectors.sparse(size, [3, 2_000_000], [1.0, 2.0])]
    rows = vector_frame(spark, vectors, column="v")
    model = MinHashLSH(inputCol="v", outputCol="h", numHashTables=3, seed=3).fit(rows)
    compared, errors = lsh_parity(model, rows, tmp_path)
    assert compared == 4 and errors == 0


@pytest.mark.parity("bucketed_random_projection_lsh")
def test_bucketed_random_projection_lsh_parity(spark, tmp_path):
    model = BucketedRandomProjectionLSH(inputCol="v", outputCol="h", numHashTables=4, bucketLength=0.7, seed=5) \
        .fit(vector_frame(spark, LSH_VECTORS, column="v"))
    score = LSH_VECTORS + [Vectors.sparse(8, [], []), Vectors.dense([1.0, NAN, 0, 0, 0, 0, 0, 0]),
                           Vectors.dense([1e308, 1e308, 1e308, 0, 0, 0, 0, 0]), Vectors.dense([-3.5] * 8)]
    compared, errors = lsh_parity(model, vector_frame(spark, score, column="v"), tmp_path)
    assert compared == 2 * len(score) and errors == 0


@pytest.mark.parity("bucketed_random_projection_lsh")
def test_bucketed_random_projection_sign_of_zero(spark, tmp_path):
    """A product too small to survive the scaling hashes to -0.0 where Spark's does: Math.floor
    keeps the sign of zero; a dense row's BLAS keeps -0.0, a sparse row's loop adds 0.0 to it."""
    one_d = [Vectors.dense([1.0]), Vectors.dense([-2.0])]
    model = BucketedRandomProjectionLSH(inputCol="v", outputCol="h", numHashTables=4, bucketLength=4.0, seed=5) \
        .fit(vector_frame(spark, one_d, column="v"))
    tiny = [Vectors.dense([-5e-324]), Vectors.sparse(1, [0], [-5e-324]), Vectors.dense([5e-324]),
            Vectors.sparse(1, [0], [5e-324]), Vectors.dense([0.0]), Vectors.dense([-0.0])]
    df = vector_frame(spark, tiny, column="v")
    expected = spark_outcomes(model, df)
    signs = {rid: [math.copysign(1.0, h[0]) for h in out["h"]] for rid, out in expected.items()}
    assert {s for rid in (0, 2) for s in signs[rid]} == {1.0, -1.0}  # the unit vectors are +1 and -1
    path = tmp_path / "b.zip"
    export_bundle(model, df, path, force=True, verify=False)
    pipeline = load_bundle(path)
    records = {row["rid"]: record_from_row(row, ["v"]) for row in df.collect()}
    golden.record(pipeline, list(records.items()), {rid: {"h": [h[0] for h in out["h"]]} for rid, out in expected.items()},
                  outputs=["h"])
    for rid, record in records.items():
        got = pipeline.transform(record)["h"].tolist()
        assert got == [h[0] for h in expected[rid]["h"]]
        assert [math.copysign(1.0, h) for h in got] == signs[rid], record
    for rids in ((0, 2, 4, 5), (1, 3)):  # dense rows, sparse rows
        batch = pipeline.transform_batch({"v": [records[rid]["v"] for rid in rids]})["h"].tolist()
        assert batch == [[h[0] for h in expected[rid]["h"]] for rid in rids]
        assert [[math.copysign(1.0, h) for h in hashes] for hashes in batch] == [signs[rid] for rid in rids]
    oracle_compared(pipeline, ["h"])


def test_bucketed_random_projection_bucket_edges(tmp_path):
    """Values landing exactly on a bucket edge floor the same way on the row and batch paths
    (the batch redoes those rows in Spark's summation order)."""
    attrs = {"random_unit_vectors": {"type": "list", "tensor": [
        {"double": [0.6, 0.8], "shape": {"dimensions": [{"size": 2, "name": ""}]}},
        {"double": [1.0, 0.0], "shape": {"dimensions": [{"size": 2, "name": ""}]}}]},
        "bucket_length": {"double": 0.1}, "input_size": {"int": 2}}
    brp = node("brp", "bucketed_random_projection_lsh", attrs, inputs=[("input", "v")], outputs=[("output", "h")])
    pipe = load_bundle(write_bundle(tmp_path / "b", "json", [brp]))
    rows = [[0.3, 0.0], [0.7, 0.1], [0.5, 0.5], [-0.3, 0.0], [1.0, 1.0]]
    single = [pipe.transform({"v": r})["h"].tolist() for r in rows]
    for r, h in zip(rows, single):  # Spark's arithmetic: floor((u . x) * (1 / 0.1))
        assert h == [math.floor((0.6 * r[0] + 0.8 * r[1]) * (1 / 0.1)),
                     math.floor((1.0 * r[0] + 0.0 * r[1]) * (1 / 0.1))]
    assert pipe.transform_batch({"v": np.array(rows)})["h"].tolist() == single
    sparse = [SparseVector(2, [i for i in range(2) if r[i]], [x for x in r if x]) for r in rows]
    assert pipe.transform_batch({"v": sparse})["h"].tolist() == single
