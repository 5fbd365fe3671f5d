"""Parity with Spark 3.5 for the stages MLeap has no op for, exported as the equivalent stages MLeap
writes (bundler/equivalents.py): RFormulaModel, RobustScalerModel, VarianceThresholdSelectorModel,
UnivariateFeatureSelectorModel. Spark's transform of the original stage is the oracle."""

from __future__ import annotations

import math

import pytest

from leapserve.bundler.compare import compare
from tests.support.frames import vector_frame
from tests.support.parity import assert_parity

NAN, INF = float("nan"), float("inf")


def _ops(report) -> list[str]:
    return [st.op for st in report.pipelines["json"].stages]


def _finite(value) -> bool:
    if value is None:
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    if hasattr(value, "toArray"):
        return all(math.isfinite(x) for x in value.toArray())
    return True


def assert_mleap_agrees(mleap_jvm, report, df, outputs) -> None:
    """MLeap's JVM runtime reads both bundles (the equivalents are MLeap's own ops) and answers the
    rows without NaN, infinities or nulls (its JSON frames) as Spark's transform of the original."""
    from tools.mleap_jvm import frame_column, leapframe_type, leapframe_value

    fields = [f for f in df.schema.fields]
    rows = [r for r in df.collect() if all(_finite(r[f.name]) for f in fields)]
    assert rows
    frame = {"schema": {"fields": [{"name": f.name, "type": leapframe_type(f.dataType)} for f in fields]},
             "rows": [[leapframe_value(r[f.name]) for f in fields] for r in rows]}
    for fmt, bundle in report.bundles.items():
        result = mleap_jvm.score(bundle, frame)
        for col in outputs:
            for row, value in zip(rows, frame_column(result, col), strict=True):
                diff = compare(report.spark[row["rid"]][col], value, exact=False)
                assert diff.equal, f"[{fmt}] MLeap's runtime, rid {row['rid']}, column {col!r}: {diff.detail}"


@pytest.fixture(scope="module")
def people(spark):
    rows = [(0, "a", 2.0, 3, "yes", 1.0), (1, "b", 5.0, 1, "no", 0.0), (2, "a", 1.0, 4, "yes", 1.0),
            (3, "c", 0.5, 2, "no", 0.0), (4, "b", -1.5, 0, "yes", 1.0), (5, "c", 0.0, 7, "no", 0.0)]
    return spark.createDataFrame(rows, "rid int, city string, score double, visits int, answer string, y double")


# RFormula's indexers, interaction and encoder write columns Spark's transform prunes: only the
# assembled features are compared (each of those ops has parity tests of its own)
@pytest.mark.parity("vector_assembler")
def test_rformula_string_label_and_interaction(spark, mleap_jvm, people, tmp_path):
    from pyspark.ml.feature import RFormula

    model = RFormula(formula="answer ~ city + score + visits + city:score").fit(people)
    # scored as served: no label column (Spark's transform then adds no label either)
    report = assert_parity(model, people.drop("answer"), tmp_path / "unlabelled")
    assert report.errors == 0 and report.compared >= 2 * 6
    assert "features" in report.pipelines["json"].outputs
    assert "answer" not in report.pipelines["protobuf"].required_inputs()
    assert _ops(report) == ["string_indexer", "interaction", "one_hot_encoder", "vector_assembler"]
    assert_mleap_agrees(mleap_jvm, report, people.drop("answer"), ["features"])
    # with the label present Spark also indexes it; the bundle does not (a served request has no
    # label), and the comparison says so
    with pytest.raises(AssertionError, match=r"adds columns \['label'\] that the runtime does not write"):
        assert_parity(model, people, tmp_path / "labelled")


@pytest.mark.parity("vector_assembler")
def test_rformula_numeric_label_all_columns(spark, people, tmp_path):
    from pyspark.ml.feature import RFormula

    model = RFormula(formula="y ~ . - answer", handleInvalid="keep").fit(people)
    unseen = spark.createDataFrame([(10, "zz", 1.0, 2, "no", 1.0)], people.schema)
    report = assert_parity(model, people.union(unseen).drop("y"), tmp_path)
    assert report.errors == 0 and report.compared >= 2 * 7
    # the unseen city takes the extra "keep" category, as in Spark
    got = report.pipelines["json"].transform({"rid": 10, "city": "zz", "score": 1.0, "visits": 2})["features"]
    assert list(got) == list(report.spark[10]["features"]) == [10.0, 0.0, 0.0, 0.0, 1.0, 2.0]


