"""bundler.score and `leapserve score`: batch and streaming scoring on Spark with the server's runtime.

Every pipeline is fitted here with real Spark, exported with MLeap, scored over several partitions
in local mode by ``bundler.score``, and compared with Spark's own ``PipelineModel.transform`` of
the original model (parity tolerances: bundler/compare.py) and with what a real ``leapserve
serve`` process answers over gRPC for the same records. One Spark session, one server process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from leapserve import bundler
from leapserve.bundler.compare import compare, record_from_row, spark_value
from leapserve.bundler.errors import BundlerError, MissingColumns
from leapserve.runtime import load_bundle

from tests.support.processes import descendants

PARTITIONS = 3


# --- helpers -----------------------------------------------------------------------------------

def with_rid(spark, df, partitions: int = PARTITIONS):
    """df's rows with an int rid column, spread over several partitions (deterministic content)."""
    from pyspark.sql import types as T

    rows = df.collect()
    schema = T.StructType([T.StructField("rid", T.IntegerType(), False)] + list(df.schema.fields))
    return spark.createDataFrame([(i, *r) for i, r in enumerate(rows)], schema).repartition(partitions)


def flat(v):
    """Spark's array of one-element vectors (LSH) as one list, for compare()."""
    if isinstance(v, list) and v and isinstance(v[0], list):
        return [x for part in v for x in part]
    return v


def by_rid(rows) -> dict:
    return {r["rid"]: {k: spark_value(v) for k, v in r.asDict().items()} for r in rows}


def base_type(t):
    """A Spark type without nullability flags (containsNull differs between Spark's stages)."""
    from pyspark.sql import types as T

    if isinstance(t, T.ArrayType):
        return ("array", base_type(t.elementType))
    return t.simpleString()


def vector_schema(name: str):
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import types as T

    return T.StructType([T.StructField("rid", T.IntegerType()), T.StructField(name, VectorUDT())])


class Case:
    def __init__(self, name, model, df, bundle):
        self.name, self.model, self.df, self.bundle = name, model, df, bundle
        self.pipeline = load_bundle(bundle)
        self.outputs = list(self.pipeline.outputs)


def assert_same_as_spark(case, scored_rows, expected_rows, columns=None):
    got, want = by_rid(scored_rows), by_rid(expected_rows)
    assert set(got) == set(want), f"{case.name}: rows differ: only score {set(got) - set(want)}, " \
                                  f"only Spark {set(want) - set(got)}"
    discrete = case.pipeline.discrete_outputs
    compared = 0
    for rid, row in want.items():
        for col in columns or case.outputs:
            diff = compare(flat(row[col]), flat(got[rid][col]), exact=col in discrete)
            assert diff.equal, f"{case.name}: rid {rid}, column {col!r}: {diff.detail}"
            compared += 1
    return compared


def server_answers(server, model: str, records: list[dict]) -> list:
    """PredictBatch of the records: per record a dict of outputs, "skipped" or ("error", message)."""
    from leapserve.v1 import prediction_pb2 as pb
    from leapserve.v1 import prediction_pb2_grpc as pb_grpc
    from leapserve.server.codec import decode_value, encode_value

    request = pb.PredictBatchRequest(model=model)
    for rec in records:
        fields = request.records.add().fields
        for k, v in rec.items():
            encode_value(fields[k], v)
    response = pb_grpc.PredictionServiceStub(server.open_channel()).PredictBatch(request, timeout=120)
    out = []
    for row in response.results:
        if row.outcome == pb.RowResult.OK:
            out.append({k: decode_value(k, v) for k, v in row.outputs.items()})
        elif row.outcome == pb.RowResult.SKIPPED:
            out.append("skipped")
        else:
            out.append(("error", row.status.message))
    return out


# --- fixtures: pipelines fitted and exported once, one server for all ---------------------------

