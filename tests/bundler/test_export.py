"""Export with MLeap's serializer: the examples and small pipelines, in both formats.

Each bundle is checked three ways: its files (bundle.json, node and model file per stage), the
ExportRecord, and MLeap's own JVM runtime, which must load it and score the sample exactly like
Spark's transform (rows without nulls or NaN). Verification by the native runtime is not relied on
here (ops are still being added), except where the test says so.
"""

from __future__ import annotations

import json
import shutil
import uuid
import zipfile
from pathlib import Path

import pytest

from leapserve import bundler
from leapserve.bundler import (BundlerError, JarsMissing, JavaNotFound, MissingColumns, OutputExists,
                     StageNotSerializable, VerificationFailed)
from leapserve.bundler.compare import compare, spark_value
from leapserve.bundler.examples import penguins_mass, penguins_species
from leapserve.bundler.export import ExportRecord, describe_bundle, pipeline_stages
from tools.mleap_jvm import frame_column, leapframe_type, leapframe_value
from leapserve.bundleml import bundle_pb2 as pb

FORMATS = ("json", "protobuf")
EXT = {"json": "json", "protobuf": "pb"}

# Spark class -> MLeap op name, for the classes these tests export.
OPS = {
    "StringIndexerModel": "string_indexer",
    "OneHotEncoderModel": "one_hot_encoder",
    "VectorAssembler": "vector_assembler",
    "StandardScalerModel": "standard_scaler",
    "LogisticRegressionModel": "logistic_regression",
    "IndexToString": "reverse_string_indexer",
    "Bucketizer": "bucketizer",
    "GBTRegressionModel": "gbt_regression",
    "LinearRegressionModel": "linear_regression",
    "Tokenizer": "tokenizer",
    "HashingTF": "hashing_term_frequency",
    "PipelineModel": "pipeline",
}


# --- helpers -------------------------------------------------------------------------------

def bundle_files(path: Path) -> dict[str, bytes]:
    """Every file of a bundle (zip or directory), by '/'-separated path from the bundle root."""
    if path.is_dir():
        return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}


def read_node(files, folder: str, fmt: str) -> tuple[str, dict, dict]:
    """(op, node, model) of one folder, both formats read into the same dict shapes."""
    ext = EXT[fmt]
    assert f"{folder}/node.{ext}" in files, f"{folder}/node.{ext} missing"
    assert f"{folder}/model.{ext}" in files, f"{folder}/model.{ext} missing"
    if fmt == "json":
        node = json.loads(files[f"{folder}/node.json"])
        model = json.loads(files[f"{folder}/model.json"])
        return model["op"], node, model
    n, m = pb.Node(), pb.Model()
    n.ParseFromString(files[f"{folder}/node.pb"])
    m.ParseFromString(files[f"{folder}/model.pb"])
    node = {"name": n.name, "shape": {
        "inputs": [{"port": s.port, "name": s.name} for s in n.shape.inputs],
        "outputs": [{"port": s.port, "name": s.name} for s in n.shape.outputs]}}
    return m.op, node, {"op": m.op, "attributes": dict(m.attributes.list)}


def check_bundle_files(path: Path, fmt: str, model) -> dict[str, bytes]:
    """bundle.json, then the node tree mirrors the Spark model: one <uid>.node folder per stage,
    each with its node and model file (and treeN/ sub-models for tree ensembles)."""
    files = bundle_files(path)
    info = json.loads(files["bundle.json"])
    assert info["format"] == fmt
    assert info["version"] == "0.16.0"
    uuid.UUID(info["uid"])
    assert info["name"] == model.uid
    ext = EXT[fmt]
    assert not [f for f in files if f.endswith(".json" if fmt == "protobuf" else ".pb")
                and f != "bundle.json"], "files of the other format in the bundle"

    def walk(stage, folder):
        op, node, spec = read_node(files, folder, fmt)
        assert op == OPS[type(stage).__name__], f"{folder}: op {op}"
        assert node["name"] == stage.uid
        if op == "pipeline":
            children = [st.uid for st in stage.stages]
            if fmt == "json":
                assert spec["attributes"]["nodes"]["string"] == children
            for st in stage.stages:
                walk(st, f"{folder}/{st.uid}.node")
        if op == "gbt_regression":
            for i in range(len(stage.trees)):
                assert f"{folder}/tree{i}/model.{ext}" in files
                assert f"{folder}/tree{i}/tree.{ext}" in files

    walk(model, "root")
    return files


