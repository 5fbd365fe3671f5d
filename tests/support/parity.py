"""The parity harness: Spark is the oracle for every op and pipeline.

    report = assert_parity(model, df, tmp_path)

fits nothing itself: ``model`` is a fitted PipelineModel (or transformer) and ``df`` holds the
rows to score, with an integer ``rid`` column identifying each row. For each serialization
format the model is exported with MLeap's serializer, loaded by the native runtime, and every row
is scored both ways:

* rows Spark transforms must come out of ``transform`` with the same values (the columns Spark's
  schema says are discrete exactly, doubles within 1e-12 relative or the op's own tolerance:
  leapserve.bundler.compare), and every column Spark's transform adds must be one the runtime
  writes;
* rows Spark refuses (its transform raises) must raise ScoringError in the runtime;
* rows Spark drops (handle_invalid "skip") must raise RowSkipped, and be flagged in
  ``transform_batch``'s ``skipped`` mask;
* ``transform_batch`` over the rows must give Spark's values too, by the same rules.

Every comparison names the ops whose output columns it compared (tests.support.compared): tests/conftest.py
fails a test marked ``@pytest.mark.parity("op")`` that did not compare "op" with Spark or with
MLeap's JVM runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from leapserve.bundler.compare import (TOLERANCE, column_tolerances, compare, record_from_row,
                                       spark_discrete_columns, spark_value)
from leapserve.bundler.export import export_bundle
from leapserve.runtime import RowSkipped, ScoringError, load_bundle
from leapserve.runtime.vectors import DenseVector, SparseBatch, SparseVector
from tests.support import golden
from tests.support.compared import compared

FORMATS = ("json", "protobuf")


class SparkOutcomes(dict):
    """rid -> Spark's output row (dict), "error" or "skipped" (see spark_outcomes), with what
    Spark's schema says: ``discrete``, its discrete columns (compare.spark_discrete_columns), and
    ``produced``, the columns its transform adds to the input's."""

    def __init__(self, rows=(), *, discrete=frozenset(), produced=frozenset()):
        super().__init__(rows)
        self.discrete = frozenset(discrete)
        self.produced = frozenset(produced)


@dataclass
class Counts:
    """What a check against Spark found: values compared, rows refused and rows dropped (by both
    Spark and the runtime), and the largest difference between doubles."""
    compared: int = 0
    errors: int = 0
    skipped: int = 0
    max_difference: float = 0.0

    def add(self, other: "Counts") -> None:
        self.compared += other.compared
        self.errors += other.errors
        self.skipped += other.skipped
        self.max_difference = max(self.max_difference, other.max_difference)


@dataclass
class ParityReport(Counts):
    bundles: dict = field(default_factory=dict)      # format -> bundle path
    pipelines: dict = field(default_factory=dict)    # format -> loaded Pipeline
    spark: dict = field(default_factory=dict)        # rid -> dict of Spark's values | "error" | "skipped"


def spark_outcomes(model, df) -> SparkOutcomes:
    """rid -> Spark's output row (dict), "error" when Spark refuses the row, "skipped" when it drops it."""
    rids = [r["rid"] for r in df.select("rid").collect()]
    try:
        schema = model.transform(df).schema  # lazy: no job runs yet
    except Exception:  # Spark refuses the frame itself (e.g. a column of the wrong type): no schema
        schema = None
    try:
        rows = model.transform(df).collect()
        out = {r["rid"]: {k: spark_value(v) for k, v in r.asDict().items()} for r in rows}
    except Exception:
        out = {}
        for rid in rids:
            try:
                rows = model.transform(df.filter(df.rid == rid)).collect()
            except Exception:
                out[rid] = "error"
                continue
            if rows:
                out[rid] = {k: spark_value(v) for k, v in rows[0].asDict().items()}
    for rid in rids:
        out.setdefault(rid, "skipped")
    if schema is None:
        return SparkOutcomes(out)
    return SparkOutcomes(out, discrete=spark_discrete_columns(schema),
                         produced=[f.name for f in schema.fields if f.name not in df.columns])


def row_value(col, i):
    """Row i of a transform_batch column, as the row path gives it."""
    if isinstance(col, SparseBatch):
        return col.row(i)
    v = col[i]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def assert_parity(model, df, tmp_path, *, formats=FORMATS, outputs=None, check_batch=True) -> ParityReport:
    report = ParityReport(spark=spark_outcomes(model, df))
    for fmt in formats:
        path = tmp_path / f"bundle-{fmt}.zip"
        export_bundle(model, df, path, format=fmt, force=True, verify=False)
        report.bundles[fmt] = path
        report.pipelines[fmt] = load_bundle(path)
    tagged = {f"[{fmt}] ": pipeline for fmt, pipeline in report.pipelines.items()}
    report.add(check_pipelines(tagged, df.collect(), report.spark, outputs=outputs, batch=check_batch))
    return report


def check_pipelines(pipelines: dict, rows, expected: dict, *, outputs=None, columns=None, batch=True) -> Counts:
    """Each pipeline (keyed by the tag its failures start with) answers ``rows`` (Spark Rows with
    an int ``rid``) as ``expected`` (check_rows), and its records are recorded for the golden set
    (golden.record, once per pipeline). Returns the counts summed over the pipelines."""
    total = Counts()
    for tag, pipeline in pipelines.items():
        records = [(row["rid"], record_from_row(row, list(pipeline.inputs))) for row in rows]
        total.add(check_rows(pipeline, records, expected, outputs=outputs, columns=columns, tag=tag, batch=batch))
        golden.record(pipeline, records, expected, outputs=outputs, columns=columns)
    return total


