"""Batch scoring speed: ``bundler.score`` against Spark's own ``PipelineModel.transform``, same run.

    .venv/bin/python bench/batch.py [--rows 1000000] [--partitions 4] [--rounds 2]
                                    [--arrow-batch 10000] [--only NAME] [--final] [--floor] [--json]

For each pipeline (the two penguin examples and a text pipeline), the model is fitted on small
data, exported as a bundle, and scored over the same generated DataFrame (``--rows`` rows, cached
in memory first so that neither side pays for generating it) both ways, written to Spark's
no-op sink (``df.write.format("noop")``) so that every output column is computed and nothing is
stored. Rows per second are the best of ``--rounds`` alternating rounds. Spark runs with the
session's master (``LEAPSERVE_SPARK_MASTER``, default local[2]).

``--final`` adds a second comparison where only the pipeline's final outputs are appended
(``model.transform(df).select(*df.columns, *final)`` against ``bundler.score(df, bundle, final)``);
``--floor`` times an identity ``mapInArrow`` over the same rows: the cost of the Arrow round trip
alone, which bundler.score cannot go below.

``--arrow-batch`` sets spark.sql.execution.arrow.maxRecordsPerBatch (Spark's default: 10000),
the number of rows each call of the runtime's batch path sees.

Besides wall time, each run's CPU time is measured (driver, JVM and Python workers, from /proc):
on a shared machine wall time follows the neighbours' load, CPU time much less. Both are the
best of the rounds. The machine may be shared: only ratios measured in the same run mean anything.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ISLANDS = ["Biscoe", "Dream", "Torgersen"]
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
WORDS = ["the", "penguin", "swims", "fast", "ice", "cold", "fish", "colony", "egg", "beach",
         "rock", "snow", "wave", "krill", "chick", "nest"]


# --- generated data ------------------------------------------------------------------------

def penguin_rows(spark, rows: int, partitions: int):
    """Penguin-like rows: every column the two examples read, with a few null sexes."""
    from pyspark.sql import functions as F

    def pick(values, seed):
        arr = F.array(*[F.lit(v) for v in values])
        return F.element_at(arr, (F.rand(seed) * len(values)).cast("int") + 1)

    r = F.rand
    return (spark.range(rows, numPartitions=partitions)
            .select(pick(SPECIES, 1).alias("species"), pick(ISLANDS, 2).alias("island"),
                    (32.0 + r(3) * 28.0).alias("bill_length_mm"), (13.0 + r(4) * 8.5).alias("bill_depth_mm"),
                    (172.0 + r(5) * 59.0).alias("flipper_length_mm"), (2700.0 + r(6) * 3600.0).alias("body_mass_g"),
                    F.when(r(7) < 0.03, F.lit(None).cast("string"))
                     .otherwise(F.when(r(8) < 0.5, "male").otherwise("female")).alias("sex"),
                    (2007 + (r(9) * 3).cast("int")).alias("year")))


def text_rows(spark, rows: int, partitions: int):
    """Sentences of 4 to 15 words from a small vocabulary, and a label."""
    from pyspark.sql import functions as F

    words = F.array(*[F.lit(w) for w in WORDS])
    length = F.pmod(F.col("id"), F.lit(12)) + 4
    tokens = F.transform(F.sequence(F.lit(1), length),
                         lambda i: F.element_at(words, F.pmod(F.hash(F.col("id"), i), F.lit(len(WORDS))) + 1))
    return (spark.range(rows, numPartitions=partitions)
            .select(F.concat_ws(" ", tokens).alias("text"), (F.col("id") % 2).cast("double").alias("label")))


# --- models ----------------------------------------------------------------------------------

def species_model(spark):
    from leapserve.bundler.examples import penguins_species

    model, sample = penguins_species.train(spark)
    return model, sample, penguin_rows, ["probability", "prediction", "predicted_species"]


def mass_model(spark):
    from leapserve.bundler.examples import penguins_mass

    model, sample = penguins_mass.train(spark)
    return model, sample, penguin_rows, ["predicted_mass_g"]


def text_model(spark):
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import IDF, HashingTF, Tokenizer

    sample = text_rows(spark, 400, 2).cache()
    model = Pipeline(stages=[
        Tokenizer(inputCol="text", outputCol="words"),
        HashingTF(inputCol="words", outputCol="tf", numFeatures=256),
        IDF(inputCol="tf", outputCol="tfidf"),
        LogisticRegression(featuresCol="tfidf", labelCol="label", maxIter=20, regParam=0.01),
    ]).fit(sample)
    return (model, sample.drop("label"), lambda s, n, p: text_rows(s, n, p).drop("label"),
            ["probability", "prediction"])


# name -> fit(spark) -> (model, sample, generate(spark, rows, partitions), final output columns)
MODELS = {"penguins_species": species_model, "penguins_mass": mass_model, "text_tfidf_lr": text_model}


# --- measuring -------------------------------------------------------------------------------

def _identity(batches):
    yield from batches


def _children() -> dict:
    """pid -> parent pid of every process (Linux /proc)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def tree_cpu_seconds() -> float | None:
    """CPU seconds used so far by this process and all its descendants (the JVM, the Python
    daemon and its workers), including descendants already reaped. None off Linux."""
    import os

    if not Path("/proc/self/stat").exists():
        return None
    parents = _children()
    tree, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in tree:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks


