"""Parity: logistic_regression, linear_svc and naive_bayes against Spark's own transform.

Each output-column combination takes its own code path (ProbabilisticClassificationModel.transform:
raw + probability, raw only, probability only, prediction only). To keep the test fast, one
pipeline holds the same model several times (distinct uids, so distinct bundle nodes), one stage
per combination of output columns and thresholds, and is exported once per format.

Models are fitted by Spark, or built with Spark's own constructors when a test needs exact
coefficients (ties, infinities). Gaussian naive Bayes is also scored from a bundle written here by
hand from a fitted Spark model's pi / theta / sigma (its export, by leapserve's Spark op, is tested
in tests/bundler/test_spark_ops.py).
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LinearSVC, LogisticRegression, NaiveBayes
from pyspark.ml.common import _py2java
from pyspark.ml.linalg import Matrices, Vectors
from pyspark.ml.wrapper import JavaParams

from leapserve.bundler.compare import compare, record_from_row, spark_discrete_columns, spark_value
from tests.support.compared import compared
from tests.support.frames import vector_frame
from tests.support.parity import assert_parity, spark_like
from leapserve.runtime import BundleError, ScoringError, load_bundle
from leapserve.runtime.registry import lookup

COMBOS = (("raw", "prob"), ("raw", ""), ("", "prob"), ("", ""))  # rawPredictionCol, probabilityCol
# Enough to reach every Spark function (raw2probability and raw2prediction, probability2prediction,
# predict); "raw only" reaches the same functions as "raw + probability".
PATHS = (("raw", "prob"), ("", "prob"), ("", ""))


# --- helpers ---------------------------------------------------------------------------------

def spark_model(spark, java_class: str, *args):
    """A Spark model built with its Scala constructor (vectors and matrices converted)."""
    sc = spark.sparkContext
    cls = spark._jvm
    for part in java_class.split("."):
        cls = getattr(cls, part)
    jargs = [a if isinstance(a, (str, int, float, bool)) else _py2java(sc, a) for a in args]
    return JavaParams._from_java(cls(*jargs))


def stage_variants(make, name: str, thresholds=(None,), combos=PATHS, probability=True):
    """One stage per (thresholds, output columns) from ``make(uid)``, with distinct columns."""
    stages = []
    for ti, t in enumerate(thresholds):
        for raw, prob in combos:
            tag = f"{name}_t{ti}_{raw or 'noraw'}_{prob or 'noprob'}"
            m = make(tag)
            if t is not None:
                if isinstance(t, (list, tuple)):
                    m.setThresholds(list(t))
                else:
                    m.setThreshold(t)
            m.setRawPredictionCol(f"{tag}_raw" if raw else "")
            if probability:
                m.setProbabilityCol(f"{tag}_prob" if prob else "")
            m.setPredictionCol(f"{tag}_pred")
            stages.append(m)
    return stages


def without_prediction(make, name: str):
    """Stages with predictionCol="": raw and probability, probability only, raw only."""
    stages = []
    for raw, prob in (("raw", "prob"), ("", "prob"), ("raw", "")):
        tag = f"{name}_{raw or 'noraw'}_{prob or 'noprob'}"
        m = make(tag)
        m.setRawPredictionCol(f"{tag}_raw" if raw else "").setProbabilityCol(f"{tag}_prob" if prob else "")
        stages.append(m.setPredictionCol(""))
    return stages


def lr_binary(spark, uid, coefficients, intercept):
    return spark_model(spark, "org.apache.spark.ml.classification.LogisticRegressionModel", uid,
                       Vectors.dense(coefficients), float(intercept))


def lr_multinomial(spark, uid, rows, intercepts):
    k, d = len(rows), len(rows[0])
    matrix = Matrices.dense(k, d, [rows[r][c] for c in range(d) for r in range(k)])
    return spark_model(spark, "org.apache.spark.ml.classification.LogisticRegressionModel", uid, matrix,
                       Vectors.dense(intercepts), k, True)


def check_errors(model, df, tmp_path, expect_errors: int):
    report = assert_parity(model, df, tmp_path)
    assert report.errors == expect_errors * 2, report.errors  # both formats
    return report


# --- logistic regression ---------------------------------------------------------------------

TIE_MARGIN = math.log(0.3 / 0.7)  # the raw threshold of threshold 0.3

BINARY_ROWS = [
    Vectors.dense([0.5, 1.0]),
    Vectors.dense([0.0, 0.0]),
    Vectors.sparse(2, [0], [2.0]),
    Vectors.sparse(2, [], []),
    Vectors.dense([3.0, 3.0]),  # margin exactly 0 for the [1, -1] model: p = [0.5, 0.5]
    Vectors.dense([TIE_MARGIN, 0.0]),  # margin exactly log(0.3/0.7) for the [1, 0] model
    Vectors.dense([800.0, 0.0]),  # exp overflows
    Vectors.dense([-800.0, 0.0]),
    Vectors.dense([40.0, 0.0]),  # p1 rounds to 1
    Vectors.dense([1e6, -1e6]),
    Vectors.dense([float("inf"), 0.0]),
    Vectors.dense([float("-inf"), 0.0]),
    Vectors.dense([float("inf"), float("inf")]),  # inf - inf
    Vectors.dense([float("nan"), 1.0]),
    Vectors.sparse(2, [1], [-7.5]),
]


@pytest.fixture(scope="module")
def binary_training(spark):
    rows = [(Vectors.dense([x, y]), float(x + 0.5 * y > 1.2)) for x, y in
            [(0.0, 0.0), (1.0, 0.5), (2.0, 1.0), (0.3, 2.0), (1.5, -1.0), (0.2, 0.1), (2.5, 0.0), (0.8, 0.9)]]
    return spark.createDataFrame(rows, ["features", "label"])


@pytest.mark.parity("logistic_regression")
def test_binary_logistic_regression(spark, tmp_path, binary_training):
    fitted = LogisticRegression(maxIter=30, regParam=0.01).fit(binary_training)
    coefficients, intercept = fitted.coefficients.toArray().tolist(), fitted.intercept
    stages = []
    stages += stage_variants(lambda uid: lr_binary(spark, uid, coefficients, intercept), "fit", (None,), COMBOS)
    stages += stage_variants(lambda uid: lr_binary(spark, uid, coefficients, intercept), "fit3", (0.3,))
    stages += stage_variants(lambda uid: lr_binary(spark, uid, [1.0, -1.0], 0.0), "tie", (None,))
    stages += stage_variants(lambda uid: lr_binary(spark, uid, [1.0, 0.0], 0.0), "edge", (0.3, 0.0, 1.0))
    stages += without_prediction(lambda uid: lr_binary(spark, uid, coefficients, intercept), "nopred")
    report = assert_parity(PipelineModel(stages), vector_frame(spark, BINARY_ROWS), tmp_path)
    assert report.compared > 0 and report.errors == 0
    # the prediction paths of Spark really disagree on some rows: check that we saw it
    spark_rows = report.spark
    disagree = [r for r, out in spark_rows.items() if out["edge_t1_raw_prob_pred"] != out["edge_t1_noraw_prob_pred"]]
    assert disagree, "expected the raw and probability paths to differ at threshold 0 for a huge negative margin"


def test_binary_logistic_regression_fitted_pipeline_and_bad_rows(spark, tmp_path, binary_training):
    """A plain fitted model exported as Spark wrote it; null and wrong-size vectors are refused."""
    model = LogisticRegression(maxIter=30, threshold=0.4).fit(binary_training)
    rows = vector_frame(spark, [Vectors.dense([1.0, 2.0]), None, Vectors.dense([1.0, 2.0, 3.0]),
                                Vectors.sparse(2, [0, 1], [0.5, -0.5])])
    check_errors(model, rows, tmp_path, expect_errors=2)


def test_constant_label_logistic_regression(spark, tmp_path):
    """Spark's constant-label models hold infinite intercepts; JSON bundles write them as null."""
    rows = vector_frame(spark, [Vectors.dense([1.0, 2.0]), Vectors.dense([0.0, 0.0]), Vectors.sparse(2, [1], [3.0])])
    stages = []
    for i, label in enumerate((0.0, 1.0)):  # one class (-Inf intercept), two classes (+Inf)
        train = spark.createDataFrame([(Vectors.dense([float(j), 1.0]), label) for j in range(4)], ["features", "label"])
        m = LogisticRegression(rawPredictionCol=f"raw{i}", probabilityCol=f"prob{i}", predictionCol=f"pred{i}").fit(train)
        stages.append(m)
    train = spark.createDataFrame([(Vectors.dense([float(j), 1.0]), 2.0) for j in range(4)], ["features", "label"])
    multi = LogisticRegression(family="multinomial", rawPredictionCol="raw2", probabilityCol="prob2",
                               predictionCol="pred2").fit(train)  # 3 classes, +Inf intercept for class 2
    stages.append(multi)
    report = assert_parity(PipelineModel(stages), rows, tmp_path)
    assert report.errors == 0
    assert report.spark[0]["raw0"] == [math.inf, -math.inf] and report.spark[0]["raw1"] == [-math.inf, math.inf]


