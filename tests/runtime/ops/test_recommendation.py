"""als (ALSModel) against Spark 3.5's own transform.

Predictions are float32 dot products and must match Spark exactly. Unseen users and items give
NaN with coldStartStrategy "nan" and drop the row with "drop"; MLeap does not record the strategy,
so the export adds the attribute ``cold_start_strategy`` to "drop" bundles. Ids that are null, NaN,
fractional or outside Int range are refused, as Spark's checkIntegers does. A pipeline of string
indexers (handleInvalid "keep") feeding ALS covers unseen user and item names.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.ml import Pipeline
from pyspark.ml.feature import StringIndexer
from pyspark.ml.recommendation import ALS

from leapserve.bundler.export import export_bundle
from tests.support.handmade import check_against_spark, node, string, write_bundle
from tests.support.parity import assert_parity
from leapserve.runtime import BundleError, InvalidInput, RowSkipped, load_bundle

NAN = float("nan")


@pytest.fixture(scope="module")
def ratings(spark):
    rnd = np.random.default_rng(41)
    rows = [(int(u), int(i), float(rnd.integers(1, 6))) for u in range(12) for i in range(15) if rnd.random() < 0.4]
    rows += [(-3, 2, 4.0), (2_000_000_000, 7, 1.0), (5, -8, 2.0)]
    return spark.createDataFrame(rows, ["user", "item", "rating"])


def pairs(spark, items, schema="rid int, user int, item int"):
    return spark.createDataFrame([(i, *p) for i, p in enumerate(items)], schema)


PAIRS = [(u, i) for u in (0, 3, 7, 11, -3, 2_000_000_000, 5) for i in (0, 2, 7, 14, -8)]
UNSEEN = [(99, 2), (3, 99), (99, 99), (-1, 0), (0, -2_147_483_648), (2_147_483_647, 1)]


@pytest.fixture(scope="module")
def models(ratings):
    fitted = {s: ALS(rank=12, maxIter=4, regParam=0.05, seed=3, coldStartStrategy=s).fit(ratings)
              for s in ("nan", "drop")}
    return fitted


@pytest.mark.parity("als")
def test_als_nan_strategy(spark, tmp_path, models):
    model = models["nan"]
    report = assert_parity(model, pairs(spark, PAIRS + UNSEEN), tmp_path)
    assert report.errors == 0 and report.skipped == 0
    assert report.max_difference == 0.0  # float32 arithmetic, exactly Spark's
    values = [v["prediction"] for v in report.spark.values()]
    assert sum(math.isnan(v) for v in values) == len(UNSEEN)


def test_als_ids_spark_refuses(spark, tmp_path, models):
    model = models["nan"]
    rows = pairs(spark, [(0.0, 2.0), (1.5, 2.0), (NAN, 2.0), (3e9, 2.0), (None, 2.0), (3.0, None), (-0.0, 7.0)],
                 "rid int, user double, item double")
    report = assert_parity(model, rows, tmp_path, formats=("json",))
    assert report.errors == 5 and report.compared == 2
    pipeline = report.pipelines["json"]
    with pytest.raises(InvalidInput, match="user"):
        pipeline.transform_batch({"user": [0.0, 2.5], "item": [1.0, 1.0]})
    assert pipeline.transform({"user": 3, "item": "7"})["prediction"] == pipeline.transform(
        {"user": 3.0, "item": 7})["prediction"]


@pytest.mark.parity("als")
def test_als_drop_strategy(spark, tmp_path, models):
    model = models["drop"]
    rows = pairs(spark, PAIRS + UNSEEN)
    pipelines = []
    for fmt in ("json", "protobuf"):
        path = tmp_path / f"als-{fmt}.zip"
        export_bundle(model, rows, path, format=fmt, force=True, verify=False)
        # MLeap does not record the strategy; the export adds it (bundler/export.py FIXUPS)
        pipeline = load_bundle(path)
        assert pipeline.stages[0].model.cold_start_strategy == "drop"
        pipelines.append(pipeline)
    compared, errors, skipped = check_against_spark(pipelines, model, rows, "drop")
    assert errors == 0 and skipped == 2 * len(UNSEEN) and compared == 2 * len(PAIRS)
    batch = pipelines[0].transform_batch({"user": [0, 99, 3, 3], "item": [2, 2, 99, 7]})
    assert batch.skipped.tolist() == [False, True, True, False]
    with pytest.raises(RowSkipped):
        pipelines[1].transform({"user": 3, "item": 99})


@pytest.mark.parity("string_indexer", "als")
def test_als_pipeline_with_unseen_names(spark, tmp_path):
    rnd = np.random.default_rng(5)
    users = ["ann", "bob", "cy", "dee", "eve", "fay"]
    items = ["apple", "bean", "corn", "date", "egg", "fig", "grape"]
    train = spark.createDataFrame([(u, i, float(rnd.integers(1, 6))) for u in users for i in items
                                   if rnd.random() < 0.6], ["who", "what", "rating"])
    model = Pipeline(stages=[StringIndexer(inputCol="who", outputCol="user", handleInvalid="keep"),
                             StringIndexer(inputCol="what", outputCol="item", handleInvalid="keep"),
                             ALS(rank=4, maxIter=5, seed=9, userCol="user", itemCol="item")]).fit(train)
    rows = spark.createDataFrame([(n, u, i) for n, (u, i) in enumerate(
        [(u, i) for u in users[:3] for i in items[:4]] + [("zed", "apple"), ("ann", "kiwi"), ("zed", "kiwi"),
                                                         ("bob", None), (None, "fig")])],
        "rid int, who string, what string")
    report = assert_parity(model, rows, tmp_path)
    assert report.errors == 0 and report.max_difference == 0.0
    assert sum(math.isnan(v["prediction"]) for v in report.spark.values()) == 5


def test_als_bundle_checks(tmp_path):
    def load(attrs):
        als = node("als", "als", attrs, inputs=[("user", "u"), ("item", "i")], outputs=[("prediction", "p")])
        path = write_bundle(tmp_path / "als", "protobuf", [als])
        return load_bundle(path)

    factors = {"type": "list", "tensor": [{"float": [0.5, 0.25], "shape": {"dimensions": [{"size": 2}]}},
                                          {"float": [1.0, -2.0], "shape": {"dimensions": [{"size": 2}]}}]}
    base = {"rank": {"int": 2}, "users": {"type": "list", "int": [4, 9]}, "user_factors": factors,
            "items": {"type": "list", "int": [1, 2]}, "item_factors": factors}
    p = load(base)
    assert p.transform({"u": 9, "i": 1})["p"] == 1.0 * 0.5 + -2.0 * 0.25
    assert math.isnan(p.transform({"u": 5, "i": 1})["p"])
    batch = p.transform_batch({"u": np.array([4, 5, 9]), "i": np.array([2, 2, 2])})
    assert batch["p"][0] == 0.5 - 0.5 and math.isnan(batch["p"][1]) and batch["p"][2] == 5.0
    assert len(p.transform_batch({"u": [], "i": []})["p"]) == 0
    with pytest.raises(BundleError, match="cold_start_strategy"):
        load({**base, "cold_start_strategy": string("zero")})
    with pytest.raises(BundleError, match="twice"):
        load({**base, "users": {"type": "list", "int": [4, 4]}})
    with pytest.raises(BundleError, match="rank"):
        load({**base, "rank": {"int": 3}})