def assert_mleap_matches_spark(mleap_jvm, bundle: Path, model, df, outputs) -> int:
    """MLeap's JVM runtime scores df's rows (without nulls/NaN) like Spark's transform; returns
    the number of values compared."""
    clean = df.dropna()
    rows = model.transform(clean).collect()
    assert rows, "no rows to compare"
    fields = clean.schema.fields
    frame = {"schema": {"fields": [{"name": f.name, "type": leapframe_type(f.dataType)} for f in fields]},
             "rows": [[leapframe_value(r[f.name]) for f in fields] for r in rows]}
    result = mleap_jvm.score(bundle, frame)
    compared = 0
    for col in outputs:
        got = frame_column(result, col)
        assert len(got) == len(rows)
        for i, row in enumerate(rows):
            expected = spark_value(row[col])
            diff = compare(expected, got[i], exact=isinstance(expected, str))
            assert diff.equal, f"{bundle.name}, row {i}, column {col!r}: {diff.detail}"
            compared += 1
    return compared


def check_record(record: ExportRecord, path: Path, fmt: str, model, df, spark) -> None:
    assert isinstance(record, ExportRecord)
    assert record.path == str(path.resolve())
    assert record.format == fmt
    assert record.mleap_version == "0.16.0"
    assert record.spark_version == spark.version
    leaves = pipeline_stages(model)
    assert [st["name"] for st in record.stages] == [st.uid for st in leaves]
    assert [st["op"] for st in record.stages] == [OPS[type(st).__name__] for st in leaves]
    schema = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    for col, ftype in record.inputs.items():
        assert ftype == schema[col], f"input {col}: {ftype} vs {schema[col]}"
    transformed = set(model.transform(df.limit(1)).columns) - set(df.columns)
    assert set(record.outputs) == transformed
    assert not set(record.inputs) & set(record.outputs)
    # (whether the native runtime agrees is checked explicitly by the verification tests)
    assert record.verification["status"] in ("ok", "mismatch", "skipped", "failed"), record.verification
    data = record.to_json()
    assert json.loads(json.dumps(data))["format"] == fmt


# --- the examples --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def examples(spark):
    return {mod.NAME: mod.train(spark) for mod in (penguins_species, penguins_mass)}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", [penguins_species.NAME, penguins_mass.NAME])
def test_export_example(spark, mleap_jvm, examples, tmp_path, name, fmt):
    model, sample = examples[name]
    path = tmp_path / f"{name}-{fmt}.zip"
    record = bundler.export_bundle(model, sample, path, format=fmt)
    check_record(record, path, fmt, model, sample, spark)
    check_bundle_files(path, fmt, model)
    assert assert_mleap_matches_spark(mleap_jvm, path, model, sample, record.outputs) > 300 * len(record.outputs)


@pytest.mark.parametrize("name", [penguins_species.NAME, penguins_mass.NAME])
def test_examples_verify(examples, tmp_path, name):
    # The native runtime against Spark on every sample row, nulls in `sex` included.
    model, sample = examples[name]
    record = bundler.export_bundle(model, sample, tmp_path / "m.zip", verify=True, sample_rows=1000)
    assert record.verification["status"] == "ok"
    assert record.verification["rows"] == 342


def test_examples_data(examples):
    model, sample = examples[penguins_species.NAME]
    assert sample.count() == 342  # 344 penguins, two without measurements
    assert sample.filter("sex IS NULL").count() > 0  # kept: the indexer's "keep" handles them
    names = {r["predicted_species"] for r in model.transform(sample).select("predicted_species").collect()}
    assert names == {"Adelie", "Gentoo", "Chinstrap"}
    model, sample = examples[penguins_mass.NAME]
    masses = [r["predicted_mass_g"] for r in model.transform(sample).collect()]
    assert 2500 < min(masses) < max(masses) < 6500


def test_examples_write(spark, tmp_path, capsys):
    penguins_species.write(tmp_path)
    out = capsys.readouterr().out.strip().splitlines()
    folder = tmp_path / penguins_species.NAME
    assert (folder / "spark-model" / "metadata").is_dir()
    assert spark.read.parquet(str(folder / "sample.parquet")).count() == 342
    for fmt in FORMATS:
        assert json.loads(bundle_files(folder / f"bundle-{fmt}.zip")["bundle.json"])["format"] == fmt
    assert len(out) == 4 and all(line.startswith("penguins_species: ") for line in out)
    assert "bundle-json.zip (json, MLeap 0.16.0, 7 stages, 6 inputs" in out[2]


