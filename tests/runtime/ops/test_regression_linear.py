"""Parity: linear_regression (behind a vector assembler) and generalized_linear_regression against
Spark's own transform.

Generalized linear regression: every family Spark allows with MLeap (gaussian, binomial, poisson,
gamma) with every link Spark allows for it, the default link (unset, so not written), and the
link_prediction output. Spark clamps the prediction per family (Family.project); the clamped
values (1e-16, 1 - 1e-16, +-Double.MaxValue) are compared exactly, since the parity tolerance
(1e-9 absolute) would not see 1e-16 against 0. One pipeline holds all the models (distinct uids),
exported once per format.
"""

from __future__ import annotations

import json
import math
import sys

import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.common import _py2java
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.linalg import Vectors
from pyspark.ml.regression import GeneralizedLinearRegression, LinearRegression
from pyspark.ml.wrapper import JavaParams

from leapserve.bundler.compare import record_from_row
from leapserve.bundler.export import export_bundle
from tests.support.frames import vector_frame
from tests.support.parity import assert_parity
from leapserve.runtime import BundleError, load_bundle


# --- linear_regression -----------------------------------------------------------------------

@pytest.mark.parity("linear_regression", "vector_assembler")
def test_linear_regression_parity(spark, tmp_path):
    train = spark.createDataFrame(
        [(1.0, 2.0, 3.0), (2.0, 0.0, 5.0), (3.0, 1.0, 7.5), (0.0, 0.0, 1.0), (1.5, -2.0, 0.5)],
        ["a", "b", "y"])
    model = Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"),
                             LinearRegression(labelCol="y")]).fit(train)
    rows = spark.createDataFrame(
        [(0, 1.0, 2.0), (1, 0.0, 0.0), (2, -1e6, 3.5), (3, float("nan"), 1.0), (4, None, 1.0),
         (5, -0.0, 2.0), (6, float("inf"), 1.0), (7, float("inf"), float("-inf")), (8, 0.0, -0.0)],
        "rid int, a double, b double")
    report = assert_parity(model, rows, tmp_path)
    assert report.compared > 0 and report.errors == 2 * 2  # NaN and null refused by the assembler, both formats


# --- generalized_linear_regression -----------------------------------------------------------

LINKS = {  # Spark's supportedFamilyAndLinkPairs
    "gaussian": ("identity", "log", "inverse"),
    "binomial": ("logit", "probit", "cloglog"),
    "poisson": ("log", "identity", "sqrt"),
    "gamma": ("inverse", "identity", "log"),
}
MAX = sys.float_info.max
CLAMPS = {1e-16, 1.0 - 1e-16, MAX, -MAX}

# eta = 0.5 * x0 - 0.25 * x1 + 0.1 for the built models
ROWS = [
    Vectors.dense([1.0, 2.0]),
    Vectors.dense([0.0, 0.0]),
    Vectors.dense([-0.2, 0.0]),  # eta exactly 0: inverse link gives +Inf
    Vectors.sparse(2, [0], [-0.2]),
    Vectors.sparse(2, [], []),
    Vectors.sparse(2, [1], [3.0]),
    Vectors.dense([10.0, 4.0]),
    Vectors.dense([-10.0, 0.0]),  # negative eta: identity / sqrt links of positive families
    Vectors.dense([-80.0, 0.0]),  # exp(-40): below 1e-16
    Vectors.dense([200.0, 0.0]),  # logistic rounds to 1
    Vectors.dense([2000.0, 0.0]),  # exp overflows
    Vectors.dense([-2000.0, 0.0]),
    Vectors.dense([1e308, 0.0]),  # eta * eta overflows
    Vectors.dense([float("inf"), 0.0]),
    Vectors.dense([float("-inf"), 0.0]),
    Vectors.dense([float("nan"), 0.0]),
]


def glr_model(spark, uid, coefficients, intercept, family, link=None, link_col=None, prediction_col=None):
    """A Spark GeneralizedLinearRegressionModel built with its Scala constructor."""
    cls = spark._jvm.org.apache.spark.ml.regression.GeneralizedLinearRegressionModel
    java = cls(uid, _py2java(spark.sparkContext, Vectors.dense(coefficients)), float(intercept))
    m = JavaParams._from_java(java)
    m._set(family=family)
    if link is not None:
        m._set(link=link)
    m.setPredictionCol(prediction_col if prediction_col is not None else f"{uid}_pred")
    if link_col:
        m.setLinkPredictionCol(link_col)
    return m


@pytest.fixture(scope="module")
def training(spark):
    xs = [(0.0, 1.0), (1.0, 0.5), (2.0, 1.5), (0.5, 2.0), (1.5, 0.0), (2.5, 1.0), (0.2, 0.3), (1.2, 2.2),
          (3.0, 0.4), (0.8, 1.1)]
    rows = []
    for i, (a, b) in enumerate(xs):
        y = 1.0 + 0.6 * a - 0.3 * b + (0.1 if i % 2 else -0.1)
        rows.append((Vectors.dense([a, b]), y, float(i % 2 == 0) if i < 4 else float(a > 1.0), float(i % 4 + 1)))
    return spark.createDataFrame(rows, ["features", "y", "label01", "count"])


LABELS = {"gaussian": "y", "binomial": "label01", "poisson": "count", "gamma": "y"}


def exact_clamps(report, columns) -> int:
    """Where Spark clamped (or the runtime did), the values must be identical; returns how many."""
    checked = 0
    for fmt, pipeline in report.pipelines.items():
        records = report.records
        for rid, expected in report.spark.items():
            if not isinstance(expected, dict):
                continue
            got = pipeline.transform(records[rid])
            for col in columns:
                e, g = expected[col], got[col]
                if e in CLAMPS or g in CLAMPS:
                    assert e == g, f"[{fmt}] rid {rid}, {col}: Spark {e!r}, runtime {g!r}"
                    checked += 1
                elif isinstance(e, float) and not math.isnan(e) and abs(e) < 1e-6:
                    assert math.isclose(e, g, rel_tol=1e-9, abs_tol=0.0), f"[{fmt}] rid {rid}, {col}: {e!r} {g!r}"
    return checked


