"""Data the multi-layer perceptron and one-vs-rest tests share (test_classification_ann.py,
test_classification_ovr.py). pyspark is imported when a fixture runs: the op tests that need no
Spark collect without it (make test runs some under Pythons pyspark does not support)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.frames import vector_frame

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def training(spark):
    """Three classes over four non-negative features (naive Bayes needs them)."""
    from pyspark.ml.linalg import Vectors

    rnd = np.random.default_rng(17)
    rows = []
    for label, center in enumerate(([1.0, 4.0, 0.5, 2.0], [4.0, 1.0, 2.0, 0.5], [2.5, 2.5, 4.0, 4.0])):
        for p in np.abs(rnd.normal(center, 0.9, (20, 4))).round(2).tolist():
            rows.append((Vectors.dense(p), float(label)))
    return spark.createDataFrame(rows, ["features", "label"])


@pytest.fixture(scope="module")
def score_rows(spark):
    from pyspark.ml.linalg import Vectors

    rnd = np.random.default_rng(23)
    vectors = [Vectors.dense(v) for v in np.abs(rnd.normal(2.5, 1.5, (25, 4))).round(2).tolist()]
    vectors += [Vectors.dense([0.0] * 4), Vectors.sparse(4, [1], [3.0]), Vectors.sparse(4, [], []),
                Vectors.sparse(4, [0, 3], [5.0, 0.5]), Vectors.dense([1e6, 0.0, 0.0, 1e-6]),
                Vectors.dense([2.5, 2.5, 2.5, 2.5]), Vectors.dense([-0.0, 1.0, 2.0, 3.0])]
    return vector_frame(spark, vectors)


@pytest.fixture(scope="module")
def odd_rows(spark):
    """NaN and infinities (scored by most models), a negative feature (naive Bayes refuses it)."""
    from pyspark.ml.linalg import Vectors

    return vector_frame(spark, [Vectors.dense([NAN, 1.0, 1.0, 1.0]), Vectors.dense([INF, 1.0, 1.0, 1.0]),
                         Vectors.dense([1.0, -INF, 1.0, 1.0]), Vectors.dense([-1.0, 2.0, 2.0, 2.0])], first=100)


@pytest.fixture(scope="module")
def bad_rows(spark):
    from pyspark.ml.linalg import Vectors

    return vector_frame(spark, [None, Vectors.dense([1.0, 2.0, 3.0]), Vectors.sparse(5, [0], [1.0])], first=200)
