"""Fixtures of the server tests: bundles fitted with real Spark, and the server they share.

Bundles are session-scoped (three small Spark fits in all). Each server is a separate process on
loopback (or a Unix socket), started through the real CLI by tests/conftest.py's start_server or
start_module_server and stopped with SIGTERM (killed if it does not stop).

Never import leapserve.oip in the test process: tritonclient brings its own copy of the
``inference`` protobuf package and both cannot live in one process.
"""

from __future__ import annotations

import zipfile

import pytest

from tests.support.bundles import V1_ROWS, v1_expected, v2_expected


# --- bundles ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def bundles(spark, tmp_path_factory):
    """name -> bundle path: lr_v1 (zip, json), lr_v2 (zip, protobuf), lr_vector (LR alone:
    a vector input), lr_v1_dir (directory bundle of v1)."""
    from leapserve import bundler
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import LinearRegression

    out = tmp_path_factory.mktemp("bundles")
    df1 = spark.createDataFrame([(a, b, v1_expected(a, b)) for a, b in V1_ROWS], ["a", "b", "y"])
    df2 = spark.createDataFrame([(a, b, v2_expected(a, b)) for a, b in V1_ROWS], ["a", "b", "y"])

    def fit(df):
        return Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"),
                                LinearRegression(labelCol="y", regParam=0.0)]).fit(df)

    m1, m2 = fit(df1), fit(df2)
    paths = {
        "lr_v1": out / "lr_v1.zip",
        "lr_v2": out / "lr_v2.zip",
        "lr_v1_dir": out / "lr_v1_dir",
        "lr_vector": out / "lr_vector.zip",
    }
    bundler.export_bundle(m1, df1, paths["lr_v1"], format="json", verify=True)
    bundler.export_bundle(m2, df2, paths["lr_v2"], format="protobuf", verify=True)
    with zipfile.ZipFile(paths["lr_v1"]) as z:  # the same bundle as a directory
        z.extractall(paths["lr_v1_dir"])
    lr_alone = m1.stages[1]
    bundler.export_bundle(lr_alone, m1.stages[0].transform(df1).select("features", "y"), paths["lr_vector"],
                          format="json", verify=True)
    return paths


@pytest.fixture(scope="module")
def lr_server(start_module_server, bundles):
    """One server for the read-only tests: lr (v1, and v2 as version 2), vec (vector input)."""
    return start_module_server("--model", f"lr:1={bundles['lr_v1']}", "--model", f"lr:2={bundles['lr_v2']}",
                               "--model", f"vec={bundles['lr_vector']}", "--model", f"lrdir={bundles['lr_v1_dir']}",
                               "--max-batch-rows", "5000", "--max-message-size", "4M")




CLF_OPS = ("string_indexer", "vector_assembler", "logistic_regression", "reverse_string_indexer")


@pytest.fixture(scope="session")
def clf_bundle(spark, tmp_path_factory):
    """A classifier: color -> StringIndexer (handleInvalid "skip") + x -> VectorAssembler ->
    LogisticRegression -> IndexToString. Unseen colors are rows Spark drops."""
    from tests.support.bundles import has_ops

    if not has_ops(*CLF_OPS):
        pytest.skip(f"the runtime lacks some of {CLF_OPS}")
    from leapserve import bundler
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import IndexToString, StringIndexer, VectorAssembler

    rows = [("red", 0.1, 0.0), ("red", 0.4, 0.0), ("green", 2.0, 1.0), ("green", 1.5, 1.0), ("blue", 0.3, 0.0),
            ("blue", 2.5, 1.0), ("red", 3.0, 1.0), ("green", 0.2, 0.0)]
    df = spark.createDataFrame(rows, ["color", "x", "label"])
    model = Pipeline(stages=[
        StringIndexer(inputCol="color", outputCol="color_idx", handleInvalid="skip"),
        VectorAssembler(inputCols=["color_idx", "x"], outputCol="features"),
        LogisticRegression(labelCol="label", regParam=0.1),
        IndexToString(inputCol="prediction", outputCol="answer", labels=["no", "yes"]),
    ]).fit(df)
    path = tmp_path_factory.mktemp("clf") / "clf.zip"
    bundler.export_bundle(model, df, path, format="json", verify=True)
    return path
