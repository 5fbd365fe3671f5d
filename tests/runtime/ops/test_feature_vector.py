"""Parity with Spark 3.5: pca, dct, polynomial_expansion, elementwise_product, vector_slicer, interaction."""

import pytest
import math
import warnings

import numpy as np
from pyspark.ml import Pipeline
from pyspark.ml.feature import (DCT, PCA, ElementwiseProduct, Interaction, OneHotEncoder, PolynomialExpansion,
                                StringIndexer, VectorAssembler, VectorSlicer)
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.ml.regression import LinearRegression
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

from tests.support.frames import vector_frame
from tests.support.handmade import node, tensor, write_bundle
from tests.support.parity import assert_parity, assert_same_layout, parity_with_errors
from leapserve.runtime import ScoringError, load_bundle
from leapserve.runtime.ops.feature_vector import dct_matrix, poly_size, poly_terms
from leapserve.runtime.vectors import DenseVector, SparseVector

NAN, INF = float("nan"), float("inf")


def sparse(n, entries):
    return Vectors.sparse(n, sorted(entries), [entries[k] for k in sorted(entries)])


ROWS = [  # rid = position
    Vectors.dense([1.0, 2.0, 3.0, 4.0]), sparse(4, {1: 4.0}), sparse(4, {}),
    Vectors.dense([0.0, 0.0, 0.0, 0.0]), Vectors.dense([-1.5, 0.5, 2.0, -3.0]),
    sparse(4, {0: 2.0, 2: -3.0}), sparse(4, {0: 0.0, 3: 5.0}),  # an explicit zero, kept by Spark
    Vectors.dense([0.0, INF, 2.0, 1.0]),  # 0 * inf: 0 in Spark's expansion, NaN in a dot product
    Vectors.dense([NAN, 0.0, 1.0, 2.0]), Vectors.dense([1e200, 1e200, 1e-200, -1e-300]),
    Vectors.dense([1e6, -1e-6, 3.5, 2.0]),
    sparse(4, {3: NAN}),               # NaN * an implicit zero: absent in Spark's sparse expansion
    sparse(4, {0: 0.0, 2: NAN}),       # NaN * a stored zero: NaN
    Vectors.dense([0.0, 0.0, NAN, 0.0]),
]


@pytest.mark.parity("pca", "elementwise_product", "vector_slicer", "polynomial_expansion")
def test_vector_ops_parity(spark, tmp_path):
    """pca, elementwise_product, vector_slicer and polynomial_expansion (degrees 2 and 3) on dense
    and sparse rows; wrong sizes and nulls are refused."""
    train = vector_frame(spark, [Vectors.dense([1.0, 2.0, 3.0, 0.5]), Vectors.dense([0.0, 1.0, 5.0, 2.0]),
                                 Vectors.dense([2.0, -1.0, 0.5, 1.0]), Vectors.dense([4.0, 0.0, 1.0, -3.0]),
                                 Vectors.dense([1.5, 2.5, -2.0, 0.0])], column="v")
    model = Pipeline(stages=[
        PCA(k=3, inputCol="v", outputCol="pc"),
        ElementwiseProduct(scalingVec=Vectors.dense([2.0, 0.0, -1.5, 1.0]), inputCol="v", outputCol="ep"),
        VectorSlicer(inputCol="v", outputCol="sliced", indices=[3, 1, 2]),
        PolynomialExpansion(degree=2, inputCol="v", outputCol="poly2"),
        PolynomialExpansion(degree=3, inputCol="v", outputCol="poly3"),
    ]).fit(train)
    pca = model.stages[0]
    assert pca.pc.numRows == 4 and pca.pc.numCols == 3 and not pca.pc.isTransposed  # stored column-major
    # MLeap reads the input size of the slicer and the expansions off the first row (no size
    # metadata on this column), so the refused rows follow a good one.
    bad = vector_frame(spark, [Vectors.dense([1.0, 1.0, 1.0, 1.0]), Vectors.dense([1.0, 2.0]), sparse(5, {4: 1.0}),
                               None], column="v", first=20)
    report = parity_with_errors(model, vector_frame(spark, ROWS, column="v"), bad, tmp_path, refused=3)
    pipeline = report.pipelines["json"]
    out = pipeline.transform({"v": SparseVector(4, [1, 3], [4.0, 0.0])})
    assert isinstance(out["ep"], SparseVector) and out["ep"].indices == (1, 3)  # stays sparse, zeros kept
    assert out["sliced"] == SparseVector(3, [0, 1], [0.0, 4.0])
    assert isinstance(out["pc"], DenseVector)
    x, y, z, w = 2.0, 3.0, 5.0, 7.0
    poly = pipeline.transform({"v": [x, y, z, w]})["poly2"].tolist()
    assert poly == [x, x * x, y, x * y, y * y, z, x * z, y * z, z * z, w, x * w, y * w, z * w, w * w]


