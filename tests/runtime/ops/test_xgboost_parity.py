"""XGBoost's PySpark estimators (xgboost.spark) in a pipeline: exported as MLeap's XGBoost ops, both
formats, scored by the runtime exactly as Spark's own transform scores them, and served once."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.support.parity import assert_parity

pytest.importorskip("xgboost")

NAN = float("nan")
CITIES = ["paris", "lyon", "nice", "lille"]


@pytest.fixture(scope="module")
def frame(spark):
    """Small data: a category, a vector of three measures (some NaN: missing for XGBoost; the
    assembler passes NaN inside vectors), a number, three targets."""
    from pyspark.ml.linalg import Vectors

    rnd = np.random.default_rng(5)
    rows = []
    for rid in range(120):
        city = CITIES[rid % 4] if rid % 13 else None  # None: StringIndexer's "keep" bucket
        x = rnd.normal(0.0, 1.0, 4).round(3).tolist()
        if rid % 7 == 0:
            x[rid % 3] = NAN
        if rid % 11 == 0:
            x = [0.0, 0.0, 0.0, x[3]]  # the assembler writes such rows sparse
        score = (x[0] if not math.isnan(x[0]) else 0.0) + (0.5 * x[1] if not math.isnan(x[1]) else 0.0) \
            + (rid % 4) * 0.3 + 0.2 * x[3]
        measures = Vectors.sparse(3, [], []) if rid % 17 == 0 else Vectors.dense(x[:3])
        rows.append((rid, city, measures, x[3], float(score > 0.4),
                     ["low", "mid", "high"][int(score > 0) + int(score > 1)], round(score * 10.0, 3)))
    return spark.createDataFrame(rows, ["rid", "city", "measures", "x3", "label", "level", "target"])


def features(stages_after):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    return Pipeline(stages=[
        StringIndexer(inputCol="city", outputCol="city_index", handleInvalid="keep"),
        VectorAssembler(inputCols=["city_index", "measures", "x3"], outputCol="features"),
        *stages_after])


def small(cls, **kw):
    return cls(**{"features_col": "features", "n_estimators": 6, "max_depth": 3, "num_workers": 1, **kw})


@pytest.mark.parity("xgboost.classifier", "string_indexer", "vector_assembler")
def test_binary_classifier(spark, frame, tmp_path):
    from xgboost.spark import SparkXGBClassifier

    from leapserve import bundler

    model = features([small(SparkXGBClassifier, label_col="label")]).fit(frame)
    report = assert_parity(model, frame, tmp_path)
    assert report.compared > 0 and report.errors == 0
    # exact, not merely within 1e-9: the runtime runs XGBoost's float32 arithmetic as Spark's transform does
    assert report.max_difference == 0.0
    # batch scoring on Spark (bundler.score: the runtime in Spark's Python workers) gives the same
    scored = {r["rid"]: r for r in bundler.score(frame, report.bundles["protobuf"]).collect()}
    for rid, want in report.spark.items():
        got = scored[rid]
        assert got["prediction"] == want["prediction"]
        for col in ("rawPrediction", "probability"):
            assert got[col].toArray().tolist() == list(want[col]), (rid, col)


@pytest.mark.parity("xgboost.classifier", "string_indexer", "vector_assembler", "reverse_string_indexer")
def test_multiclass_classifier_with_labels(spark, frame, tmp_path):
    from pyspark.ml.feature import IndexToString, StringIndexer
    from xgboost.spark import SparkXGBClassifier

    labels = StringIndexer(inputCol="level", outputCol="level_index").fit(frame)
    data = labels.transform(frame)
    model = features([small(SparkXGBClassifier, label_col="level_index"),
                      IndexToString(inputCol="prediction", outputCol="predicted_level",
                                    labels=labels.labels)]).fit(data)
    report = assert_parity(model, frame, tmp_path)
    assert report.compared > 0 and report.errors == 0
    assert report.max_difference == 0.0
    pipeline = report.pipelines["json"]
    assert set(pipeline.outputs) >= {"rawPrediction", "probability", "prediction", "predicted_level"}


@pytest.mark.parity("xgboost.regression", "string_indexer", "vector_assembler")
def test_regressor_with_early_stopping(spark, frame, tmp_path):
    """Early stopping: Spark's transform scores up to the best round, which the bundle records as
    tree_limit."""
    from pyspark.sql import functions as F
    from xgboost.spark import SparkXGBRegressor

    from leapserve.runtime.bundle import leaf_nodes, read_root
    from leapserve.runtime.container import open_source

    training = frame.withColumn("validation", (F.col("rid") % 4) == 0)
    model = features([small(SparkXGBRegressor, label_col="target", n_estimators=60, learning_rate=0.8,
                            validation_indicator_col="validation", early_stopping_rounds=2)]).fit(training)
    best = model.stages[-1]._xgb_sklearn_model.best_iteration
    assert best + 1 < model.stages[-1].get_booster().num_boosted_rounds()  # it did stop early
    report = assert_parity(model, frame, tmp_path)
    assert report.compared > 0 and report.errors == 0
    assert report.max_difference == 0.0
    for path in report.bundles.values():
        with open_source(path) as src:
            node = [n for n in leaf_nodes(read_root(src)[1]) if n.op == "xgboost.regression"][0]
            assert node.attrs.long("tree_limit") == best + 1


def test_saved_pipeline_exported_and_served(spark, frame, tmp_path, start_server, capsys):
    """Training to serving: a saved pipeline ending in SparkXGBClassifier goes through `leapserve
    export` (its sample checked against Spark) and `leapserve serve`, and gRPC Predict answers with
    Spark's numbers."""
    from xgboost.spark import SparkXGBClassifier

    from leapserve.cli import main as cli_main
    from leapserve.server.codec import decode_value
    from tests.support.servers import predict_request, prediction_stub

    model = features([small(SparkXGBClassifier, label_col="label")]).fit(frame)
    model.save(str(tmp_path / "spark-model"))
    inputs = frame.select("rid", "city", "measures", "x3")
    inputs.write.parquet(str(tmp_path / "sample.parquet"))
    bundle = tmp_path / "xgb.zip"
    # the CLI's code in this process, so that it finds the Spark session running (a new JVM would
    # double the test's time)
    code = cli_main(["export", "--spark-model", str(tmp_path / "spark-model"), "--sample",
                     str(tmp_path / "sample.parquet"), "--out", str(bundle), "--format", "protobuf", "--verify"])
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    assert "xgboost.classifier" in printed.out

    expected = {r["rid"]: r for r in model.transform(inputs).collect()}
    server = start_server("--model", f"xgb={bundle}")
    with server.open_channel() as channel:
        stub = prediction_stub(channel)
        for rid in (0, 7, 11, 13, 17, 40):  # missing values, sparse rows, the unseen-city bucket
            row = expected[rid]
            record = {"city": row["city"], "measures": [float(v) for v in row["measures"].toArray()],
                      "x3": row["x3"]}
            answer = stub.Predict(predict_request("xgb", record), timeout=30)
            got = {k: decode_value(k, v) for k, v in answer.outputs.items()}
            assert got["prediction"] == row["prediction"]
            for col in ("rawPrediction", "probability"):
                values = got[col].toarray() if hasattr(got[col], "toarray") else np.asarray(got[col])
                assert values.tolist() == row[col].toArray().tolist(), (rid, col)


def test_settings_the_ops_cannot_express_are_refused(spark, frame, tmp_path):
    """Refused before anything is written, naming the stage and the setting."""
    from pyspark.ml import PipelineModel

    from leapserve.bundler.errors import StageNotSerializable
    from leapserve.bundler.export import export_bundle
    from xgboost.spark import SparkXGBRegressor

    model = features([small(SparkXGBRegressor, label_col="target", n_estimators=2)]).fit(frame)
    booster_stage = model.stages[-1]
    for param, value, reason in (("enable_sparse_data_optim", True, "absent entries as missing"),
                                 ("base_margin_col", "x3", "base_margin_col has no MLeap port"),
                                 ("iteration_range", (1, 2), "not starting at 0")):
        stage = booster_stage.copy({booster_stage.getParam(param): value})
        with pytest.raises(StageNotSerializable, match=reason) as e:
            export_bundle(PipelineModel(model.stages[:-1] + [stage]), frame, tmp_path / "x.zip", verify=False)
        assert e.value.stage_uid == booster_stage.uid
        assert not (tmp_path / "x.zip").exists()