@pytest.fixture(scope="module")
def multiclass_training(spark):
    rows = [(Vectors.dense([x, y]), label) for x, y, label in
            [(0.0, 0.0, 0.0), (0.2, 0.1, 0.0), (1.0, 0.0, 1.0), (1.2, 0.3, 1.0), (0.0, 1.0, 2.0), (0.1, 1.3, 2.0),
             (0.6, 0.6, 1.0), (0.3, 0.8, 2.0), (0.5, 0.1, 0.0)]]
    return spark.createDataFrame(rows, ["features", "label"])


MULTI_ROWS = [
    Vectors.dense([0.5, 0.5]),
    Vectors.dense([0.0, 0.0]),  # tie model: all margins 0
    Vectors.dense([1.0, 1.0]),  # tie model: margins [1, 1, 0]
    Vectors.sparse(2, [1], [2.0]),
    Vectors.sparse(2, [], []),
    Vectors.dense([-1000.0, 0.0]),  # tie model: p0 underflows to 0 (0 / threshold 0 is NaN)
    Vectors.dense([1000.0, -3.0]),
    Vectors.dense([1e6, -1e6]),
    Vectors.dense([float("inf"), 1.0]),  # +Inf margins: one-hot, others scaled by 0
    Vectors.dense([float("-inf"), 1.0]),
    Vectors.dense([float("nan"), 0.0]),
]


