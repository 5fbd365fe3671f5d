"""Run by tests/bundler/test_xgboost4j.py in a process of its own, whose Spark session has
xgboost4j-spark's jars on its classpath (the test suite's shared session starts without them):
trains an xgboost4j-spark binary classifier, a 3-class classifier and a regressor through the JVM
after a string indexer and an assembler, and a binary classifier on sparse features (a one-hot
encoder feeding the assembler), exports each pipeline in both formats and scores every row with the
runtime and with Spark's transform (tests/support/parity.py), saves both pipelines with
``model.save`` and exports them again as `leapserve export` does (loaded with
bundler.saved_model, verified against Spark), writes the rows as parquet (for the real
`leapserve export` to run on), asks the export's check about settings it refuses (thresholds,
multi:softmax), and prints what it found as one JSON line.

    python -m tests.bundler.xgboost4j_job OUT_DIR
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

CITIES = ["paris", "lyon", "nice", "lille"]


def frame(spark):
    """60 rows: a category (some None: the indexer's "keep" bucket), a vector of two measures
    (some NaN: missing for XGBoost; the assembler passes NaN inside vectors), a number, a 0/1 label,
    a 3-class label and a numeric target, and for the sparse pipeline a 12-valued category and a
    0/1 label that depends on it. No row has mostly zeros, so the assembler writes dense vectors: how
    xgboost4j-spark treats a sparse vector's absent entries is another question than this test's."""
    from pyspark.ml.linalg import Vectors

    rnd = np.random.default_rng(16)
    rows = []
    for rid in range(60):
        city = CITIES[rid % 4] if rid % 9 else None
        x = rnd.normal(0.0, 1.0, 3).round(3).tolist()
        if rid % 7 == 0:
            x[rid % 2] = math.nan
        score = sum(v for v in x if not math.isnan(v)) + (rid % 4) * 0.3
        label3 = 0.0 if score < -0.3 else 1.0 if score < 0.9 else 2.0
        bucket = f"b{rid % 12}"
        label_sparse = float((rid % 12 in (1, 4, 6, 9, 10)) != (score > 0.3))
        rows.append((rid, city, Vectors.dense(x[:2]), x[2], float(score > 0.3), label3, round(score * 10.0, 3),
                     bucket, label_sparse))
    return spark.createDataFrame(rows, ["rid", "city", "measures", "x2", "label", "label3", "target", "bucket",
                                        "label_sparse"])


def features(df):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    return Pipeline(stages=[
        StringIndexer(inputCol="city", outputCol="city_index", handleInvalid="keep"),
        VectorAssembler(inputCols=["city_index", "measures", "x2"], outputCol="features"),
    ]).fit(df)


def sparse_features(df):
    """The bucket one-hot encoded (11 slots) before the measures and x2: 14 features of which at
    most 4 are set, so the assembler writes every row as a sparse vector."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler

    return Pipeline(stages=[
        StringIndexer(inputCol="bucket", outputCol="bucket_index"),
        OneHotEncoder(inputCols=["bucket_index"], outputCols=["bucket_vec"]),  # MLeap writes the multi-column form
        VectorAssembler(inputCols=["bucket_vec", "measures", "x2"], outputCol="features"),
    ]).fit(df)


def margins_if_absent_were_zero(bundle: Path, node: str, rows) -> list[float]:
    """The booster's margins with the sparse rows' absent entries made 0.0 (xgboost.spark's way),
    for the test to show that the data tells the two conventions apart."""
    import zipfile

    import xgboost

    with zipfile.ZipFile(bundle) as z:
        booster = xgboost.Booster(model_file=bytearray(z.read(f"root/{node}.node/xgboost.model")))
    X = np.array([row.toArray() for row in rows], dtype=np.float64)
    return booster.inplace_predict(X, predict_type="margin").astype(np.float64).reshape(-1).tolist()


def refusal(stage) -> str:
    """What the export's check says about a stage ("" when it takes it)."""
    from leapserve.bundler.errors import StageNotSerializable
    from leapserve.bundler.xgboost_stages import check_xgboost_stage

    try:
        check_xgboost_stage(stage)
    except StageNotSerializable as e:
        return str(e)
    return ""


def score_both(model, df, out: Path, skip=()) -> dict:
    """Export ``model`` in both formats and score every row with the runtime (rows and a batch) and
    with Spark's transform: the largest difference over the outputs but ``skip``, and each format's
    outputs and probabilities (Spark's, the runtime's) for the caller to check."""
    from leapserve.bundler.compare import record_from_row
    from leapserve.bundler.export import export_bundle
    from leapserve.runtime import load_bundle
    from tests.support.parity import FORMATS, check_rows, spark_outcomes

    spark_rows = spark_outcomes(model, df)
    rows = df.collect()
    found = {"formats": {}, "max_difference": 0.0, "compared": 0}
    for fmt in FORMATS:
        path = out / f"bundle-{fmt}.zip"
        export_bundle(model, df, path, format=fmt, verify=False)
        pipeline = load_bundle(path)
        inputs = list(pipeline.inputs)
        records = [(row["rid"], record_from_row(row, inputs)) for row in rows]
        checked = [c for c in pipeline.outputs if c not in skip]
        counts = check_rows(pipeline, records, spark_rows, outputs=checked, tag=f"[{fmt}] ")
        found["max_difference"] = max(found["max_difference"], counts.max_difference)
        found["compared"] += counts.compared
        found["formats"][fmt] = {
            "bundle": str(path), "outputs": sorted(pipeline.outputs), "errors": counts.errors,
            "probability": [(spark_rows[rid]["probability"],
                             [float(v) for v in pipeline.transform(record, ["probability"])["probability"]])
                            for rid, record in records] if "probability" in skip else []}
    return found


def main(out: Path) -> dict:
    from pyspark.ml import PipelineModel

    from leapserve import bundler
    from leapserve.bundler.export import export_bundle
    from leapserve.bundler.saved_model import check_pipeline_model, load_pipeline_model
    from leapserve.bundler.xgboost4j import XGBoost4jModel

    spark = bundler.spark_session()
    df = frame(spark)
    prepare = features(df)
    assembled = prepare.transform(df)
    xgb = spark._jvm.ml.dmlc.xgboost4j.scala.spark
    found = {}
    for name, estimator in (("classifier", xgb.XGBoostClassifier().setLabelCol("label")),
                            ("classifier3", xgb.XGBoostClassifier().setLabelCol("label3").setNumClass(3)
                             .setObjective("multi:softprob")),
                            ("regressor", xgb.XGBoostRegressor().setLabelCol("target"))):
        estimator.setFeaturesCol("features").setNumRound(5).setMaxDepth(3).setNumWorkers(1)
        fitted = XGBoost4jModel(estimator.fit(assembled._jdf))
        model = PipelineModel(stages=[*prepare.stages, fitted])
        (out / name).mkdir(parents=True)
        # the binary probability is compared apart: xgboost4j-spark computes 1 - p in double
        # (test_xgboost4j.py); the 3-class one is compared with the rest
        found[name] = score_both(model, df, out / name, skip=("probability",) if name == "classifier" else ())
        found[name]["uid"] = fitted.uid
        if name == "classifier3":
            found[name]["num_classes"] = int(fitted._java_obj.numClasses())
            found[name]["objective"] = str(fitted._java_obj.getObjective())
            record = export_bundle(model, df, out / name / "verified.zip", format="json")
            found[name]["verification"] = record.verification
            continue
        # saved with model.save, loaded back as `leapserve export` loads it, exported with verification
        saved = out / name / "saved"
        model.save(str(saved))
        check_pipeline_model(saved)
        loaded = load_pipeline_model(saved)
        record = export_bundle(loaded, df, out / name / "from-saved.zip", format="protobuf")
        found[name]["from_saved"] = {"verification": record.verification, "stages": record.stages,
                                     "saved": str(saved)}
    # sparse features: xgboost4j-spark reads a sparse vector's absent entries as missing (with
    # missing NaN it asks for allowNonZeroForMissing to take sparse vectors at all)
    prepare_sparse = sparse_features(df)
    assembled_sparse = prepare_sparse.transform(df)
    estimator = xgb.XGBoostClassifier().setLabelCol("label_sparse").setFeaturesCol("features") \
        .setNumRound(8).setMaxDepth(4).setNumWorkers(1).setAllowNonZeroForMissing(True)
    fitted = XGBoost4jModel(estimator.fit(assembled_sparse._jdf))
    model = PipelineModel(stages=[*prepare_sparse.stages, fitted])
    (out / "sparse").mkdir(parents=True)
    found["sparse"] = score_both(model, df, out / "sparse", skip=("probability",))
    vectors = [row["features"] for row in assembled_sparse.select("features").collect()]
    found["sparse"]["sparse_rows"] = sum(type(v).__name__ == "SparseVector" for v in vectors)
    spark_margins = [row["rawPrediction"][1] for row in model.transform(df).select("rawPrediction").collect()]
    zero_margins = margins_if_absent_were_zero(Path(found["sparse"]["formats"]["json"]["bundle"]), fitted.uid, vectors)
    found["sparse"]["rows_differing_if_absent_were_zero"] = sum(a != b for a, b in zip(spark_margins, zero_margins))

    # settings the export refuses, asked of copies of the fitted models
    param_map = spark._jvm.org.apache.spark.ml.param.ParamMap
    with_thresholds = fitted._java_obj.copy(param_map())
    thresholds = spark.sparkContext._gateway.new_array(spark._jvm.double, 2)
    thresholds[0], thresholds[1] = 0.3, 0.7
    with_thresholds.setThresholds(thresholds)
    found["refused"] = {"thresholds": refusal(XGBoost4jModel(with_thresholds)), "plain": refusal(fitted)}
    softmax = xgb.XGBoostClassifier().setLabelCol("label3").setFeaturesCol("features").setNumRound(2) \
        .setNumWorkers(1).setNumClass(3).setObjective("multi:softmax")
    found["refused"]["multi:softmax"] = refusal(XGBoost4jModel(softmax.fit(assembled._jdf)))

    df.write.parquet(str(out / "sample.parquet"))  # for `leapserve export --sample`
    found["sample"] = str(out / "sample.parquet")
    return found


if __name__ == "__main__":
    # numpy scalars (a count, a difference) as the numbers they hold
    print(json.dumps(main(Path(sys.argv[1])), default=lambda v: v.item() if isinstance(v, np.generic) else str(v)))
