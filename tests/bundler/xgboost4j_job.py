"""Run by tests/bundler/test_xgboost4j.py in a process of its own, whose Spark session has
xgboost4j-spark's jars on its classpath (the test suite's shared session starts without them):
trains an xgboost4j-spark binary classifier and a regressor through the JVM after a string
indexer and an assembler, exports each pipeline in both formats and scores every row with the
runtime and with Spark's transform (tests/support/parity.py), saves both pipelines with
``model.save`` and exports them again as `leapserve export` does (loaded with
bundler.saved_model, verified against Spark), writes the rows as parquet (for the real
`leapserve export` to run on), and prints what it found as one JSON line.

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
    (some NaN: missing for XGBoost; the assembler passes NaN inside vectors), a number, a 0/1 label
    and a numeric target. No row has mostly zeros, so the assembler writes dense vectors: how
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
        rows.append((rid, city, Vectors.dense(x[:2]), x[2], float(score > 0.3), round(score * 10.0, 3)))
    return spark.createDataFrame(rows, ["rid", "city", "measures", "x2", "label", "target"])


def features(df):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    return Pipeline(stages=[
        StringIndexer(inputCol="city", outputCol="city_index", handleInvalid="keep"),
        VectorAssembler(inputCols=["city_index", "measures", "x2"], outputCol="features"),
    ]).fit(df)


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
                            ("regressor", xgb.XGBoostRegressor().setLabelCol("target"))):
        estimator.setFeaturesCol("features").setNumRound(5).setMaxDepth(3).setNumWorkers(1)
        fitted = XGBoost4jModel(estimator.fit(assembled._jdf))
        model = PipelineModel(stages=[*prepare.stages, fitted])
        (out / name).mkdir(parents=True)
        # probability is compared apart: xgboost4j-spark computes 1 - p in double (test_xgboost4j.py)
        found[name] = score_both(model, df, out / name, skip=("probability",) if name == "classifier" else ())
        found[name]["uid"] = fitted.uid
        # saved with model.save, loaded back as `leapserve export` loads it, exported with verification
        saved = out / name / "saved"
        model.save(str(saved))
        check_pipeline_model(saved)
        loaded = load_pipeline_model(saved)
        record = export_bundle(loaded, df, out / name / "from-saved.zip", format="protobuf")
        found[name]["from_saved"] = {"verification": record.verification, "stages": record.stages,
                                     "saved": str(saved)}
    df.write.parquet(str(out / "sample.parquet"))  # for `leapserve export --sample`
    found["sample"] = str(out / "sample.parquet")
    return found


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