def assert_same_layout(report, rows):
    """Sparse where Spark's answer is sparse, dense where it is dense (the harness compares values)."""
    for fmt, pipeline in report.pipelines.items():
        inputs = list(pipeline.inputs)
        for row in rows.collect():
            expected = report.spark[row["rid"]]
            if not isinstance(expected, dict):  # Spark refused or dropped the row
                continue
            for col, value in pipeline.transform(record_from_row(row, inputs)).items():
                spark_sparse = isinstance(expected.get(col), SparseVector)
                assert spark_sparse == isinstance(value, SparseVector), \
                    f"[{fmt}] rid {row['rid']}, column {col!r}: Spark gave {expected.get(col)!r}, runtime {value!r}"


def parity_with_errors(model, rows, bad_rows, tmp_path, refused=None):
    """assert_parity on the good rows (with Spark's layout: assert_same_layout), then on the rows
    Spark refuses (kept apart: a failing Spark job makes the harness score row by row, which is
    slow). ``refused``: how many of bad_rows Spark refuses (all by default)."""
    report = assert_parity(model, rows, tmp_path / "ok")
    assert report.errors == 0 and report.compared > 0
    assert_same_layout(report, rows)
    bad = assert_parity(model, bad_rows, tmp_path / "bad")
    assert bad.errors == 2 * (bad_rows.count() if refused is None else refused)
    return report


@dataclass
class RowCheck(Counts):
    results: dict = field(default_factory=dict)  # rid -> the runtime's output dict | "error" | "skipped"


def check_rows(pipeline, records, expected, *, outputs=None, columns=None, tag="", batch=True,
               discrete=None) -> RowCheck:
    """The runtime answers every record as Spark did, on the row path and on the batch path.

    ``records``: (rid, input record) pairs; ``expected``: rid -> Spark's output row (dict), "error"
    when Spark refused the row, "skipped" when it dropped it (a SparkOutcomes also says which
    columns Spark's schema holds discrete and which its transform added: every one of those must
    be a column the runtime writes); ``columns`` maps runtime output columns to Spark's where they
    are named apart; ``discrete``: the columns compared exactly when ``expected`` does not say
    (Spark's names). Discrete outputs must be equal, doubles within their op's tolerance
    (compare.column_tolerances); refused rows must raise ScoringError, dropped ones RowSkipped."""
    wanted = list(outputs or pipeline.outputs)
    columns = columns or {}
    if isinstance(expected, SparkOutcomes):
        discrete = expected.discrete
        written = {columns.get(c, c) for c in pipeline.outputs}
        missing = sorted(expected.produced - written)
        assert not missing, f"{tag}Spark's transform adds columns {missing} that the runtime does not write"
    discrete = frozenset(discrete or ())
    tolerance = column_tolerances(pipeline)
    check = RowCheck()
    compared_columns = set()
    for rid, record in records:
        want = expected[rid]
        try:
            got = pipeline.transform(record, wanted)
        except RowSkipped as e:
            assert want == "skipped", f"{tag}rid {rid}: runtime skipped the row ({e}) but Spark gave {want}"
            check.results[rid] = "skipped"
            check.skipped += 1
            continue
        except ScoringError as e:
            assert want == "error", f"{tag}rid {rid}: runtime raised {e!r} but Spark gave {want}"
            check.results[rid] = "error"
            check.errors += 1
            continue
        assert want not in ("error", "skipped"), f"{tag}rid {rid}: Spark gave {want} but the runtime scored {got}"
        check.results[rid] = got
        for col in wanted:
            spark_col = columns.get(col, col)
            if spark_col not in want:  # an intermediate column Spark's transform does not keep
                continue
            compared_columns.add(col)
            diff = compare(want[spark_col], got[col], exact=spark_col in discrete,
                           tol=tolerance.get(col, TOLERANCE))
            check.max_difference = max(check.max_difference, diff.magnitude)
            assert diff.equal, f"{tag}rid {rid}, column {col!r}: {diff.detail}"
            check.compared += 1
    if batch:
        _check_batch(pipeline, records, wanted, expected, check.results, tag, columns, discrete, tolerance)
    if check.compared:
        compared(pipeline, [c for c in wanted if c in compared_columns])
    return check


def _check_batch(pipeline, records, wanted, expected, row_results, tag, columns, discrete, tolerance) -> None:
    """transform_batch over the rows the row path scored or dropped: Spark's values, by the rules
    of the row path, and the dropped rows flagged."""
    scored = [(rid, record) for rid, record in records if row_results[rid] != "error"]
    if not scored:
        return
    batch_columns = {c: [record.get(c) for _, record in scored] for c in pipeline.inputs}
    result = pipeline.transform_batch(batch_columns, wanted)
    for i, (rid, _) in enumerate(scored):
        if row_results[rid] == "skipped":
            assert result.skipped[i], f"{tag}batch: rid {rid} should be flagged skipped"
            continue
        assert not result.skipped[i], f"{tag}batch: rid {rid} flagged skipped but transform scored it"
        want = expected[rid]
        for col in wanted:
            spark_col = columns.get(col, col)
            if spark_col not in want:
                continue
            got = spark_like(row_value(result[col], i))
            diff = compare(want[spark_col], got, exact=spark_col in discrete, tol=tolerance.get(col, TOLERANCE))
            assert diff.equal, f"{tag}batch, rid {rid}, column {col!r}: {diff.detail}"


def spark_like(v):
    """A runtime row output in the shapes compare() expects (numpy arrays, dense vectors -> lists)."""
    if isinstance(v, (np.ndarray, DenseVector)):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v  # SparseVector, numbers, strings as they are
