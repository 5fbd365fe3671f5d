"""Clustering ops (k_means, bisecting_k_means, gaussian_mixture, lda_local_model_op) against
Spark 3.5's own transform.

Fitted models are exported with MLeap (both formats) and compared row by row; models Spark cannot
fit on demand (a thousand centers, singular covariances, cosine k-means) are built through the JVM
from their parts. LDA bundles are written by hand here (the export, by leapserve's Spark op, is
tested in tests/bundler/test_spark_ops.py), with the seed and gamma shape that make Spark's topic
inference reproducible. Rows cover exact distance ties,
sparse and dense points, zero vectors, NaN and infinities, nulls and wrong sizes, empty documents
and words outside the vocabulary.
"""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml import Pipeline
from pyspark.ml.clustering import (LDA, BisectingKMeans, GaussianMixture, GaussianMixtureModel, KMeans,
                                   KMeansModel)
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.ml.linalg import Vectors

from leapserve.bundler.export import export_bundle
from tests.support.handmade import (check_against_spark, column_major, double, double_list, long, node,
                      string, tensor, write_bundle)
from tests.support.frames import vector_frame
from tests.support.parity import assert_parity
from leapserve.runtime import BundleError, InvalidInput, load_bundle
from leapserve.runtime.jvm import commons_math
from leapserve.runtime.ops import clustering
from leapserve.runtime.vectors import SparseBatch, SparseVector

NAN, INF = float("nan"), float("inf")


def dense_rows(dim: int, rnd: np.random.Generator, count: int):
    return [Vectors.dense(v) for v in rnd.normal(0.0, 3.0, (count, dim)).round(2).tolist()]


def odd_rows(dim: int):
    """Rows Spark treats specially (scored)."""
    return [Vectors.dense([0.0] * dim), Vectors.dense([INF] + [1.0] * (dim - 1)),
            Vectors.dense([-INF, INF] + [0.0] * (dim - 2)), Vectors.dense([-0.0] * dim), Vectors.dense([1e300] * dim)]


def bad_rows(dim: int):
    """Rows Spark refuses (a NaN norm, null, wrong size): Spark scores them one at a time, so few."""
    return [Vectors.dense([NAN] + [1.0] * (dim - 1)), None, Vectors.dense([1.0] * (dim + 1)),
            Vectors.sparse(dim, [0], [NAN]), Vectors.dense([1.0] * (dim - 1))]


def sparse_rows(dim: int, rnd: np.random.Generator, count: int):
    out = [Vectors.sparse(dim, [], []), Vectors.sparse(dim, [1], [INF]), Vectors.sparse(dim, [0, 1], [0.0, 0.0])]
    for _ in range(count):
        idx = sorted(rnd.choice(dim, size=int(rnd.integers(1, dim + 1)), replace=False).tolist())
        out.append(Vectors.sparse(dim, idx, rnd.normal(0.0, 3.0, len(idx)).round(2).tolist()))
    return out


def jvm_doubles(spark, values):
    gateway = spark.sparkContext._gateway
    arr = gateway.new_array(gateway.jvm.double, len(values))
    for i, v in enumerate(values):
        arr[i] = float(v)
    return arr


def jvm_dense(spark, values, mllib=False):
    pkg = spark._jvm.org.apache.spark.mllib.linalg if mllib else spark._jvm.org.apache.spark.ml.linalg
    return pkg.Vectors.dense(jvm_doubles(spark, values))


def jvm_array(spark, cls, items):
    arr = spark.sparkContext._gateway.new_array(cls, len(items))
    for i, item in enumerate(items):
        arr[i] = item
    return arr


