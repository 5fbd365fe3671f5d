"""The parity harness: Spark is the oracle for every op and pipeline.

    report = assert_parity(model, df, tmp_path)

fits nothing itself: ``model`` is a fitted PipelineModel (or transformer) and ``df`` holds the
rows to score, with an integer ``rid`` column identifying each row. For each serialization
format the model is exported with MLeap's serializer, loaded by the native runtime, and every row
is scored both ways:

* rows Spark transforms must come out of ``transform`` with the same values (discrete outputs
  exactly, doubles within 1e-9 absolute or relative);
* rows Spark refuses (its transform raises) must raise ScoringError in the runtime;
* rows Spark drops (handle_invalid "skip") must raise RowSkipped, and be flagged in
  ``transform_batch``'s ``skipped`` mask;
* ``transform_batch`` over the rows must agree with ``transform`` row by row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from leapserve.bundler.compare import compare, record_from_row, spark_value
from leapserve.bundler.export import export_bundle
from leapserve.runtime import RowSkipped, ScoringError, load_bundle
from leapserve.runtime.vectors import DenseVector, SparseBatch, SparseVector
from tests.support import golden

FORMATS = ("json", "protobuf")


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


def spark_outcomes(model, df) -> dict:
    """rid -> Spark's output row (dict), "error" when Spark refuses the row, "skipped" when it drops it."""
    rids = [r["rid"] for r in df.select("rid").collect()]
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
    return out


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


def check_rows(pipeline, records, expected, *, outputs=None, columns=None, tag="", batch=True) -> RowCheck:
    """The runtime answers every record as Spark did, then the batch path as the row path.

    ``records``: (rid, input record) pairs; ``expected``: rid -> Spark's output row (dict), "error"
    when Spark refused the row, "skipped" when it dropped it; ``columns`` maps runtime output
    columns to Spark's where they are named apart. Discrete outputs must be equal, doubles within
    1e-9; refused rows must raise ScoringError, dropped ones RowSkipped."""
    wanted = list(outputs or pipeline.outputs)
    discrete = pipeline.discrete_outputs
    columns = columns or {}
    check = RowCheck()
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
            if spark_col not in want:
                continue
            diff = compare(want[spark_col], got[col], exact=col in discrete)
            check.max_difference = max(check.max_difference, diff.magnitude)
            assert diff.equal, f"{tag}rid {rid}, column {col!r}: {diff.detail}"
            check.compared += 1
    if batch:
        _check_batch(pipeline, records, wanted, check.results, tag)
    return check


def _check_batch(pipeline, records, wanted, row_results, tag) -> None:
    scored = [(rid, record) for rid, record in records if row_results[rid] != "error"]
    if not scored:
        return
    columns = {c: [record.get(c) for _, record in scored] for c in pipeline.inputs}
    result = pipeline.transform_batch(columns, wanted)
    for i, (rid, _) in enumerate(scored):
        single = row_results[rid]
        if single == "skipped":
            assert result.skipped[i], f"{tag}batch: rid {rid} should be flagged skipped"
            continue
        assert not result.skipped[i], f"{tag}batch: rid {rid} flagged skipped but transform scored it"
        for col in wanted:
            got = row_value(result[col], i)
            diff = compare(spark_like(single[col]), got, exact=False)
            assert diff.equal, f"{tag}batch vs transform, rid {rid}, column {col!r}: {diff.detail}"


def spark_like(v):
    """A runtime row output in the shapes compare() expects (numpy arrays, dense vectors -> lists)."""
    if isinstance(v, (np.ndarray, DenseVector)):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v  # SparseVector, numbers, strings as they are
