"""`leapserve export` and `leapserve inspect` as a user runs them: the console script, in a subprocess.

Every error must be one clear line on stderr (exit 1; 2 for usage) without a Java stack trace.
Exports that start Spark (~10 s each) are few and run two at a time in one fixture; the errors
found before Spark starts (paths, metadata, existing output, Java, jars) cost no JVM.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from leapserve.bundler.examples import penguins_species

REPO = Path(__file__).resolve().parents[2]
LEAPSERVE = REPO / ".venv" / "bin" / "leapserve"
OLD_OR_NEW_JDK = Path("/usr/lib/jvm/temurin-25-jdk-amd64")  # outside Spark 3.5's range (11-21)


def leapserve(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([str(LEAPSERVE), *map(str, args)], capture_output=True, text=True,
                          env=env or dict(os.environ), timeout=timeout, cwd=REPO)


def assert_one_error_line(proc, command: str = "export", code: int = 1) -> str:
    """Exit code, then: stderr holds progress lines and exactly one error line, the last one, with no
    traceback and no Java stack trace. Returns the message."""
    assert proc.returncode == code, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    prefix = f"leapserve {command}: error: "
    errors = [line for line in lines if line.startswith(prefix)]
    assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr
    for line in lines[:-1]:  # progress only ("leapserve export: <step> ...")
        assert line.startswith(f"leapserve {command}: ") and line.endswith(" ..."), proc.stderr
    for noise in ("Traceback", "\tat ", "Py4JJavaError", "java.lang.", "at org.apache"):
        assert noise not in proc.stderr, proc.stderr
    assert proc.stdout == ""
    return errors[0][len(prefix):]


# --- saved models and samples --------------------------------------------------------------

@pytest.fixture(scope="module")
def saved(spark, tmp_path_factory):
    """Saved PipelineModels and samples, as a user would have them."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import SQLTransformer, VectorAssembler
    from pyspark.ml.regression import LinearRegression

    root = tmp_path_factory.mktemp("cli")
    model, sample = penguins_species.train(spark)
    model.write().overwrite().save(str(root / "species-model"))
    sample.write.parquet(str(root / "species.parquet"))
    model.stages[0].write().save(str(root / "indexer-model"))  # a saved model that is not a pipeline

    df = spark.createDataFrame([(1.0, 2.0, 3.1), (2.0, 0.0, 5.0), (3.0, 1.0, 7.4), (0.5, 2.5, 1.0)],
                               "a double, b double, y double")
    linear = Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"),
                              LinearRegression(featuresCol="features", labelCol="y")]).fit(df)
    linear.write().save(str(root / "linear-model"))
    df.toPandas().to_csv(root / "linear.csv", index=False)
    df.drop("b").write.parquet(str(root / "no-b.parquet"))
    Pipeline(stages=[VectorAssembler(inputCols=["a"], outputCol="v"),
                     SQLTransformer(statement="SELECT *, a / 2 AS a2 FROM __THIS__")]
             ).fit(df).write().save(str(root / "sql-model"))
    # MLeap does not record the assembler's handleInvalid: the bundle refuses the null row Spark keeps.
    keep = Pipeline(stages=[VectorAssembler(inputCols=["a"], outputCol="features", handleInvalid="keep"),
                            LinearRegression(featuresCol="features", labelCol="y")]).fit(df)
    keep.write().save(str(root / "keep-model"))
    spark.createDataFrame([(1.0,), (None,)], "a double").write.parquet(str(root / "with-null.parquet"))
    spark.createDataFrame([(1.0, 2.0), (None, 1.0)], "a double, b double").write.parquet(str(root / "null-a.parquet"))
    (root / "taken.zip").write_bytes(b"not mine")
    (root / "empty-cache").mkdir()
    return root


@pytest.fixture(scope="module")
def spark_runs(saved):
    """The CLI exports that start Spark, run two at a time: name -> CompletedProcess."""
    r = saved
    runs = {
        "species": ["export", "--spark-model", r / "species-model", "--sample", r / "species.parquet",
                    "--output", r / "out" / "species.zip"],
        "linear": ["export", "--spark-model", r / "linear-model", "--sample", r / "linear.csv",
                   "--out", r / "taken.zip", "--force", "--format", "protobuf", "--verify", "--json"],  # --out: old name
        "not-serializable": ["export", "--spark-model", r / "sql-model", "--sample", r / "linear.csv",
                             "--output", r / "out" / "sql.zip"],
        "missing-column": ["export", "--spark-model", r / "linear-model", "--sample", r / "no-b.parquet",
                           "--output", r / "out" / "no-b.zip"],
        "spark-refuses": ["export", "--spark-model", r / "linear-model", "--sample", r / "null-a.parquet",
                          "--output", r / "out" / "null-a.zip"],
        "mismatch-verify": ["export", "--spark-model", r / "keep-model", "--sample", r / "with-null.parquet",
                            "--output", r / "out" / "keep-verified", "--verify"],
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(leapserve, *args) for name, args in runs.items()}
        return {name: f.result() for name, f in futures.items()}


