"""aft_survival_regression against Spark 3.5's own transform: models fitted with and without the
quantiles column."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.ml.linalg import Vectors
from pyspark.ml.regression import AFTSurvivalRegression

from tests.support.frames import vector_frame
from tests.support.handmade import double, double_list, node, tensor, write_bundle
from tests.support.parity import assert_parity
from leapserve.runtime import load_bundle
from leapserve.runtime.ops.regression_survival import quantile_factor

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def aft_training(spark):
    rnd = np.random.default_rng(31)
    rows = []
    for _ in range(40):
        x = rnd.normal(0.0, 1.0, 3).round(3)
        t = float(np.exp(0.5 + 0.8 * x[0] - 0.3 * x[2] + rnd.normal(0, 0.3)))
        rows.append((round(t, 4), float(rnd.random() < 0.8), Vectors.dense(x.tolist())))
    return spark.createDataFrame(rows, ["label", "censor", "features"])


AFT_ROWS = [Vectors.dense([0.1, -0.2, 0.3]), Vectors.dense([0.0, 0.0, 0.0]), Vectors.sparse(3, [2], [1.5]),
            Vectors.sparse(3, [], []), Vectors.dense([1e4, 0.0, 0.0]), Vectors.dense([-1e4, 0.0, 0.0]),
            Vectors.dense([NAN, 0.0, 0.0]), Vectors.dense([INF, 1.0, 1.0]), Vectors.dense([2.0, -1.0, -0.0])]


@pytest.mark.parity("aft_survival_regression")
def test_aft_with_quantiles(spark, tmp_path, aft_training):
    model = AFTSurvivalRegression(quantileProbabilities=[0.01, 0.25, 0.5, 0.99], quantilesCol="q",
                                  maxIter=30).fit(aft_training)
    report = assert_parity(model, vector_frame(spark, AFT_ROWS), tmp_path / "good")
    assert report.errors == 0 and report.compared == 2 * len(AFT_ROWS) * 2
    st = report.pipelines["json"].stages[0]
    assert [p for p, _, _ in st.outputs] == ["prediction", "quantiles"]
    report = assert_parity(model, vector_frame(spark, [None, Vectors.dense([1.0, 2.0])], first=100), tmp_path / "bad",
                           formats=("protobuf",))
    assert report.errors == 2


@pytest.mark.parity("aft_survival_regression")
def test_aft_without_quantiles(spark, tmp_path, aft_training):
    model = AFTSurvivalRegression(maxIter=30).fit(aft_training)
    report = assert_parity(model, vector_frame(spark, AFT_ROWS[:5]), tmp_path, formats=("json",))
    assert [p for p, _, _ in report.pipelines["json"].stages[0].outputs] == ["prediction"]


def test_aft_quantile_factors_and_attributes(tmp_path):
    assert quantile_factor(0.0, 0.7) == 0.0 and quantile_factor(1.0, 0.7) == INF
    assert math.isnan(quantile_factor(1.5, 0.7))
    assert quantile_factor(0.5, 1.0) == pytest.approx(math.log(2.0))
    attrs = {"coefficients": tensor([0.5, -1.0]), "intercept": double(0.25), "scale": double(0.5),
             "quantile_probabilities": double_list([0.1, 0.9])}
    path = write_bundle(tmp_path / "aft", "protobuf", [node("aft", "aft_survival_regression", attrs,
                                                            inputs=[("features", "f")],
                                                            outputs=[("quantiles", "q"), ("prediction", "p")])])
    p = load_bundle(path)
    out = p.transform({"f": [2.0, 1.0]})
    lam = math.exp(0.5 * 2.0 - 1.0 + 0.25)
    assert out["p"] == lam and out["q"].tolist() == [lam * quantile_factor(0.1, 0.5), lam * quantile_factor(0.9, 0.5)]
    batch = p.transform_batch({"f": np.array([[2.0, 1.0], [1e6, 0.0]])})
    assert batch["p"][0] == lam and batch["p"][1] == INF
    assert len(p.transform_batch({"f": np.zeros((0, 2))})["q"]) == 0