def _ohe_lr(spark):
    """StringIndexer ("skip": unseen and null colors are dropped) + OneHotEncoder + assembler + LR."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler

    train = spark.createDataFrame(
        [(c, x, float(i % 3)) for i, (c, x) in enumerate(
            [("red", 0.1), ("red", 0.4), ("green", 2.0), ("green", 1.5), ("blue", 0.3), ("blue", 2.5),
             ("red", 3.0), ("green", 0.2), ("blue", 1.1), ("red", 1.9), ("green", 2.7), ("blue", 0.0)])],
        "color string, x double, label double")
    model = Pipeline(stages=[
        StringIndexer(inputCol="color", outputCol="color_idx", handleInvalid="skip"),
        OneHotEncoder(inputCols=["color_idx"], outputCols=["color_vec"]),
        VectorAssembler(inputCols=["color_vec", "x"], outputCol="features"),
        LogisticRegression(labelCol="label", regParam=0.05, maxIter=50),
    ]).fit(train)
    colors = ["red", "green", "blue", "purple", None, ""]
    rows = [(colors[i % 6], [0.0, -1.5, 0.25, 3.0, 1e6, -0.0][i % 6] + i / 7.0) for i in range(36)]
    return model, spark.createDataFrame(rows, "color string, x double")


def _forest(spark):
    """A random forest classifier (3 classes) behind an assembler."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import RandomForestClassifier
    from pyspark.ml.feature import VectorAssembler

    train = spark.createDataFrame(
        [(float(i % 7), float((i * 3) % 5) - 2.0, (i % 11) / 3.0, float(i % 3)) for i in range(60)],
        "a double, b double, c double, label double")
    model = Pipeline(stages=[
        VectorAssembler(inputCols=["a", "b", "c"], outputCol="features"),
        RandomForestClassifier(labelCol="label", numTrees=6, maxDepth=4, seed=3),
    ]).fit(train)
    rows = [(float(i % 9) - 1.0, float(i % 4), (i % 13) / 2.0) for i in range(40)]
    rows += [(0.0, 0.0, 0.0), (-0.0, 1e9, -1e9)]
    return model, spark.createDataFrame(rows, "a double, b double, c double")


