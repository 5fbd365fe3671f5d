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
from leapserve.runtime.vectors import DenseVector, SparseBatch

FORMATS = ("json", "protobuf")


@dataclass
class ParityReport:
    bundles: dict = field(default_factory=dict)      # format -> bundle path
    pipelines: dict = field(default_factory=dict)    # format -> loaded Pipeline
    spark: dict = field(default_factory=dict)        # rid -> dict of Spark's values | "error" | "skipped"
    compared: int = 0
    errors: int = 0
    skipped: int = 0
    max_difference: float = 0.0


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


def _row_value(col, i):
    if isinstance(col, SparseBatch):
        return col.row(i)
    v = col[i]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def assert_parity(model, df, tmp_path, *, formats=FORMATS, outputs=None, check_batch=True) -> ParityReport:
    report = ParityReport()
    report.spark = spark_outcomes(model, df)
    input_rows = df.collect()
    for fmt in formats:
        path = tmp_path / f"bundle-{fmt}.zip"
        export_bundle(model, df, path, format=fmt, force=True, verify=False)
        report.bundles[fmt] = path
        pipeline = load_bundle(path)
        report.pipelines[fmt] = pipeline
        inputs = list(pipeline.inputs)
        discrete = pipeline.discrete_outputs
        wanted = outputs or list(pipeline.outputs)
        row_results = {}
        for row in input_rows:
            rid = row["rid"]
            record = record_from_row(row, inputs)
            expected = report.spark[rid]
            try:
                got = pipeline.transform(record, wanted)
            except RowSkipped as e:
                assert expected == "skipped", f"[{fmt}] rid {rid}: runtime skipped the row ({e}) but Spark gave {expected}"
                row_results[rid] = "skipped"
                report.skipped += 1
                continue
            except ScoringError as e:
                assert expected == "error", f"[{fmt}] rid {rid}: runtime raised {e!r} but Spark gave {expected}"
                row_results[rid] = "error"
                report.errors += 1
                continue
            assert expected not in ("error", "skipped"), \
                f"[{fmt}] rid {rid}: Spark gave {expected} but the runtime scored {got}"
            row_results[rid] = got
            for col in wanted:
                if col not in expected:
                    continue
                diff = compare(expected[col], got[col], exact=col in discrete)
                report.max_difference = max(report.max_difference, diff.magnitude)
                assert diff.equal, f"[{fmt}] rid {rid}, column {col!r}: {diff.detail}"
                report.compared += 1
        if check_batch:
            _check_batch(pipeline, input_rows, inputs, wanted, row_results, fmt)
    return report


def _check_batch(pipeline, input_rows, inputs, wanted, row_results, fmt) -> None:
    rows = [r for r in input_rows if row_results[r["rid"]] != "error"]
    if not rows:
        return
    columns = {c: [record_from_row(r, [c])[c] for r in rows] for c in inputs}
    result = pipeline.transform_batch(columns, wanted)
    for i, row in enumerate(rows):
        rid = row["rid"]
        single = row_results[rid]
        if single == "skipped":
            assert result.skipped[i], f"[{fmt}] batch: rid {rid} should be flagged skipped"
            continue
        assert not result.skipped[i], f"[{fmt}] batch: rid {rid} flagged skipped but transform scored it"
        for col in wanted:
            got = _row_value(result[col], i)
            diff = compare(spark_like(single[col]), got, exact=False)
            assert diff.equal, f"[{fmt}] batch vs transform, rid {rid}, column {col!r}: {diff.detail}"


def spark_like(v):
    """A runtime row output in the shapes compare() expects (numpy arrays, dense vectors -> lists)."""
    if isinstance(v, (np.ndarray, DenseVector)):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v  # SparseVector, numbers, strings as they are