def kmeans_model(spark, centers, measure="euclidean") -> KMeansModel:
    """A Spark KMeansModel with the given centers (and distance measure), built through the JVM."""
    jvm = spark._jvm
    vectors = jvm_array(spark, jvm.org.apache.spark.mllib.linalg.Vector,
                        [jvm_dense(spark, c, mllib=True) for c in centers])
    parent = jvm.org.apache.spark.mllib.clustering.KMeansModel(vectors, measure)
    return KMeansModel(jvm.org.apache.spark.ml.clustering.KMeansModel("kmeans_by_hand", parent))


# --- k-means -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def blobs(spark):
    rnd = np.random.default_rng(3)
    points = np.concatenate([rnd.normal(c, 0.7, (15, 3)) for c in ([0, 0, 0], [6, 0, 1], [0, 7, -2], [5, 5, 5])])
    return spark.createDataFrame([(Vectors.dense(p),) for p in points.round(3).tolist()], ["features"])


@pytest.mark.parity("k_means")
def test_k_means_fitted(spark, tmp_path, blobs):
    model = KMeans(k=4, seed=5, predictionCol="cluster").fit(blobs)
    rnd = np.random.default_rng(11)
    vectors = dense_rows(3, rnd, 30) + odd_rows(3) + [Vectors.dense(c) for c in model.clusterCenters()]
    vectors += sparse_rows(3, rnd, 20)  # a mixed column: the batch holds it as sparse rows
    report = assert_parity(model, vector_frame(spark, vectors), tmp_path / "good")
    assert report.compared == 2 * len(vectors) and report.errors == 0
    report = assert_parity(model, vector_frame(spark, bad_rows(3)), tmp_path / "bad", formats=("json",))
    assert report.errors == 5


def test_k_means_ties_and_pruning(spark, tmp_path):
    # Centers on a grid: midpoints are exact ties (lowest center wins), and Spark's statistics
    # (early return when a point is within half the distance to the nearest other center) apply.
    centers = [[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0], [1.0, 1.0], [-4.0, 0.5]]
    model = kmeans_model(spark, centers)
    points = [[1.0, 0.0], [0.0, 1.0], [1.0, 2.0], [2.0, 1.0], [0.5, 0.5], [1.5, 1.5], [-2.0, 0.25],
              [-1.0, 0.0], [3.0, 3.0], [0.0, 0.0], [1.0, 1.0], [0.5, 1.5], [-0.0, 0.0], [0.9999999999999999, 0.0],
              [1.0000000000000002, 0.0], [5e-324, 0.0]]
    rows = vector_frame(spark, [Vectors.dense(p) for p in points])
    assert_parity(model, rows, tmp_path / "dense")
    sparse = vector_frame(spark, [Vectors.sparse(2, {i: v for i, v in enumerate(p) if v}) for p in points])
    assert_parity(model, sparse, tmp_path / "sparse", formats=("protobuf",))


def test_k_means_without_statistics_and_one_center(spark, tmp_path):
    # k * k * numFeatures >= 1e6: Spark's findClosest without statistics, which never computes a
    # distance for a NaN point (its norm bound is NaN) and so answers 0 instead of failing.
    rnd = np.random.default_rng(7)
    dim = 700
    centers = rnd.normal(0.0, 1.0, (40, dim)).round(3).tolist()
    model = kmeans_model(spark, centers)
    vectors = [Vectors.dense(c) for c in rnd.normal(0.0, 1.0, (12, dim)).round(3).tolist()]
    vectors += [Vectors.dense([NAN] + [0.0] * (dim - 1)), Vectors.dense([0.0] * dim), Vectors.dense(centers[7])]
    vectors += [Vectors.sparse(dim, [3, 500], [1.5, -2.0]), Vectors.sparse(dim, [], [])]
    report = assert_parity(model, vector_frame(spark, vectors), tmp_path / "big", formats=("json",))
    assert report.errors == 0
    pipeline = report.pipelines["json"]
    assert pipeline.stages[0].model.statistics is None
    assert pipeline.transform({"features": [NAN] + [0.0] * (dim - 1)})["prediction"] == 0

    single = kmeans_model(spark, [[1.0, 2.0]])
    report = assert_parity(single, vector_frame(spark, [Vectors.dense([5.0, 5.0]), Vectors.dense([NAN, 0.0]),
                                                 Vectors.dense([0.0, 0.0])]), tmp_path / "single",
                           formats=("protobuf",))
    assert report.errors == 1  # with one center Spark still computes the distance: NaN fails