def run_parity(model, df, tmp_path):
    report = assert_parity(model, df, tmp_path)
    report.records = {r["rid"]: record_from_row(r, ["features"]) for r in df.collect()}
    return report


@pytest.mark.parity("generalized_linear_regression")
def test_every_family_and_link(spark, tmp_path, training):
    stages, prediction_cols = [], []
    for family, links in LINKS.items():
        for i, link in enumerate(links):
            uid = f"glr_{family}_{link}"
            link_col = f"{uid}_link" if i % 2 == 0 else None  # half with the link_prediction port
            stages.append(glr_model(spark, uid, [0.5, -0.25], 0.1, family, link, link_col))
            prediction_cols.append(f"{uid}_pred")
        # the family's default link, unset, as fitted by Spark (MLeap writes no "link")
        fitted = GeneralizedLinearRegression(family=family, labelCol=LABELS[family], maxIter=25,
                                             predictionCol=f"fit_{family}_pred",
                                             linkPredictionCol=f"fit_{family}_link").fit(training)
        assert not fitted.isSet("link")
        stages.append(fitted)
        prediction_cols.append(f"fit_{family}_pred")
        uid = f"default_{family}"
        stages.append(glr_model(spark, uid, [0.5, -0.25], 0.1, family))
        prediction_cols.append(f"{uid}_pred")
    # only the link_prediction output
    stages.append(glr_model(spark, "glr_link_only", [0.5, -0.25], 0.1, "poisson", "log", "link_only", ""))
    report = run_parity(PipelineModel(stages), vector_frame(spark, ROWS), tmp_path)
    assert report.errors == 0
    bundle_outputs = set(report.pipelines["json"].outputs)
    assert "link_only" in bundle_outputs and "glr_link_only_pred" not in bundle_outputs
    assert exact_clamps(report, prediction_cols) > 20
    # Spark's clamps really happened on these rows
    spark_rows = report.spark
    assert spark_rows[10]["glr_poisson_log_pred"] == MAX
    assert spark_rows[11]["glr_poisson_log_pred"] == 1e-16
    assert spark_rows[9]["glr_binomial_logit_pred"] == 1.0 - 1e-16
    assert spark_rows[13]["glr_gaussian_identity_pred"] == MAX
    assert spark_rows[14]["glr_gaussian_identity_pred"] == -MAX
    assert spark_rows[2]["glr_gaussian_inverse_pred"] == MAX


@pytest.mark.parity("generalized_linear_regression")
def test_fitted_models_with_every_link(spark, tmp_path, training):
    """Models fitted by Spark with each link set explicitly (in mixed case, which Spark accepts)."""
    stages = []
    for family, links in LINKS.items():
        for link in links:
            name = f"{family}_{link}"
            spark_link = link.capitalize() if family == "poisson" else link
            est = GeneralizedLinearRegression(family=family, link=spark_link, labelCol=LABELS[family], maxIter=3,
                                              regParam=0.01, predictionCol=f"{name}_pred")
            if family in ("gaussian", "binomial"):
                est.setLinkPredictionCol(f"{name}_link")
            try:
                stages.append(est.fit(training))
            except Exception as e:  # a link that does not fit this data: Spark's IRLS fails
                pytest.fail(f"{family}/{link} did not fit: {str(e)[:200]}")
    rows = vector_frame(spark, ROWS[:8])
    report = assert_parity(PipelineModel(stages), rows, tmp_path)
    assert report.errors == 0


def test_bad_rows(spark, tmp_path, training):
    model = GeneralizedLinearRegression(family="poisson", labelCol="count", linkPredictionCol="eta").fit(training)
    rows = vector_frame(spark, [Vectors.dense([1.0, 2.0]), None, Vectors.dense([1.0, 2.0, 3.0])])
    report = assert_parity(model, rows, tmp_path)
    assert report.errors == 2 * 2


def test_tweedie_is_refused(spark, tmp_path, training):
    """MLeap writes a tweedie model's family but not its variancePower / linkPower, so the bundle
    does not determine the model: the runtime refuses it by name."""
    model = GeneralizedLinearRegression(family="tweedie", variancePower=1.5, linkPower=0.0,
                                        labelCol="count").fit(training)
    path = tmp_path / "tweedie.zip"
    export_bundle(model, training, path, format="json", verify=False)
    with pytest.raises(BundleError, match="tweedie"):
        load_bundle(path)


def test_link_not_allowed_for_family_is_refused(spark, tmp_path, training):
    """Spark refuses a family/link pair it does not support; so does the runtime, at load."""
    model = GeneralizedLinearRegression(family="gaussian", labelCol="y").fit(training)
    path = tmp_path / "glr"
    export_bundle(model, training, path, format="json", verify=False)
    model_json = None
    for f in path.rglob("model.json"):
        doc = json.loads(f.read_text())
        if doc["op"] == "generalized_linear_regression":
            model_json = f
    doc = json.loads(model_json.read_text())
    doc["attributes"]["link"] = {"string": "logit"}
    model_json.write_text(json.dumps(doc))
    with pytest.raises(BundleError, match="logit"):
        load_bundle(path)
    doc["attributes"]["link"] = {"string": "Log"}  # any case, as Spark
    model_json.write_text(json.dumps(doc))
    assert load_bundle(path).transform({"features": [0.0, 0.0]})["prediction"] > 0
