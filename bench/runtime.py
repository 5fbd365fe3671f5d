"""Native runtime speed against MLeap's JVM runtime and Spark local mode, in one run.

    .venv/bin/python bench/runtime.py [--seconds 2] [--rows 100000] [--no-spark] [--only NAME]

For each model (the airbnb RF and LR fixtures written by MLeap, the example pipelines, and four
fitted on the spot: a one-vs-rest and a multi-layer perceptron on the penguins' features, a
StandardScaler alone on those features (the cost of a one-op pipeline, almost no arithmetic), and
Tokenizer + HashingTF + IDF + LogisticRegression; and, with the xgboost extra, XGBoost's
SparkXGBClassifier of 100 trees of depth 6 on the penguins' features, which MLeap's JVM harness
cannot score: its MLeap columns read n/a) it measures, on the same machine and in the same
invocation:

* native single record: ``Pipeline.transform(record)`` (best round, microseconds per record);
* MLeap JVM single record: ``RowTransformer.transform`` and ``Transformer.transform`` of a
  one-row LeapFrame (tools/mleap_jvm/MleapHarness.java, best round after warm-up);
* batches: native ``transform_batch`` of N records, MLeap's ``Transformer.transform`` of the same
  N-row LeapFrame, and Spark local mode's ``PipelineModel.transform`` of the same rows written to
  the no-op sink (rows per second);
* Spark local mode, one record: ``transform`` of a one-row DataFrame and ``collect``.

Ratios are printed against the JVM and Spark numbers of the same run; the machine is shared, so
only ratios measured together mean anything.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.bundles import FIXTURES, FRAME  # noqa: E402

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
    frame = json.loads(FRAME.read_text())
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

    folder = EXAMPLES / name
    if not (folder / "bundle-json.zip").exists():
        from leapserve.bundler.examples import EXAMPLES as ALL

        ALL[name].write(str(EXAMPLES))
    model = PipelineModel.load(str(folder / "spark-model"))
    sample = spark.read.parquet(str(folder / "sample.parquet"))
    return fitted_workload(name, folder / "bundle-json.zip", model, sample, rows, rng, spark)


def fitted_workload(name: str, bundle: Path, model, sample, rows: int, rng, spark):
    """A bundle and the Spark model it was written from, scored on rows resampled from ``sample``."""
    from tools.mleap_jvm import leapframe
    from leapserve.runtime import load_bundle

    inputs = list(load_bundle(bundle).inputs)
    sample = sample.select(inputs).dropna(subset=[c for c in inputs if c != "sex"])
    local = sample.collect()
    picks = rng.integers(0, len(local), rows)
    columns = {}
    for c in inputs:
        values = [local[i][c] for i in picks]
        if hasattr(values[0], "toArray"):  # a Spark ML vector column: a 2-D array for the batch path
            columns[c] = np.vstack([v.toArray() for v in values])
        elif all(isinstance(v, float) for v in values[:100]):
            columns[c] = np.array(values, dtype=np.float64)
        else:
            columns[c] = np.array(values, dtype=object)
    record = {c: (local[0][c].toArray().tolist() if hasattr(local[0][c], "toArray") else local[0][c])
              for c in inputs}
    one = sample.limit(1)
    many = spark.createDataFrame([tuple(local[i][c] for c in inputs) for i in picks], schema=sample.schema)
    return {"name": name, "bundle": bundle, "record": record, "frame1": leapframe(one),
            "columns": columns, "frame": leapframe(many), "spark_model": model, "spark_one": one,
            "spark_many": many}


# The pipelines fitted here, beyond the fixtures and examples: a one-vs-rest and a multi-layer
# perceptron on the penguins' features, the floor of one-op pipelines (a StandardScaler alone on
# the perceptron's 8-value input vector: one vector in, one out, almost no arithmetic), and a
# text pipeline.
FITTED = ("penguins_ovr", "penguins_mlp", "penguins_scaler", "text_tfidf_lr", "penguins_xgb")


@functools.lru_cache(maxsize=1)  # fitted once for the three penguin workloads
def penguin_features(spark):
    """The penguins example's fitted feature stages, and the penguins with a numeric label."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import StringIndexer

    from leapserve.bundler.examples import penguins_species

    model, data = penguins_species.train(spark)
    features = PipelineModel(stages=model.stages[:5])  # indexers, one-hot, assembler, scaler
    labelled = StringIndexer(inputCol="species", outputCol="label").fit(data).transform(data)
    return features, data, features.transform(labelled)