def noop_run(df) -> tuple[float, float | None]:
    """(wall seconds, CPU seconds of the driver, JVM and Python workers) of writing df to noop."""
    cpu0 = tree_cpu_seconds()
    start = time.perf_counter()
    df.write.format("noop").mode("overwrite").save()
    wall = time.perf_counter() - start
    cpu1 = tree_cpu_seconds()
    return wall, (cpu1 - cpu0 if cpu0 is not None else None)


def noop_seconds(df) -> float:
    return noop_run(df)[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--arrow-batch", type=int, default=10000)
    parser.add_argument("--only", action="append", choices=sorted(MODELS))
    parser.add_argument("--final", action="store_true",
                        help="also compare with only the pipeline's final outputs appended (both sides)")
    parser.add_argument("--floor", action="store_true",
                        help="also time an identity mapInArrow over the same rows (the Arrow round trip alone)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from leapserve import bundler

    spark = bundler.spark_session()
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(args.arrow_batch))
    master = spark.sparkContext.master
    results = []
    with tempfile.TemporaryDirectory(prefix="leapserve-bench-") as tmp:
        for name in args.only or list(MODELS):
            model, sample, generate, final = MODELS[name](spark)
            bundle = Path(tmp) / f"{name}.zip"
            bundler.export_bundle(model, sample, bundle, format="json", force=True, verify=False)
            data = generate(spark, args.rows, args.partitions).cache()
            data.count()
            # warm-up: JIT, Python workers, the bundle loaded in each worker
            head = data.limit(20000)
            noop_seconds(model.transform(head))
            noop_seconds(bundler.score(head, bundle))
            variants = [("all outputs", model.transform(data), bundler.score(data, bundle))]
            if args.final:
                variants.append((f"final outputs ({', '.join(final)})",
                                 model.transform(data).select(*data.columns, *final),
                                 bundler.score(data, bundle, final)))
            identity = data.mapInArrow(_identity, data.schema)
            best, cpu = {}, {}
            for _ in range(args.rounds):  # alternating, so that both sides meet the same load
                for label, spark_df, score_df in variants:
                    for side, df in (("spark", spark_df), ("score", score_df)):
                        wall, used = noop_run(df)
                        best[label, side] = min(best.get((label, side), float("inf")), wall)
                        if used is not None:
                            cpu[label, side] = min(cpu.get((label, side), float("inf")), used)
                if args.floor:
                    best["floor"] = min(best.get("floor", float("inf")), noop_seconds(identity))
            data.unpersist()
            for label, _, _ in variants:
                sp, sc = best[label, "spark"], best[label, "score"]
                row = {"model": name, "columns": label, "rows": args.rows, "partitions": args.partitions,
                       "master": master, "arrow_batch": args.arrow_batch,
                       "spark_rows_per_s": args.rows / sp, "score_rows_per_s": args.rows / sc,
                       "spark_s": sp, "score_s": sc, "ratio": sp / sc}
                if cpu:
                    row["spark_cpu_s"], row["score_cpu_s"] = cpu[label, "spark"], cpu[label, "score"]
                    row["cpu_ratio"] = row["spark_cpu_s"] / row["score_cpu_s"]
                if args.floor:
                    row["identity_rows_per_s"] = args.rows / best["floor"]
                results.append(row)
                print(f"{name}, {label}: Spark transform {row['spark_rows_per_s']:,.0f} rows/s ({sp:.2f}s"
                      + (f", {row['spark_cpu_s']:.1f} CPU-s" if cpu else "") + "), "
                      f"bundler.score {row['score_rows_per_s']:,.0f} rows/s ({sc:.2f}s"
                      + (f", {row['score_cpu_s']:.1f} CPU-s" if cpu else "") + f"), ratio {row['ratio']:.2f}"
                      + (f"; identity mapInArrow {row['identity_rows_per_s']:,.0f} rows/s" if args.floor else ""),
                      file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"\n{args.rows:,} rows, {args.partitions} partitions, master {master}, "
              f"arrow batches of {args.arrow_batch} rows\n")
        has_cpu = all("cpu_ratio" in r for r in results)
        head = "| pipeline | columns | Spark transform (rows/s) | bundler.score (rows/s) | speed: score / Spark |"
        line = "|---|---|---:|---:|---:|"
        if has_cpu:
            head += " CPU-s Spark | CPU-s score | CPU: Spark / score |"
            line += "---:|---:|---:|"
        if args.floor:
            head += " identity mapInArrow (rows/s) |"
            line += "---:|"
        print(head)
        print(line)
        for r in results:
            text = (f"| {r['model']} | {r['columns']} | {r['spark_rows_per_s']:,.0f} | {r['score_rows_per_s']:,.0f} "
                    f"| {r['ratio']:.2f} |")
            if has_cpu:
                text += f" {r['spark_cpu_s']:.1f} | {r['score_cpu_s']:.1f} | {r['cpu_ratio']:.2f} |"
            if args.floor:
                text += f" {r['identity_rows_per_s']:,.0f} |"
            print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