@pytest.mark.parity("pca", "linear_regression")
def test_pca_then_linear_regression(spark, tmp_path):
    train = spark.createDataFrame([(1.0, 2.0, 3.0, 1.0), (2.0, 0.0, 5.0, 2.5), (3.0, 1.0, 7.5, 4.0),
                                   (0.0, 0.0, 1.0, 0.5), (1.5, -2.0, 0.5, 1.0)], ["a", "b", "c", "y"])
    model = Pipeline(stages=[VectorAssembler(inputCols=["a", "b", "c"], outputCol="f"),
                             PCA(k=2, inputCol="f", outputCol="pc"),
                             LinearRegression(featuresCol="pc", labelCol="y")]).fit(train)
    rows = spark.createDataFrame([(0, 1.0, 2.0, 3.0), (1, 0.0, 0.0, 0.0), (2, -4.0, 2.5, 1e3)],
                                 "rid int, a double, b double, c double")
    report = assert_parity(model, rows, tmp_path)
    assert report.compared > 0
    assert_same_layout(report, rows)


def test_pca_batch_overflow_is_silent(tmp_path):
    """Overflow in the batch path's matrix product gives infinities quietly, as on the row path
    (numpy printed a RuntimeWarning on every Python)."""
    pca = node("p", "pca", {"principal_components": tensor([1.0, 3.0, 2.0, -4.0], [2, 2])},
               inputs=[("input", "v")], outputs=[("output", "o")])
    pipe = load_bundle(write_bundle(tmp_path / "pca", "json", [pca]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dense = pipe.transform_batch({"v": np.array([[1e308, 1e308], [1.0, 2.0]])})["o"]
        sparse = pipe.transform_batch({"v": [SparseVector(2, [0, 1], [1e308, 1e308]), SparseVector(2, [1], [2.0])]})["o"]
    assert dense[0, 0] == sparse[0, 0] == INF
    assert dense[1].tolist() == [7.0, -6.0] and sparse[1].tolist() == [6.0, -8.0]


def test_polynomial_expansion_ordering():
    # Spark documents (x, y) -> (x, x*x, y, x*y, y*y).
    assert [t[0] for t in sorted(poly_terms(2, 2))] == [0, 1, 2, 3, 4]
    assert [(slot, parent, f) for slot, parent, f in poly_terms(2, 2) if slot == 3] == [(3, 2, 0)]  # xy = y * x
    assert poly_size(3, 3) == 19 and poly_size(4, 2) == 14 and poly_size(1, 5) == 5
    assert len(poly_terms(5, 3)) == poly_size(5, 3)


def test_vector_slicer_indices_and_names(spark, tmp_path):
    train = spark.createDataFrame([(0, 1.0, 0.0, 3.0, 4.0)], "rid int, a double, b double, c double, d double")
    rows = spark.createDataFrame([(0, 1.0, 0.0, 3.0, 4.0), (1, 0.0, 0.0, 0.0, 5.0), (2, NAN, 2.0, 0.0, 0.0),
                                  (3, -1.0, -2.0, -3.0, -4.0), (4, 0.0, 0.0, 0.0, 0.0)],
                                 "rid int, a double, b double, c double, d double")
    model = Pipeline(stages=[VectorAssembler(inputCols=["a", "b", "c", "d"], outputCol="f"),
                             VectorSlicer(inputCol="f", outputCol="s", indices=[3, 0], names=["c"])]).fit(train)
    report = assert_parity(model, rows, tmp_path)
    assert report.compared > 0
    assert_same_layout(report, rows)
    out = report.pipelines["json"].transform({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0})["s"]
    assert out.tolist() == [4.0, 1.0, 3.0]  # indices first, then the named feature


def _nominal(column, name, values):
    return F.col(column).alias(name, metadata={"ml_attr": {"type": "nominal", "name": name, "vals": values}})


@pytest.mark.parity("interaction")
def test_interaction_nominal_and_numeric(spark, tmp_path):
    train = spark.createDataFrame(
        [(0, "a", "x", 1.0, 2.0), (1, "b", "y", 2.0, 0.0), (2, "c", "x", 0.5, 1.0), (3, "a", "z", 3.0, 3.0)],
        "rid int, s1 string, s2 string, n1 double, n2 double")
    model = Pipeline(stages=[
        StringIndexer(inputCol="s1", outputCol="i1"), StringIndexer(inputCol="s2", outputCol="i2"),
        OneHotEncoder(inputCols=["i2"], outputCols=["o2"]),
        VectorAssembler(inputCols=["n1", "n2"], outputCol="va"),
        VectorAssembler(inputCols=["i1", "n1"], outputCol="va2"),  # a nominal element inside a vector
        Interaction(inputCols=["i1", "n1", "o2", "va", "va2"], outputCol="inter")]).fit(train)
    rows = spark.createDataFrame(
        [(0, "a", "x", 1.0, 2.0), (1, "b", "y", 2.0, 0.0), (2, "c", "x", 0.5, 1.0), (3, "a", "z", 3.0, 3.0),
         (4, "b", "x", 0.0, 0.0), (5, "c", "y", NAN, 1.0), (6, "a", "y", -2.0, 1e10)],
        "rid int, s1 string, s2 string, n1 double, n2 double")
    report = assert_parity(model, rows, tmp_path)
    assert report.compared > 0
    assert_same_layout(report, rows)


@pytest.mark.parity("interaction")
def test_interaction_ordering_and_errors(spark, tmp_path):
    """c: nominal (3 values); x: numeric; v: a vector whose element 0 is nominal (3 values) and
    element 1 numeric. Only stored entries of a vector take part (Spark's foreachActive)."""
    schema = StructType([StructField("rid", IntegerType()), StructField("c", DoubleType()),
                         StructField("x", DoubleType()), StructField("v", VectorUDT())])
    raw = spark.createDataFrame([
        (0, 1.0, 2.0, Vectors.dense([1.0, 3.0])),
        (1, 2.0, -1.0, Vectors.sparse(2, [1], [5.0])),  # v0 not stored: no category, the output is empty
        (2, 0.0, 0.0, Vectors.dense([0.0, 0.0])),       # v0 stored as 0: category 0
        (3, 0.0, NAN, Vectors.dense([1.0, 2.0])),       # NaN numeric: NaN products, other entries stay 0
        (4, 2.0, 1.5, Vectors.sparse(2, [0, 1], [2.0, NAN])),
        (5, 1.0, 1.0, Vectors.sparse(2, [0], [0.0])),
        (10, 3.0, 1.0, Vectors.dense([1.0, 1.0])),      # category 3 of 3: Spark refuses
        (11, 1.5, 1.0, Vectors.dense([1.0, 1.0])),      # not an index: Spark refuses
        (12, NAN, 1.0, Vectors.dense([1.0, 1.0])),      # NaN category: Spark refuses
        (13, 1.0, None, Vectors.dense([1.0, 1.0])),     # null: Spark refuses
        (14, 1.0, 1.0, Vectors.dense([1.0, 1.0, 1.0])), # wrong vector size: Spark refuses
        (15, 1.0, 1.0, Vectors.dense([5.0, 1.0])),      # nominal vector element out of range
        (16, 1.0, 1.0, Vectors.sparse(2, [0], [-1.0])), # negative category in a sparse vector
    ], schema)
    mixed = {"ml_attr": {"attrs": {"nominal": [{"idx": 0, "name": "v0", "vals": ["u", "v", "w"]}],
                                   "numeric": [{"idx": 1, "name": "v1"}]}, "num_attrs": 2}}
    rows = raw.select("rid", _nominal("c", "c", ["p", "q", "r"]), "x", F.col("v").alias("v", metadata=mixed))
    model = Interaction(inputCols=["c", "x", "v"], outputCol="inter")
    report = parity_with_errors(model, rows.filter("rid < 10"), rows.filter("rid >= 10"), tmp_path)
    out = report.pipelines["json"].transform({"c": 1.0, "x": 2.0, "v": [1.0, 3.0]})["inter"]
    # blocks: c -> [0, 1, 0], x -> [2], v -> [0, 1, 0, 3]; the last input varies fastest:
    # index = c_i * 4 + v_i, value = 1 * 2 * v_value
    assert out == SparseVector(12, [5, 7], [2.0, 6.0])


def test_interaction_large_output_batch(spark, tmp_path):
    vals = [f"v{i}" for i in range(20)]
    raw = spark.createDataFrame([(i, float(i % 20), float((3 * i) % 20), 0.5 * i) for i in range(12)],
                                "rid int, a double, b double, x double")
    rows = raw.select("rid", _nominal("a", "a", vals), _nominal("b", "b", vals), "x")
    model = Interaction(inputCols=["a", "b", "x"], outputCol="inter")  # 400 outputs: sparse
    report = assert_parity(model, rows, tmp_path)
    result = report.pipelines["json"].transform({"a": 2.0, "b": 3.0, "x": 1.5})["inter"]
    assert isinstance(result, SparseVector) and result.size == 400 and result.indices == (43,)
    assert math.isclose(result.values[0], 1.5)


# --- dct -----------------------------------------------------------------------------------

@pytest.mark.parity("dct")
def test_dct_parity(spark, tmp_path):
    vectors = [Vectors.dense([1.0, 2.0, 3.0, 4.0, 5.0]), Vectors.dense([0.0, 0.0, 0.0, 0.0, 0.0]),
               Vectors.sparse(5, [1, 3], [-2.0, 7.5]), Vectors.sparse(5, [], []),
               Vectors.dense([1e3, -1e-3, 3.25, -7.0, 0.5]), Vectors.dense([1.0, NAN, 0.0, 0.0, 0.0]),
               Vectors.dense([-0.0, 1.0, -1.0, 1.0, -1.0])]
    model = Pipeline(stages=[DCT(inputCol="v", outputCol="forward"),
                             DCT(inputCol="forward", outputCol="back", inverse=True),
                             DCT(inputCol="v", outputCol="inverse", inverse=True)]) \
        .fit(vector_frame(spark, vectors, column="v"))
    report = assert_parity(model, vector_frame(spark, vectors, column="v"), tmp_path)
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
    report = assert_parity(model, vector_frame(spark, vectors, column="v"), tmp_path, formats=("json",))
    pipeline = report.pipelines["json"]
    with pytest.raises(ScoringError) as e:
        pipeline.transform({"v": [1.0, 2.0]})
    assert e.value.field == "v"
    with pytest.raises(ScoringError):
        pipeline.transform({"v": None})
    assert math.isclose(pipeline.transform({"v": [2.0]})["o"][0], 2.0)