@pytest.mark.parity("logistic_regression")
def test_multinomial_logistic_regression(spark, tmp_path, multiclass_training):
    fitted = LogisticRegression(maxIter=30, regParam=0.01).fit(multiclass_training)
    assert fitted.numClasses == 3
    matrix = fitted.coefficientMatrix.toArray().tolist()
    intercepts = fitted.interceptVector.toArray().tolist()
    stages = []
    stages += stage_variants(lambda uid: lr_multinomial(spark, uid, matrix, intercepts), "fit", (None,), COMBOS)
    stages += stage_variants(lambda uid: lr_multinomial(spark, uid, matrix, intercepts), "fit3", ((0.5, 0.3, 0.2),))
    tie = [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    stages += stage_variants(lambda uid: lr_multinomial(spark, uid, tie, [0.0, 0.0, 0.0]), "tie",
                             (None, (0.0, 0.5, 0.5), (0.4, 0.4, 0.2)))
    dense = [[1.0, 0.5], [-1.0, 0.25], [0.5, -2.0]]
    stages += stage_variants(lambda uid: lr_multinomial(spark, uid, dense, [0.1, -0.2, 0.0]), "inf", (None,))
    stages += without_prediction(lambda uid: lr_multinomial(spark, uid, matrix, intercepts), "nopred")
    # and the fitted model itself (Spark may hold its coefficients row-major or sparse)
    stages.append(fitted.setRawPredictionCol("fr").setProbabilityCol("fp").setPredictionCol("fpred"))
    report = assert_parity(PipelineModel(stages), vector_frame(spark, MULTI_ROWS), tmp_path)
    assert report.errors == 0
    # row 5 with threshold 0 on class 0: p0 == 0, so 0/0 is NaN and class 0 is not chosen
    assert report.spark[5]["tie_t1_noraw_prob_pred"] == 1.0
    assert report.spark[5]["tie_t1_raw_prob_pred"] == 1.0


def test_two_class_multinomial_bundle_by_hand(spark, tmp_path, binary_training):
    """A 2-class multinomial model (MLeap 0.16 cannot write it: it takes the binary branch and
    Spark refuses `coefficients`) is read from coefficient_matrix when a bundle has one."""
    fitted = LogisticRegression(family="multinomial", maxIter=30, regParam=0.01).fit(binary_training)
    matrix = fitted.coefficientMatrix.toArray()
    attrs = {"num_classes": ("long", 2), "coefficient_matrix": ("matrix", matrix),
             "intercept_vector": ("vector", fitted.interceptVector.toArray().tolist())}
    rows = vector_frame(spark, BINARY_ROWS)
    compare_hand_bundle(spark, tmp_path, fitted, "logistic_regression", attrs, rows, COMBOS)


def test_logistic_regression_bad_attributes(tmp_path):
    base = {"num_classes": ("long", 2), "coefficients": ("vector", [1.0, 2.0]), "intercept": ("double", 0.5)}
    for bad in ({"threshold": ("double", 1.5)},):
        path = tmp_path / "bad"
        write_bundle(path, "json", [("lr", "logistic_regression", {**base, **bad}, ports(("raw", "prob")))])
        with pytest.raises(BundleError, match="threshold"):
            load_bundle(path)
    multi = {"num_classes": ("long", 3), "coefficient_matrix": ("matrix", np.ones((3, 2))),
             "intercept_vector": ("vector", [0.0, 0.0, 0.0]), "thresholds": ("double_list", [0.0, 0.0, 1.0])}
    path = tmp_path / "bad2"
    write_bundle(path, "json", [("lr", "logistic_regression", multi, ports(("raw", "prob")))])
    with pytest.raises(BundleError, match="thresholds"):
        load_bundle(path)


# --- linear SVC ------------------------------------------------------------------------------

def svc_model(spark, uid, coefficients, intercept):
    return spark_model(spark, "org.apache.spark.ml.classification.LinearSVCModel", uid,
                       Vectors.dense(coefficients), float(intercept))


@pytest.mark.parity("linear_svc")
def test_linear_svc(spark, tmp_path, binary_training):
    fitted = LinearSVC(maxIter=20, regParam=0.01).fit(binary_training)
    coefficients, intercept = fitted.coefficients.toArray().tolist(), fitted.intercept
    combos = (("raw", ""), ("", ""))
    stages = []
    stages += stage_variants(lambda uid: svc_model(spark, uid, coefficients, intercept), "fit",
                             (None, 0.5), combos, probability=False)
    stages += stage_variants(lambda uid: svc_model(spark, uid, [1.0, -1.0], 0.0), "tie",
                             (None, 0.25), combos, probability=False)
    rows = BINARY_ROWS + [Vectors.dense([3.25, 3.0])]  # margin exactly 0.25 for the tie model
    report = assert_parity(PipelineModel(stages), vector_frame(spark, rows), tmp_path)
    assert report.errors == 0
    last = len(rows) - 1
    assert report.spark[last]["tie_t1_noraw_noprob_pred"] == 0.0  # strict >
    bad = vector_frame(spark, [Vectors.dense([1.0, 2.0]), None])
    check_errors(fitted, bad, tmp_path / "bad", expect_errors=1)


# --- naive Bayes -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nb_training(spark):
    rows = [(Vectors.dense(v), label) for v, label in
            [([1.0, 0.0, 1.0], 0.0), ([1.0, 1.0, 0.0], 0.0), ([0.0, 1.0, 1.0], 1.0), ([0.0, 1.0, 0.0], 1.0),
             ([1.0, 0.0, 0.0], 2.0), ([0.0, 0.0, 1.0], 2.0), ([1.0, 1.0, 1.0], 0.0), ([0.0, 0.0, 0.0], 2.0)]]
    return spark.createDataFrame(rows, ["features", "label"])


def nb_model(spark, uid, fitted, model_type=None):
    m = spark_model(spark, "org.apache.spark.ml.classification.NaiveBayesModel", uid, fitted.pi, fitted.theta,
                    fitted.sigma)
    m._set(modelType=model_type or fitted.getModelType())
    return m


ZERO_ONE_ROWS = [
    Vectors.dense([1.0, 0.0, 1.0]), Vectors.dense([0.0, 0.0, 0.0]), Vectors.dense([1.0, 1.0, 1.0]),
    Vectors.sparse(3, [1], [1.0]), Vectors.sparse(3, [], []), Vectors.dense([0.0, -0.0, 1.0]),
]


NB_GROUPS = [("multinomial", "complement"), ("bernoulli",)]  # model types that accept the same rows


@pytest.mark.parity("naive_bayes")
@pytest.mark.parametrize("model_types", NB_GROUPS, ids="+".join)
def test_naive_bayes(spark, tmp_path, nb_training, model_types):
    stages = []
    for model_type in model_types:
        fitted = NaiveBayes(modelType=model_type, smoothing=1.0).fit(nb_training)
        stages += stage_variants(lambda uid: nb_model(spark, uid, fitted), f"{model_type}", (None,), COMBOS)
        stages += stage_variants(lambda uid: nb_model(spark, uid, fitted), f"{model_type}_t",
                                 ((0.2, 0.5, 0.3), (0.0, 0.6, 0.4)))
    rows = list(ZERO_ONE_ROWS)
    if "bernoulli" not in model_types:  # any non-negative counts
        rows += [Vectors.dense([3.0, 0.5, 10.0]), Vectors.sparse(3, [0, 2], [2.0, 7.0]), Vectors.dense([1e3, 0.0, 0.0]),
                 Vectors.dense([1e308, 1e308, 0.0]), Vectors.dense([float("inf"), 1.0, 0.0])]
    report = assert_parity(PipelineModel(stages), vector_frame(spark, rows), tmp_path)
    assert report.errors == 0


@pytest.mark.parametrize("model_types", NB_GROUPS, ids="+".join)
def test_naive_bayes_refuses_what_spark_refuses(spark, tmp_path, nb_training, model_types):
    stages = [NaiveBayes(modelType=t, predictionCol=f"{t}_pred", rawPredictionCol=f"{t}_raw",
                         probabilityCol=f"{t}_prob").fit(nb_training) for t in model_types]
    rows = [Vectors.dense([1.0, 0.0, 1.0]), Vectors.dense([1.0, -1.0, 0.0]), Vectors.sparse(3, [2], [-0.5]),
            Vectors.dense([float("nan"), 0.0, 0.0]), None, Vectors.dense([2.0, 0.0, 1.0]),
            Vectors.dense([0.5, 1.0, 0.0]), Vectors.sparse(3, [0], [3.0])]
    report = assert_parity(PipelineModel(stages), vector_frame(spark, rows), tmp_path)
    bernoulli = model_types == ("bernoulli",)
    assert report.errors == (7 if bernoulli else 4) * 2
    # the message names the field and what naive Bayes needs
    pipeline = report.pipelines["json"]
    with pytest.raises(ScoringError, match="features") as info:
        pipeline.transform({"features": [1.0, -1.0, 0.0]})
    assert ("0 or 1" if bernoulli else "non-negative") in str(info.value)
    with pytest.raises(ScoringError, match="non-negative|0 or 1") as info:
        pipeline.transform_batch({"features": np.array([[1.0, 0.0, 1.0], [1.0, -2.0, 0.0]])})
    assert info.value.row == 1


def test_naive_bayes_zero_smoothing(spark, tmp_path, nb_training):
    """Smoothing 0 gives -Inf log-probabilities, which JSON bundles write as null. With a dense
    vector, -Inf * 0 makes the raw prediction NaN; a sparse vector skips its zeros. A batch column
    mixing dense and sparse rows is held sparse (SparseBatch), so dense and sparse rows are scored
    in separate batches here."""
    fitted = NaiveBayes(modelType="multinomial", smoothing=0.0).fit(nb_training)
    assert np.isneginf(fitted.theta.toArray()).any()
    dense = [v for v in ZERO_ONE_ROWS if not hasattr(v, "indices")] + [Vectors.dense([2.0, 0.0, 0.0])]
    sparse = [v for v in ZERO_ONE_ROWS if hasattr(v, "indices")] + [Vectors.sparse(3, [0], [2.0])]
    saw_nan = {}
    for name, rows in (("dense", dense), ("sparse", sparse)):
        report = assert_parity(fitted, vector_frame(spark, rows), tmp_path / name)
        assert report.errors == 0
        saw_nan[name] = any(math.isnan(x) for out in report.spark.values() for x in out["rawPrediction"])
    assert saw_nan == {"dense": True, "sparse": False}


def test_bernoulli_naive_bayes_zero_smoothing(spark, tmp_path, nb_training):
    """Smoothing 0 with a feature that is 1 in every row of a class: theta is log 1 = 0, and
    Spark's log(1 - e^theta) is Math.log1p(-1) = -Infinity (Python's log1p raises). The raw
    predictions hold NaN and -Infinity, as Spark's; dense and sparse rows are scored apart (see
    test_naive_bayes_zero_smoothing)."""
    fitted = NaiveBayes(modelType="bernoulli", smoothing=0.0).fit(nb_training)
    assert (fitted.theta.toArray() == 0.0).any()
    dense = [v for v in ZERO_ONE_ROWS if not hasattr(v, "indices")] + [Vectors.dense([0.0, 1.0, 0.0])]
    sparse = [v for v in ZERO_ONE_ROWS if hasattr(v, "indices")] + [Vectors.sparse(3, [0], [1.0])]
    for name, rows in (("dense", dense), ("sparse", sparse)):
        report = assert_parity(fitted, vector_frame(spark, rows), tmp_path / name)
        assert report.errors == 0 and report.compared > 0


# --- gaussian naive Bayes: a bundle written by hand ------------------------------------------

@pytest.mark.parity("naive_bayes")
def test_gaussian_naive_bayes_bundle_by_hand(spark, tmp_path):
    train = spark.createDataFrame(
        [(Vectors.dense([x, y]), label) for x, y, label in
         [(1.0, 2.0, 0.0), (1.5, 1.8, 0.0), (0.8, 2.4, 0.0), (5.0, -1.0, 1.0), (5.5, -0.5, 1.0), (4.6, -1.4, 1.0),
          (3.0, 3.0, 2.0), (2.5, 3.5, 2.0), (3.2, 2.9, 2.0)]], ["features", "label"])
    fitted = NaiveBayes(modelType="gaussian").fit(train)
    attrs = {"num_classes": ("long", 3), "num_features": ("long", 2), "model_type": ("string", "gaussian"),
             "pi": ("vector", fitted.pi.toArray().tolist()), "theta": ("matrix", fitted.theta.toArray()),
             "sigma": ("matrix", fitted.sigma.toArray())}
    rows = vector_frame(spark, [Vectors.dense([1.0, 2.0]), Vectors.dense([5.0, -1.0]), Vectors.dense([3.0, 3.0]),
                               Vectors.dense([-4.0, 2.0]), Vectors.sparse(2, [1], [3.0]), Vectors.sparse(2, [], []),
                               Vectors.dense([1e200, 0.0]), Vectors.dense([float("nan"), 1.0]),
                               Vectors.dense([float("inf"), 1.0])])
    for thresholds in (None, [0.3, 0.3, 0.4]):
        attrs_t = dict(attrs)
        if thresholds:
            attrs_t["thresholds"] = ("double_list", thresholds)
            fitted.setThresholds(thresholds)
        compare_hand_bundle(spark, tmp_path / f"t{bool(thresholds)}", fitted, "naive_bayes", attrs_t, rows, COMBOS)
    # MLeap 0.16's writer left sigma out; the runtime refuses a gaussian bundle without it
    path = tmp_path / "nosigma"
    write_bundle(path, "json", [("nb", "naive_bayes", {k: v for k, v in attrs.items() if k != "sigma"},
                                 ports(("raw", "prob")))])
    with pytest.raises(BundleError, match="sigma"):
        load_bundle(path)


# --- composite pipeline ----------------------------------------------------------------------

COMPOSITE_OPS = ("string_indexer", "one_hot_encoder", "standard_scaler")


@pytest.mark.parity("string_indexer", "one_hot_encoder", "vector_assembler", "standard_scaler", "logistic_regression")
def test_composite_pipeline(spark, tmp_path):
    """Categorical + numeric features: StringIndexer -> OneHotEncoder -> VectorAssembler ->
    StandardScaler -> LogisticRegression (binary and multinomial)."""
    missing = [name for name in COMPOSITE_OPS if lookup(name) is None]
    if missing:
        pytest.skip(f"ops not in the runtime yet: {missing}")
    from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler

    data = [("red", "s", 1.0, 10.0, 0.0), ("blue", "m", 2.0, 12.0, 1.0), ("green", "l", 0.5, 9.0, 2.0),
            ("red", "m", 1.5, 11.0, 0.0), ("blue", "s", 2.5, 14.0, 1.0), ("green", "m", 0.7, 8.5, 2.0),
            ("red", "l", 1.1, 10.5, 1.0), ("blue", "l", 2.2, 13.0, 0.0), ("green", "s", 0.4, 9.5, 2.0)]
    train = spark.createDataFrame(data, ["color", "size", "x", "y", "label"])
    stages = [StringIndexer(inputCol="color", outputCol="color_idx", handleInvalid="keep"),
              StringIndexer(inputCol="size", outputCol="size_idx", handleInvalid="keep"),
              OneHotEncoder(inputCols=["color_idx", "size_idx"], outputCols=["color_vec", "size_vec"]),
              VectorAssembler(inputCols=["color_vec", "size_vec", "x", "y"], outputCol="assembled"),
              StandardScaler(inputCol="assembled", outputCol="features", withMean=True, withStd=True)]
    rows = spark.createDataFrame(
        [(0, "red", "s", 1.0, 10.0), (1, "blue", "l", 3.0, 15.0), (2, "purple", "m", 1.0, 10.0),
         (3, "green", "xl", 0.0, 0.0), (4, "", "s", -2.0, 100.0)], "rid int, color string, size string, x double, y double")
    binary = Pipeline(stages=stages + [LogisticRegression(maxIter=30, regParam=0.05)]).fit(
        train.withColumn("label", (train.label == 1.0).cast("double")))
    report = assert_parity(binary, rows, tmp_path / "binary")
    assert report.compared > 0
    multi = Pipeline(stages=stages + [LogisticRegression(maxIter=30, regParam=0.05, probabilityCol="")]).fit(train)
    report = assert_parity(multi, rows, tmp_path / "multi")
    assert report.compared > 0


# --- hand-written bundles --------------------------------------------------------------------

def ports(combo):
    raw, prob = combo
    outputs = []
    if raw:
        outputs.append(("raw_prediction", "raw"))
    if prob:
        outputs.append(("probability", "prob"))
    outputs.append(("prediction", "pred"))
    return outputs


def _json_value(kind, v):
    if kind == "long":
        return {"long": v}
    if kind == "double":
        return {"double": v}
    if kind == "string":
        return {"string": v}
    if kind == "double_list":
        return {"type": "list", "double": list(v)}
    if kind == "vector":
        return {"type": "tensor", "double": list(v), "shape": {"dimensions": [{"size": len(v), "name": ""}]}}
    if kind == "matrix":  # Spark's column-major order
        m = np.asarray(v)
        return {"type": "tensor", "double": m.T.ravel().tolist(),
                "shape": {"dimensions": [{"size": m.shape[0], "name": ""}, {"size": m.shape[1], "name": ""}]}}
    raise ValueError(kind)


def _pb_value(pb, kind, v):
    if kind == "long":
        return pb.Value(s=pb.Scalar(l=v))
    if kind == "double":
        return pb.Value(s=pb.Scalar(d=v))
    if kind == "string":
        return pb.Value(s=pb.Scalar(s=v))
    if kind == "double_list":
        return pb.Value(l=pb.List(d=list(v)))
    if kind in ("vector", "matrix"):
        m = np.asarray(v, dtype=np.float64)
        values = m.T.ravel().tolist() if m.ndim == 2 else m.tolist()
        shape = pb.TensorShape(dimensions=[pb.TensorDimension(size=s) for s in m.shape])
        return pb.Value(t=pb.Tensor(base=pb.DOUBLE, shape=shape, value=struct.pack(f">{len(values)}d", *values)))
    raise ValueError(kind)


def write_bundle(path, fmt, nodes):
    """A bundle directory: a pipeline of (name, op, attrs, outputs) nodes reading column 'features'.
    attrs maps name -> (kind, value); outputs is [(port, column suffix)], columns named name_suffix."""
    from leapserve.bundleml import bundle_pb2 as pb

    root = path / "root"
    root.mkdir(parents=True)
    (path / "bundle.json").write_text(json.dumps({
        "uid": "6a9f6a4e-1f52-4f8e-9a63-0c0d3c2b1a10", "name": "hand", "format": fmt, "version": "0.16.0",
        "timestamp": "2024-01-01T00:00:00.000"}))

    def write(folder, name, op, attrs, inputs, outputs):
        folder.mkdir(parents=True, exist_ok=True)
        if fmt == "json":
            (folder / "model.json").write_text(json.dumps(
                {"op": op, "attributes": {k: _json_value(kind, v) for k, (kind, v) in attrs.items()}}))
            (folder / "node.json").write_text(json.dumps({"name": name, "shape": {
                "inputs": [{"port": p, "name": c} for p, c in inputs],
                "outputs": [{"port": p, "name": c} for p, c in outputs]}}))
        else:
            model = pb.Model(op=op, attributes=pb.Attributes(
                list={k: _pb_value(pb, kind, v) for k, (kind, v) in attrs.items()}))
            (folder / "model.pb").write_bytes(model.SerializeToString())
            node = pb.Node(name=name, shape=pb.NodeShape(
                inputs=[pb.Socket(port=p, name=c) for p, c in inputs],
                outputs=[pb.Socket(port=p, name=c) for p, c in outputs]))
            (folder / "node.pb").write_bytes(node.SerializeToString())

    names = [n[0] for n in nodes]
    if fmt == "json":
        (root / "model.json").write_text(json.dumps(
            {"op": "pipeline", "attributes": {"nodes": {"type": "list", "string": names}}}))
        (root / "node.json").write_text(json.dumps({"name": "hand", "shape": {"inputs": [], "outputs": []}}))
    else:
        model = pb.Model(op="pipeline", attributes=pb.Attributes(list={"nodes": pb.Value(l=pb.List(s=names))}))
        (root / "model.pb").write_bytes(model.SerializeToString())
        (root / "node.pb").write_bytes(pb.Node(name="hand", shape=pb.NodeShape()).SerializeToString())
    for name, op, attrs, outputs in nodes:
        write(root / f"{name}.node", name, op, attrs, [("features", "features")],
              [(port, f"{name}_{suffix}") for port, suffix in outputs])


def compare_hand_bundle(spark, tmp_path, spark_model_, op, attrs, rows, combos):
    """Score rows with Spark (one copy of the model per output combination) and with a
    hand-written bundle (one node per combination, both formats); compare row and batch results."""
    nodes, expected_cols, discrete = [], [], set()
    for i, combo in enumerate(combos):
        name = f"n{i}"
        nodes.append((name, op, attrs, ports(combo)))
        m = spark_model_.copy()
        m.setRawPredictionCol(f"{name}_raw" if combo[0] else "")
        m.setProbabilityCol(f"{name}_prob" if combo[1] else "")
        m.setPredictionCol(f"{name}_pred")
        transformed = m.transform(rows)
        discrete |= spark_discrete_columns(transformed.schema)
        expected_cols.append({r["rid"]: {k: spark_value(v) for k, v in r.asDict().items()} for r in transformed.collect()})
    records = {r["rid"]: record_from_row(r, ["features"]) for r in rows.collect()}
    for fmt in ("json", "protobuf"):
        path = tmp_path / f"bundle-{fmt}"
        write_bundle(path, fmt, nodes)
        pipeline = load_bundle(path)
        wanted = list(pipeline.outputs)
        rids = sorted(records)
        batch = pipeline.transform_batch({"features": [records[r]["features"] for r in rids]}, wanted)
        for pos, rid in enumerate(rids):
            got = pipeline.transform(records[rid], wanted)
            for expected in expected_cols:
                for col in wanted:
                    if col not in expected[rid]:
                        continue
                    diff = compare(expected[rid][col], got[col], exact=col in discrete)
                    assert diff.equal, f"[{fmt}] rid {rid}, column {col}: {diff.detail}"
                    value = batch[col]
                    row_value = value.row(pos) if hasattr(value, "row") else value[pos]
                    diff = compare(expected[rid][col], spark_like(row_value), exact=col in discrete)
                    assert diff.equal, f"[{fmt}] batch, rid {rid}, column {col}: {diff.detail}"
        compared(pipeline, [col for col in wanted if any(col in expected[rids[0]] for expected in expected_cols)])