def _text(spark):
    """Tokenizer + HashingTF + IDF + LR; empty strings and repeated words included."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import IDF, HashingTF, Tokenizer

    docs = ["the penguin swims fast", "ice is cold", "fish fish fish", "A Colony of Penguins",
            "cold ice and cold water", "the egg hatches", "krill for the chick", "snow on the rock"]
    train = spark.createDataFrame([(d, float(i % 2)) for i, d in enumerate(docs * 3)], "text string, label double")
    model = Pipeline(stages=[
        Tokenizer(inputCol="text", outputCol="words"),
        HashingTF(inputCol="words", outputCol="tf", numFeatures=64),
        IDF(inputCol="tf", outputCol="tfidf"),
        LogisticRegression(featuresCol="tfidf", labelCol="label", maxIter=30, regParam=0.01),
    ]).fit(train)
    rows = docs + ["", "unknown words only", "  spaced   out  ", "PENGUIN penguin"]
    return model, spark.createDataFrame([(d,) for d in rows], "text string")


def _examples(name):
    def build(spark):
        from leapserve.bundler.examples import EXAMPLES

        return EXAMPLES[name].train(spark)
    return build


BUILDERS = {
    "penguins_species": (_examples("penguins_species"), "json"),
    "penguins_mass": (_examples("penguins_mass"), "protobuf"),
    "ohe_lr": (_ohe_lr, "json"),
    "forest": (_forest, "protobuf"),
    "text": (_text, "json"),
}


@pytest.fixture(scope="module")
def cases(spark, tmp_path_factory):
    out = tmp_path_factory.mktemp("score-bundles")
    built = {}
    for name, (build, fmt) in BUILDERS.items():
        model, sample = build(spark)
        path = out / f"{name}.zip"
        bundler.export_bundle(model, sample, path, format=fmt, force=True, verify=False)
        built[name] = Case(name, model, with_rid(spark, sample), path)
    return built


@pytest.fixture(scope="module")
def server(cases, start_module_server):
    args = []
    for name, case in cases.items():
        args += ["--model", f"{name}={case.bundle}"]
    return start_module_server(*args, timeout=120)


# --- parity: bundler.score == Spark's transform == the gRPC server ------------------------------

@pytest.mark.parametrize("name", list(BUILDERS))
def test_score_equals_spark_and_server(cases, server, name):
    case = cases[name]
    scored = bundler.score(case.df, case.bundle)
    assert scored.rdd.getNumPartitions() == PARTITIONS
    expected = case.model.transform(case.df)
    # same columns, in the same order, with Spark's types (vectors are VectorUDT)
    assert scored.columns == expected.columns
    for col in case.outputs:
        assert base_type(scored.schema[col].dataType) == base_type(expected.schema[col].dataType), col
    rows = scored.collect()
    assert assert_same_as_spark(case, rows, expected.collect()) > 0

    inputs = list(case.pipeline.inputs)
    input_rows = sorted(case.df.collect(), key=lambda r: r["rid"])
    answers = server_answers(server, name, [record_from_row(r, inputs) for r in input_rows])
    got = by_rid(rows)
    discrete = case.pipeline.discrete_outputs
    for row, answer in zip(input_rows, answers):
        rid = row["rid"]
        assert not isinstance(answer, tuple), f"{name}: rid {rid}: the server refused it: {answer}"
        if answer == "skipped":
            assert rid not in got, f"{name}: rid {rid}: the server skips it, bundler.score kept it"
            continue
        assert rid in got, f"{name}: rid {rid}: the server scored it, bundler.score dropped it"
        for col in case.outputs:
            diff = compare(flat(got[rid][col]), answer[col], exact=col in discrete)
            assert diff.equal, f"{name}: rid {rid}, column {col!r}, score vs server: {diff.detail}"


def test_skipped_rows_are_dropped_like_spark(cases):
    case = cases["ohe_lr"]
    kept = {r["rid"] for r in bundler.score(case.df, case.bundle).select("rid").collect()}
    assert len(kept) == 18  # purple, null and "" colors: 3 of every 6 rows dropped, as Spark does
    assert kept == {r["rid"] for r in case.model.transform(case.df).select("rid").collect()}


def test_selected_outputs(cases):
    case = cases["penguins_species"]
    scored = bundler.score(case.df, case.bundle, ["predicted_species", "probability"])
    assert scored.columns == case.df.columns + ["predicted_species", "probability"]
    rows = scored.collect()
    assert_same_as_spark(case, rows, case.model.transform(case.df).collect(), ["predicted_species", "probability"])


def python_workers() -> int:
    """This session's Python worker processes alive now: the descendants of this process running
    ``pyspark.daemon`` (the daemon forks the workers), less the daemon itself."""
    return max(sum(1 for argv in descendants().values() if "pyspark.daemon" in argv) - 1, 0)


def test_bundle_loaded_once_per_python_worker(spark, cases, tmp_path):
    """8 tasks on local[2]: the bundle (a directory this time, so new bytes that no worker holds
    yet) is loaded at most once per Python worker, not once per task. Spark keeps idle workers for
    reuse, and earlier jobs may have left more than one per core: the bound is the workers alive."""
    import zipfile

    import leapserve.bundler.scoring as S

    case = cases["forest"]
    folder = tmp_path / "forest_dir"
    with zipfile.ZipFile(case.bundle) as z:
        z.extractall(folder)
    df = case.df.repartition(8)
    counter = S.counts_accumulator(spark.sparkContext)
    rows = bundler.score(df, folder, ["prediction"], counter=counter).collect()
    read, written, failed, loads = counter.value
    assert read == written == len(rows) == case.df.count() and failed == 0
    workers = python_workers()
    assert 1 <= loads <= workers < 8, (loads, workers)
    assert_same_as_spark(case, rows, case.model.transform(case.df).collect(), ["prediction"])


ALLOCATOR_PROBE = """
import resource, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
import leapserve.bundler.scoring as S

def batch():  # the columns of one batch, allocated then freed, as the batch path does
    held = [np.ones(10_000) for _ in range(50)]
    del held

if sys.argv[1] == "tuned":
    assert S.tune_allocator()
for _ in range(3):
    batch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    batch()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_tuned_allocator_reuses_freed_batch_memory():
    """Python workers keep freed batch memory for the next batch instead of handing it back to
    the OS and faulting it in again (glibc's trim and mmap thresholds raised by tune_allocator)."""
    import subprocess

    def page_faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", ALLOCATOR_PROBE, mode, str(Path(__file__).resolve().parents[2])],
                             capture_output=True, text=True, check=True, timeout=120)
        return int(out.stdout.strip())

    plain, tuned = page_faults("plain"), page_faults("tuned")
    assert plain > 1000, plain  # glibc's defaults: the freed columns go back to the OS each batch
    assert tuned < plain / 20, (tuned, plain)