@pytest.mark.parity("k_means")
def test_k_means_cosine_measure_is_recorded(spark, tmp_path):
    centers = [[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]]
    model = kmeans_model(spark, centers, "cosine")
    vectors = [Vectors.dense(v) for v in ([2.0, 0.1, 0.0], [1.0, 1.0, 0.0], [0.1, 0.1, 3.0], [-1.0, 0.0, 0.0],
                                          [1.0, 2.0, 0.5], [0.0, 0.0, 0.0], [NAN, 1.0, 0.0], [5.0, 5.0, 5.0])]
    vectors += [Vectors.sparse(3, [1], [2.0]), Vectors.sparse(3, [], [])]
    rows = vector_frame(spark, vectors)
    pipelines = []
    for fmt in ("json", "protobuf"):
        path = tmp_path / f"cosine-{fmt}.zip"
        export_bundle(model, rows, path, format=fmt, force=True, verify=False)
        # MLeap does not record the measure; the export adds it (bundler/export.py FIXUPS)
        pipeline = load_bundle(path)
        assert pipeline.stages[0].model.distance_measure == "cosine"
        pipelines.append(pipeline)
    good = "rid not in (5, 6, 9)"
    compared, errors, _ = check_against_spark(pipelines, model, rows.filter(good), "cosine")
    assert errors == 0 and compared == 2 * 7
    # zero and NaN vectors: Spark asserts positive norms for cosine distances
    compared, errors, _ = check_against_spark(pipelines, model, rows.filter(f"not ({good})"), "cosine")
    assert errors == 2 * 3


def test_k_means_bad_attributes(tmp_path):
    def load(attrs):
        path = write_bundle(tmp_path / "b", "json", [node("km", "k_means", attrs, inputs=[("features", "f")],
                                                          outputs=[("prediction", "p")])])
        return load_bundle(path)

    centers = {"type": "list", "tensor": [{"double": [1.0, 2.0], "shape": {"dimensions": [{"size": 2}]}}]}
    with pytest.raises(BundleError, match="distance_measure"):
        load({"cluster_centers": centers, "distance_measure": string("manhattan")})
    with pytest.raises(BundleError, match="num_features"):
        load({"cluster_centers": centers, "num_features": long(3)})
    with pytest.raises(BundleError, match="empty"):
        load({"cluster_centers": {"type": "list"}})
    p = load({"cluster_centers": centers})
    assert p.transform({"f": [3.0, 3.0]})["p"] == 0
    with pytest.raises(InvalidInput):
        p.transform({"f": [3.0]})
    empty = p.transform_batch({"f": np.zeros((0, 2))})
    assert len(empty["p"]) == 0


def test_k_means_batch_matches_rows_on_mixed_sparse(spark):
    """Batch distances of sparse rows follow Spark's norm formula and its fallbacks."""
    rnd = np.random.default_rng(2)
    centers = rnd.normal(0, 1e4, (5, 6)).tolist() + [[1e-8] * 6, [1e8] * 6]
    model = clustering.KMeansModel(*_km_parts(centers))
    rows = [SparseVector(6, [0, 3], [1e8, -1e8 + 1]), SparseVector(6, [], []), SparseVector(6, [5], [1e-8])]
    rows += [SparseVector(6, [1, 2, 4], list(v)) for v in rnd.normal(0, 1e4, (40, 3))]
    batch = model.predict_batch(SparseBatch.from_rows(6, rows))
    assert batch.tolist() == [model.predict(r) for r in rows]
    dense = np.array([r.to_list() for r in rows])
    assert model.predict_batch(dense).tolist() == [model.predict(r.to_list()) for r in rows]