def fitted_workloads(names, rows: int, rng, spark, folder: Path) -> list:
    from leapserve import bundler

    works = []
    if "penguins_ovr" in names:
        from pyspark.ml import PipelineModel
        from pyspark.ml.classification import LogisticRegression, OneVsRest

        features, data, train = penguin_features(spark)
        ovr = OneVsRest(classifier=LogisticRegression(maxIter=50, regParam=0.01)).fit(train)
        model = PipelineModel(stages=[*features.stages, ovr])
        bundle = folder / "penguins_ovr.zip"
        bundler.export_bundle(model, data, bundle, force=True)
        works.append(fitted_workload("penguins_ovr", bundle, model, data, rows, rng, spark))
    if "penguins_mlp" in names:
        from pyspark.ml.classification import MultilayerPerceptronClassifier

        _, _, train = penguin_features(spark)
        mlp = MultilayerPerceptronClassifier(layers=[8, 16, 3], seed=7, maxIter=100).fit(train)
        features = train.select("features")
        bundle = folder / "penguins_mlp.zip"
        bundler.export_bundle(mlp, features, bundle, force=True)
        works.append(fitted_workload("penguins_mlp", bundle, mlp, features, rows, rng, spark))
    if "penguins_scaler" in names:
        from pyspark.ml.feature import StandardScaler

        _, _, train = penguin_features(spark)
        features = train.select("features")
        scaler = StandardScaler(inputCol="features", outputCol="scaled", withMean=True).fit(features)
        bundle = folder / "penguins_scaler.zip"
        bundler.export_bundle(scaler, features, bundle, force=True)
        works.append(fitted_workload("penguins_scaler", bundle, scaler, features, rows, rng, spark))
    if "text_tfidf_lr" in names:
        from batch import text_model  # bench/batch.py: the same text pipeline

        model, sample, _, _ = text_model(spark)
        bundle = folder / "text_tfidf_lr.zip"
        bundler.export_bundle(model, sample, bundle, force=True)
        works.append(fitted_workload("text_tfidf_lr", bundle, model, sample, rows, rng, spark))
    if "penguins_xgb" in names:
        try:
            from xgboost.spark import SparkXGBClassifier
        except ImportError:
            print("skipping penguins_xgb: needs pip install 'leapserve[xgboost]'", file=sys.stderr)
            return works
        from pyspark.ml import PipelineModel

        features, data, train = penguin_features(spark)
        # XGBoost's own PySpark estimator, 100 trees of depth 6 per class, after the penguins' features
        xgb = SparkXGBClassifier(features_col="features", label_col="label", n_estimators=100, max_depth=6,
                                 num_workers=1).fit(train)
        model = PipelineModel(stages=[*features.stages, xgb])
        bundle = folder / "penguins_xgb.zip"
        bundler.export_bundle(model, data, bundle, force=True)
        work = fitted_workload("penguins_xgb", bundle, model, data, rows, rng, spark)
        work["jvm"] = False  # the MLeap JVM harness has no XGBoost runtime (mleap-xgboost-runtime)
        works.append(work)
    return works


# --- measurements --------------------------------------------------------------------------

def native(work, seconds):
    from leapserve.runtime import load_bundle

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
    from tools.mleap_jvm import MleapJvm

    with MleapJvm() as harness:
        row, frame = harness.bench(work["bundle"], work["frame1"], seconds)
        batch = harness.batch(work["bundle"], work["frame"], repeats=3)
    return {"row": row, "frame": frame, "batch_rows_per_s": len(work["frame"]["rows"]) / batch}