def test_vector_inputs_dense_sparse_and_mixed(spark, tmp_path):
    """A bundle reading a vector column: partitions all dense, all sparse, and mixed."""
    from pyspark.ml.linalg import Vectors
    from pyspark.ml.regression import LinearRegression

    train = spark.createDataFrame([(Vectors.dense([float(i), float(i % 3), 1.0]), 2.0 * i - (i % 3))
                                   for i in range(12)], ["features", "label"])
    model = LinearRegression(regParam=0.0).fit(train)
    path = tmp_path / "lr.zip"
    bundler.export_bundle(model, train, path, format="json", force=True, verify=False)
    dense = [(i, Vectors.dense([i / 2.0, 1.0, -1.0])) for i in range(5)]
    sparse = [(10 + i, Vectors.sparse(3, [i % 3], [float(i + 1)])) for i in range(5)]
    mixed = dense[:2] + sparse[:2] + [(20, Vectors.sparse(3, [], []))]
    df = None
    for part in (dense, sparse, mixed):
        rows = [(r + (100 if part is mixed else 0), v) for r, v in part]
        one = spark.createDataFrame(rows, vector_schema("features"))
        df = one.coalesce(1) if df is None else df.union(one.coalesce(1))
    assert df.rdd.getNumPartitions() == 3
    case = Case("lr_vector", model, df, path)
    assert_same_as_spark(case, bundler.score(df, path).collect(), model.transform(df).collect())


def test_lsh_outputs_as_spark_arrays_of_vectors(spark, tmp_path):
    from pyspark.ml.feature import MinHashLSH
    from pyspark.ml.linalg import Vectors

    df = spark.createDataFrame([(i, Vectors.sparse(8, sorted({i % 8, (i * 3) % 8}), [1.0] * len({i % 8, (i * 3) % 8})))
                                for i in range(10)], vector_schema("v")).repartition(2)
    model = MinHashLSH(inputCol="v", outputCol="hashes", numHashTables=3, seed=5).fit(df)
    path = tmp_path / "lsh.zip"
    bundler.export_bundle(model, df, path, format="json", force=True, verify=False)
    scored = bundler.score(df, path)
    expected = model.transform(df)
    assert base_type(scored.schema["hashes"].dataType) == base_type(expected.schema["hashes"].dataType)
    assert_same_as_spark(Case("lsh", model, df, path), scored.collect(), expected.collect())


