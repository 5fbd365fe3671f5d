"""Native runtime speed against MLeap's JVM runtime and Spark local mode, in one run.

    .venv/bin/python bench/runtime.py [--seconds 2] [--rows 100000] [--no-spark] [--only NAME]

For each model (the airbnb RF and LR fixtures written by MLeap, and the example pipelines) it
measures, on the same machine and in the same invocation:

* native single record: ``Pipeline.transform(record)`` (best round, microseconds per record);
* MLeap JVM single record: ``RowTransformer.transform`` and ``Transformer.transform`` of a
  one-row LeapFrame (bundler/jvm/MleapHarness.java, best round after warm-up);
* batches: native ``transform_batch`` of N records, MLeap's ``Transformer.transform`` of the same
  N-row LeapFrame, and Spark local mode's ``PipelineModel.transform`` of the same rows written to
  the no-op sink (rows per second);
* Spark local mode, one record: ``transform`` of a one-row DataFrame and ``collect``.

Ratios are printed against the JVM and Spark numbers of the same run; the machine is shared, so
only ratios measured together mean anything.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
FIXTURES = REPO.parent / "shared" / "fixtures" / "mleap"
EXAMPLES = REPO / "build" / "examples"


def best_per_call(fn, seconds: float, inner: int = 200) -> float:
    """Best per-call time over rounds of `inner` calls, after a third of the budget as warm-up."""
    warm_end = time.perf_counter() + seconds / 3
    while time.perf_counter() < warm_end:
        fn()
    best = float("inf")
    end = time.perf_counter() + seconds * 2 / 3
    while time.perf_counter() < end:
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


# --- workloads -----------------------------------------------------------------------------

def airbnb_workload(name: str, rows: int, rng):
    frame = json.loads((FIXTURES / "frame.airbnb.json").read_text())
    fields = frame["schema"]["fields"]
    names = [f["name"] for f in fields]
    base = frame["rows"][0]
    record = dict(zip(names, base))
    columns = {}
    for f, v in zip(fields, base):
        if f["type"] == "double":
            columns[f["name"]] = (v * rng.uniform(0.5, 1.5, rows)).round(1)
        else:
            columns[f["name"]] = np.array([v] * rows, dtype=object)
    big = {"schema": frame["schema"],
           "rows": [[columns[n][i].item() if hasattr(columns[n][i], "item") else columns[n][i] for n in names]
                    for i in range(rows)]}
    return {"name": name, "bundle": FIXTURES / f"{name}.zip", "record": record, "frame1": frame,
            "columns": columns, "frame": big, "spark_model": None, "spark_rows": None}


def example_workload(name: str, rows: int, rng, spark):
    """An example pipeline: its bundle, its Spark model and rows resampled from its sample data."""
    from pyspark.ml import PipelineModel

    from bundler.mleap_jvm import leapframe

    folder = EXAMPLES / name
    if not (folder / "bundle-json.zip").exists():
        from bundler.examples import EXAMPLES as ALL

        ALL[name].write(str(EXAMPLES))
    model = PipelineModel.load(str(folder / "spark-model"))
    sample = spark.read.parquet(str(folder / "sample.parquet"))
    from server.runtime import load_bundle

    inputs = list(load_bundle(folder / "bundle-json.zip").inputs)
    sample = sample.select(inputs).dropna(subset=[c for c in inputs if c != "sex"])
    local = sample.collect()
    picks = rng.integers(0, len(local), rows)
    columns = {c: np.array([local[i][c] for i in picks], dtype=object) for c in inputs}
    for c in inputs:
        if all(isinstance(v, float) for v in columns[c][:100]):
            columns[c] = columns[c].astype(np.float64)
    record = {c: local[0][c] for c in inputs}
    one = sample.limit(1)
    many = spark.createDataFrame([tuple(local[i][c] for c in inputs) for i in picks], schema=sample.schema)
    frame1 = leapframe(one)
    frame = leapframe(many)
    return {"name": name, "bundle": folder / "bundle-json.zip", "record": record, "frame1": frame1,
            "columns": columns, "frame": frame, "spark_model": model, "spark_one": one, "spark_many": many}


# --- measurements --------------------------------------------------------------------------

def native(work, seconds):
    from server.runtime import load_bundle

    model = load_bundle(work["bundle"])
    record = work["record"]
    row = best_per_call(lambda: model.transform(record), seconds)
    final = [list(model.outputs)[-1]]
    row_final = best_per_call(lambda: model.transform(record, final), seconds)
    cols = work["columns"]
    model.transform_batch({k: v[:100] for k, v in cols.items()})
    n = len(next(iter(cols.values())))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        model.transform_batch(cols)
        best = min(best, time.perf_counter() - start)
    return {"row": row, "row_final": row_final, "batch_rows_per_s": n / best}


def jvm(work, seconds):
    from bundler.mleap_jvm import MleapJvm

    with MleapJvm() as harness:
        row, frame = harness.bench(work["bundle"], work["frame1"], seconds)
        batch = harness.batch(work["bundle"], work["frame"], repeats=3)
    return {"row": row, "frame": frame, "batch_rows_per_s": len(work["frame"]["rows"]) / batch}


def spark_local(work, spark, seconds):
    model = work.get("spark_model")
    if model is None:
        from pyspark.ml import PipelineModel

        import mleap.pyspark.spark_support  # noqa: F401  (adds deserializeFromBundle)

        try:
            model = PipelineModel.deserializeFromBundle(f"jar:file:{work['bundle']}")
        except Exception as e:  # MLeap 0.16's Spark reader fails for some ops on Spark 3.5
            return {"row": None, "batch_rows_per_s": None, "note": f"MLeap cannot load it into Spark: {str(e)[:80]}"}
        frame = work["frame1"]
        names = [f["name"] for f in frame["schema"]["fields"]]
        one = spark.createDataFrame([tuple(frame["rows"][0])], names)
        many = spark.createDataFrame([tuple(r) for r in work["frame"]["rows"]], names)
    else:
        one, many = work["spark_one"], work["spark_many"]
    many = many.cache()
    many.count()
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds * 2 or n < 5:
        model.transform(one).collect()
        n += 1
    row = (time.perf_counter() - start) / n
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        model.transform(many).write.format("noop").mode("overwrite").save()
        best = min(best, time.perf_counter() - t)
    many.unpersist()
    return {"row": row, "batch_rows_per_s": many.count() / best}


def fmt_us(s):
    return "n/a" if s is None else f"{s * 1e6:,.1f} us" if s < 1e-2 else f"{s * 1e3:,.1f} ms"


def fmt_rate(r):
    return "n/a" if r is None else f"{r:,.0f}/s"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time budget per single-record measurement")
    ap.add_argument("--rows", type=int, default=100_000, help="records per batch")
    ap.add_argument("--no-spark", action="store_true", help="skip Spark local mode")
    ap.add_argument("--only", action="append", help="only these models")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(42)

    import bundler

    spark = bundler.spark_session()
    works = []
    for name in ("airbnb.model.rf", "airbnb.model.lr"):
        if not args.only or name in args.only:
            works.append(airbnb_workload(name, args.rows, rng))
    for name in ("penguins_species", "penguins_mass"):
        if not args.only or name in args.only:
            works.append(example_workload(name, args.rows, rng, spark))

    results = []
    for work in works:
        print(f"measuring {work['name']} ...", file=sys.stderr)
        res = {"name": work["name"], "native": native(work, args.seconds), "jvm": jvm(work, args.seconds)}
        res["spark"] = None if args.no_spark else spark_local(work, spark, args.seconds)
        results.append(res)

    print(f"\nleapserve native runtime vs MLeap JVM runtime ({bundler.jars.MLEAP_RUNTIME_VERSION}) "
          f"and Spark {spark.version} local mode; {args.rows:,} records per batch\n")
    print("| model | native transform | MLeap RowTransformer | MLeap LeapFrame transform | native / LeapFrame | "
          "native / RowTransformer | Spark local, 1 record | Spark / native |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        n, j, s = r["native"], r["jvm"], r["spark"] or {}
        srow = s.get("row")
        spark_ratio = "n/a" if srow is None else f"{srow / n['row']:,.0f}x"
        print(f"| {r['name']} | {fmt_us(n['row'])} (final output only: {fmt_us(n['row_final'])}) | "
              f"{fmt_us(j['row'])} | {fmt_us(j['frame'])} | {n['row'] / j['frame']:.2f}x | "
              f"{n['row'] / j['row']:.2f}x | {fmt_us(srow)} | {spark_ratio} |")
    print("\n| model | native transform_batch | MLeap LeapFrame batch | Spark local batch | native / Spark | "
          "native / MLeap |")
    print("|---|---|---|---|---|---|")
    for r in results:
        n, j, s = r["native"], r["jvm"], r["spark"] or {}
        sb = s.get("batch_rows_per_s")
        spark_ratio = "n/a" if not sb else f"{n['batch_rows_per_s'] / sb:.2f}x"
        print(f"| {r['name']} | {fmt_rate(n['batch_rows_per_s'])} | {fmt_rate(j['batch_rows_per_s'])} | "
              f"{fmt_rate(sb)} | {spark_ratio} | {n['batch_rows_per_s'] / j['batch_rows_per_s']:.2f}x |")
    notes = [f"{r['name']}: {r['spark']['note']}" for r in results if r["spark"] and r["spark"].get("note")]
    for note in notes:
        print(f"\nnote: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
