"""Run by tests/bundler/test_spark4_models.py with PySpark 4 (its own virtual environment,
tests/support/spark4.py), not in leapserve's environment: it imports pyspark and numpy only.

Trains, on 80 rows (a category, three numbers, a 0/1 label and a numeric target), three
pipelines as a Spark 4 user would (a StringIndexer, a VectorAssembler, then a model): a logistic
regression, a random forest classifier and a GBT regressor, and saves each with ``model.save``,
with Spark 4's own predictions for every row as JSON (floats as repr: exact), and the rows as
parquet (the sample `leapserve export` reads). It also saves a pipeline holding a stage that only
Spark 4 has (TargetEncoder), which Spark 3.5 cannot load.

    python spark4_job.py OUT_DIR      # prints {"spark_version": ...} as its last line
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression, RandomForestClassifier
from pyspark.ml.feature import StringIndexer, TargetEncoder, VectorAssembler
from pyspark.ml.regression import GBTRegressor
from pyspark.sql import SparkSession

CATEGORIES = ["red", "green", "blue"]


def rows():
    rnd = np.random.default_rng(4)
    out = []
    for rid in range(80):
        a, b, c = (float(v) for v in rnd.normal(0.0, 1.0, 3).round(4))
        category = CATEGORIES[rid % 3]
        label = 1.0 if a + 0.5 * b - (category == "blue") + rnd.normal(0.0, 0.5) > 0 else 0.0
        target = float(round(2.0 * a - b + 0.3 * c + (category == "red") + rnd.normal(0.0, 0.1), 4))
        out.append((rid, category, a, b, c, label, target))
    return out


def plain(value):
    """A Spark value as JSON: vectors as lists, floats exactly (repr round-trips)."""
    if hasattr(value, "toArray"):
        return [float(v) for v in value.toArray()]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def main(out: Path) -> None:
    spark = (SparkSession.builder.master("local[1]").appName("leapserve-spark4-job")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.createDataFrame(rows(), "rid int, category string, a double, b double, c double, "
                                       "label double, target double")
    df.write.parquet(str(out / "sample.parquet"))
    features = [StringIndexer(inputCol="category", outputCol="category_index"),
                VectorAssembler(inputCols=["category_index", "a", "b", "c"], outputCol="features")]
    models = {
        "logistic": (LogisticRegression(featuresCol="features", labelCol="label", regParam=0.01),
                     ["rawPrediction", "probability", "prediction"]),
        "forest": (RandomForestClassifier(featuresCol="features", labelCol="label", numTrees=8, maxDepth=4,
                                          seed=3), ["rawPrediction", "probability", "prediction"]),
        "gbt": (GBTRegressor(featuresCol="features", labelCol="target", maxIter=6, maxDepth=3, seed=3),
                ["prediction"]),
    }
    for name, (estimator, outputs) in models.items():
        model = Pipeline(stages=[*features, estimator]).fit(df)
        model.save(str(out / name))
        scored = model.transform(df).select("rid", *outputs).collect()
        predictions = {str(r["rid"]): {c: plain(r[c]) for c in outputs} for r in scored}
        (out / f"{name}.predictions.json").write_text(json.dumps(predictions))
    # a stage Spark 3.5 does not have
    encoder = TargetEncoder(inputCols=["category_index"], outputCols=["category_encoded"], labelCol="label")
    Pipeline(stages=[features[0], encoder]).fit(df).save(str(out / "target-encoder"))
    print(json.dumps({"spark_version": spark.version}))
    spark.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