@pytest.mark.parity("standard_scaler")
def test_robust_scaler(spark, mleap_jvm, tmp_path):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import RobustScaler
    from pyspark.ml.linalg import Vectors

    train = vector_frame(spark, [Vectors.dense([1.0, 2.0, 0.0, 7.0]), Vectors.dense([3.0, 2.0, 1.0, -1.0]),
                                 Vectors.dense([0.0, 2.0, 5.0, 4.0]), Vectors.dense([8.0, 2.0, 2.0, 0.5]),
                                 Vectors.sparse(4, [0], [4.0])], column="v")
    model = Pipeline(stages=[
        RobustScaler(inputCol="v", outputCol="both", withCentering=True, withScaling=True),
        RobustScaler(inputCol="v", outputCol="scaled", withCentering=False, withScaling=True),
        RobustScaler(inputCol="v", outputCol="centered", withCentering=True, withScaling=False,
                     lower=0.1, upper=0.9),
    ]).fit(train)
    assert model.stages[0].range.toArray()[1] == 0.0  # a constant feature: scale 0, as in Spark
    score = vector_frame(spark, [Vectors.dense([1.0, 2.0, 3.0, 4.0]), Vectors.sparse(4, [1, 3], [5.0, -2.0]),
                                 Vectors.sparse(4, [], []), Vectors.dense([NAN, 2.0, INF, -0.0]),
                                 Vectors.dense([1e300, -1e-300, 0.0, 1.0])], column="v")
    report = assert_parity(model, score, tmp_path)
    assert report.errors == 0 and report.compared == 2 * 5 * 3
    assert _ops(report) == ["standard_scaler"] * 3
    assert_mleap_agrees(mleap_jvm, report, score, ["both", "scaled", "centered"])


@pytest.mark.parity("chi_sq_selector")
def test_variance_threshold_and_univariate_selectors(spark, mleap_jvm, tmp_path):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import UnivariateFeatureSelector, VarianceThresholdSelector
    from pyspark.ml.linalg import Vectors

    train = vector_frame(spark, [Vectors.dense([1.0, 0.0, 3.0, 2.0, 6.0]), Vectors.dense([0.0, 1.0, 3.0, 0.0, 5.0]),
                                 Vectors.dense([1.0, 0.0, 3.1, 2.0, 0.0]), Vectors.dense([0.0, 1.0, 3.0, 0.0, 5.0]),
                                 Vectors.dense([9.0, 1.0, 3.0, 2.0, 0.0])],
                         column="v", label=[1.0, 0.0, 1.0, 0.0, 1.0])
    univariate = (UnivariateFeatureSelector(featuresCol="v", outputCol="top2", labelCol="label")
                  .setFeatureType("continuous").setLabelType("categorical")
                  .setSelectionMode("numTopFeatures").setSelectionThreshold(2))
    model = Pipeline(stages=[VarianceThresholdSelector(featuresCol="v", outputCol="varied", varianceThreshold=0.5),
                             univariate]).fit(train)
    assert len(model.stages[0].selectedFeatures) == 3 and len(model.stages[1].selectedFeatures) == 2
    score = vector_frame(spark, [Vectors.dense([1.0, 2.0, 3.0, 4.0, 5.0]), Vectors.sparse(5, [0, 4], [7.0, -1.0]),
                                 Vectors.sparse(5, [], []), Vectors.dense([NAN, -0.0, 1e300, 0, 1])], column="v")
    report = assert_parity(model, score, tmp_path)
    assert report.errors == 0 and report.compared == 2 * 4 * 2
    assert _ops(report) == ["chi_sq_selector"] * 2
    assert_mleap_agrees(mleap_jvm, report, score, ["varied", "top2"])
