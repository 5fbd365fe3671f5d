"""Saving an example: the Spark model, its sample rows and a bundle in each format."""

from __future__ import annotations

from pathlib import Path

FORMATS = ("json", "protobuf")
VERIFY_ROWS = 1000


def summary_line(name: str, record) -> str:
    """One line about an export: where, format, stages, inputs and the verification outcome."""
    v = record.verification or {"status": "not run"}
    if v["status"] in ("ok", "mismatch"):
        check = f"verification {v['status']} ({v['rows']} rows, max difference {v['max_difference']:.3g})"
    else:
        check = f"verification {v['status']}"
    return (f"{name}: {record.path} ({record.format}, MLeap {record.mleap_version}, "
            f"{len(record.stages)} stages, {len(record.inputs)} inputs -> {len(record.outputs)} outputs; {check})")


def write_example(name: str, train, out_dir) -> dict:
    """Run ``train(spark)`` and write everything under out_dir/<name>/; returns format -> ExportRecord."""
    from leapserve import bundler

    target = Path(out_dir).expanduser().resolve() / name
    target.mkdir(parents=True, exist_ok=True)
    spark = bundler.spark_session()
    model, sample = train(spark)
    model.write().overwrite().save(str(target / "spark-model"))
    print(f"{name}: Spark model saved to {target / 'spark-model'}", flush=True)
    sample.write.mode("overwrite").parquet(str(target / "sample.parquet"))
    print(f"{name}: {sample.count()} sample rows saved to {target / 'sample.parquet'}", flush=True)
    records = {}
    for fmt in FORMATS:
        # Verify on every row (the default is the first 100, which here would be one species).
        record = bundler.export_bundle(model, sample, target / f"bundle-{fmt}.zip", format=fmt, force=True,
                                       sample_rows=VERIFY_ROWS)
        print(summary_line(name, record), flush=True)
        records[fmt] = record
    return records