def _km_parts(centers):
    norms = [clustering.norm2(c) for c in centers]
    stats = clustering._center_statistics(centers, norms, "euclidean")
    return (tuple(centers), tuple(norms), len(centers[0]), "euclidean", tuple(tuple(r) for r in stats),
            np.array(centers), np.array(norms), np.array(stats))


# --- bisecting k-means -----------------------------------------------------------------------------

@pytest.mark.parity("bisecting_k_means")
def test_bisecting_k_means(spark, tmp_path, blobs):
    model = BisectingKMeans(k=5, seed=3, minDivisibleClusterSize=1.0).fit(blobs)
    rnd = np.random.default_rng(5)
    vectors = dense_rows(3, rnd, 30) + odd_rows(3) + sparse_rows(3, rnd, 25)
    report = assert_parity(model, vector_frame(spark, vectors), tmp_path / "good")
    assert report.errors == 0
    report = assert_parity(model, vector_frame(spark, bad_rows(3)), tmp_path / "bad", formats=("protobuf",))
    assert report.errors == 5


def test_bisecting_k_means_single_points_and_one_cluster(spark, tmp_path):
    points = spark.createDataFrame([(Vectors.dense(v),) for v in ([0.0, 0.0], [10.0, 0.0], [10.0, 1.0], [-5.0, 9.0])],
                                   ["features"])
    model = BisectingKMeans(k=4, seed=1, minDivisibleClusterSize=1.0).fit(points)  # single-point clusters
    rows = vector_frame(spark, [Vectors.dense(v) for v in ([0.0, 0.0], [10.0, 0.5], [5.0, 0.0], [-5.0, 9.0], [2.5, 4.5],
                                                  [7.5, 0.0], [100.0, -100.0])])
    assert_parity(model, rows, tmp_path / "four", formats=("json",))
    same = spark.createDataFrame([(Vectors.dense([1.0, 2.0]),)] * 4, ["features"])
    one = BisectingKMeans(k=2, seed=1).fit(same)  # nothing to divide: the root is the only cluster
    report = assert_parity(one, rows, tmp_path / "one", formats=("protobuf",))
    assert {r["prediction"] for r in report.spark.values()} == {0}


def test_bisecting_k_means_cosine_measure_is_recorded(spark, tmp_path, blobs):
    model = BisectingKMeans(k=4, seed=2, distanceMeasure="cosine").fit(blobs)
    rnd = np.random.default_rng(12)
    rows = vector_frame(spark, dense_rows(3, rnd, 20)
                        + [Vectors.sparse(3, [2], [1.0]), Vectors.dense([-1.0, -1.0, 0.0])])
    path = tmp_path / "cosine.zip"
    record = export_bundle(model, rows, path, format="protobuf", force=True, verify=False)
    assert any("distance_measure" in note for note in record.fixups)
    compared, errors, _ = check_against_spark(load_bundle(path), model, rows, "cosine")
    assert errors == 0 and compared == 22
    _, errors, _ = check_against_spark(load_bundle(path), model, vector_frame(spark, [Vectors.dense([0.0, 0.0, 0.0])]),
                                       "zero")
    assert errors == 1  # Spark asserts a positive norm