def test_arrow_vector_round_trips():
    """The conversions between Spark's VectorUDT structs in Arrow and the runtime's columns (no Spark)."""
    import numpy as np

    import leapserve.bundler.scoring as S
    from leapserve.runtime.vectors import SparseBatch, SparseVector

    dense = np.array([[1.0, 0.0, -2.5], [0.0, 0.0, 0.0]])
    back = S.arrow_to_column(S.vectors_to_arrow(dense), "vector")
    assert isinstance(back, np.ndarray) and back.shape == (2, 3) and (back == dense).all()
    sparse = SparseBatch.from_rows(5, [SparseVector(5, [1, 4], [2.0, -1.0]), SparseVector(5, [], [])])
    back = S.arrow_to_column(S.vectors_to_arrow(sparse), "vector")
    assert isinstance(back, SparseBatch) and back.size == 5 and (back.toarray() == sparse.toarray()).all()
    rows = np.empty(3, dtype=object)
    rows[:] = [np.array([1.0, 2.0]), None, SparseVector(2, [0], [3.0])]
    arrow = S.vectors_to_arrow(rows)
    assert arrow.to_pylist() == [{"type": 1, "size": None, "indices": None, "values": [1.0, 2.0]}, None,
                                 {"type": 0, "size": 2, "indices": [0], "values": [3.0]}]
    assert S.arrow_to_column(arrow, "vector") == [[1.0, 2.0], None, SparseVector(2, [0], [3.0])]
    lsh = S.column_to_arrow("lsh", np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert [[v["values"] for v in row] for row in lsh.to_pylist()] == [[[1.0], [2.0]], [[3.0], [4.0]]]
    doubles = S.column_to_arrow("double", np.array([1.5, float("nan")]))
    assert doubles.null_count == 0 and np.isnan(doubles.to_numpy()[1])  # NaN is not null


# --- bad rows ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def strict(spark, tmp_path_factory):
    """color: StringIndexer with handleInvalid "error"; shape: "skip"; x: a number."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import StringIndexer, VectorAssembler
    from pyspark.ml.regression import LinearRegression

    train = spark.createDataFrame([(c, s, float(i), 2.0 * i + (c == "red")) for i, (c, s) in enumerate(
        [("red", "box"), ("blue", "ball"), ("red", "ball"), ("blue", "box"), ("red", "box"), ("blue", "ball")])],
        "color string, shape string, x double, y double")
    model = Pipeline(stages=[
        StringIndexer(inputCol="color", outputCol="color_idx"),
        StringIndexer(inputCol="shape", outputCol="shape_idx", handleInvalid="skip"),
        VectorAssembler(inputCols=["color_idx", "shape_idx", "x"], outputCol="features"),
        LinearRegression(labelCol="y", regParam=0.0),
    ]).fit(train)
    path = tmp_path_factory.mktemp("strict") / "strict.zip"
    bundler.export_bundle(model, train, path, format="json", force=True, verify=False)
    return model, path


def test_fail_reports_the_first_bad_row(spark, strict):
    model, path = strict
    rows = [(0, "red", "box", 1.0), (1, "blue", "ball", 2.0), (2, "red", "cube", 3.0),
            (3, "purple", "box", 4.0), (4, "green", "box", 5.0)]
    df = spark.createDataFrame(rows, "rid int, color string, shape string, x double").coalesce(1)
    with pytest.raises(Exception) as spark_err:
        model.transform(df).collect()  # Spark refuses the unseen color too
    assert "purple" in str(spark_err.value)
    with pytest.raises(Exception) as info:
        bundler.score(df, path).collect()
    text = str(info.value)
    assert "RowFailed: row 3 of partition 0: field 'color' = 'purple'" in text, text


def test_fail_on_a_value_that_cannot_be_cast(spark, strict):
    _, path = strict
    df = spark.createDataFrame([(0, "red", "box", "1.5"), (1, "blue", "box", "abc")],
                               "rid int, color string, shape string, x string").coalesce(1)
    with pytest.raises(Exception) as info:
        bundler.score(df, path).collect()
    assert "RowFailed: row 1 of partition 0: field 'x' = 'abc'" in str(info.value)


def test_on_error_null_keeps_bad_rows_with_a_reason(spark, strict):
    """Bad colors (errors) among unseen shapes (dropped): more bad rows than the batch retries,
    so both the retry and the row-by-row paths run."""
    model, path = strict
    colors = ["red", "blue", "purple", "red", None, "blue"]
    shapes = ["box", "ball", "box", "cube", "ball", "box"]
    rows = [(i, colors[i % 6], shapes[(i // 2) % 6], float(i)) for i in range(60)]
    df = spark.createDataFrame(rows, "rid int, color string, shape string, x double").repartition(2)
    scored = bundler.score(df, path, on_error="null")
    assert scored.columns[-1] == "score_error"
    got = {r["rid"]: r for r in scored.collect()}
    for rid, color, shape, x in rows:
        if shape == "cube":
            assert rid not in got, rid  # dropped, as Spark's "skip" does
            continue
        row = got[rid]
        if color in ("purple", None):
            assert row["prediction"] is None and row["features"] is None
            shown = "'purple'" if color else "null"
            assert f"field 'color' = {shown}, stage " in row["score_error"], row["score_error"]
        else:
            assert row["score_error"] is None
    good = df.filter(df.color.isin("red", "blue"))
    expected = {r["rid"]: r for r in model.transform(good).collect()}
    assert set(expected) == {rid for rid, r in got.items() if r["score_error"] is None}
    for rid, r in expected.items():
        assert compare(r["prediction"], got[rid]["prediction"]).equal
        assert compare(spark_value(r["features"]), spark_value(got[rid]["features"])).equal


def test_checks_before_running(spark, cases):
    case = cases["ohe_lr"]
    with pytest.raises(MissingColumns, match="'x'"):
        bundler.score(case.df.drop("x"), case.bundle)
    with pytest.raises(BundlerError, match="already has column"):
        bundler.score(case.df.withColumn("prediction", case.df.x), case.bundle)
    with pytest.raises(BundlerError, match="unknown output"):
        bundler.score(case.df, case.bundle, ["nope"])
    text = cases["text"]
    with pytest.raises(BundlerError, match="'text' is array<string>, but the bundle reads string"):
        bundler.score(text.df.selectExpr("rid", "split(text, ' ') as text"), text.bundle)
    with pytest.raises(ValueError, match="on_error"):
        bundler.score(case.df, case.bundle, on_error="ignore")


# --- streaming ----------------------------------------------------------------------------------

def test_streaming_file_source(spark, cases, tmp_path):
    case = cases["penguins_species"]
    source = tmp_path / "incoming"
    parts = [case.df.filter(case.df.rid % 2 == k) for k in (0, 1)]
    parts[0].write.parquet(str(source / "part0"))
    stream = spark.readStream.schema(case.df.schema).parquet(str(source / "*"))
    scored = bundler.score(stream, case.bundle, ["prediction", "predicted_species", "probability"])
    assert scored.isStreaming
    query = (scored.writeStream.format("memory").queryName("leapserve_scored")
             .option("checkpointLocation", str(tmp_path / "checkpoint")).start())
    try:
        query.processAllAvailable()
        parts[1].write.parquet(str(source / "part1"))  # a second micro-batch, same cached bundle
        query.processAllAvailable()
    finally:
        query.stop()
    rows = spark.table("leapserve_scored").collect()
    assert len(rows) == case.df.count()
    assert_same_as_spark(case, rows, case.model.transform(case.df).collect(),
                         ["prediction", "predicted_species", "probability"])


# --- the command line ---------------------------------------------------------------------------

def _cli(*args) -> int:
    from leapserve.cli import main

    return main(["score", *map(str, args)])


def test_cli_parquet_and_csv(spark, cases, tmp_path, capsys):
    case = cases["penguins_species"]
    src = tmp_path / "in.parquet"
    case.df.write.parquet(str(src))
    out = tmp_path / "out.parquet"
    assert _cli("--bundle", case.bundle, "--input", src, "--output", out) == 0
    captured = capsys.readouterr()
    assert f"scored {case.df.count()} rows" in captured.out and "starting Spark" in captured.err
    written = spark.read.parquet(str(out))
    assert written.columns == case.model.transform(case.df).columns
    assert_same_as_spark(case, written.collect(), case.model.transform(case.df).collect())

    csv_in = tmp_path / "in.csv"
    case.df.coalesce(1).write.csv(str(csv_in), header=True)
    csv_out = tmp_path / "out.csv"
    assert _cli("--bundle", case.bundle, "--input", csv_in, "--input-format", "csv", "--output", csv_out,
                "--select", "prediction", "probability", "predicted_species") == 0
    rows = spark.read.csv(str(csv_out), header=True, inferSchema=True).collect()
    expected = by_rid(case.model.transform(case.df).collect())
    assert len(rows) == len(expected)
    for r in rows:
        want = expected[r["rid"]]
        assert r["predicted_species"] == want["predicted_species"]
        assert compare(want["probability"], json.loads(r["probability"])).equal

    # an existing output is refused before Spark runs anything
    assert _cli("--bundle", case.bundle, "--input", src, "--output", out) == 1
    assert "already exists" in capsys.readouterr().err


def test_cli_uris(spark, cases, tmp_path, capsys):
    """--input and --output as URIs, handed to Spark as they are (docs/batch.md: s3a://, hdfs://; here
    file://, which pathlib would fold to file:/)."""
    case = cases["penguins_species"]
    src = tmp_path / "in.parquet"
    case.df.write.parquet(str(src))
    out = tmp_path / "out.csv"
    assert _cli("--bundle", case.bundle, "--input", f"file://{src}", "--output", f"file://{out}",
                "--outputs", "predicted_species") == 0, capsys.readouterr().err  # --outputs: the old name
    assert f"to file://{out} (csv)" in capsys.readouterr().out
    rows = spark.read.csv(str(out), header=True).collect()
    assert len(rows) == case.df.count()
    expected = by_rid(case.model.transform(case.df).collect())
    assert all(r["predicted_species"] == expected[int(r["rid"])]["predicted_species"] for r in rows)
    # an existing output is Spark's to refuse
    assert _cli("--bundle", case.bundle, "--input", f"file://{src}", "--output", f"file://{out}") == 1
    assert "already exists" in capsys.readouterr().err


def test_cli_bad_rows(spark, strict, tmp_path, capsys):
    _, path = strict
    src = tmp_path / "bad.parquet"
    spark.createDataFrame([(0, "red", "box", 1.0), (1, "purple", "box", 2.0), (2, "red", "cube", 3.0)],
                          "rid int, color string, shape string, x double").coalesce(1).write.parquet(str(src))
    assert _cli("--bundle", path, "--input", src, "--output", tmp_path / "o1") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("leapserve score: error: row 1 of partition 0: field 'color' = 'purple'"), err
    assert _cli("--bundle", path, "--input", src, "--output", tmp_path / "o2", "--on-error", "null") == 0
    assert "1 dropped" in capsys.readouterr().out
    rows = {r["rid"]: r for r in spark.read.parquet(str(tmp_path / "o2")).collect()}
    assert set(rows) == {0, 1} and rows[1]["prediction"] is None and "purple" in rows[1]["score_error"]
    assert _cli("--bundle", tmp_path / "missing.zip", "--input", src, "--output", tmp_path / "o3") == 2  # usage
    assert "no such file" in capsys.readouterr().err
