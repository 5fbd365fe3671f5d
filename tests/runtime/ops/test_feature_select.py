"""Parity with Spark 3.5: chi_sq_selector."""

from __future__ import annotations

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.feature import ChiSqSelector
from pyspark.ml.linalg import Vectors

from tests.support.frames import vector_frame
from tests.support.parity import assert_parity
from leapserve.runtime import SparseVector

NAN = float("nan")


# --- chi_sq_selector -----------------------------------------------------------------------

@pytest.mark.parity("chi_sq_selector")
def test_chi_sq_selector_parity(spark, tmp_path):
    train = vector_frame(spark, [Vectors.dense([1.0, 0.0, 3.0, 2.0, 0.0]), Vectors.dense([0.0, 1.0, 3.0, 0.0, 5.0]),
                                 Vectors.dense([1.0, 0.0, 1.0, 2.0, 0.0]), Vectors.dense([0.0, 1.0, 1.0, 0.0, 5.0]),
                                 Vectors.dense([1.0, 1.0, 3.0, 2.0, 0.0])],
                         column="v", label=[1.0, 0.0, 1.0, 0.0, 1.0])
    model = Pipeline(stages=[
        ChiSqSelector(featuresCol="v", outputCol="top2", labelCol="label", numTopFeatures=2),
        ChiSqSelector(featuresCol="v", outputCol="top4", labelCol="label", numTopFeatures=4),
    ]).fit(train)
    selected = [s.selectedFeatures for s in model.stages]
    assert len(selected[0]) == 2 and len(selected[1]) == 4
    score = vector_frame(spark, [Vectors.dense([1.0, 2.0, 3.0, 4.0, 5.0]), Vectors.sparse(5, [0, 4], [7.0, -1.0]),
                                 Vectors.sparse(5, [], []), Vectors.sparse(5, [1, 2, 3], [0.0, NAN, 2.0]),
                                 Vectors.dense([0.0, 0.0, 0.0, 0.0, 0.0]), Vectors.dense([NAN, -0.0, 1e300, 0, 1])],
                         column="v")
    report = assert_parity(model, score, tmp_path)
    assert report.errors == 0 and report.compared == 2 * 6 * 2
    pipeline = report.pipelines["json"]
    out = pipeline.transform({"v": SparseVector(5, [0, 4], [7.0, -1.0])})
    assert all(isinstance(v, SparseVector) for v in out.values())  # sparse stays sparse, as in Spark
    batch = pipeline.transform_batch({"v": [SparseVector(5, [0, 4], [7.0, -1.0]), SparseVector(5, [2], [3.0])]})
    for i, v in enumerate([SparseVector(5, [0, 4], [7.0, -1.0]), SparseVector(5, [2], [3.0])]):
        assert batch["top4"].row(i) == pipeline.transform({"v": v})["top4"]