def test_bisecting_k_means_bad_tree(tmp_path):
    def load(records):
        bk = node("bk", "bisecting_k_means", {}, tree=records, inputs=[("features", "f")],
                  outputs=[("prediction", "p")])
        path = write_bundle(tmp_path / "b", "protobuf", [bk])
        return load_bundle(path)

    leaf = {"index": 0, "norm": 1.0, "values": [1.0, 0.0], "numChildren": 0}
    root = {"index": -1, "norm": 0.5, "values": [0.5, 0.0], "numChildren": 2}
    with pytest.raises(BundleError, match="ends before"):
        load([root, leaf])
    with pytest.raises(BundleError, match="cluster index"):
        load([root, leaf, {**leaf, "index": -3}])
    with pytest.raises(BundleError, match="after the root"):
        load([leaf, leaf])
    p = load([root, leaf, {**leaf, "index": 1, "values": [0.0, 0.0]}])
    assert p.transform({"f": [0.9, 0.0]})["p"] == 0 and p.transform({"f": [0.1, 0.0]})["p"] == 1
    assert p.transform_batch({"f": np.array([[0.9, 0.0], [0.1, 0.0]])})["p"].tolist() == [0, 1]
    assert len(p.transform_batch({"f": np.zeros((0, 2))})["p"]) == 0


# --- gaussian mixture -----------------------------------------------------------------------------

@pytest.mark.parity("gaussian_mixture")
def test_gaussian_mixture(spark, tmp_path, blobs):
    model = GaussianMixture(k=3, seed=2, tol=0.001).fit(blobs)
    rnd = np.random.default_rng(9)
    vectors = dense_rows(3, rnd, 30) + odd_rows(3) + sparse_rows(3, rnd, 12)
    report = assert_parity(model, vector_frame(spark, vectors), tmp_path / "good")
    assert report.compared == 2 * len(vectors) * 2
    report = assert_parity(model, vector_frame(spark, bad_rows(3)[1:3]), tmp_path / "bad", formats=("json",))
    assert report.errors == 2  # null, wrong size (NaN gives NaN probabilities)
    only = model.copy().setProbabilityCol("")
    assert_parity(only, vector_frame(spark, dense_rows(3, rnd, 10)), tmp_path / "prediction_only",
                  formats=("protobuf",))


def gmm_model(spark, weights, gaussians) -> GaussianMixtureModel:
    jvm = spark._jvm
    dists = [jvm.org.apache.spark.ml.stat.distribution.MultivariateGaussian(
        jvm_dense(spark, mean), jvm.org.apache.spark.ml.linalg.DenseMatrix(len(cov), len(cov),
                                                                            jvm_doubles(spark, column_major(cov))))
        for mean, cov in gaussians]
    array = jvm_array(spark, jvm.org.apache.spark.ml.stat.distribution.MultivariateGaussian, dists)
    return GaussianMixtureModel(jvm.org.apache.spark.ml.clustering.GaussianMixtureModel(
        "gmm_by_hand", jvm_doubles(spark, weights), array))


def test_gaussian_mixture_singular_covariances(spark, tmp_path):
    gaussians = [([0.0, 0.0, 0.0], [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]),  # rank 2
                 ([3.0, 3.0, 3.0], [[0.0] * 3] * 3),                                       # a single point
                 ([1.0, -1.0, 0.5], [[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]]),
                 ([0.0, 5.0, 0.0], [[1e-12, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]])]
    model = gmm_model(spark, [0.4, 0.1, 0.3, 0.2], gaussians)
    vectors = [Vectors.dense(v) for v in ([0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, -1.0, 0.0], [3.0, 3.0, 3.0],
                                          [3.0, 3.0, 3.1], [1.0, -1.0, 0.5], [0.0, 5.0, 0.0], [1e-7, 5.0, 0.0],
                                          [50.0, 50.0, 50.0], [1e200, 0.0, 0.0], [INF, 0.0, 0.0], [NAN, 0.0, 0.0])]
    report = assert_parity(model, vector_frame(spark, vectors), tmp_path)
    assert report.errors == 0 and report.compared == 2 * 2 * len(vectors)
    assert report.pipelines["json"].stages[0].model.root_inv[1].shape == (0, 3)  # no non-zero eigenvalue