# --- small pipelines -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def small(spark):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import HashingTF, StringIndexer, Tokenizer, VectorAssembler
    from pyspark.ml.regression import LinearRegression

    df = spark.createDataFrame(
        [("a", 1.0, 3.0, "the cat sat"), ("b", 2.0, 5.0, "a dog"), ("a", 3.0, 7.5, "cat and dog"),
         ("c", 0.5, 1.0, "sat on the mat"), ("b", -1.0, 0.5, "")],
        "cat string, x double, y double, text string")
    inner = Pipeline(stages=[StringIndexer(inputCol="cat", outputCol="cat_index"),
                             VectorAssembler(inputCols=["cat_index", "x"], outputCol="features")])
    return {
        "df": df,
        # a single fitted transformer, not in a Pipeline: it is the bundle's root node
        "single": StringIndexer(inputCol="cat", outputCol="cat_index", handleInvalid="keep").fit(df),
        # a PipelineModel inside a PipelineModel
        "nested": Pipeline(stages=[inner, LinearRegression(featuresCol="features", labelCol="y")]).fit(df),
        # supported by the native runtime from the start (verification can pass)
        "linear": Pipeline(stages=[VectorAssembler(inputCols=["x"], outputCol="features"),
                                   LinearRegression(featuresCol="features", labelCol="y")]).fit(df),
        # MLeap 0.16 leaves out the hash version: the export's fixup records it
        "hashing": Pipeline(stages=[Tokenizer(inputCol="text", outputCol="words"),
                                    HashingTF(inputCol="words", outputCol="tf", numFeatures=16)]).fit(df),
    }


def _location(kind: str, tmp_path: Path, fmt: str) -> tuple[object, Path]:
    """(what to pass as path, where the bundle lands) for each kind of output location."""
    if kind == "zip":
        return tmp_path / f"m-{fmt}.zip", tmp_path / f"m-{fmt}.zip"
    if kind == "directory":
        return tmp_path / f"m-{fmt}", tmp_path / f"m-{fmt}"
    if kind == "jar-uri":
        return f"jar:file:{tmp_path}/m-{fmt}.zip", tmp_path / f"m-{fmt}.zip"
    if kind == "file-uri":
        return f"file:{tmp_path}/m-{fmt}", tmp_path / f"m-{fmt}"
    raise AssertionError(kind)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name,kind", [("single", "zip"), ("nested", "zip"), ("nested", "directory"),
                                       ("linear", "jar-uri"), ("hashing", "file-uri")])
def test_export_small_pipeline(spark, mleap_jvm, small, tmp_path, name, kind, fmt):
    model, df = small[name], small["df"]
    target, where = _location(kind, tmp_path, fmt)
    record = bundler.export_bundle(model, df, target, format=fmt)
    check_record(record, where, fmt, model, df, spark)
    assert where.is_dir() == (kind in ("directory", "file-uri"))
    assert record.uri == (f"jar:file:{where}" if where.suffix == ".zip" else f"file:{where}")
    files = check_bundle_files(where, fmt, model)
    assert assert_mleap_matches_spark(mleap_jvm, where, model, df, record.outputs) > 0
    if name == "single":
        op, node, _ = read_node(files, "root", fmt)
        assert op == "string_indexer" and [s["name"] for s in node["shape"]["inputs"]] == ["cat"]
        assert record.inputs == {"cat": "string"} and record.outputs == ["cat_index"]
    if name == "nested":
        inner = model.stages[0]
        assert [st["name"] for st in record.stages] == [st.uid for st in inner.stages] + [model.stages[1].uid]
        assert record.inputs == {"cat": "string", "x": "double"}
    if name == "hashing":
        hashing_uid = model.stages[1].uid
        assert record.fixups and all("hashUnsafeBytesVersion 2" in note for note in record.fixups)
        assert hashing_uid in record.fixups[0]
        _, _, spec = read_node(files, f"root/{hashing_uid}.node", fmt)
        version = spec["attributes"]["hashUnsafeBytesVersion"]
        assert (version["int"] if fmt == "json" else version.s.i) == 2
    else:
        assert record.fixups == []


def test_verification_compares_with_spark(small, tmp_path):
    # Vector assembler and linear regression are the runtime's first ops: verification runs.
    record = bundler.export_bundle(small["linear"], small["df"], tmp_path / "v.zip", verify=True)
    v = record.verification
    assert v["status"] == "ok" and v["rows"] == 5 and v["values"] == 10 and v["max_difference"] < 1e-9
    assert v["mismatches"] == []
    record = bundler.export_bundle(small["linear"], small["df"], tmp_path / "n.zip", verify=False)
    assert record.verification is None


