"""Parity: linear regression behind a vector assembler, against Spark's own transform."""

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import LinearRegression

from tests.support.parity import assert_parity


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