def test_gaussian_mixture_bad_attributes(tmp_path):
    means = {"type": "list", "tensor": [{"double": [0.0, 0.0], "shape": {"dimensions": [{"size": 2}]}}]}
    covs = {"type": "list", "tensor": [{"double": [1.0, 0.0, 0.0, 1.0], "shape": {"dimensions": [{"size": 2}] * 2}}]}
    small = {"type": "list", "tensor": [{"double": [1.0], "shape": {"dimensions": [{"size": 1}, {"size": 1}]}}]}
    for attrs, message in (({"means": means, "covs": covs, "weights": double_list([0.5, 0.5])}, "same"),
                           ({"means": means, "covs": small, "weights": double_list([1.0])}, "dimensions")):
        path = write_bundle(tmp_path / "g", "json", [node("g", "gaussian_mixture", attrs, inputs=[("features", "f")],
                                                          outputs=[("prediction", "p")])])
        with pytest.raises(BundleError, match=message):
            load_bundle(path)
    attrs = {"means": means, "covs": covs, "weights": double_list([1.0])}
    path = write_bundle(tmp_path / "g", "protobuf", [node("g", "gaussian_mixture", attrs, inputs=[("features", "f")],
                                                          outputs=[("probability", "q"), ("prediction", "p")])])
    p = load_bundle(path)
    assert p.transform({"f": [0.0, 1.0]})["p"] == 0
    empty = p.transform_batch({"f": np.zeros((0, 2))})
    assert len(empty["p"]) == 0 and empty["q"].shape == (0, 1)


# --- LDA -----------------------------------------------------------------------------------------

VOCAB = 6


@pytest.fixture(scope="module")
def lda_model(spark):
    rnd = np.random.default_rng(4)
    docs = [Vectors.dense(rnd.poisson(lam, VOCAB).astype(float).tolist())
            for lam in ([3, 3, 0.2, 0.2, 1, 0], [0.1, 0.3, 4, 4, 1, 2], [1, 1, 1, 1, 1, 1]) for _ in range(8)]
    train = spark.createDataFrame([(d,) for d in docs], ["features"])
    return LDA(k=3, seed=13, maxIter=15, optimizer="online", topicDistributionCol="topics").fit(train)


def lda_attributes(model) -> dict:
    old = model._java_obj.oldLocalModel()
    topics = model.topicsMatrix().toArray()
    return {"vocabSize": {"int": model.vocabSize()},
            "docConcentration": double_list(model.estimatedDocConcentration().toArray()),
            "topicConcentration": double(old.topicConcentration()),
            "topicMatrix": tensor(column_major(topics), list(topics.shape)),
            "seed": long(old.seed()), "gammaShape": double(old.gammaShape())}


def lda_bundle(tmp_path, fmt, attrs):
    return load_bundle(write_bundle(tmp_path / f"lda-{fmt}", fmt, [node(
        "lda", "lda_local_model_op", attrs, inputs=[("features", "features")], outputs=[("prediction", "topics")])],
        zip_it=fmt == "protobuf"))


@pytest.mark.parity("lda_local_model_op")
def test_lda_topic_distribution(spark, tmp_path, lda_model):
    attrs = lda_attributes(lda_model)
    rnd = np.random.default_rng(8)
    dense = [Vectors.dense(rnd.poisson(2.0, VOCAB).astype(float).tolist()) for _ in range(20)]
    dense += [Vectors.dense([0.0] * VOCAB), Vectors.dense([0.0, 0.0, 7.0, 0.0, 0.0, 0.0]),
              Vectors.dense([1e3, 0.5, 0.0, 0.0, 2.0, 1e-3]), Vectors.dense([NAN, 1.0, 0, 0, 0, 0]),
              Vectors.dense([-1.0, 2.0, 0, 0, 0, 0])]
    sparse = [Vectors.sparse(VOCAB, [1, 4], [3.0, 1.0]), Vectors.sparse(VOCAB, [], []),
              Vectors.sparse(VOCAB, [2], [0.0]), Vectors.sparse(VOCAB, [0, 5], [1.0, 40.0])]
    pipelines = [lda_bundle(tmp_path, fmt, attrs) for fmt in ("json", "protobuf")]
    compared, errors, _ = check_against_spark(pipelines, lda_model, vector_frame(spark, dense), "dense")
    assert compared == 2 * len(dense) and errors == 0
    compared, errors, _ = check_against_spark(pipelines, lda_model, vector_frame(spark, sparse), "sparse")
    assert compared == 2 * len(sparse) and errors == 0
    compared, errors, _ = check_against_spark(pipelines, lda_model, vector_frame(spark, [None]), "null")
    assert errors == 2