# --- export: happy paths -------------------------------------------------------------------

def test_export_example(saved, spark_runs):
    proc = spark_runs["species"]
    assert proc.returncode == 0, proc.stderr
    out = saved / "out" / "species.zip"
    assert out.is_file()
    text = proc.stdout
    assert text.startswith(f"exported {out}\n")
    assert "format        json (MLeap 0.16.0, from Spark 3.5.9)" in text
    assert "stages        7" in text and "reverse_string_indexer  prediction -> predicted_species" in text
    assert "inputs        island (string), sex (string), bill_length_mm (double)" in text
    assert "verification  " in text
    steps = proc.stderr.splitlines()
    assert steps[0] == "leapserve export: starting Spark ..."  # not a terminal: plain step lines
    assert any("writing json bundle" in s for s in steps)
    assert all(s.startswith("leapserve export: ") for s in steps), proc.stderr

    # inspect reads what export wrote, without Java
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = "/nonexistent"
    shown = leapserve("inspect", out, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "format   json" in shown.stdout and "MLeap    0.16.0" in shown.stdout
    assert "stages (7):" in shown.stdout and "inputs (6):" in shown.stdout


def test_export_protobuf_csv_verify_json_force(saved, spark_runs):
    proc = spark_runs["linear"]
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    out = saved / "taken.zip"
    assert record["path"] == str(out) and record["uri"] == f"jar:file:{out}"
    assert record["format"] == "protobuf" and record["mleap_version"] == "0.16.0"
    assert [s["op"] for s in record["stages"]] == ["vector_assembler", "linear_regression"]
    assert record["inputs"] == {"a": "double", "b": "double"}  # CSV types inferred
    assert record["outputs"] == ["features", "prediction"]
    assert record["verification"]["status"] == "ok" and record["verification"]["rows"] == 4
    assert out.read_bytes() != b"not mine"  # --force replaced it
    assert proc.stderr.splitlines()[0] == "leapserve export: warning: --out is deprecated; use --output (same meaning)"

    shown = leapserve("inspect", out, "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["info"]["format"] == "protobuf" and report["supported"] is True
    assert [(s["name"], s["op"], s["inputs"], s["outputs"]) for s in report["stages"]] == \
        [(s["name"], s["op"], s["inputs"], s["outputs"]) for s in record["stages"]]
    assert report["inputs"] == {"a": "double", "b": "double"}
    assert report["outputs"] == {"features": "vector[2]", "prediction": "double"}


def test_verify_makes_a_mismatch_an_error(saved, spark_runs):
    # (Without --verify the same export exits 0 with a warning; the API test covers the record.)
    message = assert_one_error_line(spark_runs["mismatch-verify"])
    assert message.startswith("verification mismatch: input {a=None}: Spark scored it, the runtime raised")
    assert message.endswith(f"(nothing was written to {saved / 'out' / 'keep-verified'})")
    assert not (saved / "out" / "keep-verified").exists()  # the export is atomic


# --- export: errors that start Spark -------------------------------------------------------

def test_stage_not_serializable(spark_runs):
    message = assert_one_error_line(spark_runs["not-serializable"])
    assert message.startswith("stage 'SQLTransformer_")
    assert ("(org.apache.spark.ml.feature.SQLTransformer) cannot be exported: its statement "
            "'SELECT *, a / 2 AS a2 FROM __THIS__' has no equivalent in leapserve's ops: division") in message


def test_missing_columns(spark_runs):
    message = assert_one_error_line(spark_runs["missing-column"])
    assert message.startswith("the sample data lacks column(s) the pipeline needs: 'b' (needed by VectorAssembler_")


def test_sample_spark_cannot_transform(saved, spark_runs):
    # Spark's failed task would log a Java stack trace: the command keeps stderr to one line.
    message = assert_one_error_line(spark_runs["spark-refuses"])
    assert message.startswith(f"Spark cannot transform the sample {saved / 'null-a.parquet'}: "
                              f"org.apache.spark.SparkException: Encountered null while assembling a row")
    assert message.endswith("the sample must hold rows that model.transform accepts")
    assert not (saved / "out" / "null-a.zip").exists()


# --- export: errors found before Spark starts ----------------------------------------------

def _export(saved, *extra, model="linear-model", sample="linear.csv", out="out/fast.zip", env=None):
    return leapserve("export", "--spark-model", saved / model, "--sample", saved / sample,
                     "--output", saved / out, *extra, env=env)


def test_not_a_pipeline_model(saved):
    message = assert_one_error_line(_export(saved, model="indexer-model"))
    assert message == (f"--spark-model {saved / 'indexer-model'} is not a saved PipelineModel: it holds "
                       f"org.apache.spark.ml.feature.StringIndexerModel; wrap the model in a pipeline and "
                       f"save that: PipelineModel(stages=[model]).save(path)")
    message = assert_one_error_line(_export(saved, model="."))
    assert "is not a saved PipelineModel: it has no Spark ML metadata" in message
    message = assert_one_error_line(_export(saved, model="nowhere"), code=2)  # a path that does not exist: usage
    assert message == f"--spark-model {saved / 'nowhere'}: no such directory"
    message = assert_one_error_line(_export(saved, model="linear.csv"))
    assert "is a file, not a saved PipelineModel" in message


def test_sample_missing(saved):
    message = assert_one_error_line(_export(saved, sample="nothing.parquet"), code=2)
    assert message == f"--sample {saved / 'nothing.parquet'}: no such file or directory"


def test_output_exists(saved):
    message = assert_one_error_line(_export(saved, out="linear.csv"))
    assert message == f"--output {saved / 'linear.csv'} already exists; pass --force to replace it"
    assert (saved / "linear.csv").read_text().startswith("a,b,y")


def test_java_missing(saved):
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(saved / "empty-cache")  # a folder without java
    message = assert_one_error_line(_export(saved, env=env))
    assert message.startswith("Java is needed to run Spark but was not found")
    assert "Install a JDK 11-21" in message


def test_java_out_of_range(saved):
    if not (OLD_OR_NEW_JDK / "bin" / "java").exists():
        pytest.skip("no JDK outside Spark's range on this machine")
    env = dict(os.environ, JAVA_HOME=str(OLD_OR_NEW_JDK))
    message = assert_one_error_line(_export(saved, env=env))
    assert message.startswith("Java 25 found at ") and "Spark 3.5 needs Java 11 to 21" in message


def test_jars_missing(saved):
    env = dict(os.environ, LEAPSERVE_CACHE=str(saved / "empty-cache"))
    message = assert_one_error_line(_export(saved, env=env))
    assert message.startswith("MLeap jars (mleap-spark) are missing from ")
    assert "Fetch them with `make jars` (or `python -m leapserve.bundler.jars fetch`)" in message


def test_usage_errors(saved):
    proc = leapserve("export", "--spark-model", saved / "linear-model", "--sample", saved / "linear.csv")
    assert proc.returncode == 2
    assert proc.stderr == "leapserve export: error: the following arguments are required: --output\n"
    proc = _export(saved, "--format", "xml")
    assert proc.returncode == 2 and "invalid choice: 'xml'" in proc.stderr


def test_debug_shows_the_traceback(saved):
    proc = leapserve("--debug", "export", "--spark-model", saved / "nowhere", "--sample", saved / "linear.csv",
                     "--output", saved / "out" / "x.zip")
    assert proc.returncode == 2 and "Traceback" in proc.stderr
    assert proc.stderr.splitlines()[-1] == f"leapserve export: error: --spark-model {saved / 'nowhere'}: no such directory"


def test_commands_import_no_spark():
    code = ("import sys, leapserve.cli; leapserve.cli.build_parser(); "
            "import leapserve.cli.export, leapserve.cli.inspect; "
            "sys.exit(1 if 'pyspark' in sys.modules or 'py4j' in sys.modules else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr


# --- inspect -------------------------------------------------------------------------------

def test_inspect_errors(tmp_path):
    proc = leapserve("inspect", tmp_path / "nothing.zip")
    message = assert_one_error_line(proc, "inspect", code=2)
    assert message == f"{tmp_path / 'nothing.zip'}: no such file or directory"
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really")
    message = assert_one_error_line(leapserve("inspect", broken), "inspect")
    assert message.startswith(f"{broken}:")
    proc = leapserve("inspect")
    assert proc.returncode == 2 and "one of the arguments PATH --model-dir is required" in proc.stderr


def test_inspect_a_spark_model_folder(saved):
    """A folder Spark's model.save wrote is no bundle: inspect says so and names the export command."""
    message = assert_one_error_line(leapserve("inspect", saved / "species-model"), "inspect")
    assert message == (f"{saved / 'species-model'} is a Spark ML model saved by model.save "
                       f"(org.apache.spark.ml.PipelineModel), not an MLeap bundle; make a bundle of it with "
                       f"`leapserve export --spark-model {saved / 'species-model'} --sample DATA --output model.zip`, "
                       f"then inspect that")
