"""Parity with Spark 3.5: SQLTransformer statements of double arithmetic, exported as MLeap's
math_unary and math_binary nodes (bundler/equivalents.py); the statements that do not map are
refused, naming the part that does not."""

from __future__ import annotations

import math

import pytest

from leapserve.bundler import StageNotSerializable, export_bundle
from tests.support.parity import assert_parity

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def numbers(spark):
    rows = [(0, 1.5, 2.0, 3), (1, -4.0, 0.5, 1), (2, 0.0, -0.0, 0), (3, NAN, 1.0, 2), (4, INF, -2.5, 5),
            (5, 1e300, 1e10, 7), (6, -0.0, -INF, 9), (7, 2.0, 10.0, -1)]
    return spark.createDataFrame(rows, "rid int, a double, b double, n int")


@pytest.mark.parity("math_binary", "math_unary")
def test_arithmetic_and_selection(spark, mleap_jvm, numbers, tmp_path):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import SQLTransformer

    statement = ("SELECT *, a + b AS c, (A - 2) * b AS d, sqrt(abs(a)) AS e, -b AS f, pow(b, 2.5) AS g, "
                 "a AS h, 3 - exp(sin(b) * cos(a) + tan(b)) AS i, power(2, a) AS j FROM __THIS__")
    model = Pipeline(stages=[SQLTransformer(statement=statement),
                             SQLTransformer(statement="SELECT *, c * 2 AS k FROM __THIS__")]).fit(numbers)
    report = assert_parity(model, numbers, tmp_path / "star")
    assert report.errors == 0
    pipeline = report.pipelines["json"]
    assert set(pipeline.inputs) == {"a", "b"}
    # c to k in both formats (the temporary columns of nested operations are not in Spark's rows)
    assert report.compared == 2 * 8 * 9
    ops = [st.op for st in pipeline.stages]
    assert ops.count("math_unary") == 6 and ops.count("math_binary") == 11
    # MLeap's own runtime reads the nodes too and agrees with Spark (finite rows: its JSON frames)
    finite = [rid for rid, row in report.spark.items() if all(math.isfinite(row[c]) for c in "abcdefghijk")]
    assert len(finite) == 4
    frame = {"schema": {"fields": [{"name": "a", "type": "double"}, {"name": "b", "type": "double"}]},
             "rows": [[report.spark[rid]["a"], report.spark[rid]["b"]] for rid in finite]}
    for fmt, bundle in report.bundles.items():
        scored = mleap_jvm.score(bundle, frame)
        names = [f["name"] for f in scored["schema"]["fields"]]
        for rid, row in zip(finite, scored["rows"]):
            for c in "cdefghijk":
                assert row[names.index(c)] == pytest.approx(report.spark[rid][c], rel=1e-12), (fmt, rid, c)

    # a selection: Spark's rows hold a and d only
    selection = SQLTransformer(statement="SELECT a, b * 2 AS d FROM __THIS__")
    report = assert_parity(selection, numbers, tmp_path / "selection")
    assert report.errors == 0 and report.compared == 2 * 8
    assert list(report.pipelines["protobuf"].outputs) == ["d"]

@pytest.mark.parametrize("statement, part", [
    ("SELECT *, a / b AS c FROM __THIS__", "division (Spark SQL gives null for a zero divisor"),
    ("SELECT *, log(a) AS c FROM __THIS__", "log (Spark SQL gives null for x <= 0"),
    ("SELECT *, a + n AS c FROM __THIS__", "column 'n' of type int"),
    ("SELECT *, a + 1 AS c FROM __THIS__ WHERE b > 0", "a WHERE clause"),
    ("SELECT *, a + zz AS c FROM __THIS__", "column 'zz' (not one column of the data the stage reads)"),
    ("SELECT *, a + b FROM __THIS__", "(a selected expression needs a name"),
    ("SELECT *, a + b AS b FROM __THIS__", "column 'b', which * already selects"),
    ("SELECT *, concat(a, b) AS c FROM __THIS__", "function concat"),
    ("SELECT a FROM __THIS__", "nothing to compute"),
    ("SELECT *, 1 + 2 AS c FROM __THIS__", "(a constant"),
])
def test_refused_statements_name_the_part(spark, numbers, tmp_path, statement, part):
    from pyspark.ml.feature import SQLTransformer

    stage = SQLTransformer(statement=statement)
    with pytest.raises(StageNotSerializable) as err:
        export_bundle(stage, numbers, tmp_path / "b.zip")
    message = str(err.value)
    assert message.startswith(f"stage {stage.uid!r} (org.apache.spark.ml.feature.SQLTransformer) cannot be exported: "
                              f"its statement {statement!r} has no equivalent in leapserve's ops: ")
    assert part in message
    assert not (tmp_path / "b.zip").exists()
