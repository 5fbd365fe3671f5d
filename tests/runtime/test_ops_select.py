"""Parity with Spark 3.5: vector_indexer (every handle_invalid mode), chi_sq_selector, dct."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.ml import Pipeline
from pyspark.ml.feature import DCT, ChiSqSelector, VectorIndexer
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

from tests.support.parity import assert_parity
from leapserve.runtime import BundleError, DenseVector, ScoringError, SparseVector, load_bundle
from leapserve.runtime.ops.feature_select import dct_matrix
from tests.support.handmade import node, write_bundle

NAN = float("nan")


def vector_frame(spark, vectors, label=None):
    fields = [StructField("rid", IntegerType()), StructField("v", VectorUDT())]
    rows = [(i, v) for i, v in enumerate(vectors)]
    if label is not None:
        fields.append(StructField("label", DoubleType()))
        rows = [(i, v, y) for (i, v), y in zip(rows, label)]
    return spark.createDataFrame(rows, StructType(fields))


# --- vector_indexer ------------------------------------------------------------------------

# f0 continuous; f1 categories {0, 1, 2}; f2 categories {-1.5, 3.0} (no zero: an implicit zero of
# a sparse vector is left alone, an explicit one is invalid); f3 binary {0, 1}.
TRAIN = [Vectors.dense([0.5, 0.0, -1.5, 0.0]), Vectors.dense([1.5, 1.0, 3.0, 1.0]),
         Vectors.dense([2.5, 2.0, -1.5, 1.0]), Vectors.sparse(4, [0, 2], [3.5, 3.0]),
         Vectors.dense([4.5, 1.0, 3.0, 0.0]), Vectors.sparse(4, [0, 1, 2, 3], [5.5, 2.0, -1.5, 1.0])]
SCORE = [
    Vectors.dense([7.0, 2.0, 3.0, 1.0]),                 # all known
    Vectors.dense([0.0, -0.0, -1.5, 0.0]),               # -0.0 finds 0.0
    Vectors.dense([1.0, 5.0, 3.0, 1.0]),                 # unseen category in f1
    Vectors.dense([1.0, 1.0, NAN, 1.0]),                 # NaN is never a known category
    Vectors.dense([NAN, 1.0, 3.0, 0.0]),                 # NaN in a continuous feature is fine
    Vectors.sparse(4, [0, 3], [9.0, 1.0]),               # implicit zeros: f2's stays 0.0
    Vectors.sparse(4, [1, 2], [2.0, 3.0]),
    Vectors.sparse(4, [2], [0.0]),                       # an explicit zero in f2 is looked up: invalid
    Vectors.sparse(4, [1, 3], [7.0, 1.0]),               # unseen category, sparse
    Vectors.sparse(4, [], []),
    Vectors.dense([0.0, 0.0, 3.0, 2.0]),                 # unseen in the binary feature
]


@pytest.fixture(scope="module")
def train_frame(spark):
    return vector_frame(spark, TRAIN)


@pytest.mark.parity("vector_indexer")
@pytest.mark.parametrize("handle_invalid", ["keep", "skip", "error"])
def test_vector_indexer_parity(spark, tmp_path, train_frame, handle_invalid):
    model = VectorIndexer(inputCol="v", outputCol="indexed", maxCategories=3,
                          handleInvalid=handle_invalid).fit(train_frame)
    assert set(model.categoryMaps) == {1, 2, 3}
    # Spark failing a job makes the harness score row by row: fewer rows for "error"
    score = SCORE if handle_invalid != "error" else [SCORE[i] for i in (0, 2, 3, 5, 7)]
    report = assert_parity(model, vector_frame(spark, score), tmp_path)
    invalid = 5 if handle_invalid != "error" else 3  # rows 2, 3, 7, 8, 10 of SCORE
    if handle_invalid == "keep":
        assert report.errors == 0 and report.skipped == 0
    elif handle_invalid == "skip":
        assert report.skipped == 2 * invalid and report.errors == 0
    else:
        assert report.errors == 2 * invalid
    # layout as Spark: dense stays dense, sparse stays sparse (with the same stored indices)
    pipeline = report.pipelines["json"]
    out = pipeline.transform({"v": SparseVector(4, [0, 3], [9.0, 1.0])})["indexed"]
    assert out == SparseVector(4, [0, 3], [9.0, 1.0])
    assert isinstance(pipeline.transform({"v": [7.0, 2.0, 3.0, 1.0]})["indexed"], DenseVector)


def test_vector_indexer_batch_layouts(spark, tmp_path, train_frame):
    model = VectorIndexer(inputCol="v", outputCol="indexed", maxCategories=3, handleInvalid="skip").fit(train_frame)
    report = assert_parity(model, vector_frame(spark, SCORE[:1]), tmp_path, formats=("protobuf",))
    pipeline = report.pipelines["protobuf"]
    dense = np.array([[7.0, 2.0, 3.0, 1.0], [1.0, 5.0, 3.0, 1.0], [0.0, 0.0, -1.5, 0.0]])
    result = pipeline.transform_batch({"v": dense})
    assert result.skipped.tolist() == [False, True, False]
    assert result["indexed"][0].tolist() == [7.0, 2.0, 1.0, 1.0] and result["indexed"][2].tolist() == [0, 0, 0, 0]
    sparse = [SparseVector(4, [1, 2], [2.0, 3.0]), SparseVector(4, [2], [0.0]), SparseVector(4, [0], [1.0])]
    result = pipeline.transform_batch({"v": sparse})
    assert result.skipped.tolist() == [False, True, False]
    assert result["indexed"].row(0) == SparseVector(4, [1, 2], [2.0, 1.0])


def test_vector_indexer_hand_written_maps(tmp_path):
    """A NaN key (JSON null) counts in the map's size for "keep" but is never matched; keys
    outside the vector and mismatched lists are refused at load."""
    attrs = {"keys": {"type": "list", "long": [1]}, "num_features": {"long": 2},
             "key_1_keys": {"type": "list", "double": [0.0, None, 4.0]},
             "key_1_values": {"type": "list", "long": [0, 2, 1]}, "handle_invalid": {"string": "keep"}}
    for fmt in ("json", "protobuf"):
        pipe = load_bundle(write_bundle(tmp_path / fmt, fmt, [node("vi", "vector_indexer", attrs,
                                                                 inputs=[("input", "v")],
                                                                 outputs=[("output", "o")])]))
        assert pipe.transform({"v": [3.0, 4.0]})["o"].tolist() == [3.0, 1.0]
        assert pipe.transform({"v": [3.0, NAN]})["o"].tolist() == [3.0, 3.0]
        assert pipe.transform_batch({"v": np.array([[3.0, 4.0], [1.0, 9.0]])})["o"].tolist() == [[3, 1], [1, 3]]
    bad = dict(attrs, keys={"type": "list", "long": [2]}, key_2_keys=attrs["key_1_keys"],
               key_2_values=attrs["key_1_values"])
    with pytest.raises(BundleError, match="outside"):
        load_bundle(write_bundle(tmp_path / "bad1", "json", [node("vi", "vector_indexer", bad, inputs=[("input", "v")],
                                                                  outputs=[("output", "o")])]))
    bad = dict(attrs, key_1_values={"type": "list", "long": [0]})
    with pytest.raises(BundleError, match="key_1_values"):
        load_bundle(write_bundle(tmp_path / "bad2", "json", [node("vi", "vector_indexer", bad, inputs=[("input", "v")],
                                                                  outputs=[("output", "o")])]))


# --- chi_sq_selector -----------------------------------------------------------------------

@pytest.mark.parity("chi_sq_selector")
def test_chi_sq_selector_parity(spark, tmp_path):
    train = vector_frame(spark, [Vectors.dense([1.0, 0.0, 3.0, 2.0, 0.0]), Vectors.dense([0.0, 1.0, 3.0, 0.0, 5.0]),
                                 Vectors.dense([1.0, 0.0, 1.0, 2.0, 0.0]), Vectors.dense([0.0, 1.0, 1.0, 0.0, 5.0]),
                                 Vectors.dense([1.0, 1.0, 3.0, 2.0, 0.0])], label=[1.0, 0.0, 1.0, 0.0, 1.0])
    model = Pipeline(stages=[
        ChiSqSelector(featuresCol="v", outputCol="top2", labelCol="label", numTopFeatures=2),
        ChiSqSelector(featuresCol="v", outputCol="top4", labelCol="label", numTopFeatures=4),
    ]).fit(train)
    selected = [s.selectedFeatures for s in model.stages]
    assert len(selected[0]) == 2 and len(selected[1]) == 4
    score = vector_frame(spark, [Vectors.dense([1.0, 2.0, 3.0, 4.0, 5.0]), Vectors.sparse(5, [0, 4], [7.0, -1.0]),
                                 Vectors.sparse(5, [], []), Vectors.sparse(5, [1, 2, 3], [0.0, NAN, 2.0]),
                                 Vectors.dense([0.0, 0.0, 0.0, 0.0, 0.0]), Vectors.dense([NAN, -0.0, 1e300, 0, 1])])
    report = assert_parity(model, score, tmp_path)
    assert report.errors == 0 and report.compared == 2 * 6 * 2
    pipeline = report.pipelines["json"]
    out = pipeline.transform({"v": SparseVector(5, [0, 4], [7.0, -1.0])})
    assert all(isinstance(v, SparseVector) for v in out.values())  # sparse stays sparse, as in Spark
    batch = pipeline.transform_batch({"v": [SparseVector(5, [0, 4], [7.0, -1.0]), SparseVector(5, [2], [3.0])]})
    for i, v in enumerate([SparseVector(5, [0, 4], [7.0, -1.0]), SparseVector(5, [2], [3.0])]):
        assert batch["top4"].row(i) == pipeline.transform({"v": v})["top4"]


# --- dct -----------------------------------------------------------------------------------

@pytest.mark.parity("dct")
def test_dct_parity(spark, tmp_path):
    vectors = [Vectors.dense([1.0, 2.0, 3.0, 4.0, 5.0]), Vectors.dense([0.0, 0.0, 0.0, 0.0, 0.0]),
               Vectors.sparse(5, [1, 3], [-2.0, 7.5]), Vectors.sparse(5, [], []),
               Vectors.dense([1e3, -1e-3, 3.25, -7.0, 0.5]), Vectors.dense([1.0, NAN, 0.0, 0.0, 0.0]),
               Vectors.dense([-0.0, 1.0, -1.0, 1.0, -1.0])]
    model = Pipeline(stages=[DCT(inputCol="v", outputCol="forward"),
                             DCT(inputCol="forward", outputCol="back", inverse=True),
                             DCT(inputCol="v", outputCol="inverse", inverse=True)]).fit(vector_frame(spark, vectors))
    report = assert_parity(model, vector_frame(spark, vectors), tmp_path)
    assert report.errors == 0 and report.compared == 2 * len(vectors) * 3
    assert report.max_difference < 1e-12
    out = report.pipelines["json"].transform({"v": SparseVector(5, [1], [1.0])})
    assert all(isinstance(v, DenseVector) for v in out.values())  # always dense


def test_dct_matrix_is_orthonormal():
    for n in (1, 2, 7, 32):
        m = dct_matrix(n, False)
        assert np.allclose(m @ m.T, np.eye(n), atol=1e-12)
        assert np.allclose(dct_matrix(n, True), m.T)


def test_dct_one_element_and_bad_size(spark, tmp_path):
    vectors = [Vectors.dense([3.0]), Vectors.dense([-0.5])]
    model = DCT(inputCol="v", outputCol="o")
    report = assert_parity(model, vector_frame(spark, vectors), tmp_path, formats=("json",))
    pipeline = report.pipelines["json"]
    with pytest.raises(ScoringError) as e:
        pipeline.transform({"v": [1.0, 2.0]})
    assert e.value.field == "v"
    with pytest.raises(ScoringError):
        pipeline.transform({"v": None})
    assert math.isclose(pipeline.transform({"v": [2.0]})["o"][0], 2.0)
