"""Parity with Spark 3.5: leapserve.vector_size_hint (VectorSizeHint, written by leapserve's own
Spark op), in each handle_invalid mode, with the vectors Spark checks: the right size dense and
sparse, another size, and null."""

from __future__ import annotations

import pytest

from tests.support.frames import vector_frame
from tests.support.parity import assert_parity


def _rows(spark):
    from pyspark.ml.linalg import Vectors

    vectors = [Vectors.dense([1.0, 2.0, 3.0]), Vectors.sparse(3, [1], [-4.0]), Vectors.dense([0.5, float("nan"), 0.0]),
               Vectors.dense([1.0, 2.0]), Vectors.sparse(5, [4], [1.0]), None]
    frame = vector_frame(spark, vectors, column="v")
    return frame.withColumn("x", frame.rid * 1.5)


@pytest.mark.parity("leapserve.vector_size_hint", "vector_assembler")
@pytest.mark.parametrize("mode, scored, errors, skipped", [("error", 3, 3, 0), ("skip", 3, 0, 3)])
def test_size_checked_before_an_assembler(spark, tmp_path, mode, scored, errors, skipped):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler, VectorSizeHint

    rows = _rows(spark)
    model = Pipeline(stages=[VectorSizeHint(inputCol="v", size=3, handleInvalid=mode),
                             VectorAssembler(inputCols=["v", "x"], outputCol="features")]).fit(rows)
    report = assert_parity(model, rows, tmp_path)
    assert (report.errors, report.skipped) == (2 * errors, 2 * skipped)
    assert report.compared == 2 * scored * 2  # v and features of each scored row, in both formats
    pipeline = report.pipelines["protobuf"]
    assert [st.op for st in pipeline.stages] == ["leapserve.vector_size_hint", "vector_assembler"]
    assert "v" in pipeline.inputs and "v" in pipeline.outputs  # Spark's stage replaces its column


@pytest.mark.parity("leapserve.vector_size_hint")
def test_optimistic_passes_everything(spark, tmp_path):
    from pyspark.ml.feature import VectorSizeHint

    rows = _rows(spark)
    model = VectorSizeHint(inputCol="v", size=3, handleInvalid="optimistic")
    report = assert_parity(model, rows, tmp_path)
    assert (report.errors, report.skipped, report.compared) == (0, 0, 2 * 6)
