"""The parity rule of leapserve.bundler.compare (export verification and the parity tests):
doubles relative to their own size, discrete columns as Spark's schema says, per-op tolerances."""

from __future__ import annotations

import math

import pytest

from leapserve.bundler.compare import OP_TOLERANCES, TOLERANCE, Tolerance, compare, spark_discrete_columns
from leapserve.runtime.vectors import SparseVector


def test_doubles_are_held_to_their_own_digits():
    assert compare(0.25, 0.25 * (1 + 1e-13)).equal
    assert not compare(0.25, 0.25 * (1 + 1e-11)).equal
    # a probability near zero 100% off: within 1e-9 absolute, not within 1e-12 relative
    assert not compare(1e-10, 2e-10).equal
    assert not compare(0.0, 1e-300).equal
    assert compare(-0.0, 0.0).equal and compare(math.nan, math.nan).equal
    assert not compare(math.inf, 1.7976931348623157e308).equal and compare(-math.inf, -math.inf).equal
    assert not compare([1.0, 1e-17], [1.0, 2e-17]).equal


def test_exact_and_the_reported_difference():
    assert not compare(1.0, 1.0 + 2 ** -52, exact=True).equal
    diff = compare(2.0, 2.0 * (1 + 5e-13))
    assert diff.equal and diff.magnitude == pytest.approx(5e-13, rel=1e-3)
    with pytest.raises(TypeError):
        compare(1.0, 1.0, tol=1e-9)


def test_op_tolerances_say_why():
    assert all(t.reason for t in OP_TOLERANCES.values())
    dct = OP_TOLERANCES["dct"]
    # an element that cancels to about zero is held to the vector's scale, not its own
    assert compare([4.0, 3.9e-17], [4.0, -2.2e-16], tol=dct).equal
    assert not compare([4.0, 3.9e-17], [4.0, -2.2e-16], tol=TOLERANCE).equal
    assert not compare([4.0, 1e-11], [4.0, -1e-11], tol=dct).equal
    assert compare(SparseVector(2, [0], [4.0]), [4.0, 1e-16], tol=dct).equal
    absolute = Tolerance(absolute=2.0 ** -25)
    diff = compare(1e-6, 1e-6 + 2.0 ** -26, tol=absolute)
    assert diff.equal and diff.magnitude == pytest.approx(2.0 ** -26)


def test_discrete_columns_from_sparks_schema():
    from pyspark.sql.types import ArrayType, DoubleType, IntegerType, StringType, StructField, StructType
    from pyspark.ml.linalg import VectorUDT

    nominal = {"ml_attr": {"type": "nominal", "num_vals": 2, "name": "prediction"}}
    one_hot = {"ml_attr": {"attrs": {"binary": [{"idx": 0, "name": "a"}]}, "num_attrs": 1}}
    mixed = {"ml_attr": {"attrs": {"numeric": [{"idx": 0}], "nominal": [{"idx": 1, "num_vals": 3}]}, "num_attrs": 2}}
    schema = StructType([
        StructField("prediction", DoubleType(), metadata=nominal),
        StructField("probability_like", DoubleType()),
        StructField("cluster", IntegerType()),
        StructField("label", StringType()),
        StructField("tokens", ArrayType(StringType())),
        StructField("one_hot", VectorUDT(), metadata=one_hot),
        StructField("indexed", VectorUDT(), metadata=mixed),
        StructField("features", VectorUDT()),
    ])
    assert spark_discrete_columns(schema) == {"prediction", "cluster", "label", "tokens", "one_hot"}