def test_lda_document_sizes(spark, tmp_path, lda_model):
    # Spark reads every position of a dense vector (an error past the vocabulary unless the
    # document is empty) and only the stored indices of a sparse one; shorter vectors are fine.
    pipeline = lda_bundle(tmp_path, "json", lda_attributes(lda_model))
    cases = [Vectors.dense([1.0, 2.0]), Vectors.dense([1.0] * (VOCAB + 1)), Vectors.dense([0.0] * (VOCAB + 3)),
             Vectors.sparse(VOCAB + 4, [1, 3], [1.0, 2.0]), Vectors.sparse(VOCAB + 4, [2, VOCAB + 1], [1.0, 1.0]),
             Vectors.sparse(VOCAB + 4, [VOCAB + 2], [0.0]), Vectors.dense([])]
    scored = vector_frame(spark, [cases[i] for i in (0, 2, 3, 5, 6)])
    expected = {r["rid"]: r["topics"] for r in lda_model.transform(scored).collect()}
    for rid, i in enumerate((0, 2, 3, 5, 6)):
        got = pipeline.transform({"features": cases[i].toArray() if i in (0, 2, 6) else
                                  SparseVector(cases[i].size, cases[i].indices.tolist(), cases[i].values.tolist())})
        assert np.allclose(got["topics"], expected[rid].toArray(), rtol=1e-9, atol=1e-12), i
    for i in (1, 4):  # past the vocabulary: Spark fails
        with pytest.raises(Exception):
            lda_model.transform(vector_frame(spark, [cases[i]])).collect()
        v = cases[i]
        with pytest.raises(InvalidInput):
            pipeline.transform({"features": v.toArray() if i == 1 else SparseVector(v.size, v.indices.tolist(),
                                                                                    v.values.tolist())})


def test_lda_is_deterministic_given_the_seed(spark, lda_model):
    # Spark's transform draws the same initial gamma for every document (a fresh MersenneTwister
    # seeded with the model's seed each time): the result depends on the seed only.
    rows = vector_frame(spark, [Vectors.dense([1.0, 0.0, 3.0, 0.0, 2.0, 1.0])] * 2)
    first, second = [r["topics"].toArray() for r in lda_model.transform(rows).collect()]
    assert first.tolist() == second.tolist()
    again = lda_model.transform(rows).collect()[0]["topics"].toArray()
    assert again.tolist() == first.tolist()


def test_lda_random_streams_match_the_jvm(spark):
    jvm = spark._jvm
    for seed in (123456789012345, -(2 ** 40) + 7, 1 << 62):
        java = jvm.org.apache.commons.math3.random.MersenneTwister(seed)
        ours = commons_math.MersenneTwister(seed)
        assert [java.nextDouble() for _ in range(700)] == [ours.next_double() for _ in range(700)]
        for shape in (100.0, 1.0, 0.4, 2.5):
            rand = jvm.breeze.stats.distributions.RandBasis(jvm.org.apache.commons.math3.random.MersenneTwister(seed))
            gamma = jvm.breeze.stats.distributions.Gamma(shape, 1.0 / shape, rand)
            java = [gamma.draw() for _ in range(9)]
            ours = commons_math.gamma_samples(shape, 1.0 / shape, 9, commons_math.MersenneTwister(seed))
            assert max(abs(a - b) / abs(a) for a, b in zip(java, ours)) < 1e-14
    digamma = jvm.org.apache.commons.math3.special.Gamma.digamma
    xs = [1e-6, 1e-5, 2e-5, 0.3, 1.0, 2.5, 48.9, 49.0, 1e5, -0.5, -3.7, 1e-300, 0.0]
    assert [commons_math.digamma(x) for x in xs] == [digamma(x) for x in xs]
    assert commons_math.digamma_array(np.array(xs)).tolist() == [digamma(x) for x in xs]


