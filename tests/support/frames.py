"""Spark DataFrames the op tests score: an int ``rid`` column, which tells the parity harness's rows
apart, beside the column an op reads. pyspark is imported when a builder runs: the op tests that
need no Spark collect without it (make test runs some under Pythons pyspark does not support)."""

from __future__ import annotations


def vector_frame(spark, vectors, *, column: str = "features", first: int = 0, label=None):
    """``rid`` (first, first + 1, ...) and a vector column ``column`` holding ``vectors`` (None: a
    null vector); with ``label``, a double column ``label`` holding those values, row by row."""
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

    fields = [StructField("rid", IntegerType()), StructField(column, VectorUDT())]
    rows = [(first + i, v) for i, v in enumerate(vectors)]
    if label is not None:
        fields.append(StructField("label", DoubleType()))
        rows = [(*row, y) for row, y in zip(rows, label, strict=True)]
    return spark.createDataFrame(rows, StructType(fields))