def test_verification_failure_is_an_error_only_when_asked(spark, tmp_path):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import LinearRegression

    # Spark's assembler keeps nulls as NaN with handleInvalid="keep"; MLeap does not record that
    # param, so the bundle refuses the null row: a real disagreement that verification must catch.
    train = spark.createDataFrame([(1.0, 2.0), (2.0, 4.1), (3.0, 6.2)], "x double, y double")
    model = Pipeline(stages=[VectorAssembler(inputCols=["x"], outputCol="features", handleInvalid="keep"),
                             LinearRegression(featuresCol="features", labelCol="y")]).fit(train)
    sample = spark.createDataFrame([(1.0,), (None,)], "x double")
    record = bundler.export_bundle(model, sample, tmp_path / "m.zip")
    assert record.verification["status"] == "mismatch"
    # The failing row is named by its inputs: its place in the random sample means nothing.
    assert record.verification["mismatches"] == [
        "input {x=None}: Spark scored it, the runtime raised field 'x': expected a value "
        "(vector_assembler does not accept nulls), got null"]
    with pytest.raises(VerificationFailed, match=r"verification mismatch: input \{x=None\}"):
        bundler.export_bundle(model, sample, tmp_path / "m.zip", force=True, verify=True)


# --- atomic output -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def failing(spark):
    """Models whose export fails: after MLeap wrote (verification finds a real mismatch: MLeap does
    not record the assembler's handleInvalid "keep") and while MLeap writes (its one-hot encoder op
    reads the category count from column metadata, which a raw numeric column lacks)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
    from pyspark.ml.regression import LinearRegression

    train = spark.createDataFrame([(1.0, 2.0, "a"), (2.0, 4.1, "b"), (3.0, 6.2, "a")], "x double, y double, s string")
    keep = Pipeline(stages=[VectorAssembler(inputCols=["x"], outputCol="features", handleInvalid="keep"),
                            LinearRegression(featuresCol="features", labelCol="y")]).fit(train)
    # two encoders (one op class in the trace): the one on the raw column is the stage that fails
    encoder = Pipeline(stages=[StringIndexer(inputCol="s", outputCol="si"),
                               OneHotEncoder(inputCols=["si"], outputCols=["s_vec"]),
                               OneHotEncoder(inputCols=["x"], outputCols=["x_vec"])]).fit(train)
    return {"keep": keep, "keep_sample": spark.createDataFrame([(1.0,), (None,)], "x double"),
            "encoder": encoder, "encoder_sample": train}


def _export_fails(failing, how: str, target: Path, **kwargs):
    if how == "verification":
        with pytest.raises(VerificationFailed):
            bundler.export_bundle(failing["keep"], failing["keep_sample"], target, verify=True, **kwargs)
    else:
        # MLeap's message names neither the stage nor its class: the export finds them
        with pytest.raises(StageNotSerializable, match="MLeap failed: .*unsupported attribute for field x") as err:
            bundler.export_bundle(failing["encoder"], failing["encoder_sample"], target, **kwargs)
        assert err.value.stage_uid == failing["encoder"].stages[2].uid
        assert err.value.class_name == "org.apache.spark.ml.feature.OneHotEncoderModel"
        assert "\n" not in str(err.value) and "OneHotEncoderOp" in err.value.java_trace


@pytest.mark.parametrize("how", ["verification", "writer"])
@pytest.mark.parametrize("kind", ["zip", "directory"])
def test_failed_export_leaves_nothing(small, failing, tmp_path, kind, how):
    target = tmp_path / ("m.zip" if kind == "zip" else "m")
    _export_fails(failing, how, target)
    assert list(tmp_path.iterdir()) == []  # neither a partial bundle nor a staging file
    # the next attempt does not find the output taken
    bundler.export_bundle(small["linear"], small["df"], target, verify=False)
    assert target.exists()


@pytest.mark.parametrize("how", ["verification", "writer"])
@pytest.mark.parametrize("kind", ["zip", "directory"])
def test_failed_force_keeps_the_old_bundle(small, failing, tmp_path, kind, how):
    target = tmp_path / ("m.zip" if kind == "zip" else "m")
    bundler.export_bundle(small["linear"], small["df"], target, verify=False)
    before = {p.relative_to(tmp_path): (p.read_bytes() if p.is_file() else None) for p in tmp_path.rglob("*")}
    _export_fails(failing, how, target, force=True)
    after = {p.relative_to(tmp_path): (p.read_bytes() if p.is_file() else None) for p in tmp_path.rglob("*")}
    assert after == before


@pytest.mark.parametrize("old,new", [("zip", "directory"), ("directory", "zip"), ("directory", "directory")])
def test_force_replaces_across_kinds(small, tmp_path, old, new):
    # --force with a directory where a zip is to go (or the reverse): the new bundle takes the name
    target = tmp_path / "m"
    where = {"zip": f"jar:file:{target}", "directory": target}
    bundler.export_bundle(small["single"], small["df"], where[old], verify=False)
    record = bundler.export_bundle(small["linear"], small["df"], where[new], force=True, verify=False)
    assert target.is_dir() == (new == "directory") and record.path == str(target)
    assert [s["op"] for s in describe_bundle(target)["stages"]] == ["vector_assembler", "linear_regression"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_staging_names_are_not_served(tmp_path):
    """A model directory scan passes over a bundle still being written, zip or directory."""
    from leapserve.bundler.export import staging_path
    from leapserve.server.discovery import scan_model_dir
    from tests.support.bundles import LR_ZIP

    shutil.copyfile(LR_ZIP, staging_path(tmp_path / "lr.zip"))
    with zipfile.ZipFile(LR_ZIP) as z:
        z.extractall(staging_path(tmp_path / "lr"))
    (tmp_path / "versions").mkdir()
    shutil.copyfile(LR_ZIP, staging_path(tmp_path / "versions" / "1.zip"))
    shutil.copyfile(LR_ZIP, tmp_path / "versions" / "2.zip")
    scan = scan_model_dir(tmp_path)
    assert list(scan) == ["versions"] and list(scan["versions"].versions) == ["2"]
    assert scan["versions"].notes == []


# --- errors through the Python API ---------------------------------------------------------

def test_output_exists(small, tmp_path):
    path = tmp_path / "m.zip"
    path.write_bytes(b"keep me")
    with pytest.raises(OutputExists, match="already exists; pass --force"):
        bundler.export_bundle(small["linear"], small["df"], path, verify=False)
    assert path.read_bytes() == b"keep me"
    folder = tmp_path / "dir"
    (folder / "old").mkdir(parents=True)
    with pytest.raises(OutputExists):
        bundler.export_bundle(small["linear"], small["df"], folder, verify=False)
    bundler.export_bundle(small["linear"], small["df"], path, force=True, verify=False)
    bundler.export_bundle(small["linear"], small["df"], folder, force=True, verify=False)
    assert zipfile.is_zipfile(path) and (folder / "bundle.json").is_file() and not (folder / "old").exists()


def test_stage_not_serializable(spark, small, tmp_path):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import SQLTransformer, VectorAssembler

    df = small["df"]
    sql = Pipeline(stages=[VectorAssembler(inputCols=["x"], outputCol="v"),
                           SQLTransformer(statement="SELECT *, x / 2 AS x2 FROM __THIS__")]).fit(df)
    with pytest.raises(StageNotSerializable, match="has no equivalent in leapserve's ops: division") as err:
        bundler.export_bundle(sql, df, tmp_path / "b.zip")
    assert err.value.stage_uid == sql.stages[1].uid
    assert err.value.class_name == "org.apache.spark.ml.feature.SQLTransformer"
    assert "\n" not in str(err.value)
    assert not (tmp_path / "b.zip").exists()


def test_missing_columns(small, tmp_path):
    model = small["nested"]
    with pytest.raises(MissingColumns) as err:
        bundler.export_bundle(model, small["df"].drop("x", "y"), tmp_path / "m.zip")
    assert err.value.missing == {"x": model.stages[0].stages[1].uid}
    assert "'x' (needed by VectorAssembler_" in str(err.value)


def test_bad_format(small, tmp_path):
    with pytest.raises(BundlerError, match="format must be one of"):
        bundler.export_bundle(small["linear"], small["df"], tmp_path / "m.zip", format="xml")


def test_java_not_found(monkeypatch, tmp_path):
    from leapserve.bundler.session import java_version

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java here
    with pytest.raises(JavaNotFound, match="Java is needed to run Spark but was not found"):
        java_version()


def test_java_version_out_of_range(monkeypatch):
    from leapserve.bundler.session import java_version

    too_new = Path("/usr/lib/jvm/temurin-25-jdk-amd64")
    if not (too_new / "bin" / "java").exists():
        pytest.skip("no JDK outside Spark's range on this machine")
    monkeypatch.setenv("JAVA_HOME", str(too_new))
    with pytest.raises(JavaNotFound, match="Java 25 found .* needs Java 11 to 21"):
        java_version()


def test_jars_missing(monkeypatch, tmp_path):
    from leapserve.bundler import jars

    monkeypatch.setenv("LEAPSERVE_CACHE", str(tmp_path))
    with pytest.raises(JarsMissing, match=r"mleap-spark.*Fetch them with `make jars`"):
        jars.MLEAP_SPARK.classpath()
    with pytest.raises(JarsMissing):
        jars.spark_registry_conf()