def test_lda_bad_attributes(tmp_path, lda_model):
    attrs = lda_attributes(lda_model)
    with pytest.raises(BundleError, match="topicMatrix"):
        lda_bundle(tmp_path, "json", {**attrs, "vocabSize": {"int": VOCAB + 1}})
    with pytest.raises(BundleError, match="gammaShape"):
        lda_bundle(tmp_path, "json", {**attrs, "gammaShape": double(0.0)})
    p = lda_bundle(tmp_path, "json", attrs)
    assert p.transform_batch({"features": np.zeros((0, VOCAB))})["topics"].shape == (0, 3)
    assert p.transform_batch({"features": []})["topics"].shape == (0, 3)


# --- composite pipelines ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def columns_data(spark):
    rnd = np.random.default_rng(21)
    centers = [(0.0, 10.0, -5.0), (3.0, 30.0, 0.0), (-2.0, 20.0, 5.0)]
    rows = [tuple(float(round(v, 2)) for v in rnd.normal(c, (0.5, 2.0, 1.0))) for c in centers for _ in range(12)]
    return spark.createDataFrame(rows, "a double, b double, c double")


@pytest.mark.parity("vector_assembler", "standard_scaler", "k_means")
def test_pipeline_scaler_k_means(spark, tmp_path, columns_data):
    model = Pipeline(stages=[VectorAssembler(inputCols=["a", "b", "c"], outputCol="raw"),
                             StandardScaler(inputCol="raw", outputCol="features", withMean=True),
                             KMeans(k=3, seed=4, predictionCol="cluster")]).fit(columns_data)
    rows = spark.createDataFrame(
        [(0, 0.0, 10.0, -5.0), (1, 3.0, 30.0, 0.0), (2, 0.5, 20.0, 0.0), (3, 0.0, 0.0, 0.0), (4, None, 1.0, 1.0),
         (5, NAN, 1.0, 1.0), (6, 1e6, -1e6, 0.0), (7, -2.0, 20.0, 5.0), (8, 1.5, 20.0, 2.5)],
        "rid int, a double, b double, c double")
    report = assert_parity(model, rows.filter("rid not in (4, 5)"), tmp_path / "good")
    assert report.errors == 0 and report.compared == 2 * 7 * 3
    report = assert_parity(model, rows.filter("rid in (4, 5)"), tmp_path / "bad", formats=("json",))
    assert report.errors == 2  # the assembler refuses null and NaN


@pytest.mark.parity("vector_assembler", "standard_scaler", "gaussian_mixture")
def test_pipeline_scaler_gaussian_mixture(spark, tmp_path, columns_data):
    model = Pipeline(stages=[VectorAssembler(inputCols=["a", "b", "c"], outputCol="raw"),
                             StandardScaler(inputCol="raw", outputCol="features"),
                             GaussianMixture(k=3, seed=8, probabilityCol="p", predictionCol="g")]).fit(columns_data)
    rows = spark.createDataFrame(
        [(i, float(a), float(b), float(c)) for i, (a, b, c) in enumerate(
            [(0, 10, -5), (3, 30, 0), (-2, 20, 5), (0.5, 15, 0), (100, 100, 100), (0, 0, 0)])],
        "rid int, a double, b double, c double")
    report = assert_parity(model, rows, tmp_path)
    assert report.errors == 0 and report.compared == 2 * 6 * 4  # raw, features, p, g