def spark_local(work, spark, seconds):
    model = work.get("spark_model")
    if model is None:
        from pyspark.ml import PipelineModel

        import mleap.pyspark.spark_support  # noqa: F401  (adds deserializeFromBundle)

        from leapserve.bundler.errors import java_root_cause

        try:
            model = PipelineModel.deserializeFromBundle(f"jar:file:{work['bundle']}")
        except Exception as e:  # MLeap 0.16's Spark reader fails for some ops on Spark 3.5
            reason = java_root_cause(e)
            return {"row": None, "batch_rows_per_s": None,
                    "note": f"MLeap cannot load it into Spark: {reason.splitlines()[0][:200]}"}
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

    from leapserve import bundler

    spark = bundler.spark_session()
    works = []
    for name in ("airbnb.model.rf", "airbnb.model.lr"):
        if not args.only or name in args.only:
            works.append(airbnb_workload(name, args.rows, rng))
    for name in ("penguins_species", "penguins_mass"):
        if not args.only or name in args.only:
            works.append(example_workload(name, args.rows, rng, spark))
    fitted = [name for name in FITTED if not args.only or name in args.only]
    tmp = tempfile.TemporaryDirectory(prefix="leapserve-bench-")
    works += fitted_workloads(fitted, args.rows, rng, spark, Path(tmp.name))

    results = []
    for work in works:
        print(f"measuring {work['name']} ...", file=sys.stderr)
        res = {"name": work["name"], "native": native(work, args.seconds),
               "jvm": jvm(work, args.seconds) if work.get("jvm", True) else None}
        res["spark"] = None if args.no_spark else spark_local(work, spark, args.seconds)
        results.append(res)

    from tools.mleap_jvm import MLEAP_RUNTIME_VERSION

    print(f"\nleapserve native runtime vs MLeap JVM runtime ({MLEAP_RUNTIME_VERSION}) "
          f"and Spark {spark.version} local mode; {args.rows:,} records per batch\n")
    # Single records compare times (above 1x: native is slower); batches compare rows per second
    # (above 1x: native is faster).
    print("| model | native transform | MLeap RowTransformer | MLeap LeapFrame transform | time: native / LeapFrame | "
          "time: native / RowTransformer | Spark local, 1 record | time: Spark / native |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        n, j, s = r["native"], r["jvm"], r["spark"] or {}
        srow = s.get("row")
        spark_ratio = "n/a" if srow is None else f"{srow / n['row']:,.0f}x"
        jvm_cells = ("n/a | n/a | n/a | n/a" if j is None else
                     f"{fmt_us(j['row'])} | {fmt_us(j['frame'])} | {n['row'] / j['frame']:.2f}x | "
                     f"{n['row'] / j['row']:.2f}x")
        print(f"| {r['name']} | {fmt_us(n['row'])} (final output only: {fmt_us(n['row_final'])}) | "
              f"{jvm_cells} | {fmt_us(srow)} | {spark_ratio} |")
    print("\n| model | native transform_batch | MLeap LeapFrame batch | Spark local batch | rows/s: native / Spark | "
          "rows/s: native / MLeap |")
    print("|---|---|---|---|---|---|")
    for r in results:
        n, j, s = r["native"], r["jvm"], r["spark"] or {}
        sb = s.get("batch_rows_per_s")
        spark_ratio = "n/a" if not sb else f"{n['batch_rows_per_s'] / sb:.2f}x"
        jb = None if j is None else j["batch_rows_per_s"]
        mleap_ratio = "n/a" if jb is None else f"{n['batch_rows_per_s'] / jb:.2f}x"
        print(f"| {r['name']} | {fmt_rate(n['batch_rows_per_s'])} | {fmt_rate(jb)} | "
              f"{fmt_rate(sb)} | {spark_ratio} | {mleap_ratio} |")
    notes = [f"{r['name']}: {r['spark']['note']}" for r in results if r["spark"] and r["spark"].get("note")]
    for note in notes:
        print(f"\nnote: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
